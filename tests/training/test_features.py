"""The frozen-prefix feature cache: exact where it is used, refused where it would not be, keyed by content."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from tests.conftest import build_toy, synthetic_images
from tunedepth.models import get_architecture
from tunedepth.training import (
    CachedInputs,
    FeatureStore,
    StoppingRule,
    cache_cut,
    predict_log_odds,
    predict_proba,
    train_model,
)
from tunedepth.tuning import LrPolicy, freeze_to_depth

POLICY = LrPolicy(optimizer="sgd", lr=0.05, head_lr_mult=10.0, bias_lr_mult=2.0, momentum=0.9, weight_decay=0.0,
                  lr_decay_per_epoch=0.95)
CPU = torch.device("cpu")
TRAIN, VAL = synthetic_images(32, seed=1), synthetic_images(16, seed=2)


def _toy(depth: int = 2, *, bn_policy: str = "freeze", sha: str | None = "a" * 64):
    torch.manual_seed(0)
    model = build_toy()
    model.weights_sha256 = sha
    freeze_to_depth(model, depth, bn_policy=bn_policy)
    return model


def _train(model, *, cached=None, epochs=1, batch_size=32, **kwargs):
    return train_model(model, train=TRAIN, val=VAL, regime="finetune", policy=POLICY,
                       stopping=StoppingRule(epochs, epochs), batch_size=batch_size, seed=0, device=CPU,
                       val_score=lambda y, p: float(p[:, 1].mean()), cached=cached, **kwargs)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_cached_and_uncached_training_give_the_same_weights(dtype):
    # One step (32 images, batch 32), then four epochs of 4 steps: the trainable groups (conv3, fc) end the same.
    for epochs, batch_size in ((1, 32), (4, 8)):
        plain, fast = _toy(), _toy()
        store = FeatureStore(dtype=dtype)
        cut, reason = cache_cut(fast)
        assert (cut, reason) == (2, "")
        cached = CachedInputs(cut, store.get(fast, cut, TRAIN.images), store.get(fast, cut, VAL.images))
        _train(plain, epochs=epochs, batch_size=batch_size)
        result = _train(fast, cached=cached, epochs=epochs, batch_size=batch_size)
        tolerance = {"rtol": 1e-5, "atol": 1e-6} if dtype == "float32" else {"rtol": 2e-2, "atol": 2e-3}
        for (key, want), got in zip(plain.state_dict().items(), fast.state_dict().values(), strict=True):
            torch.testing.assert_close(got, want, **tolerance, msg=f"{key}, {epochs} epochs, {dtype}")
        log_odds = predict_log_odds(fast, store.get(fast, cut, VAL.images), batch_size=7, device=CPU, cut=cut)
        np.testing.assert_allclose(log_odds, result.val_log_odds, rtol=1e-6, atol=1e-7)
        probs = 1 / (1 + np.exp(-log_odds))
        np.testing.assert_allclose(probs, predict_proba(plain, VAL.images, batch_size=7, device=CPU),
                                   **({"rtol": 1e-5, "atol": 1e-6} if dtype == "float32" else {"atol": 5e-3}))


def test_the_cut_stops_at_the_first_group_that_is_not_a_fixed_function():
    assert cache_cut(_toy(1)) == (3, "")
    assert cache_cut(_toy(4)) == (0, "every group trains (scratch or depth = all)")
    assert cache_cut(_toy(1, bn_policy="train")) == (0, "group 'conv1' has BatchNorm in train mode (bn_policy = "
                                                       "'train')")
    model = _toy(1)
    model.train(False)
    cache_cut(model)
    assert not model.training  # the mode is restored


@pytest.mark.parametrize(("name", "depth", "want"), [
    ("alexnet", 1, (5, "group 'fc6' has active dropout")),  # fc6 and fc7 start with dropout: run live
    ("alexnet", 3, (5, "")),
    ("alexnet", 4, (4, "")),
    ("resnet18", 1, (5, "")),
    ("efficientnet_lite0", 1, (9, "")),
    ("efficientnet_lite0", 9, (1, "")),
    ("efficientnet_lite0", 10, (0, "every group trains (scratch or depth = all)")),
])
def test_cut_of_each_architecture(name, depth, want):
    model = get_architecture(name).build(num_classes=2)
    freeze_to_depth(model, depth, bn_policy="freeze")
    assert cache_cut(model) == want


def test_features_are_computed_once_and_recomputed_when_any_key_part_changes():
    store = FeatureStore(dtype="float32")
    model = _toy(1)
    first = store.get(model, 2, TRAIN.images)
    assert store.get(model, 2, TRAIN.images) is first and len(store.computed) == 1
    changed_images = TRAIN.images.clone()
    changed_images[0, 0, 0, 0] += 1
    other_weights = _toy(1, sha="b" * 64)
    other_norm = _toy(1)
    other_norm.mean = (0.4, 0.5, 0.5)
    store.get(model, 3, TRAIN.images)  # another cut
    store.get(model, 2, changed_images)  # other images
    store.get(other_weights, 2, TRAIN.images)  # other starting weights
    store.get(other_norm, 2, TRAIN.images)  # other input normalisation
    assert len(store.computed) == len(set(store.computed)) == 5
    half = FeatureStore(dtype="float16")
    assert half.key(model, 2, TRAIN.images) != store.key(model, 2, TRAIN.images)  # the dtype is in the key
    TRAIN_COPY = TRAIN.images.clone()
    assert store.key(model, 2, TRAIN_COPY) == store.key(model, 2, TRAIN.images)  # content, not identity
    TRAIN_COPY[1, 1, 1, 1] += 1  # an in-place change of a tensor already hashed is seen
    assert store.key(model, 2, TRAIN_COPY) != store.key(model, 2, TRAIN.images)


def test_random_initialisation_and_bad_cuts_are_refused():
    store = FeatureStore()
    with pytest.raises(ValueError, match="needs a model with recorded starting weights"):
        store.get(_toy(1, sha=None), 2, TRAIN.images)
    with pytest.raises(ValueError, match=r"'cut' parameter must be in \[1, 3\]; got 4"):
        store.get(_toy(1), 4, TRAIN.images)


def test_training_on_cached_inputs_refuses_augmentation_and_wrong_sizes():
    model = _toy(1)
    store = FeatureStore()
    train, val = store.get(model, 3, TRAIN.images), store.get(model, 3, VAL.images)
    with pytest.raises(ValueError, match="cannot be used with augment=True"):
        _train(model, cached=CachedInputs(3, train, val), augment=True)
    with pytest.raises(ValueError, match="features of the 32 training inputs and 16 validation images; got 31 and 16"):
        _train(model, cached=CachedInputs(3, train[:31], val))


def test_one_pass_for_several_cuts_equals_one_cut_at_a_time():
    model = _toy(1)
    together = FeatureStore(dtype="float32", batch_size=5)
    together.prepare(model, {1, 2, 3}, TRAIN.images)
    assert len(together.computed) == 3
    alone = FeatureStore(dtype="float32", batch_size=5)
    for cut in (3, 1, 2):
        assert torch.equal(alone.get(model, cut, TRAIN.images), together.get(model, cut, TRAIN.images))
    with torch.no_grad():
        model.eval()
        direct = model.forward_to(2, (TRAIN.images.float() / 255 - 0.5) / 0.25)
    torch.testing.assert_close(together.get(model, 2, TRAIN.images), direct, rtol=1e-5, atol=1e-6)


def test_over_the_memory_budget_entries_are_memory_mapped_from_disk(tmp_path):
    model = _toy(1)
    in_memory = FeatureStore(dtype="float16")
    on_disk = FeatureStore(dtype="float16", memory_budget_bytes=0, directory=tmp_path / "cache")
    features = on_disk.get(model, 2, TRAIN.images)
    files = list((tmp_path / "cache").iterdir())
    assert [f.suffix for f in files] == [".npy"] and on_disk.memory_bytes == 0
    assert torch.equal(features, in_memory.get(model, 2, TRAIN.images))
    assert in_memory.memory_bytes == features.numel() * 2
    # another store (another worker process) maps the same file instead of computing
    shared = FeatureStore(dtype="float16", memory_budget_bytes=0, directory=tmp_path / "cache")
    assert torch.equal(shared.get(model, 2, TRAIN.images), features) and shared.computed == []
    gathered = features[torch.tensor([3, 1])]  # what a run does with its training subset
    assert gathered.shape[0] == 2 and torch.equal(gathered[1], features[1])


def test_cached_inputs_keep_frozen_groups_frozen():
    model = _toy(1)
    before = copy.deepcopy(model.state_dict())
    store = FeatureStore()
    _train(model, cached=CachedInputs(3, store.get(model, 3, TRAIN.images), store.get(model, 3, VAL.images)),
           epochs=2, batch_size=8)
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"net.3.weight", "net.3.bias"}
