"""Learning-rate policies: per-group optimizer parameter groups, optimizer and schedule.

The default is the paper's (Tajbakhsh et al. 2016, Table II): SGD with momentum 0.9,
base lr 0.001 for tuned groups, 10x for the new head, 2x for biases, and the lr
multiplied by 0.95 after every epoch. Scratch uses the base lr in every group (biases 2x).
Frozen parameters are left out of the optimizer entirely, so they carry no state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch

from tunedepth.config import Regime
from tunedepth.models import GroupedModel

__all__ = ["LrPolicy", "build_optimizer", "build_param_groups", "build_scheduler"]


@dataclass(frozen=True)
class LrPolicy:
    """Optimizer and schedule settings (see ``tunedepth.config.TrainingConfig`` for meanings)."""

    optimizer: Literal["sgd", "adamw"]
    lr: float
    head_lr_mult: float
    bias_lr_mult: float
    momentum: float
    weight_decay: float
    lr_decay_per_epoch: float


def build_param_groups(model: GroupedModel, *, regime: Regime, policy: LrPolicy) -> list[dict[str, Any]]:
    """One optimizer parameter group per (layer group, weights|biases) with trainable parameters.

    A parameter is a bias when its name ends in ``.bias``; weight decay applies to
    parameters with 2 or more dimensions only (not biases or normalisation scales).

    Args:
        model: a model already frozen to its depth (``freeze_to_depth``).
        regime: "finetune" gives the head ``head_lr_mult`` x lr; "scratch" gives every group lr.
        policy: the learning-rate policy.

    Returns:
        Parameter-group dicts with keys params, lr, weight_decay, group, kind.
    """
    groups: list[dict[str, Any]] = []
    for group in model.groups:
        base = policy.lr
        if regime == "finetune" and group is model.head:
            base *= policy.head_lr_mult
        params = [(n, p) for n, p in model.group_parameters(group) if p.requires_grad]
        by_kind: dict[str, list[torch.nn.Parameter]] = {"weight": [], "bias": [], "norm": []}
        for name, p in params:
            kind = "bias" if name.endswith(".bias") else ("weight" if p.ndim >= 2 else "norm")
            by_kind[kind].append(p)
        for kind, plist in by_kind.items():
            if not plist:
                continue
            groups.append(
                {
                    "params": plist,
                    "lr": base * policy.bias_lr_mult if kind == "bias" else base,
                    "weight_decay": policy.weight_decay if kind == "weight" else 0.0,
                    "group": group.name,
                    "kind": kind,
                }
            )
    return groups


def build_optimizer(param_groups: list[dict[str, Any]], *, policy: LrPolicy) -> torch.optim.Optimizer:
    """SGD with momentum or AdamW over ``param_groups`` (each keeps its own lr)."""
    if policy.optimizer == "sgd":
        return torch.optim.SGD(param_groups, lr=policy.lr, momentum=policy.momentum)
    return torch.optim.AdamW(param_groups, lr=policy.lr)


def build_scheduler(optimizer: torch.optim.Optimizer, *, policy: LrPolicy) -> torch.optim.lr_scheduler.LRScheduler:
    """Multiply every group's lr by ``lr_decay_per_epoch`` after each epoch (paper's gamma)."""
    return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=policy.lr_decay_per_epoch)
