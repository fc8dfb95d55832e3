"""The ``[methods.<name>]`` tables: the parameters of the tuning methods beyond the paper's layer-wise scheme.

Each method's behaviour lives in :mod:`tunedepth.tuning.methods`; its parameters are declared here, with the
defaults of its paper, so the study file is validated before anything runs. A method's parameters enter the run
ids of its runs only (``RunSpec.method_params``); a study without methods keeps its run ids.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from tunedepth.config._base import Frozen

__all__ = ["AutoRgnSettings", "L2spSettings", "LlrdSettings", "LpFtSettings", "MethodsConfig",
           "NormOnlySettings", "SurgicalSettings"]


class LlrdSettings(Frozen):
    """``[methods.llrd]``: layer-wise learning-rate decay."""

    decay: float = Field(
        default=0.65, gt=0.0, le=1.0,
        description="The lr of the k-th group from the output is lr x decay^k (the head: k = 0). 0.65: BEiT's "
                    "base-model value (Bao et al., ICLR 2022), timm's layer_decay.",
    )


class L2spSettings(Frozen):
    """``[methods.l2sp]``: L2-SP, the distance to the pretrained weights as the regulariser."""

    alpha: float = Field(
        default=0.1, ge=0.0,
        description="Weight of alpha/2 * ||w - w0||^2 over the pretrained parameters that train (w0: the starting "
                    "weights). 0.1: Li et al., ICML 2018.",
    )
    beta: float = Field(
        default=0.01, ge=0.0,
        description="Weight of beta/2 * ||w||^2 over the new head's parameters. 0.01: Li et al., ICML 2018.",
    )


class SurgicalSettings(Frozen):
    """``[methods.surgical]``: surgical fine-tuning, one group and the head."""

    depths: Literal["default"] | tuple[Annotated[int, Field(ge=2)] | str, ...] = Field(
        default="default",
        description="Which single groups to tune, as depths counted from the output (2 = the group before the "
                    "head) or group names: 'default' = early, middle and late (the first group, the group at depth "
                    "ceil((n + 1) / 2) and depth 2), after Lee et al., ICLR 2023.",
    )


class LpFtSettings(Frozen):
    """``[methods.lp_ft]``: linear probing, then fine-tuning from the probed head."""

    depths: Literal["grid"] | tuple[Annotated[int, Field(ge=2)] | str, ...] = Field(
        default="grid",
        description="The depths of the second stage (the last `depth` groups train from the probed head), as depths "
                    "(2 and up) or group names meaning 'tune from this group': 'grid' = grid.depths from 2 up.",
    )

    finetune_lr_mult: float = Field(
        default=0.1, gt=0.0,
        description="The second stage's lr, as a multiple of the study's lr (Kumar et al., ICLR 2022, fine-tune "
                    "after probing at a smaller lr than plain fine-tuning).",
    )


class NormOnlySettings(Frozen):
    """``[methods.norm_only]``: no parameters (running statistics follow ``training.bn_policy``)."""


class AutoRgnSettings(Frozen):
    """``[methods.auto_rgn]``: no parameters (Lee et al., ICLR 2023)."""


class MethodsConfig(Frozen):
    """The ``[methods]`` table: one optional sub-table per method, defaults from the papers."""

    llrd: LlrdSettings = LlrdSettings()
    l2sp: L2spSettings = L2spSettings()
    surgical: SurgicalSettings = SurgicalSettings()
    lp_ft: LpFtSettings = LpFtSettings()
    norm_only: NormOnlySettings = NormOnlySettings()
    auto_rgn: AutoRgnSettings = AutoRgnSettings()


