"""What a tuning method is: which parameters train, at which learning rates, with which extra loss and step rule.

A method is a :class:`TuningMethod` subclass, one module each, registered in :data:`TUNING_METHODS`. The training
loop (:class:`~tunedepth.training.Trainer`) asks it for three things and nothing else:

* :meth:`TuningMethod.freeze` — which parameters train (``requires_grad``) and which BatchNorm layers keep their
  running statistics (called before the run's feature-cache cut is computed, so a frozen prefix is served from the
  cache exactly as for the paper's scheme);
* :meth:`TuningMethod.param_groups` — the optimizer's parameter groups, each with its lr and weight decay;
* :meth:`TuningMethod.start` — once the model is on its device: a penalty added to the training loss and the
  optimizer step (:class:`MethodHooks`).

The paper's layer-wise scheme (:class:`~tunedepth.tuning.methods.layerwise.Layerwise`) is the base behaviour: the
last ``depth`` groups train, the head at ``head_lr_mult`` x lr, biases at ``bias_lr_mult`` x lr.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

import torch

from tunedepth._registry import Registry
from tunedepth.config import Frozen, Regime
from tunedepth.models import GroupedModel
from tunedepth.tuning.depth import BnPolicy, freeze_to_depth
from tunedepth.tuning.lr_policies import LrPolicy, build_param_groups

__all__ = ["TUNING_METHODS", "DepthAxis", "MethodHooks", "TuningMethod", "plain_step"]

SettingsT = TypeVar("SettingsT", bound=Frozen)

DepthAxis = Literal["prefix", "single", "none"]
"""How a method uses the grid's depth axis: "prefix" (the last *depth* groups train), "single" (only the group at
*depth* trains, with the head), "none" (every group is reachable: one run per fraction and seed)."""


def plain_step(optimizer: torch.optim.Optimizer) -> None:
    """The optimizer's own step."""
    optimizer.step()


@dataclass(frozen=True)
class MethodHooks:
    """What the training loop calls for a method during training.

    Attributes:
        penalty: added to each mini-batch's training loss (e.g. L2-SP's distance to the starting weights); None for
            none.
        step: makes one optimizer step (e.g. Auto-RGN sets each tensor's lr first); the optimizer's own step by
            default.
    """

    penalty: Callable[[], torch.Tensor] | None = None
    step: Callable[[torch.optim.Optimizer], None] = plain_step


class TuningMethod:
    """One way of fine-tuning a pretrained network; subclasses override what they change.

    Args:
        settings: the method's ``[methods.<name>]`` table (see :mod:`tunedepth.config.methods`).

    Attributes:
        name: the registered name, as ``grid.methods`` lists it.
        depth_axis: how the method uses the depth axis (:data:`DepthAxis`).
        reference: the paper the method follows.
        probe: whether its runs start from a probed head (see below).
        min_depth: the smallest grid depth it runs at.
    """

    name: ClassVar[str]
    depth_axis: ClassVar[DepthAxis]
    reference: ClassVar[str]
    probe: ClassVar[bool] = False
    """Whether the run starts from a probed head: the head trained alone first (a layer-wise depth-1 run), its
    weights then loaded into the run's network (:mod:`~tunedepth.tuning.methods.lp_ft`)."""
    min_depth: ClassVar[int] = 1
    """The smallest depth of the grid the method runs at (a prefix axis)."""

    def __init__(self, settings: Frozen | None = None) -> None:
        self.settings = settings

    def setting(self, settings_type: type[SettingsT]) -> SettingsT:
        """The method's settings as ``settings_type`` (that table's defaults when the study gave none)."""
        return self.settings if isinstance(self.settings, settings_type) else settings_type()

    def params(self) -> tuple[tuple[str, Any], ...]:
        """The method's parameters as sorted (name, value) pairs: what its run ids hash (the depth axis excluded)."""
        if self.settings is None:
            return ()
        dumped = self.settings.model_dump(mode="json", exclude={"depths"})
        return tuple(sorted(dumped.items()))

    def freeze(self, model: GroupedModel, depth: int, *, bn_policy: BnPolicy) -> None:
        """Make the run's parameters trainable and the rest frozen, in place (default: the last ``depth`` groups,
        :func:`~tunedepth.tuning.freeze_to_depth`)."""
        freeze_to_depth(model, depth, bn_policy=bn_policy)

    def param_groups(self, model: GroupedModel, *, regime: Regime, policy: LrPolicy) -> list[dict[str, Any]]:
        """The optimizer's parameter groups over the trainable parameters (default: the paper's,
        :func:`~tunedepth.tuning.build_param_groups`)."""
        return build_param_groups(model, regime=regime, policy=policy)

    def start(self, model: GroupedModel) -> MethodHooks:
        """Called once the model is on its training device, before the first step; default: no penalty, the plain
        step."""
        return MethodHooks()


TUNING_METHODS: Registry[type[TuningMethod]] = Registry("tuning method")
"""Every tuning method by name; filled by the modules of :mod:`tunedepth.tuning.methods`."""
