"""The data-source plug-in type and its registry.

A data source turns the keyword arguments of one ``[data]`` table of the study file
(every field but ``source`` and ``balance``) into a :class:`~tunedepth.data.dataset.DatasetSplits`.
Each plug-in module in this package registers one :class:`DataSource`; the package's
``__init__`` imports every plug-in module by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tunedepth._registry import Registry
from tunedepth.data.dataset import DatasetSplits

__all__ = ["DATA_SOURCES", "DataSource"]


@dataclass(frozen=True)
class DataSource:
    """A registered way of reading a data set.

    Attributes:
        name: registry key, equal to the ``source`` value of the study file, e.g. "medmnist".
        description: one line for ``tunedepth datasets``.
        load: the loader; its keyword arguments are the fields of the matching data config
            (``tunedepth.config.schema``) other than ``source`` and ``balance``.
    """

    name: str
    description: str
    load: Callable[..., DatasetSplits]


DATA_SOURCES: Registry[DataSource] = Registry("data source")
