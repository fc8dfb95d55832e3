"""``task = "segmentation"``: boundaries by pixel-patch classification, scored by boundary distance.

Its table is ``[segmentation]`` (paper section II-D).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from tunedepth.config._base import Frozen
from tunedepth.config.tasks.base import TaskConfig, register_task_config

if TYPE_CHECKING:
    from tunedepth.config.schema import StudyConfig

__all__ = ["SEGMENTATION", "SegmentationConfig"]


class SegmentationConfig(Frozen):
    """Boundary segmentation by pixel-patch classification (``task = "segmentation"``; paper section II-D)."""

    work_size_px: Annotated[int, Field(ge=32, le=2048)] = Field(
        default=128,
        description="Images are resampled so that their longer side has this many pixels (masks: nearest) before "
        "patches are cut; distances are converted back to the original pixels.",
    )
    pixel_spacing_um: Annotated[float, Field(gt=0)] | None = Field(
        default=None,
        description="Pixel spacing of the ORIGINAL images in micrometres; None (unknown) reports errors in pixels, "
        "except for layered annotations that carry their own pixel_spacing_um.",
    )
    unit: Literal["auto", "um", "px"] = Field(
        default="auto",
        description="Unit of the boundary errors: 'um' needs the pixel spacing of every image (pixel_spacing_um "
        "here, or in every layered annotation) and refuses the study otherwise; 'px' reports pixels of the original "
        "images even when a spacing is known; 'auto' gives um when the spacing of every image is known, px when none "
        "is, and refuses a mix.",
    )
    pixels_per_class: Annotated[int, Field(ge=1)] = Field(
        default=100, description="Training pixels drawn per image for the boundary and for the background."
    )
    near_fraction: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.5, description="Share of the background pixels drawn near the boundary (hard negatives)."
    )
    near_distance_px: Annotated[int, Field(ge=1)] = Field(
        default=3, description="Largest distance of a hard background pixel to the boundary, in resampled pixels."
    )
    val_pixels_per_class: Annotated[int, Field(ge=1)] = Field(
        default=50, description="Validation (and test) pixels per image and class for the AUC tables."
    )
    stride: Annotated[int, Field(ge=1)] = Field(
        default=2, description="Dense inference on a stride-s grid of patch centres, bilinear in between (1 = every "
        "pixel).",
    )
    roi_margin_px: Annotated[int, Field(ge=0)] = Field(
        default=12,
        description="Region of interest: the reference region's bounding box grown by this many resampled pixels "
        "(the paper also segmented within a region of interest around the vessel wall).",
    )
    n_rays: Annotated[int, Field(ge=8)] = Field(
        default=180, description="Rays from the region's centre along which a closed boundary is read."
    )
    smoothing: Annotated[float, Field(ge=0)] = Field(
        default=2.0, description="Smoothing of the boundary read off the map (0 = none): sigma in rays for closed "
        "boundaries, bandwidth in columns of a smoothing spline for layered ones; see "
        "tunedepth/evaluation/boundary_extraction.py.",
    )
    max_step_px: Annotated[float, Field(ge=0.25)] | None = Field(
        default=None,
        description="Closed boundaries: read the radii of all rays together, as the path of highest summed "
        "confidence whose radius changes by at most this many working pixels between neighbouring rays (dynamic "
        "programming; at least 0.25, the radial sampling step); None (default) takes each ray's own maximum.",
    )


def _check(config: StudyConfig) -> None:
    if getattr(config.data, "test_source", None) is not None:
        raise ValueError("cross-data-set mode (data.test_source) is for task = 'detection' only.")


SEGMENTATION = register_task_config(TaskConfig(
    name="segmentation",
    description="boundaries by pixel-patch classification, scored by boundary distance",
    data_sources=("carotid", "layered", "kvasir_seg", "cvc_clinicdb"),
    table="segmentation",
    settings=SegmentationConfig,
    check=_check,
))
