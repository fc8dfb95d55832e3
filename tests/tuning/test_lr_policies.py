from __future__ import annotations

import math

import pytest
import torch

from tests.conftest import build_toy
from tunedepth.tuning import LrPolicy, build_optimizer, build_param_groups, build_scheduler, freeze_to_depth, lr_factor

PAPER = LrPolicy(optimizer="sgd", lr=0.001, head_lr_mult=10, bias_lr_mult=2, momentum=0.9, weight_decay=0.0,
                 lr_decay_per_epoch=0.95)


def _lrs(groups):
    return {(g["group"], g["kind"]): pytest.approx(g["lr"]) for g in groups}


def test_finetune_depth2_paper_rates():
    model = build_toy()
    freeze_to_depth(model, 2, bn_policy="freeze")
    groups = build_param_groups(model, regime="finetune", policy=PAPER)
    assert _lrs(groups) == {
        ("conv3", "weight"): 0.001, ("conv3", "bias"): 0.002, ("fc", "weight"): 0.01, ("fc", "bias"): 0.02,
    }
    # frozen parameters are not in the optimizer at all (no state)
    in_opt = {id(p) for g in groups for p in g["params"]}
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert in_opt == trainable and len(trainable) == 4


def test_scratch_uses_base_lr_everywhere_and_norm_params_separate():
    model = build_toy()
    freeze_to_depth(model, 4, bn_policy="freeze")
    groups = build_param_groups(model, regime="scratch", policy=PAPER)
    lrs = _lrs(groups)
    assert lrs[("fc", "weight")] == 0.001 and lrs[("fc", "bias")] == 0.002
    assert lrs[("conv1", "norm")] == 0.001 and lrs[("conv1", "bias")] == 0.002
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


def test_weight_decay_only_on_weights():
    policy = LrPolicy(**{**PAPER.__dict__, "weight_decay": 1e-4})
    model = build_toy()
    freeze_to_depth(model, 4, bn_policy="freeze")
    for g in build_param_groups(model, regime="finetune", policy=policy):
        assert g["weight_decay"] == (1e-4 if g["kind"] == "weight" else 0.0)


def test_sgd_momentum_and_per_epoch_decay():
    model = build_toy()
    freeze_to_depth(model, 1, bn_policy="freeze")
    opt = build_optimizer(build_param_groups(model, regime="finetune", policy=PAPER), policy=PAPER)
    sched = build_scheduler(opt, policy=PAPER)
    assert isinstance(opt, torch.optim.SGD) and opt.param_groups[0]["momentum"] == 0.9
    for _ in range(2):
        opt.step()
        sched.step_batch()  # the paper's schedule does not move within an epoch
        sched.step_epoch()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.01 * 0.95**2, 0.02 * 0.95**2])


def test_adamw_keeps_group_structure():
    policy = LrPolicy(**{**PAPER.__dict__, "optimizer": "adamw"})
    model = build_toy()
    freeze_to_depth(model, 2, bn_policy="freeze")
    opt = build_optimizer(build_param_groups(model, regime="finetune", policy=policy), policy=policy)
    assert isinstance(opt, torch.optim.AdamW)
    assert sorted(g["lr"] for g in opt.param_groups) == pytest.approx([0.001, 0.002, 0.01, 0.02])


def test_warmup_cosine_lr_at_sampled_steps_equals_the_formula():
    """Warm-up 2 epochs of 5 mini-batches (10 steps), cosine to 0 at step 50: the lr the optimizer uses at each
    sampled step is lr x factor, factor = (s + 1) / 10 in the warm-up, 0.5 (1 + cos(pi (s - 10) / 40)) after."""
    policy = LrPolicy(**{**PAPER.__dict__, "optimizer": "adamw", "schedule": "warmup_cosine", "warmup_epochs": 2.0})
    model = build_toy()
    freeze_to_depth(model, 1, bn_policy="freeze")
    opt = build_optimizer(build_param_groups(model, regime="finetune", policy=policy), policy=policy)
    sched = build_scheduler(opt, policy=policy, steps_per_epoch=5, total_steps=50)
    head_lr = policy.lr * policy.head_lr_mult
    seen = {}
    for step in range(55):
        seen[step] = opt.param_groups[0]["lr"]  # the lr of this step's update
        opt.step()
        sched.step_batch()
        if step % 5 == 4:
            sched.step_epoch()  # a no-op for a per-batch schedule
    expected = {0: 0.1, 4: 0.5, 9: 1.0, 10: 1.0, 20: 0.5 * (1 + math.cos(math.pi * 10 / 40)), 30: 0.5,
                40: 0.5 * (1 + math.cos(math.pi * 30 / 40)), 49: 0.5 * (1 + math.cos(math.pi * 39 / 40)), 50: 0.0,
                54: 0.0}
    for step, factor in expected.items():
        assert seen[step] == pytest.approx(head_lr * factor, abs=1e-12), step


def test_lr_factor_without_warmup_starts_at_the_full_lr():
    assert lr_factor(0, warmup_steps=0, total_steps=4) == 1.0
    assert lr_factor(2, warmup_steps=0, total_steps=4) == pytest.approx(0.5)
