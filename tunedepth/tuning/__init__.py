"""Tuning: which groups train (depth, BN policy) and at which learning rates."""

from __future__ import annotations

from tunedepth.tuning.depth import BnPolicy, check_depth, freeze_to_depth, regime_label
from tunedepth.tuning.lr_policies import LrPolicy, build_optimizer, build_param_groups, build_scheduler

__all__ = [
    "BnPolicy",
    "LrPolicy",
    "build_optimizer",
    "build_param_groups",
    "build_scheduler",
    "check_depth",
    "freeze_to_depth",
    "regime_label",
]
