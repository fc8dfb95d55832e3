"""Networks as ordered layer groups, their architectures and their starting weights.

Example:
    >>> from tunedepth.models import build_model, list_architectures
    >>> list_architectures()[:4]
    ['alexnet', 'efficientnet_lite0', 'resnet18', 'resnet50']
    >>> build_model("alexnet", num_classes=2, weights="none").head.name
    'fc8'
"""

from __future__ import annotations

from tunedepth.models.architectures import (
    ARCHITECTURES,
    Architecture,
    get_architecture,
    list_architectures,
)
from tunedepth.models.build import (
    HEAD_INITS,
    HeadInit,
    ResolvedWeights,
    WeightsName,
    build_model,
    resolve_weights,
    zero_head,
)
from tunedepth.models.groups import GroupedModel, LayerGroup, check_group_coverage
from tunedepth.models.weights import IMAGENET_MEAN, IMAGENET_STD, WEIGHT_KINDS, WeightSource

__all__ = [
    "ARCHITECTURES",
    "Architecture",
    "GroupedModel",
    "HEAD_INITS",
    "HeadInit",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "LayerGroup",
    "ResolvedWeights",
    "WEIGHT_KINDS",
    "WeightSource",
    "WeightsName",
    "build_model",
    "check_group_coverage",
    "get_architecture",
    "list_architectures",
    "resolve_weights",
    "zero_head",
]
