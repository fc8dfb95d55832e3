"""Boundary targets: closed boundaries of masks with their pixel sample, and layered boundary annotations.

Every public name is imported explicitly below and listed in ``__all__``.
"""

from __future__ import annotations

from tunedepth.data.boundaries.layered import (
    LAYERED_BOUNDARY_NAMES,
    LayeredBoundaries,
    LayeredFrames,
    layered_label_image,
    load_layered,
    read_layered_annotation,
)
from tunedepth.data.boundaries.pixels import PixelSample, closed_boundary, sample_boundary_pixels

__all__ = [
    "LAYERED_BOUNDARY_NAMES",
    "LayeredBoundaries",
    "LayeredFrames",
    "PixelSample",
    "closed_boundary",
    "layered_label_image",
    "load_layered",
    "read_layered_annotation",
    "sample_boundary_pixels",
]
