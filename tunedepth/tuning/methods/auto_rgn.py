"""``auto_rgn``: Auto-RGN (Lee et al., "Surgical Fine-Tuning Improves Adaptation to Distribution Shifts", ICLR
2023, section 5) — every group trains, and at every step each pretrained parameter tensor ``t`` gets the learning
rate

    lr_t = lr * RGN_t / max_s RGN_s,    RGN_t = ||g_t|| / ||w_t||

(the relative gradient norm of the tensor, ``g_t`` its current gradient, ``w_t`` its current value; the maximum is
over the pretrained tensors that have a gradient; ``lr`` is the scheduled base lr of the step). The tensor with the
largest relative gradient moves at the full lr, the others proportionally less.

One departure, stated: the new head is left out of the normalisation and trains at the paper's head lr
(``head_lr_mult`` x lr), because its starting norm can be 0 (``head_init = "zero"``), where RGN is undefined, and a
randomly initialised head's RGN says nothing about how far a pretrained layer should move. A tensor whose norm is 0
counts as RGN 0. Biases follow the same rule as weights (no ``bias_lr_mult``); weight decay on weights only.
"""

from __future__ import annotations

from typing import Any

import torch

from tunedepth.config import Regime
from tunedepth.models import GroupedModel
from tunedepth.tuning.lr_policies import LrPolicy, param_kind
from tunedepth.tuning.methods.base import TUNING_METHODS, MethodHooks, TuningMethod

__all__ = ["AutoRgn", "relative_gradient_norms"]


def relative_gradient_norms(params: list[torch.Tensor]) -> list[float]:
    """``||g|| / ||w||`` of each tensor (0 without a gradient or when ``||w|| = 0``).

    Example:
        >>> w = torch.tensor([3.0, 4.0], requires_grad=True); w.grad = torch.tensor([0.0, 1.0])
        >>> relative_gradient_norms([w])
        [0.2]
    """
    out = []
    for p in params:
        norm = float(p.detach().norm())
        out.append(0.0 if p.grad is None or norm == 0.0 else float(p.grad.detach().norm()) / norm)
    return out


class AutoRgn(TuningMethod):
    """Per-tensor learning rates proportional to the relative gradient norm, every step."""

    name = "auto_rgn"
    depth_axis = "none"
    reference = "Lee et al., ICLR 2023"

    def param_groups(self, model: GroupedModel, *, regime: Regime, policy: LrPolicy) -> list[dict[str, Any]]:
        """One group per trainable tensor (its lr is set every step); the head's tensors flagged ``rgn = False``."""
        groups = []
        for group in model.groups:
            is_head = group is model.head
            for name, p in model.group_parameters(group):
                if not p.requires_grad:
                    continue
                kind = param_kind(name, p)
                groups.append({"params": [p], "lr": policy.lr * (policy.head_lr_mult if is_head else 1.0),
                               "weight_decay": policy.weight_decay if kind == "weight" else 0.0,
                               "group": group.name, "kind": kind, "rgn": not is_head})
        return groups

    def start(self, model: GroupedModel) -> MethodHooks:
        return MethodHooks(step=rgn_step)


def rgn_step(optimizer: torch.optim.Optimizer) -> None:
    """One optimizer step with each ``rgn`` group's lr scaled by ``RGN / max RGN`` for this step only (the
    scheduled lr is restored after it, so schedules never see the scaling)."""
    scaled = [g for g in optimizer.param_groups if g.get("rgn")]
    ratios = relative_gradient_norms([g["params"][0] for g in scaled])
    top = max(ratios, default=0.0)
    scheduled = [g["lr"] for g in scaled]
    for group, ratio in zip(scaled, ratios, strict=True):
        group["lr"] = group["lr"] * (ratio / top if top > 0 else 0.0)
    try:
        optimizer.step()
    finally:
        for group, lr in zip(scaled, scheduled, strict=True):
            group["lr"] = lr


TUNING_METHODS.register(AutoRgn.name, AutoRgn)
