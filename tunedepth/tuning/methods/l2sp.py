"""``l2sp``: L2-SP (Li, Grandvalet & Davoine, "Explicit Inductive Bias for Transfer Learning with Convolutional
Networks", ICML 2018) — every group trains, and the training loss gets

    alpha / 2 * ||w_S - w0_S||^2 + beta / 2 * ||w_H||^2

where ``w_S`` are the pretrained parameters that train, ``w0_S`` their values at the start of the run (the starting
weights, fixed for the whole run; not the current ones), and ``w_H`` the new head's parameters. It replaces weight
decay (the optimizer's weight decay is 0 in every group), as in the paper; learning rates as the paper's scheme.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from tunedepth.config import Regime
from tunedepth.config.methods import L2spSettings
from tunedepth.models import GroupedModel
from tunedepth.tuning.lr_policies import LrPolicy, build_param_groups
from tunedepth.tuning.methods.base import TUNING_METHODS, MethodHooks, TuningMethod

__all__ = ["L2sp"]


class L2sp(TuningMethod):
    """Penalise the distance to the starting weights (and the head's norm) instead of weight decay."""

    name = "l2sp"
    depth_axis = "none"
    reference = "Li et al., ICML 2018"

    def param_groups(self, model: GroupedModel, *, regime: Regime, policy: LrPolicy) -> list[dict[str, Any]]:
        return build_param_groups(model, regime=regime, policy=dataclasses.replace(policy, weight_decay=0.0))

    def start(self, model: GroupedModel) -> MethodHooks:
        settings = self.setting(L2spSettings)
        alpha, beta = settings.alpha, settings.beta
        head = {id(p) for _, p in model.group_parameters(model.head)}
        trained = [p for p in model.parameters() if p.requires_grad]
        pretrained = [(p, p.detach().clone()) for p in trained if id(p) not in head]
        new = [p for p in trained if id(p) in head]

        def penalty() -> torch.Tensor:
            total = torch.zeros((), device=trained[0].device) if trained else torch.zeros(())
            for p, start in pretrained:
                total = total + 0.5 * alpha * (p - start).pow(2).sum()
            for p in new:
                total = total + 0.5 * beta * p.pow(2).sum()
            return total

        return MethodHooks(penalty=penalty)


TUNING_METHODS.register(L2sp.name, L2sp)
