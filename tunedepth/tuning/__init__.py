"""Tuning: which groups train (depth, BN policy) and at which learning rates."""

from __future__ import annotations

from tunedepth.tuning.depth import BnPolicy, check_depth, freeze_to_depth, regime_label
from tunedepth.tuning.lr_policies import (
    LrPolicy,
    LrSchedule,
    build_optimizer,
    build_param_groups,
    build_scheduler,
    lr_factor,
)

__all__ = [
    "BnPolicy",
    "LrPolicy",
    "LrSchedule",
    "build_optimizer",
    "build_param_groups",
    "build_scheduler",
    "check_depth",
    "freeze_to_depth",
    "lr_factor",
    "regime_label",
]
