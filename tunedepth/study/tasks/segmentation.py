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
* Targets: the 1-pixel inner contour of each mask (:func:`~tunedepth.data.boundaries.closed_boundary`). Training
  pixels: per image, ``pixels_per_class`` boundary pixels and as many background pixels, ``near_fraction`` of them
  within ``near_distance_px`` of the boundary (hard negatives), drawn once per study (``data.split_seed``); patches
  are cut centred on them without translation (the paper notes that shifting boundary patches injects label noise).
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
import torch
from PIL import Image

from tunedepth.config import SegmentationConfig, StudyConfig, settings_of
from tunedepth.data import DATA_SOURCES, DatasetSplits, ImageSet
from tunedepth.data.boundaries import LayeredFrames, closed_boundary, layered_label_image, sample_boundary_pixels
from tunedepth.data.masked import PolypFrames, SegmentationFrames, resolve_mask_data_root, split_by_video
from tunedepth.errors import ConfigError, DataError
from tunedepth.models import GroupedModel
from tunedepth.results import Split
from tunedepth.study.tasks._boundary_reading import (
    BOUNDARY_ERROR_COLUMNS,
    N_OVERLAYS,
    Frames,
    boundary_errors,
)
from tunedepth.study.tasks._groups import group_subset_rows
from tunedepth.study.tasks.base import STUDY_TASKS, TaskData, TaskOutputs, TaskRun
from tunedepth.training import cut_pixel_patches

logger = logging.getLogger(__name__)

__all__ = ["BOUNDARY_ERROR_COLUMNS", "LAYERED_CLASS_NAMES", "N_OVERLAYS", "SEGMENTATION_CLASS_NAMES",
           "SEGMENTATION_RUN", "SegmentationData", "load_segmentation_frames", "prepare_segmentation"]

SEGMENTATION_CLASS_NAMES = ("background", "boundary")
LAYERED_CLASS_NAMES = ("background", "lumen_intima", "media_adventitia")

def load_segmentation_frames(data: Any) -> Frames:
    """The images of ``data.source`` with their region masks or traced interfaces (first ``data.max_frames`` when
    set); polyp frames count as region masks.

    Raises:
        TunedepthError: for a missing or bad data set.
    """
    root = data.root if data.root is not None else resolve_mask_data_root(data.source, None)
    load = DATA_SOURCES.get(data.source).load_frames
    frames = None if load is None else load(root, skip_bad_frames=data.skip_bad_frames, max_frames=data.max_frames)
    if isinstance(frames, PolypFrames):
        frames = SegmentationFrames(frames.name, tuple(frames.images), tuple(frames.masks), frames.frame_ids,
                                    frames.group_ids, frames.skipped)
    if not isinstance(frames, SegmentationFrames | LayeredFrames):
        raise ConfigError(f"data source {data.source!r} holds neither region masks nor traced boundaries; "
                          "task = 'segmentation' cannot read it.")
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
class SegmentationData(TaskData):
    """The resampled frames of a segmentation study and what its runs need beyond the pixel patches; its cases are
    the sampled validation and test pixels, and each run's test also reads boundaries off dense maps.

    Attributes:
        frames: the "train", "val" and "test" frames, resampled to ``work_size_px`` (region masks, or layered
            interfaces).
        factors: per split, the original pixels per working pixel of each frame.
        train_frame_of_row: the frame of each training patch.
        settings: the [segmentation] settings.
        patch_size: side of the pixel patches (``data.image_size``).
    """

    frames: dict[str, Frames]
    factors: dict[str, np.ndarray]
    train_frame_of_row: np.ndarray
    settings: SegmentationConfig
    patch_size: int = 0

    def train_rows(self, data: DatasetSplits, *, train_fraction: float, seed: int) -> np.ndarray:
        """Rows of the training patches from a nested, seeded ``train_fraction`` of the training groups."""
        groups = np.asarray(self.frames["train"].group_ids)[self.train_frame_of_row]
        return group_subset_rows(groups, train_fraction, seed=seed)

    def case_labels(self, data: DatasetSplits, split: Split) -> np.ndarray:
        labels: np.ndarray = getattr(data, split).labels.numpy()
        return labels

    def test_outputs(self, model: GroupedModel, test_log_odds: np.ndarray, *, device: torch.device,
                     image_log_odds: np.ndarray) -> TaskOutputs:
        """Per test image: boundary errors (``boundary_errors_test``), their means, and overlays of the first."""
        result = boundary_errors(model, self.frames["test"], self.factors["test"], self.settings,
                                 patch_size=self.patch_size, device=device)
        errors = result.errors
        unit = str(errors["unit"].iloc[0]) if len(errors) else ""
        metrics: dict[str, Any] = {f"test_{column}": float(errors[column].mean()) for column in
                                   ("mean_boundary_error", "hausdorff95_boundary_error", "dice_score", "iou_score")}
        metrics |= {"boundary_error_unit": unit, "n_test_images": len(errors)}
        arrays = {"overlays_test": result.overlays} if result.overlays else {}
        return TaskOutputs(metrics=metrics, tables={"boundary_errors_test": errors}, arrays=arrays)


def prepare_segmentation(data: Any, settings: SegmentationConfig) -> tuple[DatasetSplits, SegmentationData]:
    """Load, split, resample and sample pixels: the pixel-patch classification data of a segmentation study.

    Raises:
        TunedepthError: for a missing or bad data set.
    """
    frames = load_segmentation_frames(data)
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
    return splits, SegmentationData(split_frames, factors, train_rows, settings, size)


def _prepare(config: StudyConfig) -> tuple[DatasetSplits, TaskData]:
    return prepare_segmentation(config.data, settings_of(config, SegmentationConfig))


SEGMENTATION_RUN = TaskRun(name="segmentation", prepare=_prepare)
STUDY_TASKS.register(SEGMENTATION_RUN.name, SEGMENTATION_RUN)
