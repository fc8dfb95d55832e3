"""The tuning methods (tunedepth/tuning/methods): which parameters train, their learning rates, L2-SP's penalty and
Auto-RGN's step, each against a hand-computed expectation on the toy model."""

from __future__ import annotations

import copy

import pytest
import torch

from tests.conftest import build_toy, synthetic_images
from tunedepth.config.methods import L2spSettings, LlrdSettings, MethodsConfig
from tunedepth.errors import ConfigError
from tunedepth.evaluation import roc_auc_score
from tunedepth.training import StoppingRule, Trainer
from tunedepth.tuning import LrPolicy, build_optimizer, build_scheduler
from tunedepth.tuning.methods import (
    TUNING_METHODS,
    AutoRgn,
    L2sp,
    Layerwise,
    Llrd,
    NormOnly,
    Surgical,
    default_surgical_depths,
    make_method,
    relative_gradient_norms,
)

CPU = torch.device("cpu")
POLICY = LrPolicy(optimizer="sgd", lr=0.1, head_lr_mult=10.0, bias_lr_mult=2.0, momentum=0.0, weight_decay=0.0,
                  lr_decay_per_epoch=0.5)


def _trainer(model, method, *, regime="finetune", policy=POLICY, epochs=1, bn_policy="freeze", depth=4) -> Trainer:
    method.freeze(model, depth, bn_policy=bn_policy)
    return Trainer(model, train=synthetic_images(32, seed=1), val=synthetic_images(16, seed=2), regime=regime,
                   policy=policy, stopping=StoppingRule(epochs, epochs), batch_size=16, seed=0, device=CPU,
                   val_score=roc_auc_score, method=method)


def _toy() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_toy()


def test_every_method_of_the_issue_is_registered_with_its_depth_axis_and_each_is_a_grid_choice():
    from typing import get_args

    from tunedepth.config import MethodName

    axes = {name: TUNING_METHODS.get(name).depth_axis for name in TUNING_METHODS}
    assert axes == {"layerwise": "prefix", "surgical": "single", "lp_ft": "prefix", "llrd": "none", "l2sp": "none",
                    "norm_only": "none", "auto_rgn": "none"}
    assert set(get_args(MethodName)) == set(axes)


def test_parameters_come_from_the_methods_table_and_are_what_run_ids_hash():
    assert make_method("llrd").params() == (("decay", 0.65),)
    assert make_method("llrd", MethodsConfig(llrd=LlrdSettings(decay=0.8))).params() == (("decay", 0.8),)
    assert make_method("l2sp", MethodsConfig(l2sp=L2spSettings(alpha=1.0))).params() == (("alpha", 1.0),
                                                                                         ("beta", 0.01))
    assert make_method("surgical").params() == ()  # its depths are the grid axis, not a parameter
    assert make_method("layerwise").params() == ()
    with pytest.raises(ConfigError, match="Unknown tuning method 'llr'. Did you mean 'llrd'"):
        make_method("llr")


def test_layerwise_is_the_paper_scheme_the_trainer_uses_by_default():
    a, b = _toy(), _toy()
    default = _trainer(a, Layerwise(), depth=2)
    Layerwise().freeze(b, 2, bn_policy="freeze")
    explicit = Trainer(b, train=synthetic_images(32, seed=1), val=synthetic_images(16, seed=2), regime="finetune",
                       policy=POLICY, stopping=StoppingRule(1, 1), batch_size=16, seed=0, device=CPU,
                       val_score=roc_auc_score)
    lrs = [(g["group"], g["kind"], g["lr"]) for g in default.optimizer.param_groups]
    assert lrs == [(g["group"], g["kind"], g["lr"]) for g in explicit.optimizer.param_groups]
    assert lrs == [("conv3", "weight", 0.1), ("conv3", "bias", 0.2), ("fc", "weight", 1.0), ("fc", "bias", 2.0)]


# --- LLRD ------------------------------------------------------------------------------------------------------------

def test_llrd_gives_the_k_th_group_from_the_output_lr_times_decay_to_the_k_without_the_head_multiplier():
    model = _toy()
    trainer = _trainer(model, Llrd(LlrdSettings(decay=0.5)))
    got = {(g["group"], g["kind"]): g["lr"] for g in trainer.optimizer.param_groups}
    # fc k=0, conv3 k=1, conv2 k=2, conv1 k=3; biases x 2 (bias_lr_mult), no head_lr_mult (10) on fc
    expected = {("fc", "weight"): 0.1, ("fc", "bias"): 0.2, ("conv3", "weight"): 0.05, ("conv3", "bias"): 0.1,
                ("conv2", "weight"): 0.025, ("conv2", "bias"): 0.05, ("conv2", "norm"): 0.025,
                ("conv1", "weight"): 0.0125, ("conv1", "bias"): 0.025, ("conv1", "norm"): 0.0125}
    assert got == pytest.approx(expected)
    assert all(p.requires_grad for p in model.parameters())  # every group is reachable


def test_llrd_scales_are_applied_once_through_a_schedule():
    model = _toy()
    groups = Llrd(LlrdSettings(decay=0.5)).param_groups(model, regime="finetune", policy=POLICY)
    optimizer = build_optimizer(groups, policy=POLICY)
    schedule = build_scheduler(optimizer, policy=POLICY)
    for _ in range(3):
        optimizer.step()  # no gradients: moves nothing
        schedule.step_epoch()
    lrs = {(g["group"], g["kind"]): g["lr"] for g in optimizer.param_groups}
    # after 3 epochs every lr is its start x 0.5^3: the layer scale is not re-applied by the schedule
    assert lrs[("fc", "weight")] == pytest.approx(0.1 * 0.125)
    assert lrs[("conv1", "weight")] == pytest.approx(0.1 * 0.125 ** 2)


# --- L2-SP -----------------------------------------------------------------------------------------------------------

def test_l2sp_gradient_is_the_analytic_one_and_its_reference_is_the_starting_weights():
    model = _toy()
    method = L2sp(L2spSettings(alpha=0.3, beta=0.07))
    method.freeze(model, 4, bn_policy="freeze")
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    hooks = method.start(model)
    assert hooks.penalty is not None
    head_norm = sum(p.detach().pow(2).sum().item() for n, p in model.named_parameters() if n.startswith("net.3."))
    assert hooks.penalty().item() == pytest.approx(0.5 * 0.07 * head_norm)  # w = w0: the head's term alone
    with torch.no_grad():  # move every weight, as training would
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    model.zero_grad()
    hooks.penalty().backward()
    for name, p in model.named_parameters():
        expected = 0.07 * p.detach() if name.startswith("net.3.") else 0.3 * (p.detach() - start[name])
        torch.testing.assert_close(p.grad, expected)


def test_l2sp_replaces_weight_decay_and_trains_with_its_penalty():
    policy = LrPolicy(optimizer="adamw", lr=1e-3, head_lr_mult=10.0, bias_lr_mult=1.0, momentum=0.9,
                      weight_decay=0.05, lr_decay_per_epoch=1.0)
    model = _toy()
    trainer = _trainer(model, L2sp(), policy=policy)
    assert {g["weight_decay"] for g in trainer.optimizer.param_groups} == {0.0}
    trainer.run()
    assert trainer.history[0].train_loss > 0


# --- surgical --------------------------------------------------------------------------------------------------------

def test_surgical_tunes_exactly_the_named_group_and_the_head():
    model = _toy()
    before = copy.deepcopy(model.state_dict())
    trainer = _trainer(model, Surgical(), depth=3, epochs=2)  # depth 3 = conv2 (of conv1, conv2, conv3, fc)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"net.1.0.weight", "net.1.0.bias", "net.1.1.weight", "net.1.1.bias", "net.3.weight",
                         "net.3.bias"}
    trainer.run()
    with_state = {id(p) for p in trainer.optimizer.state}
    for name, p in model.named_parameters():
        if name not in trainable:
            assert p.grad is None and id(p) not in with_state, name
    changed = {k for k, v in model.state_dict().items() if not torch.equal(before[k], v)}
    # conv1's BatchNorm is frozen (bn_policy = "freeze"): its running statistics stay; conv2's train
    assert changed == trainable | {"net.1.1.running_mean", "net.1.1.running_var", "net.1.1.num_batches_tracked"}


def test_surgical_refuses_the_head_alone_and_defaults_to_early_middle_late():
    with pytest.raises(ConfigError, match=r"surgical .* depth in \[2, 4\] .* got 1"):
        Surgical().freeze(_toy(), 1, bn_policy="freeze")
    assert default_surgical_depths(4) == (2, 3, 4) and default_surgical_depths(10) == (2, 6, 10)


def test_a_surgical_run_serves_its_frozen_prefix_from_the_cache():
    from tunedepth.training import cache_cut

    model = _toy()
    Surgical().freeze(model, 2, bn_policy="freeze")  # conv3 and fc train: conv1 and conv2 are a frozen prefix
    assert cache_cut(model)[0] == 2


# --- norm only -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bn_policy", ["freeze", "train"])
def test_norm_only_tunes_norm_affine_parameters_and_the_head_and_keeps_statistics_per_bn_policy(bn_policy):
    model = _toy()
    before = copy.deepcopy(model.state_dict())
    trainer = _trainer(model, NormOnly(), bn_policy=bn_policy, epochs=2)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"net.0.1.weight", "net.0.1.bias", "net.1.1.weight", "net.1.1.bias", "net.3.weight",
                         "net.3.bias"}
    trainer.run()
    changed = {k for k, v in model.state_dict().items() if not torch.equal(before[k], v)}
    statistics = {f"net.{i}.1.{s}" for i in (0, 1) for s in ("running_mean", "running_var", "num_batches_tracked")}
    assert changed == trainable | (statistics if bn_policy == "train" else set())


# --- Auto-RGN --------------------------------------------------------------------------------------------------------

def test_auto_rgn_sets_each_tensors_lr_to_lr_times_rgn_over_the_max_for_one_step():
    model = _toy()
    method = AutoRgn()
    method.freeze(model, 4, bn_policy="freeze")
    optimizer = build_optimizer(method.param_groups(model, regime="finetune", policy=POLICY), policy=POLICY)
    assert all(len(g["params"]) == 1 for g in optimizer.param_groups)  # one group per tensor
    torch.manual_seed(1)
    for p in model.parameters():
        p.grad = torch.randn_like(p)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    pretrained = [(n, p) for n, p in model.named_parameters() if not n.startswith("net.3.")]
    rgn = dict(zip([n for n, _ in pretrained], relative_gradient_norms([p for _, p in pretrained]), strict=True))
    top = max(rgn.values())
    method.start(model).step(optimizer)
    for name, p in model.named_parameters():
        lr = 0.1 * 10.0 if name.startswith("net.3.") else 0.1 * rgn[name] / top  # head: head_lr_mult x lr
        torch.testing.assert_close(p.detach(), before[name] - lr * p.grad)  # plain SGD: w - lr * g
    assert max(rgn.values()) == pytest.approx(top) and any(v < top for v in rgn.values())
    assert [g["lr"] for g in optimizer.param_groups if g["rgn"]] == [0.1] * len(pretrained)  # the schedule's lr back


def test_auto_rgn_trains_through_the_trainer():
    trainer = _trainer(_toy(), AutoRgn(), epochs=2)
    trainer.run()
    assert len(trainer.history) == 2 and all(r.train_loss > 0 for r in trainer.history)
