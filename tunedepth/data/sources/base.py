"""The data-source plug-in type and its registry.

A data source of labelled images turns the keyword arguments of one ``[data]`` table of the study file (every
field but ``source`` and ``balance``) into a :class:`~tunedepth.data.dataset.DatasetSplits`; a data source of
frames with masks or traced boundaries reads its folder into frames that a task (detection, segmentation) turns
into cases. Each plug-in module in this package registers its :class:`DataSource`s; the package's ``__init__``
imports every plug-in module by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tunedepth._registry import Registry
from tunedepth.data.dataset import DatasetSplits

__all__ = ["DATA_SOURCES", "DataSource"]


@dataclass(frozen=True)
class DataSource:
    """A registered way of reading a data set.

    Attributes:
        name: registry key, equal to the ``source`` value of the study file, e.g. "medmnist".
        description: one line for ``tunedepth datasets``.
        load: the loader of labelled images; its keyword arguments are the fields of the matching data config
            (``tunedepth.config.data``) other than ``source`` and ``balance``. None for frames.
        load_frames: the loader of frames with masks or traced boundaries, called with the folder and the keyword
            arguments ``skip_bad_frames`` and ``max_frames`` (and, for polyp frames, ``min_area_px``); it returns
            :class:`~tunedepth.data.masked.PolypFrames`, :class:`~tunedepth.data.masked.SegmentationFrames` or
            :class:`~tunedepth.data.boundaries.LayeredFrames`. None for labelled images.
        folder: the data set's folder under ``$TUNEDEPTH_DATA_DIR`` when it has a known place there (``tunedepth
            datasets`` lists it with what it found); None for the user's own data.
        user_data: the source reads the user's own files (a folder, a CSV, volumes): ``tunedepth datasets`` lists
            it first, as "user data".
    """

    name: str
    description: str
    load: Callable[..., DatasetSplits] | None = None
    load_frames: Callable[..., Any] | None = None
    folder: str | None = None
    user_data: bool = False

    def __post_init__(self) -> None:
        if (self.load is None) == (self.load_frames is None):
            raise ValueError(f"data source {self.name!r}: give exactly one of load (labelled images) and load_frames "
                             "(frames with masks or boundaries).")


DATA_SOURCES: Registry[DataSource] = Registry("data source")
