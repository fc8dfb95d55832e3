"""Tuning methods: ways of fine-tuning beyond the paper's layer-wise freezing, one module each (see
:mod:`tunedepth.tuning.methods.base`)."""

from __future__ import annotations

from tunedepth.config import Frozen
from tunedepth.config.methods import MethodsConfig
from tunedepth.tuning.methods import auto_rgn, l2sp, layerwise, llrd, lp_ft, norm_only, surgical
from tunedepth.tuning.methods.auto_rgn import AutoRgn, relative_gradient_norms
from tunedepth.tuning.methods.base import TUNING_METHODS, DepthAxis, MethodHooks, TuningMethod, plain_step
from tunedepth.tuning.methods.l2sp import L2sp
from tunedepth.tuning.methods.layerwise import Layerwise
from tunedepth.tuning.methods.llrd import Llrd
from tunedepth.tuning.methods.lp_ft import LpFt
from tunedepth.tuning.methods.norm_only import NormOnly
from tunedepth.tuning.methods.surgical import Surgical, default_surgical_depths

__all__ = [
    "TUNING_METHODS",
    "AutoRgn",
    "DepthAxis",
    "L2sp",
    "Layerwise",
    "Llrd",
    "LpFt",
    "MethodHooks",
    "NormOnly",
    "Surgical",
    "TuningMethod",
    "default_surgical_depths",
    "make_method",
    "plain_step",
    "relative_gradient_norms",
]

del auto_rgn, l2sp, layerwise, llrd, lp_ft, norm_only, surgical  # imported to register


def make_method(name: str, methods: MethodsConfig | None = None) -> TuningMethod:
    """The registered method ``name`` with its settings from the study's ``[methods]`` table (defaults without).

    Raises:
        ConfigError: for an unknown name (with a guess and the list).
    """
    cls = TUNING_METHODS.get(name)
    settings: Frozen | None = getattr(methods or MethodsConfig(), name, None)
    return cls(settings)
