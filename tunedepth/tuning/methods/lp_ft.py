"""``lp_ft``: linear probing, then fine-tuning (Kumar et al., "Fine-Tuning can Distort Pretrained Features and
Underperform Out-of-Distribution", ICLR 2022).

Stage 1 (the probe): the new head alone trains, every other group frozen, to convergence on validation — exactly a
``layerwise`` run at depth 1, with the study's learning rate(s), stopping rule and epoch choice (the runner trains
it; served from the feature cache where the depth-1 run is). Stage 2: the network starts from the pretrained
weights with the **probed head** and the last *depth* groups train (``[methods.lp_ft] depths``, by default the
grid's depths from 2 up: at depth 1 stage 2 would only go on probing), every learning rate of the paper's scheme x
``finetune_lr_mult``. Kumar et al. fine-tune after probing at a smaller lr than plain fine-tuning; 0.1 is this
tool's default, stated, not the paper's (which sweeps it).
"""

from __future__ import annotations

from typing import Any

from tunedepth.config import LpFtSettings, Regime
from tunedepth.models import GroupedModel
from tunedepth.tuning.lr_policies import LrPolicy, build_param_groups
from tunedepth.tuning.methods.base import TUNING_METHODS, TuningMethod

__all__ = ["LpFt"]


class LpFt(TuningMethod):
    """Probe the head, then fine-tune the last ``depth`` groups from it at a lower lr."""

    name = "lp_ft"
    depth_axis = "prefix"
    reference = "Kumar et al., ICLR 2022"
    probe = True
    min_depth = 2

    @property
    def lr_mult(self) -> float:
        return self.setting(LpFtSettings).finetune_lr_mult

    def param_groups(self, model: GroupedModel, *, regime: Regime, policy: LrPolicy) -> list[dict[str, Any]]:
        groups = build_param_groups(model, regime=regime, policy=policy)
        for group in groups:
            group["lr"] *= self.lr_mult
        return groups


TUNING_METHODS.register(LpFt.name, LpFt)
