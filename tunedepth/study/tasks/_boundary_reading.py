"""Segmentation runs' test: dense inference on every test image, the boundary read off the map, and its errors.

Part of the segmentation task's run part (:mod:`tunedepth.study.tasks.segmentation`): closed boundaries are read
along rays from the region of interest's centre (:func:`~tunedepth.evaluation.extract_closed_boundary`), layered
ones per column (:func:`~tunedepth.evaluation.extract_layered_boundaries`); distances are converted back to the
original images' pixels, or to micrometres when the pixel spacing is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from tunedepth.config import SegmentationConfig
from tunedepth.data.boundaries import LayeredFrames, closed_boundary
from tunedepth.data.masked import SegmentationFrames
from tunedepth.evaluation import (
    dice_score,
    extract_closed_boundary,
    extract_layered_boundaries,
    hausdorff95_boundary_error,
    iou_score,
    layered_boundary_error,
    mean_boundary_error,
)
from tunedepth.models import GroupedModel
from tunedepth.training import dense_class_probabilities

__all__ = ["BOUNDARY_ERROR_COLUMNS", "N_OVERLAYS", "BoundaryResult", "Frames", "boundary_errors", "spacing_um"]

Frames = SegmentationFrames | LayeredFrames

N_OVERLAYS = 3
"""Test images per run whose image, reference and predicted boundaries are kept for the report's overlays."""

BOUNDARY_ERROR_COLUMNS = ("frame_id", "group_id", "mean_boundary_error", "hausdorff95_boundary_error", "dice_score",
                          "iou_score", "unit")


def spacing_um(settings: SegmentationConfig, annotated: float | None = None) -> float | None:
    """The pixel spacing of an original image that its errors are reported in: None (pixels) with unit 'px', else
    ``segmentation.pixel_spacing_um``, else the image's own (a layered annotation's), else None."""
    if settings.unit == "px":
        return None
    return settings.pixel_spacing_um if settings.pixel_spacing_um is not None else annotated


def _grow(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, ...], margin: int) -> np.ndarray:
    roi = np.zeros(shape[:2], dtype=bool)
    roi[max(0, int(rows.min()) - margin): int(rows.max()) + margin + 1,
        max(0, int(cols.min()) - margin): int(cols.max()) + margin + 1] = True
    return roi


def _closed_row(model: GroupedModel, frames: SegmentationFrames, f: int, factor: float, settings: SegmentationConfig,
                patch_size: int, device: torch.device, batch_size: int
                ) -> tuple[dict[str, Any], tuple[np.ndarray, np.ndarray]]:
    image, mask = frames.images[f], frames.masks[f]
    r, c = np.nonzero(mask)
    roi = _grow(r, c, mask.shape, settings.roi_margin_px)
    probs = dense_class_probabilities(model, image, patch_size=patch_size, stride=settings.stride,
                                      batch_size=batch_size, device=device, roi=roi)
    rr, cc = np.nonzero(roi)
    centre = ((rr.min() + rr.max()) / 2, (cc.min() + cc.max()) / 2)
    contour = extract_closed_boundary(probs[1], centre=centre, n_rays=settings.n_rays, smoothing=settings.smoothing,
                                      max_step_px=settings.max_step_px)
    predicted = contour.filled(mask.shape)
    um = spacing_um(settings)
    spacing = None if um is None else um * factor
    mean = mean_boundary_error(predicted, mask, pixel_spacing_um=spacing)
    hd95 = hausdorff95_boundary_error(predicted, mask, pixel_spacing_um=spacing)
    to_unit = factor if spacing is None else 1.0  # working pixels -> original pixels
    row = {"mean_boundary_error": mean.value * to_unit, "hausdorff95_boundary_error": hd95.value * to_unit,
           "dice_score": dice_score(predicted, mask), "iou_score": iou_score(predicted, mask), "unit": mean.unit}
    drawn = closed_boundary(predicted) if predicted.any() else np.zeros_like(mask)
    return row, (closed_boundary(mask).astype(np.uint8), drawn.astype(np.uint8))


def _draw_rows(shape: tuple[int, ...], *rows: np.ndarray) -> np.ndarray:
    """Interface k (1, 2, ...) drawn as value k at its rounded row in every column where it exists."""
    out = np.zeros(shape[:2], dtype=np.uint8)
    for k, y in enumerate(rows, start=1):
        cols = np.flatnonzero(np.isfinite(y))
        out[np.clip(np.floor(y[cols] + 0.5).astype(int), 0, shape[0] - 1), cols] = k
    return out


def _layered_row(model: GroupedModel, frames: LayeredFrames, f: int, factor: float, settings: SegmentationConfig,
                 patch_size: int, device: torch.device, batch_size: int
                 ) -> tuple[dict[str, Any], tuple[np.ndarray, np.ndarray]]:
    image, ref = frames.images[f], frames.boundaries[f]
    cols = np.flatnonzero(np.isfinite(ref.lumen_intima) | np.isfinite(ref.media_adventitia))
    ys = np.r_[ref.lumen_intima[cols], ref.media_adventitia[cols]]
    ys = ys[np.isfinite(ys)]
    roi = _grow(np.array([ys.min(), ys.max()]), cols, image.shape, settings.roi_margin_px)
    probs = dense_class_probabilities(model, image, patch_size=patch_size, stride=settings.stride,
                                      batch_size=batch_size, device=device, roi=roi)
    upper, lower = extract_layered_boundaries(probs, smoothing=settings.smoothing)
    um = spacing_um(settings, ref.pixel_spacing_um)
    spacing = None if um is None else um * factor
    to_unit = factor if spacing is None else 1.0
    errors = [layered_boundary_error(p, r, pixel_spacing_um=spacing) for p, r in
              ((upper, ref.lumen_intima), (lower, ref.media_adventitia))]
    columns = np.abs(np.r_[upper - ref.lumen_intima, lower - ref.media_adventitia])
    columns = columns[np.isfinite(columns)] * (factor if spacing is None else spacing)
    row = {"mean_boundary_error": float(np.mean([e.value for e in errors])) * to_unit,
           "hausdorff95_boundary_error": float(np.percentile(columns, 95)) if columns.size else float("nan"),
           "dice_score": float("nan"), "iou_score": float("nan"), "unit": errors[0].unit,
           "lumen_intima_error": errors[0].value * to_unit, "media_adventitia_error": errors[1].value * to_unit}
    return row, (_draw_rows(image.shape, ref.lumen_intima, ref.media_adventitia), _draw_rows(image.shape, upper, lower))


@dataclass(frozen=True)
class BoundaryResult:
    """A segmentation run's test outcome.

    Attributes:
        errors: one row per test image (see :func:`boundary_errors`).
        overlays: for the first :data:`N_OVERLAYS` test images, ``image_<k>`` (uint8 (H, W, 3), resampled),
            ``reference_<k>`` and ``predicted_<k>`` (uint8 (H, W): 0 background, k on boundary class k).
    """

    errors: pd.DataFrame
    overlays: dict[str, np.ndarray]


def boundary_errors(model: GroupedModel, frames: Frames, factors: np.ndarray, settings: SegmentationConfig, *,
                    patch_size: int, device: torch.device, batch_size: int = 256) -> BoundaryResult:
    """Dense inference on every test image, the boundary read off the map, and its errors (one row per image).

    Closed boundaries (region masks): the region of interest is the reference region's bounding box grown by
    ``roi_margin_px``; the boundary is read along rays from its centre; errors are the mean symmetric boundary
    distance, its Hausdorff-95, Dice and IoU of the filled regions. Layered boundaries: the region of interest spans
    the traced columns and rows (grown likewise); each interface is read per column and smoothed; the error is the
    mean over the two interfaces of the mean per-column distance (``lumen_intima_error``,
    ``media_adventitia_error`` too), and "Hausdorff-95" is the 95th percentile of the per-column distances of both;
    Dice and IoU are NaN (no region).

    Returns:
        The errors, a table with :data:`BOUNDARY_ERROR_COLUMNS` (plus the two interface columns for layered data):
        distances in the original images' pixels ("px"), or in µm ("um") when a pixel spacing is known; and the
        overlays of the first test images.
    """
    rows: list[dict[str, Any]] = []
    overlays: dict[str, np.ndarray] = {}
    for f in range(len(frames)):
        factor = float(factors[f])
        if isinstance(frames, LayeredFrames):
            row, drawn = _layered_row(model, frames, f, factor, settings, patch_size, device, batch_size)
        else:
            row, drawn = _closed_row(model, frames, f, factor, settings, patch_size, device, batch_size)
        rows.append({"frame_id": frames.frame_ids[f], "group_id": frames.group_ids[f], **row})
        if f < N_OVERLAYS:
            overlays |= {f"image_{f}": np.asarray(frames.images[f]), f"reference_{f}": drawn[0],
                         f"predicted_{f}": drawn[1]}
    extra = ["lumen_intima_error", "media_adventitia_error"] if isinstance(frames, LayeredFrames) else []
    return BoundaryResult(pd.DataFrame(rows, columns=list(BOUNDARY_ERROR_COLUMNS) + extra), overlays)
