"""``surgical``: surgical fine-tuning (Lee et al., "Surgical Fine-Tuning Improves Adaptation to Distribution Shifts",
ICLR 2023) — exactly one group trains, with the new head; every other group stays frozen (no gradient, no optimizer
state; its BatchNorm layers follow ``bn_policy``). The depth axis names the group, counted from the output (2 = the
group just before the head); the groups before it are a frozen prefix, served from the feature cache where exact.
Learning rates as the paper's scheme (head x ``head_lr_mult``, biases x ``bias_lr_mult``).
"""

from __future__ import annotations

import math

from tunedepth.errors import ConfigError
from tunedepth.models import GroupedModel
from tunedepth.tuning.depth import BnPolicy, check_depth, freeze_groups
from tunedepth.tuning.methods.base import TUNING_METHODS, TuningMethod

__all__ = ["Surgical", "default_surgical_depths"]


def default_surgical_depths(n_groups: int) -> tuple[int, ...]:
    """Early, middle and late: the first group (depth n), the group at depth ceil((n + 1) / 2), and depth 2 (the
    group before the head), ascending, without repeats.

    Example:
        >>> default_surgical_depths(10), default_surgical_depths(3), default_surgical_depths(2)
        ((2, 6, 10), (2, 3), (2,))
    """
    if n_groups < 2:
        return ()
    return tuple(sorted({2, math.ceil((n_groups + 1) / 2), n_groups}))


class Surgical(TuningMethod):
    """Tune one group and the head."""

    name = "surgical"
    depth_axis = "single"
    reference = "Lee et al., ICLR 2023"

    def freeze(self, model: GroupedModel, depth: int, *, bn_policy: BnPolicy) -> None:
        """The group at ``depth`` (counted from the output, >= 2) and the head train; every other group is frozen
        as by :func:`~tunedepth.tuning.freeze_to_depth` (BatchNorm per ``bn_policy``)."""
        check_depth(depth, model.group_names, architecture=model.architecture)
        if depth < 2:
            raise ConfigError(f"The surgical method tunes one group besides the head, at a depth in [2, "
                              f"{model.n_groups}] for {model.architecture!r}; got {depth}. Depth 1 (the head alone) "
                              "is the layerwise method's depth 1.")
        freeze_groups(model, (model.n_groups - depth, model.n_groups - 1), bn_policy=bn_policy)


TUNING_METHODS.register(Surgical.name, Surgical)
