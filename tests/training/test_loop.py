from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from tests.conftest import build_toy, synthetic_images
from tunedepth.evaluation import roc_auc_score
from tunedepth.training import StoppingRule, TrainingDivergedError, predict_log_odds, predict_proba, train_model
from tunedepth.tuning import LrPolicy, freeze_to_depth

POLICY = LrPolicy(optimizer="sgd", lr=0.05, head_lr_mult=1.0, bias_lr_mult=2.0, momentum=0.9, weight_decay=0.0,
                  lr_decay_per_epoch=0.95)
CPU = torch.device("cpu")


def _train(model, *, depth=4, epochs=6, patience=6, seed=0, val_score=roc_auc_score, **kwargs):
    freeze_to_depth(model, depth, bn_policy="freeze")
    return train_model(
        model, train=synthetic_images(64, seed=1), val=synthetic_images(32, seed=2), regime="scratch",
        policy=POLICY, stopping=StoppingRule(epochs, patience), batch_size=16, seed=seed, device=CPU,
        val_score=val_score, **kwargs,
    )


def test_learns_a_learnable_task():
    torch.manual_seed(0)
    model = build_toy()
    test = synthetic_images(64, seed=3)
    before = roc_auc_score(test.labels.numpy(), predict_proba(model, test.images,
                                                              batch_size=32, device=CPU))
    result = _train(model)
    after = roc_auc_score(test.labels.numpy(), predict_proba(model, test.images,
                                                             batch_size=32, device=CPU))
    assert before < 0.8 and after > 0.95, (before, after)
    assert result.best_val_score == max(r.val_score for r in result.history)


def test_history_counts_mini_batches_and_decays_lr():
    torch.manual_seed(0)
    result = _train(build_toy(), epochs=3)
    assert [r.iteration for r in result.history] == [4, 8, 12]  # 64 cases / batch 16
    assert [r.lr for r in result.history] == pytest.approx([0.05, 0.05 * 0.95, 0.05 * 0.95**2])
    assert result.val_log_odds.shape == (32, 2)


def test_an_epoch_of_at_least_epoch_images_makes_several_passes():
    """64 images, epoch_images=150: 3 passes (12 mini-batches) per epoch, one validation and one lr step each."""
    torch.manual_seed(0)
    result = _train(build_toy(), epochs=2, epoch_images=150, test_inputs=synthetic_images(8, seed=4).images)
    assert [r.iteration for r in result.history] == [12, 24]
    assert [r.lr for r in result.history] == pytest.approx([0.05, 0.05 * 0.95])
    assert result.epoch_val_log_odds.shape == (2, 32, 2) and result.epoch_test_log_odds.shape == (2, 8, 2)


def test_epoch_images_below_the_training_set_is_one_pass_and_changes_nothing():
    torch.manual_seed(0)
    plain = _train(build_toy(), epochs=2)
    torch.manual_seed(0)
    small = _train(build_toy(), epochs=2, epoch_images=64)
    assert [r.iteration for r in small.history] == [4, 8]
    np.testing.assert_array_equal(small.epoch_val_log_odds, plain.epoch_val_log_odds)


def test_negative_epoch_images_is_refused():
    with pytest.raises(ValueError, match=r"'epoch_images' parameter of train_model must be >= 0; got -1"):
        _train(build_toy(), epoch_images=-1)


def test_early_stopping_restores_the_best_epoch():
    scores = iter([0.6, 0.9, 0.7, 0.8, 0.95])
    snapshots = {}
    torch.manual_seed(0)
    model = build_toy()

    def remember(record):
        snapshots[record.epoch] = copy.deepcopy(model.state_dict())

    result = _train(model, epochs=5, patience=2, val_score=lambda y, p: next(scores), on_epoch_end=remember)
    # best 0.9 at epoch 2; epochs 3 and 4 do not improve -> stop after epoch 4
    assert (result.best_epoch, result.epochs_run, result.best_val_score) == (2, 4, 0.9)
    for key, value in model.state_dict().items():
        assert torch.equal(value, snapshots[2][key]), key


def test_nan_score_never_wins():
    scores = iter([float("nan"), 0.7, float("nan")])
    torch.manual_seed(0)
    result = _train(build_toy(), epochs=3, patience=3, val_score=lambda y, p: next(scores))
    assert result.best_epoch == 2


def test_deterministic_on_cpu_for_a_seed():
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = build_toy()
        result = _train(model, epochs=2, augment=True)
        runs.append(([r.train_loss for r in result.history], model.state_dict()))
    assert runs[0][0] == runs[1][0]
    for key in runs[0][1]:
        assert torch.equal(runs[0][1][key], runs[1][1][key])


def test_frozen_groups_and_their_bn_statistics_do_not_change():
    torch.manual_seed(0)
    model = build_toy()
    before = copy.deepcopy(model.state_dict())
    _train(model, depth=1, epochs=2)
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"net.3.weight", "net.3.bias"}


def test_diverging_loss_raises():
    torch.manual_seed(0)
    with pytest.raises(TrainingDivergedError, match="training loss became nan at epoch 1, mini-batch 1"):
        _train(build_toy(), class_weights=torch.tensor([float("nan"), 1.0]))


def test_predict_proba_rows_sum_to_one_and_keep_mode():
    model = build_toy()
    model.train()
    probs = predict_proba(model, synthetic_images(10).images, batch_size=4,
                          device=CPU)
    assert probs.shape == (10, 2) and np.allclose(probs.sum(axis=1), 1.0)
    assert model.training


def test_min_iterations_extends_training_past_max_epochs():
    torch.manual_seed(0)
    freeze_to_depth(model := build_toy(), 4, bn_policy="freeze")
    result = train_model(
        model, train=synthetic_images(32, seed=1), val=synthetic_images(16, seed=2), regime="scratch",
        policy=POLICY, stopping=StoppingRule(max_epochs=1, patience=1, min_iterations=5), batch_size=16, seed=0,
        device=CPU, val_score=roc_auc_score,
    )
    # 2 mini-batches per epoch: 5 mini-batches need 3 epochs although max_epochs is 1
    assert (result.epochs_run, result.history[-1].iteration) == (3, 6)


def test_log_probabilities_keep_the_order_of_confident_predictions():
    # Logit gaps of 30, 40 and 50 all give a probability of exactly 1.0 in float32, so probabilities tie the
    # positives (40, 50) with a negative (30): AUC 0.75 instead of 1. Float64 log-probabilities would still tie
    # 40 and 50 (z - logsumexp(z) cancels to 0.0); the log-odds are 30, 40, 50 and -5.
    from torch import nn

    from tunedepth.models import GroupedModel, LayerGroup

    net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    with torch.no_grad():
        for layer in net:
            layer.weight.copy_(torch.eye(2))
            layer.bias.zero_()
    model = GroupedModel(net, (LayerGroup("a", ("0",)), LayerGroup("b", ("1",))), architecture="toy")
    features = torch.tensor([[0.0, 50.0], [0.0, 40.0], [0.0, 30.0], [0.0, -5.0]])
    labels = np.array([1, 1, 0, 0])
    log_odds = predict_log_odds(model, features, batch_size=2, device=CPU, cut=1)
    assert log_odds.dtype == np.float64
    np.testing.assert_allclose(log_odds, [[-50, 50], [-40, 40], [-30, 30], [5, -5]])
    assert roc_auc_score(labels, log_odds) == 1.0
    float32_probs = torch.softmax(features, dim=1).numpy()
    assert roc_auc_score(labels, float32_probs) == 0.75  # what storing float32 probabilities gave
    probs = predict_proba(model, features, batch_size=2, device=CPU, cut=1)
    np.testing.assert_allclose(probs, torch.softmax(features.double(), dim=1).numpy(), rtol=1e-12)


def test_log_odds_of_three_classes_are_the_log_odds_of_the_softmax():
    from tunedepth.training.predict import _log_odds

    logits = torch.tensor([[1.0, 2.0, 0.5], [-3.0, 0.0, 4.0]])
    p = torch.softmax(logits.double(), dim=1)
    torch.testing.assert_close(_log_odds(logits), torch.log(p / (1 - p)))


def test_every_epoch_keeps_its_validation_and_test_log_odds():
    """The kept epoch's validation log-odds are those of the kept epoch in the per-epoch record, and the per-epoch
    AUCs are the history's scores: the choice of epoch can be redone from them."""
    torch.manual_seed(0)
    test = synthetic_images(20, seed=4)
    result = _train(build_toy(), epochs=4, patience=4, test_inputs=test.images)
    val_labels = synthetic_images(32, seed=2).labels.numpy()
    assert result.epoch_val_log_odds.shape == (4, 32, 2) and result.epoch_test_log_odds.shape == (4, 20, 2)
    assert [roc_auc_score(val_labels, lo) for lo in result.epoch_val_log_odds] == \
        [r.val_score for r in result.history]
    np.testing.assert_array_equal(result.epoch_val_log_odds[result.best_epoch - 1], result.val_log_odds)


def test_to_cases_maps_the_kept_log_odds():
    torch.manual_seed(0)
    result = _train(build_toy(), epochs=2, patience=2, test_inputs=synthetic_images(20, seed=4).images,
                    to_cases=lambda lo: lo[::2])
    assert result.epoch_val_log_odds.shape == (2, 16, 2) and result.epoch_test_log_odds.shape == (2, 10, 2)


def test_epoch_metric_loss_keeps_the_epoch_of_lowest_validation_loss():
    """With a validation score that prefers the first epoch, 'auc' keeps epoch 1 and 'loss' the epoch of lowest
    validation loss (a later one, as the toy task is learnt)."""
    first_wins = iter([1.0, 0.0, 0.0, 0.0, 0.0])
    torch.manual_seed(0)
    by_score = _train(build_toy(), epochs=5, patience=5, val_score=lambda y, s: next(first_wins))
    torch.manual_seed(0)
    by_loss = _train(build_toy(), epochs=5, patience=5, val_score=lambda y, s: 0.5, epoch_metric="loss")
    losses = [r.val_loss for r in by_loss.history]
    assert by_score.best_epoch == 1
    assert by_loss.best_epoch == int(np.argmin(losses)) + 1 > 1
    assert by_loss.selection_score == -min(losses)


def test_label_smoothing_changes_the_training_loss_only_when_set():
    torch.manual_seed(0)
    plain = _train(build_toy(), epochs=1, patience=1)
    torch.manual_seed(0)
    zero = _train(build_toy(), epochs=1, patience=1, label_smoothing=0.0)
    torch.manual_seed(0)
    smoothed = _train(build_toy(), epochs=1, patience=1, label_smoothing=0.2)
    assert zero.history[0].train_loss == plain.history[0].train_loss
    assert smoothed.history[0].train_loss != plain.history[0].train_loss


@pytest.mark.parametrize(("epoch_images", "iterations", "first_lr"), [(0, [4, 8, 12], 0.05 / 4),
                                                                       (128, [8, 16, 24], 0.05 / 8)])
def test_warmup_cosine_history_records_the_base_lr_of_each_epoch(epoch_images, iterations, first_lr):
    """64 images, batch 16, 1 warm-up epoch, a 3-epoch budget. One pass per epoch: 4 steps per epoch, so epoch 1
    starts at lr/4, epoch 2 at the full lr, epoch 3 at half of it (cosine at step 8 of 4..12). epoch_images=128: 2
    passes = 8 steps per epoch, so warm-up and budget count those epochs (lr/8, lr, lr/2)."""
    policy = LrPolicy(**{**POLICY.__dict__, "schedule": "warmup_cosine", "warmup_epochs": 1.0})
    torch.manual_seed(0)
    model = build_toy()
    freeze_to_depth(model, 4, bn_policy="freeze")
    result = train_model(model, train=synthetic_images(64, seed=1), val=synthetic_images(32, seed=2),
                         regime="scratch", policy=policy, stopping=StoppingRule(3, 3), batch_size=16, seed=0,
                         device=CPU, val_score=roc_auc_score, epoch_images=epoch_images)
    assert [r.iteration for r in result.history] == iterations
    assert [r.lr for r in result.history] == pytest.approx([first_lr, 0.05, 0.025])


def _dropout_toy():
    """The toy CNN with dropout before its head: training draws from the global RNG every mini-batch."""
    from torch import nn

    from tests.conftest import TOY
    from tunedepth.models import Architecture

    def net(num_classes):
        base = TOY.build_net(num_classes)
        base[2].append(nn.Dropout(0.5))
        return base

    arch = Architecture(name="toy4-dropout", description="toy4 with dropout", groups=TOY.groups, build_net=net,
                        first_conv=TOY.first_conv, weight_sources={}, mean=TOY.mean, std=TOY.std, input_size=16)
    return arch.build(2)


def test_training_in_stages_interleaved_with_another_run_equals_training_in_one_go():
    """A Trainer paused and resumed (as the lr search does), while another Trainer uses the global RNG in between,
    ends with exactly the weights and history of the same run trained in one go: it keeps its own RNG stream."""
    from tunedepth.training import Trainer

    def trainer(lr):
        torch.manual_seed(0)
        model = _dropout_toy()
        freeze_to_depth(model, 4, bn_policy="freeze")
        policy = LrPolicy(**{**POLICY.__dict__, "lr": lr})
        return Trainer(model, train=synthetic_images(64, seed=1), val=synthetic_images(32, seed=2), regime="scratch",
                       policy=policy, stopping=StoppingRule(4, 4), batch_size=16, seed=0, device=CPU,
                       val_score=roc_auc_score)

    alone = trainer(0.05)
    alone.run()
    staged, other = trainer(0.05), trainer(0.01)
    staged.run(until_epoch=1)
    other.run(until_epoch=2)
    staged.run(until_epoch=2)
    other.run()
    staged.run()
    assert [r.train_loss for r in staged.history] == [r.train_loss for r in alone.history]
    a, b = alone.result(), staged.result()
    assert (a.best_epoch, a.best_val_score) == (b.best_epoch, b.best_val_score)
    for (name, x), y in zip(alone.model.state_dict().items(), staged.model.state_dict().values(), strict=True):
        assert torch.equal(x, y), name
