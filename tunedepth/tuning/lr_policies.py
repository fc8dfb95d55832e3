"""Learning-rate policies: per-group optimizer parameter groups, optimizer and schedule.

The default is the paper's (Tajbakhsh et al. 2016, Table II): SGD with momentum 0.9,
base lr 0.001 for tuned groups, 10x for the new head, 2x for biases, and the lr
multiplied by 0.95 after every epoch. Scratch uses the base lr in every group (biases 2x).
Frozen parameters are left out of the optimizer entirely, so they carry no state.

The other schedule, ``warmup_cosine``, is stepped every mini-batch: a linear warm-up from ``lr / warmup_steps`` to
``lr`` over the first ``warmup_steps``, then a half cosine to 0 at the end of the run's step budget (Loshchilov &
Hutter, "SGDR", ICLR 2017, without restarts; Goyal et al. 2017 for the warm-up). AdamW's weight decay is decoupled
from the gradient (Loshchilov & Hutter, ICLR 2019) and, as for SGD, applies to weights only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch

from tunedepth.config import Regime
from tunedepth.models import GroupedModel

__all__ = ["LrPolicy", "LrSchedule", "build_optimizer", "build_param_groups", "build_scheduler", "lr_factor",
           "param_kind"]


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
    schedule: Literal["exponential", "warmup_cosine"] = "exponential"
    warmup_epochs: float = 0.0


def param_kind(name: str, param: torch.nn.Parameter) -> str:
    """"bias" (name ends in ``.bias``), "weight" (2 or more dimensions: the only kind weight decay applies to) or
    "norm" (other 1-D parameters: normalisation scales).

    Example:
        >>> scale = torch.nn.Parameter(torch.ones(2))
        >>> param_kind("fc.bias", scale), param_kind("bn.weight", scale)
        ('bias', 'norm')
    """
    return "bias" if name.endswith(".bias") else ("weight" if param.ndim >= 2 else "norm")


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
            by_kind[param_kind(name, p)].append(p)
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
    """SGD with momentum or AdamW (decoupled weight decay) over ``param_groups`` (each keeps its own lr and weight
    decay)."""
    if policy.optimizer == "sgd":
        return torch.optim.SGD(param_groups, lr=policy.lr, momentum=policy.momentum)
    return torch.optim.AdamW(param_groups, lr=policy.lr)


def lr_factor(step: int, *, warmup_steps: int, total_steps: int) -> float:
    """The ``warmup_cosine`` multiplier of the base lr for mini-batch ``step`` (0-based).

    Linear warm-up ``(step + 1) / warmup_steps`` for ``step < warmup_steps``; then
    ``0.5 * (1 + cos(pi * (step - warmup_steps) / (total_steps - warmup_steps)))``, which falls from 1 to 0 at
    ``total_steps`` and stays 0 after it (a run trained past its budget, e.g. by ``min_iterations``, does not
    restart).

    Example:
        >>> [round(lr_factor(s, warmup_steps=2, total_steps=6), 3) for s in range(7)]
        [0.5, 1.0, 1.0, 0.854, 0.5, 0.146, 0.0]
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


@dataclass
class LrSchedule:
    """A run's learning-rate schedule: call :meth:`step_batch` after every optimizer step and :meth:`step_epoch`
    after every epoch; the one that belongs to the schedule moves the lr.

    Attributes:
        scheduler: the torch scheduler (ExponentialLR per epoch, or LambdaLR per mini-batch).
        per_batch: whether it is stepped every mini-batch (``warmup_cosine``) or every epoch (``exponential``).
    """

    scheduler: torch.optim.lr_scheduler.LRScheduler
    per_batch: bool

    def step_batch(self) -> None:
        if self.per_batch:
            self.scheduler.step()

    def step_epoch(self) -> None:
        if not self.per_batch:
            self.scheduler.step()


def build_scheduler(optimizer: torch.optim.Optimizer, *, policy: LrPolicy, steps_per_epoch: int = 1,
                    total_steps: int = 1) -> LrSchedule:
    """The schedule of ``policy``: the paper's lr x ``lr_decay_per_epoch`` after each epoch, or ``warmup_cosine``
    over ``total_steps`` mini-batches with ``warmup_epochs`` x ``steps_per_epoch`` of warm-up (see
    :func:`lr_factor`)."""
    if policy.schedule == "exponential":
        return LrSchedule(torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=policy.lr_decay_per_epoch), False)
    warmup = round(policy.warmup_epochs * steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, warmup_steps=warmup, total_steps=total_steps))
    return LrSchedule(scheduler, True)
