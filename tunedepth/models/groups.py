"""Models as ordered, named layer groups.

A :class:`GroupedModel` wraps an ordinary ``nn.Module`` (a torchvision or timm network,
whose parameter names stay those of the source so weights load unchanged) together with
its declared layer groups. Each group is a name and a tuple of module-name prefixes; the
last group is the classification head. Construction fails, listing the offenders, when a
parameter is in no group or in two: groups are declared, never inferred.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["GroupedModel", "LayerGroup", "SegmentsFn", "check_group_coverage"]

SegmentsFn = Callable[[nn.Module], tuple[nn.Module, ...]]
"""Splits a network into one callable module per layer group, input to output (see :attr:`GroupedModel.segments`)."""


@dataclass(frozen=True)
class LayerGroup:
    """One named block of a network.

    Attributes:
        name: the group's label, e.g. "conv3"; used in regime labels such as "ft:conv3-fc8".
        prefixes: module-name prefixes; a parameter belongs to the group when its name is a
            prefix or starts with ``prefix + "."``.
    """

    name: str
    prefixes: tuple[str, ...]

    def owns(self, parameter_name: str) -> bool:
        """True when ``parameter_name`` lies under one of the group's prefixes."""
        return any(parameter_name == p or parameter_name.startswith(p + ".") for p in self.prefixes)


def check_group_coverage(module: nn.Module, groups: tuple[LayerGroup, ...]) -> None:
    """Check that every parameter and buffer of ``module`` is in exactly one group.

    Raises:
        ValueError: listing the names in no group and in several groups.
    """
    names = [n for n, _ in module.named_parameters()]
    names += [n for n, b in module.named_buffers() if b is not None]
    missing = [n for n in names if not any(g.owns(n) for g in groups)]
    double = [n for n in names if sum(g.owns(n) for g in groups) > 1]
    dup_names = sorted({g.name for g in groups if sum(h.name == g.name for h in groups) > 1})
    problems = []
    if missing:
        problems.append(f"in no group: {', '.join(missing)}")
    if double:
        problems.append(f"in several groups: {', '.join(double)}")
    if dup_names:
        problems.append(f"duplicate group names: {', '.join(dup_names)}")
    if problems:
        raise ValueError(
            "Layer groups do not partition the model's parameters; " + "; ".join(problems)
        )


class GroupedModel(nn.Module):
    """A network with ordered, named layer groups; the last group is the head.

    Args:
        net: the underlying network.
        groups: ordered groups from input to output; the last is the head.
        architecture: registry name of the architecture, e.g. "alexnet".
        mean: per-channel input normalisation mean (RGB, for inputs scaled to [0, 1]).
        std: per-channel input normalisation standard deviation.
        weights: name of the starting weights ("none", "imagenet", "checkpoint").
        weights_sha256: sha256 of the weight file loaded, None for random init.
        channels_last: train and predict in channels-last memory format (declared per
            architecture where it was measured faster on CPU, e.g. depthwise convolutions).
        segments: splits ``net`` into one module per group whose composition is ``net``'s forward
            (see :attr:`segments`); None when ``net`` is an ``nn.Sequential`` with one child per
            group, or when the network cannot be split (no frozen-prefix feature cache then).

    Raises:
        ValueError: if the groups do not partition ``net``'s parameters and buffers.
    """

    def __init__(
        self,
        net: nn.Module,
        groups: tuple[LayerGroup, ...],
        *,
        architecture: str,
        mean: tuple[float, float, float] = (0.485, 0.456, 0.406),
        std: tuple[float, float, float] = (0.229, 0.224, 0.225),
        weights: str = "none",
        weights_sha256: str | None = None,
        channels_last: bool = False,
        segments: SegmentsFn | None = None,
    ) -> None:
        super().__init__()
        if len(groups) < 2:
            raise ValueError(
                f"A GroupedModel needs at least 2 groups (body and head); got {len(groups)}."
            )
        check_group_coverage(net, groups)
        self.net = net
        self.groups = groups
        self.architecture = architecture
        self.mean = mean
        self.std = std
        self.weights = weights
        self.weights_sha256 = weights_sha256
        self.channels_last = channels_last
        self._frozen_norms: tuple[nn.Module, ...] = ()
        self._segments_fn = segments
        self._segments: tuple[nn.Module, ...] | None = None

    def set_frozen_norms(self, modules: tuple[nn.Module, ...]) -> None:
        """Keep these normalisation modules in eval mode, whatever ``train()`` is called with.

        PyTorch's ``model.train()`` would otherwise switch frozen BatchNorm layers back to
        batch statistics and let their running statistics drift (pytorch/pytorch#66073).
        """
        self._frozen_norms = tuple(modules)
        self.train(self.training)

    def train(self, mode: bool = True) -> GroupedModel:
        super().train(mode)
        for module in self._frozen_norms:
            module.eval()
        return self

    @property
    def group_names(self) -> tuple[str, ...]:
        """Group names from input to output."""
        return tuple(g.name for g in self.groups)

    @property
    def n_groups(self) -> int:
        return len(self.groups)

    @property
    def head(self) -> LayerGroup:
        """The last group, replaced by a new classifier for each data set."""
        return self.groups[-1]

    def group_parameters(self, group: LayerGroup) -> list[tuple[str, nn.Parameter]]:
        """(name, parameter) pairs of one group, names relative to ``net``."""
        return [(n, p) for n, p in self.net.named_parameters() if group.owns(n)]

    def group_modules(self, group: LayerGroup) -> list[nn.Module]:
        """Modules whose qualified name lies under one of the group's prefixes (outermost first)."""
        return [m for n, m in self.net.named_modules() if n and group.owns(n)]

    @property
    def can_split(self) -> bool:
        """True when the network can be run segment by segment (see :attr:`segments`)."""
        return self._segments_fn is not None or (
            isinstance(self.net, nn.Sequential) and len(self.net) == self.n_groups)

    @property
    def segments(self) -> tuple[nn.Module, ...]:
        """One module per layer group, input to output, whose composition computes ``forward``.

        Segment ``i`` holds exactly group ``i``'s parameters, plus the parameter-free modules
        (activations, pooling, dropout, flattening) that run between it and group ``i + 1``'s
        first module, except that a dropout acting on group ``i + 1``'s input belongs to
        segment ``i + 1`` (AlexNet's fc6 and fc7). The modules are the network's own (shared, not
        copied) and are not registered here, so the state dict is unchanged. Checked on first use.

        Raises:
            ValueError: if the network cannot be split, or the declared segments do not hold
                exactly their groups' parameters (a programming error in an architecture plug-in).
        """
        if self._segments is None:
            if self._segments_fn is not None:
                segments = tuple(self._segments_fn(self.net))
            elif self.can_split:
                segments = tuple(self.net.children())
            else:
                raise ValueError(f"Architecture {self.architecture!r} declares no segments; its network cannot be "
                                 "run segment by segment.")
            self._check_segments(segments)
            self._segments = segments
        return self._segments

    def _check_segments(self, segments: tuple[nn.Module, ...]) -> None:
        if len(segments) != self.n_groups:
            raise ValueError(f"Architecture {self.architecture!r}: {len(segments)} segments for "
                             f"{self.n_groups} groups.")
        for group, segment in zip(self.groups, segments, strict=True):
            want = {id(p) for _, p in self.group_parameters(group)}
            got = {id(p) for p in segment.parameters()}
            if want != got:
                raise ValueError(f"Architecture {self.architecture!r}: segment of group {group.name!r} holds "
                                 f"{len(got)} parameters, {len(got & want)} of them the group's "
                                 f"{len(want)}.")

    def forward_to(self, cut: int, x: torch.Tensor) -> torch.Tensor:
        """The output of segments ``[0, cut)``: the input of group ``cut`` (``cut`` in [0, n_groups])."""
        for segment in self.segments[:cut]:
            x = segment(x)
        return x

    def forward_from(self, cut: int, x: torch.Tensor) -> torch.Tensor:
        """Continue the forward pass from the input of group ``cut`` (as given by :meth:`forward_to`)."""
        for segment in self.segments[cut:]:
            x = segment(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # type: ignore[no-any-return,unused-ignore]
