"""``norm_only``: tune only the normalisation layers' affine parameters (scale and shift) and the new head; every
other parameter stays frozen (no gradient, no optimizer state). BatchNorm running statistics follow
``training.bn_policy``: "freeze" (default) keeps them fixed (eval mode), "train" updates them from each batch. After
Frankle et al., "Training BatchNorm and Only BatchNorm", ICLR 2021, as a fine-tuning method (Davila et al., Image
and Vision Computing 2024, compare it on medical data). Learning rates as the paper's scheme.
"""

from __future__ import annotations

from torch import nn

from tunedepth.models import GroupedModel
from tunedepth.tuning.depth import BnPolicy, freeze_to_depth
from tunedepth.tuning.methods.base import TUNING_METHODS, TuningMethod

__all__ = ["NORM_TYPES", "NormOnly"]

NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)
"""Normalisation layers whose affine parameters ``norm_only`` tunes (BatchNorm, InstanceNorm, GroupNorm,
LayerNorm)."""


class NormOnly(TuningMethod):
    """Norm affine parameters and the head train."""

    name = "norm_only"
    depth_axis = "none"
    reference = "Frankle et al., ICLR 2021"

    def freeze(self, model: GroupedModel, depth: int, *, bn_policy: BnPolicy) -> None:
        freeze_to_depth(model, 1, bn_policy=bn_policy)  # the head trains; running statistics per bn_policy
        for module in model.modules():
            if isinstance(module, NORM_TYPES):
                for param in module.parameters(recurse=False):
                    param.requires_grad_(True)


TUNING_METHODS.register(NormOnly.name, NormOnly)
