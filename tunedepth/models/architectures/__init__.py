"""Architecture plug-ins: one module per family, each registering into ``ARCHITECTURES``.

Adding an architecture means one new module and one import line below.
"""

from __future__ import annotations

from tunedepth.models.architectures import alexnet, efficientnet, resnet
from tunedepth.models.architectures._base import ARCHITECTURES, Architecture

__all__ = ["ARCHITECTURES", "Architecture", "get_architecture", "list_architectures"]

# The imports above fill the registry; keep them referenced so linters keep them.
_PLUGINS = (alexnet, efficientnet, resnet)


def get_architecture(name: str) -> Architecture:
    """The registered architecture called ``name``.

    Args:
        name: a registry name, e.g. "alexnet".

    Returns:
        Its frozen :class:`Architecture` entry.

    Raises:
        ConfigError: if ``name`` is unknown; the message has a guess and the full list.

    Example:
        >>> get_architecture("resnet18").group_names
        ('stem', 'layer1', 'layer2', 'layer3', 'layer4', 'fc')
        >>> get_architecture("alexnt")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        tunedepth.errors.ConfigError: Unknown architecture 'alexnt'. Did you mean 'alexnet'? ...
    """
    return ARCHITECTURES.get(name)


def list_architectures() -> list[str]:
    """Names of every registered architecture, sorted.

    Returns:
        The registry names.

    Example:
        >>> list_architectures()[:4]
        ['alexnet', 'efficientnet_lite0', 'resnet18', 'resnet50']
    """
    return ARCHITECTURES.names()
