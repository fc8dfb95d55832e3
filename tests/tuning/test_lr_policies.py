from __future__ import annotations

import pytest
import torch

from tests.conftest import build_toy
from tunedepth.tuning import LrPolicy, build_optimizer, build_param_groups, build_scheduler, freeze_to_depth

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
        sched.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.01 * 0.95**2, 0.02 * 0.95**2])


def test_adamw_keeps_group_structure():
    policy = LrPolicy(**{**PAPER.__dict__, "optimizer": "adamw"})
    model = build_toy()
    freeze_to_depth(model, 2, bn_policy="freeze")
    opt = build_optimizer(build_param_groups(model, regime="finetune", policy=policy), policy=policy)
    assert isinstance(opt, torch.optim.AdamW)
    assert sorted(g["lr"] for g in opt.param_groups) == pytest.approx([0.001, 0.002, 0.01, 0.02])
