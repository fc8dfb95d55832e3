"""``task = "segmentation"``: region masks -> boundary pixel patches for training; dense inference -> boundaries.

The paper's fourth application turns segmentation into pixel classification (Tajbakhsh et al. 2016, section II-D;
``paper-protocol.md`` section 1.6): a CNN classifies the patch around a pixel as boundary or background, is applied
densely to a region of interest, and the boundary is read off the confidence map. Here, for closed boundaries (the
carotid artery in transverse ultrasound, a polyp):

* Images are resampled so that their longer side is ``segmentation.work_size_px`` (bilinear; masks nearest):
  dense inference costs one forward pass per grid centre, so the working resolution sets the cost. Distances are
  converted back to the original pixels (times the resampling factor, isotropic) and to micrometres when
  ``segmentation.pixel_spacing_um`` is given; the unit is stored with every number.
* Split by group (acquisition sequence, video, image), seeded by ``data.split_seed``; a training fraction keeps a
  nested, seeded subset of the training groups.
* Targets: the 1-pixel inner contour of each mask (:func:`~tunedepth.data.closed_boundary`). Training pixels: per
  image, ``pixels_per_class`` boundary pixels and as many background pixels, ``near_fraction`` of them within
  ``near_distance_px`` of the boundary (hard negatives), drawn once per study (``data.split_seed``); patches are
  cut centred on them without translation (the paper notes that shifting boundary patches injects label noise).
  Validation and test pixels (``val_pixels_per_class``, same rule) give the AUC tables and stop training.
* Test images: class probabilities on a stride-``stride`` grid inside the region of interest (the reference
  region's bounding box grown by ``roi_margin_px``; the paper also worked inside a region of interest), the
  boundary read along ``n_rays`` rays from the region of interest's centre (ray-wise argmax, circular smoothing),
  its filled region, and per image: mean symmetric boundary distance, Hausdorff-95, Dice and IoU
  (``boundary_errors_test.csv`` in each run folder).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from PIL import Image

from tunedepth.config import PolypDataConfig, SegmentationConfig, SegmentationDataConfig
from tunedepth.data import (
    DatasetSplits,
    ImageSet,
    LayeredFrames,
    SegmentationFrames,
    closed_boundary,
    layered_label_image,
    load_carotid,
    load_cvc_clinicdb,
    load_kvasir_seg,
    load_layered,
    resolve_mask_data_root,
    sample_boundary_pixels,
    split_by_video,
)
from tunedepth.errors import ConfigError, DataError
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
from tunedepth.study._groups import group_subset_rows
from tunedepth.training import cut_pixel_patches, dense_class_probabilities

logger = logging.getLogger(__name__)

__all__ = ["BOUNDARY_ERROR_COLUMNS", "LAYERED_CLASS_NAMES", "N_OVERLAYS", "SEGMENTATION_CLASS_NAMES",
           "BoundaryResult", "SegmentationData", "boundary_errors", "prepare_segmentation"]

N_OVERLAYS = 3
"""Test images per run whose image, reference and predicted boundaries are kept for the report's overlays."""

SEGMENTATION_CLASS_NAMES = ("background", "boundary")
LAYERED_CLASS_NAMES = ("background", "lumen_intima", "media_adventitia")

Frames = SegmentationFrames | LayeredFrames

BOUNDARY_ERROR_COLUMNS = ("frame_id", "group_id", "mean_boundary_error", "hausdorff95_boundary_error", "dice_score",
                          "iou_score", "unit")


def _load(data: SegmentationDataConfig | PolypDataConfig) -> Frames:
    frames: Frames
    if data.source == "layered":
        assert data.root is not None  # the schema requires it
        frames = load_layered(data.root, skip_bad_frames=data.skip_bad_frames)
    elif data.source == "carotid":
        frames = load_carotid(resolve_mask_data_root(data.source, data.root), skip_bad_frames=data.skip_bad_frames)
    else:
        root = resolve_mask_data_root(data.source, data.root)
        polyp = (load_kvasir_seg(root, skip_bad_frames=data.skip_bad_frames, max_frames=data.max_frames)
                 if data.source == "kvasir_seg" else load_cvc_clinicdb(root, skip_bad_frames=data.skip_bad_frames))
        frames = SegmentationFrames(polyp.name, polyp.images, polyp.masks, polyp.frame_ids, polyp.group_ids,
                                    polyp.skipped)
    if data.max_frames is not None and data.max_frames < len(frames):
        frames = frames.subset(list(range(data.max_frames)))
    return frames


def _resample_rows(rows: np.ndarray, new_width: int, sx: float, sy: float) -> np.ndarray:
    """A boundary's row per column on the resampled grid (pixel centres map as x = (x' + 0.5) sx - 0.5)."""
    x = (np.arange(new_width) + 0.5) * sx - 0.5
    finite = np.flatnonzero(np.isfinite(rows))
    out = np.full(new_width, np.nan)
    if finite.size:
        inside = (x >= finite[0]) & (x <= finite[-1])
        out[inside] = (np.interp(x[inside], finite, rows[finite]) + 0.5) / sy - 0.5
    return out


def _resample(frames: Frames, work_size_px: int) -> tuple[Frames, np.ndarray]:
    """Frames resampled to a longer side of ``work_size_px``, and per frame the original pixels per working pixel."""
    images: list[np.ndarray] = []
    targets: list[Any] = []  # LayeredBoundaries or resampled masks
    factors = []
    for f, image in enumerate(frames.images):
        h, w = image.shape[:2]
        scale = work_size_px / max(h, w)
        size = (max(8, round(w * scale)), max(8, round(h * scale)))
        small = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))
        small.setflags(write=False)
        images.append(small)
        sx, sy = w / size[0], h / size[1]
        factors.append((sx + sy) / 2)
        if isinstance(frames, LayeredFrames):
            b = frames.boundaries[f]
            targets.append(replace(b, lumen_intima=_resample_rows(b.lumen_intima, size[0], sx, sy),
                                   media_adventitia=_resample_rows(b.media_adventitia, size[0], sx, sy)))
        else:
            small_mask = np.asarray(Image.fromarray(frames.masks[f]).resize(size, Image.Resampling.NEAREST))
            small_mask = small_mask.astype(bool)
            small_mask.setflags(write=False)
            targets.append(small_mask)
    if isinstance(frames, LayeredFrames):
        return replace(frames, images=tuple(images), boundaries=tuple(targets)), np.asarray(factors)
    return replace(frames, images=tuple(images), masks=tuple(targets)), np.asarray(factors)


def _label_image(frames: Frames, f: int) -> np.ndarray:
    """0 background, k on boundary class k (closed: 1; layered: 1 lumen-intima, 2 media-adventitia)."""
    if isinstance(frames, LayeredFrames):
        return layered_label_image(frames.boundaries[f], frames.images[f].shape[:2])
    return closed_boundary(frames.masks[f])


def _pixel_patches(frames: Frames, *, per_class: int, settings: SegmentationConfig, size: int,
                   seed: int) -> tuple[ImageSet, np.ndarray]:
    """Stratified boundary / background pixel patches of every frame, and each patch's frame."""
    patches, labels, frame_of_row = [], [], []
    for f, image in enumerate(frames.images):
        sample = sample_boundary_pixels(_label_image(frames, f), n_per_class=per_class,
                                        near_fraction=settings.near_fraction,
                                        near_distance_px=settings.near_distance_px, seed=seed + f)
        patches.append(cut_pixel_patches(image, sample.rows, sample.cols, patch_size=size))
        labels.append(np.asarray(sample.labels, dtype=np.int64))
        frame_of_row.append(np.full(len(sample.labels), f, dtype=np.int64))
    rows = np.concatenate(frame_of_row)
    groups = tuple(f"{frames.name}/{frames.group_ids[int(f)]}" for f in rows)
    images = ImageSet(torch.cat(patches), torch.from_numpy(np.concatenate(labels)), groups)
    return images, rows


def _spacing_um(settings: SegmentationConfig, annotated: float | None = None) -> float | None:
    """The pixel spacing of an original image that its errors are reported in: None (pixels) with unit 'px', else
    ``segmentation.pixel_spacing_um``, else the image's own (a layered annotation's), else None."""
    if settings.unit == "px":
        return None
    return settings.pixel_spacing_um if settings.pixel_spacing_um is not None else annotated


def _check_unit(frames: Frames, settings: SegmentationConfig, root: Path | None) -> None:
    """Check ``settings.unit`` against the pixel spacings known (see :func:`_spacing_um`).

    Raises:
        ConfigError: unit 'um' without a known spacing for every image.
        DataError: unit 'auto' and layered annotations of which some give a spacing and some do not.
    """
    if settings.unit == "px" or settings.pixel_spacing_um is not None:
        return
    if isinstance(frames, LayeredFrames):
        unknown = [f for f, b in zip(frames.frame_ids, frames.boundaries, strict=True) if b.pixel_spacing_um is None]
    else:
        unknown = list(frames.frame_ids)
    if not unknown or (settings.unit == "auto" and len(unknown) == len(frames.frame_ids)):
        return
    layered = isinstance(frames, LayeredFrames)
    where = f"annotations/{unknown[0]}.json in {root}" if layered else f"data set {frames.name!r}"
    if settings.unit == "um":
        raise ConfigError(
            f"segmentation.unit = 'um' needs the pixel spacing of every image, but it is unknown for {len(unknown)} of "
            f"{len(frames.frame_ids)} images (e.g. {where}); set segmentation.pixel_spacing_um (micrometres per pixel "
            "of the original images), give pixel_spacing_um in every annotation, or set segmentation.unit = 'px'."
        )
    raise DataError(
        f"{len(frames.frame_ids) - len(unknown)} of {len(frames.frame_ids)} layered annotations give pixel_spacing_um "
        f"and {len(unknown)} do not (e.g. {where}), so boundary errors would mix um and px; give every annotation its "
        "spacing, set segmentation.pixel_spacing_um, or set segmentation.unit = 'px'."
    )


@dataclass(frozen=True, eq=False)
class SegmentationData:
    """The resampled frames of a segmentation study and what its runs need beyond the pixel patches.

    Attributes:
        frames: the "train", "val" and "test" frames, resampled to ``work_size_px`` (region masks, or layered
            interfaces).
        factors: per split, the original pixels per working pixel of each frame.
        train_frame_of_row: the frame of each training patch.
        settings: the [segmentation] settings.
    """

    frames: dict[str, Frames]
    factors: dict[str, np.ndarray]
    train_frame_of_row: np.ndarray
    settings: SegmentationConfig

    def train_rows(self, fraction: float, *, seed: int) -> np.ndarray:
        """Rows of the training patches from a nested, seeded ``fraction`` of the training groups."""
        groups = np.asarray(self.frames["train"].group_ids)[self.train_frame_of_row]
        return group_subset_rows(groups, fraction, seed=seed)


def prepare_segmentation(data: SegmentationDataConfig | PolypDataConfig, settings: SegmentationConfig
                         ) -> tuple[DatasetSplits, SegmentationData]:
    """Load, split, resample and sample pixels: the pixel-patch classification data of a segmentation study.

    Raises:
        TunedepthError: for a missing or bad data set.
    """
    frames = _load(data)
    _check_unit(frames, settings, data.root)
    parts = split_by_video(frames.group_ids, val_fraction=data.val_fraction, test_fraction=data.test_fraction,
                           seed=data.split_seed)
    split_frames: dict[str, Frames] = {}
    factors: dict[str, np.ndarray] = {}
    for split, index in (("train", parts.train), ("val", parts.val), ("test", parts.test)):
        split_frames[split], factors[split] = _resample(frames.subset(index.tolist()), settings.work_size_px)
    size = data.image_size
    train, train_rows = _pixel_patches(split_frames["train"], per_class=settings.pixels_per_class, settings=settings,
                                       size=size, seed=data.split_seed)
    val, _ = _pixel_patches(split_frames["val"], per_class=settings.val_pixels_per_class, settings=settings,
                            size=size, seed=data.split_seed + 1_000_003)
    test, _ = _pixel_patches(split_frames["test"], per_class=settings.val_pixels_per_class, settings=settings,
                             size=size, seed=data.split_seed + 2_000_003)
    classes = LAYERED_CLASS_NAMES if isinstance(frames, LayeredFrames) else SEGMENTATION_CLASS_NAMES
    splits = DatasetSplits(frames.name, classes, train, val, test, split_origin="seeded")
    logger.info("segmentation data %s: %d/%d/%d images at %d px, %d training patches", frames.name,
                len(split_frames["train"]), len(split_frames["val"]), len(split_frames["test"]),
                settings.work_size_px, len(train))
    return splits, SegmentationData(split_frames, factors, train_rows, settings)


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
    um = _spacing_um(settings)
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
    um = _spacing_um(settings, ref.pixel_spacing_um)
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


def boundary_errors(model: GroupedModel, seg: SegmentationData, *, patch_size: int, device: torch.device,
                    batch_size: int = 256) -> BoundaryResult:
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
    frames, settings = seg.frames["test"], seg.settings
    rows: list[dict[str, Any]] = []
    overlays: dict[str, np.ndarray] = {}
    for f in range(len(frames)):
        factor = float(seg.factors["test"][f])
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
