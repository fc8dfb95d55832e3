"""Regimes and tuning depth: which layer groups train, and what frozen BatchNorm does.

``depth`` is the number of trainable layer groups counted from the output: depth 1 trains
the new head only (paper "FT:only fc8"), depth ``n_groups`` trains every group (paper
"FT:conv1-fc8"). Scratch is its own regime (random init, every group trains), not depth 0.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Literal

from torch import nn

from tunedepth.config import Regime
from tunedepth.errors import ConfigError
from tunedepth.models import GroupedModel

logger = logging.getLogger(__name__)

BnPolicy = Literal["freeze", "train"]

__all__ = ["BnPolicy", "check_depth", "freeze_groups", "freeze_to_depth", "regime_label"]

_BN_TYPES = (nn.modules.batchnorm._BatchNorm,)


def check_depth(depth: int, group_names: tuple[str, ...], *, architecture: str) -> None:
    """Raise unless ``depth`` is an int in [1, len(group_names)].

    Raises:
        ConfigError: naming the allowed range and the groups.

    Example:
        >>> check_depth(9, ("conv1", "conv2", "fc"), architecture="toy")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        tunedepth.errors.ConfigError: The 'depth' parameter must be an int in [1, 3] for 'toy' ...
    """
    n = len(group_names)
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= n:
        raise ConfigError(
            f"The 'depth' parameter must be an int in [1, {n}] for {architecture!r} "
            f"(groups: {', '.join(group_names)}). Got {depth!r} instead."
        )


def regime_label(regime: Regime, depth: int, group_names: tuple[str, ...]) -> str:
    """The user-facing label of a regime, built from group names.

    Example:
        >>> names = ("conv1", "conv2", "conv3", "fc8")
        >>> regime_label("finetune", 1, names), regime_label("finetune", 3, names)
        ('ft:fc8', 'ft:conv2-fc8')
        >>> regime_label("scratch", 4, names)
        'scratch'
    """
    if regime == "scratch":
        return "scratch"
    check_depth(depth, group_names, architecture="<labels>")
    first, last = group_names[-depth], group_names[-1]
    return f"ft:{last}" if depth == 1 else f"ft:{first}-{last}"


def freeze_to_depth(model: GroupedModel, depth: int, *, bn_policy: BnPolicy) -> None:
    """Make exactly the last ``depth`` groups trainable, in place.

    Frozen groups get ``requires_grad = False`` (so they receive no gradient and the
    optimizer builder gives them no state). With ``bn_policy="freeze"`` their BatchNorm
    layers stay in eval mode, running statistics fixed, even across later
    ``model.train()`` calls; with ``"train"`` they use batch statistics in training and
    update their running statistics, while their affine parameters stay frozen.

    Args:
        model: the grouped model; modified in place.
        depth: trainable groups counted from the output, in [1, model.n_groups].
        bn_policy: "freeze" or "train" (see above).

    Raises:
        ConfigError: if ``depth`` is out of range or ``bn_policy`` is unknown.

    Example:
        >>> import torch
        >>> from tunedepth.models import GroupedModel, LayerGroup
        >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
        >>> m = GroupedModel(net, (LayerGroup("a", ("0",)), LayerGroup("b", ("1",))), architecture="toy")
        >>> freeze_to_depth(m, 1, bn_policy="freeze")
        >>> [p.requires_grad for p in m.parameters()]
        [False, False, True, True]
    """
    check_depth(depth, model.group_names, architecture=model.architecture)
    first_trainable = model.n_groups - depth  # index of the first group that trains
    freeze_groups(model, range(first_trainable, model.n_groups), bn_policy=bn_policy)
    logger.debug("depth %d of %s: trainable groups %s", depth, model.architecture,
                 model.group_names[first_trainable:])


def freeze_groups(model: GroupedModel, trainable: Iterable[int], *, bn_policy: BnPolicy) -> None:
    """Make exactly the groups at the indices ``trainable`` (input to output, 0-based) trainable, in place.

    The rest are frozen as :func:`freeze_to_depth` freezes them (no gradient; BatchNorm per ``bn_policy``).

    Raises:
        ConfigError: if ``bn_policy`` is unknown.
        IndexError: if an index is not a group's.

    Example:
        >>> import torch
        >>> from tunedepth.models import GroupedModel, LayerGroup
        >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
        >>> m = GroupedModel(net, tuple(LayerGroup(k, (k,)) for k in "012"), architecture="toy")
        >>> freeze_groups(m, [0, 2], bn_policy="freeze")
        >>> [p.requires_grad for p in m.parameters()]
        [True, True, False, False, True, True]
    """
    if bn_policy not in ("freeze", "train"):
        raise ConfigError(f"The 'bn_policy' parameter must be 'freeze' or 'train'. Got {bn_policy!r} instead.")
    chosen = set(trainable)
    for index in chosen:
        if not 0 <= index < model.n_groups:
            raise IndexError(f"group index {index} out of range for {model.n_groups} groups")
    frozen_norms: list[nn.Module] = []
    for index, group in enumerate(model.groups):
        train = index in chosen
        for _, param in model.group_parameters(group):
            param.requires_grad_(train)
        if not train and bn_policy == "freeze":
            frozen_norms += [m for m in model.group_modules(group) if isinstance(m, _BN_TYPES)]
    model.set_frozen_norms(tuple(frozen_norms))
