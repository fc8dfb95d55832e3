"""The :class:`Architecture` entry and the registry the architecture plug-ins fill."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from torch import nn

from tunedepth._registry import Registry
from tunedepth.errors import ConfigError
from tunedepth.models.groups import GroupedModel, LayerGroup, SegmentsFn
from tunedepth.models.weights import WEIGHT_KINDS, WeightSource

__all__ = ["ARCHITECTURES", "Architecture"]


@dataclass(frozen=True, kw_only=True)
class Architecture:
    """Frozen metadata and builder of one network architecture.

    Attributes:
        name: registry name, e.g. "alexnet".
        description: one line for listings (what the network is, where it comes from).
        groups: ordered layer groups from input to output, each a name and a tuple of
            module-name prefixes; the last group is the head. Declared, never inferred.
        build_net: returns a randomly initialised network (the architecture's own init)
            with the given number of classes; its parameter names are the source library's.
        first_conv: module name of the first convolution (its ``in_channels`` is the
            number of input channels).
        weight_sources: pretrained sources by name, e.g. {"imagenet": WeightSource(...)}.
        mean: per-channel RGB mean inputs are normalised with, inputs scaled to [0, 1].
            It is the normalisation of the architecture's pretrained weights, used for
            every regime so that scratch and fine-tuned runs see identical inputs.
        std: per-channel RGB standard deviation matching ``mean``.
        input_size: side in pixels of the square inputs the pretrained weights expect.
        channels_last: train in channels-last memory format; declared True only where it
            was measured faster on CPU (see benchmarks), since it is slower for some networks.
        segments: splits the built network into one module per group whose composition is its
            forward (see :attr:`GroupedModel.segments`); what lets a run cache the output of its
            frozen groups. None for an ``nn.Sequential`` with one child per group.

    Raises:
        ValueError: at construction, if the declaration is inconsistent (a programming
            error in a plug-in, caught by the registry tests).

    Example:
        >>> from tunedepth.models.architectures import get_architecture
        >>> arch = get_architecture("alexnet")
        >>> arch.group_names
        ('conv1', 'conv2', 'conv3', 'conv4', 'conv5', 'fc6', 'fc7', 'fc8')
        >>> arch.build(num_classes=2).n_groups
        8
    """

    name: str
    description: str
    groups: tuple[LayerGroup, ...]
    build_net: Callable[[int], nn.Module] = field(repr=False)
    first_conv: str
    weight_sources: Mapping[str, WeightSource]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    input_size: int
    channels_last: bool = False
    segments: SegmentsFn | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        problems = []
        names = [g.name for g in self.groups]
        if len(names) < 2 or len(set(names)) != len(names):
            problems.append(f"needs at least 2 uniquely named groups, got {names}")
        for key, source in self.weight_sources.items():
            if key != source.name or source.architecture != self.name:
                problems.append(f"weight source {key!r} is declared as {source.label}")
            if key not in WEIGHT_KINDS or key in ("none", "checkpoint"):
                problems.append(f"weight source {key!r} is not a pretrained name of WEIGHT_KINDS")
        if problems:
            raise ValueError(f"Invalid Architecture {self.name!r}: " + "; ".join(problems) + ".")

    @property
    def group_names(self) -> tuple[str, ...]:
        """Group names from input to output; the last is the head."""
        return tuple(g.name for g in self.groups)

    def build(self, num_classes: int) -> GroupedModel:
        """Build the network with a new ``num_classes``-way head, randomly initialised.

        Args:
            num_classes: number of outputs of the head, at least 1.

        Returns:
            The grouped model, every group initialised by the architecture's own init;
            its ``weights`` is "none".

        Raises:
            ConfigError: if ``num_classes`` is not an int >= 1.

        Example:
            >>> from tunedepth.models.architectures import get_architecture
            >>> model = get_architecture("resnet18").build(num_classes=3)
            >>> model.net.fc.out_features, model.weights
            (3, 'none')
        """
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ConfigError(
                f"The 'num_classes' parameter of {self.name}.build must be an int >= 1; got "
                f"{num_classes!r} instead."
            )
        return GroupedModel(
            self.build_net(num_classes),
            self.groups,
            architecture=self.name,
            mean=self.mean,
            std=self.std,
            channels_last=self.channels_last,
            segments=self.segments,
        )

    def get_weight_source(self, name: str) -> WeightSource:
        """The pretrained weight source called ``name``.

        Args:
            name: a pretrained source name such as "imagenet".

        Returns:
            The declared source.

        Raises:
            ConfigError: if ``name`` is unknown (with a guess and the full list), or the
                architecture has no such source (listing the ones it has).

        Example:
            >>> from tunedepth.models.architectures import get_architecture
            >>> get_architecture("resnet50").get_weight_source("imagenet").filename
            'resnet50-0676ba61.pth'
        """
        if name not in WEIGHT_KINDS:
            raise ConfigError(WEIGHT_KINDS.unknown_message(name))
        if name not in self.weight_sources:
            available = sorted(self.weight_sources) + ["checkpoint", "none"]
            raise ConfigError(
                f"Architecture {self.name!r} has no {name!r} weights. Available for "
                f"{self.name!r}: {', '.join(available)}."
            )
        return self.weight_sources[name]


ARCHITECTURES: Registry[Architecture] = Registry("architecture")
"""Every architecture, filled by the explicit imports in ``architectures/__init__.py``."""
