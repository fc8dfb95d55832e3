"""``llrd``: layer-wise learning-rate decay (Clark et al., ELECTRA, ICLR 2020; Bao et al., BEiT, ICLR 2022; timm's
``layer_decay``) — every group trains; the k-th group from the output (the head: k = 0) at ``lr x decay^k``.

The decay is the one per-group scale: the paper's head multiplier (``head_lr_mult``) is *not* applied on top
(timm users hit a per-module scale applied twice, see ``../shared/reference/anchors.md``); the per-kind rules stay
(biases x ``bias_lr_mult``, weight decay on weights only).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tunedepth.config import Regime
from tunedepth.config.methods import LlrdSettings
from tunedepth.models import GroupedModel
from tunedepth.tuning.lr_policies import LrPolicy, build_param_groups
from tunedepth.tuning.methods.base import TUNING_METHODS, TuningMethod

__all__ = ["Llrd"]


class Llrd(TuningMethod):
    """Every group at ``lr x decay^k``, k counted from the output."""

    name = "llrd"
    depth_axis = "none"
    reference = "Clark et al., ICLR 2020; Bao et al., ICLR 2022"

    @property
    def decay(self) -> float:
        return self.setting(LlrdSettings).decay

    def param_groups(self, model: GroupedModel, *, regime: Regime, policy: LrPolicy) -> list[dict[str, Any]]:
        groups = build_param_groups(model, regime=regime, policy=dataclasses.replace(policy, head_lr_mult=1.0))
        position = {name: model.n_groups - 1 - i for i, name in enumerate(model.group_names)}
        for group in groups:
            group["lr"] *= self.decay ** position[group["group"]]
        return groups


TUNING_METHODS.register(Llrd.name, Llrd)
