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
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from PIL import Image

from tunedepth.config import PolypDataConfig, SegmentationConfig, SegmentationDataConfig
from tunedepth.data import (
    CAROTID_DATA_FOLDER,
    POLYP_DATA_FOLDERS,
    DatasetSplits,
    ImageSet,
    SegmentationFrames,
    closed_boundary,
    load_carotid,
    load_cvc_clinicdb,
    load_kvasir_seg,
    sample_boundary_pixels,
    split_by_video,
)
from tunedepth.errors import ConfigError
from tunedepth.evaluation import (
    dice_score,
    extract_closed_boundary,
    hausdorff95_boundary_error,
    iou_score,
    mean_boundary_error,
)
from tunedepth.models import GroupedModel
from tunedepth.study._groups import group_subset_rows
from tunedepth.training import cut_pixel_patches, dense_class_probabilities

logger = logging.getLogger(__name__)

__all__ = ["BOUNDARY_ERROR_COLUMNS", "SEGMENTATION_CLASS_NAMES", "SegmentationData", "boundary_errors",
           "prepare_segmentation"]

SEGMENTATION_CLASS_NAMES = ("background", "boundary")

BOUNDARY_ERROR_COLUMNS = ("frame_id", "group_id", "mean_boundary_error", "hausdorff95_boundary_error", "dice_score",
                          "iou_score", "unit")


def _root(source: str, root: Path | None) -> Path:
    if root is not None:
        return root
    folder = CAROTID_DATA_FOLDER if source == "carotid" else POLYP_DATA_FOLDERS[source]
    data_dir = os.environ.get("TUNEDEPTH_DATA_DIR")
    if not data_dir:
        raise ConfigError(f"data.root is not set and TUNEDEPTH_DATA_DIR is unset; point data.root at the {source} "
                          f"folder or set TUNEDEPTH_DATA_DIR to the folder holding {folder}/.")
    return Path(data_dir) / folder


def _load(data: SegmentationDataConfig | PolypDataConfig) -> SegmentationFrames:
    root = _root(data.source, data.root)
    if data.source == "carotid":
        frames = load_carotid(root, skip_bad_frames=data.skip_bad_frames)
    else:
        loader = load_kvasir_seg if data.source == "kvasir_seg" else load_cvc_clinicdb
        polyp = loader(root, skip_bad_frames=data.skip_bad_frames)
        frames = SegmentationFrames(polyp.name, polyp.images, polyp.masks, polyp.frame_ids, polyp.group_ids,
                                    polyp.skipped)
    if data.max_frames is not None and data.max_frames < len(frames):
        frames = frames.subset(list(range(data.max_frames)))
    return frames


def _resample(frames: SegmentationFrames, work_size_px: int) -> tuple[SegmentationFrames, np.ndarray]:
    """Frames resampled to a longer side of ``work_size_px``, and per frame the original pixels per working pixel."""
    images, masks, factors = [], [], []
    for image, mask in zip(frames.images, frames.masks, strict=True):
        h, w = mask.shape
        scale = work_size_px / max(h, w)
        size = (max(8, round(w * scale)), max(8, round(h * scale)))
        small = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))
        small_mask = np.asarray(Image.fromarray(mask).resize(size, Image.Resampling.NEAREST))
        small.setflags(write=False)
        small_mask.setflags(write=False)
        images.append(small)
        masks.append(small_mask.astype(bool))
        factors.append((w / size[0] + h / size[1]) / 2)
    out = replace(frames, images=tuple(images), masks=tuple(masks))
    return out, np.asarray(factors)


def _pixel_patches(frames: SegmentationFrames, *, per_class: int, settings: SegmentationConfig, size: int,
                   seed: int) -> tuple[ImageSet, np.ndarray]:
    """Stratified boundary / background pixel patches of every frame, and each patch's frame."""
    patches, labels, frame_of_row = [], [], []
    for f, (image, mask) in enumerate(zip(frames.images, frames.masks, strict=True)):
        sample = sample_boundary_pixels(closed_boundary(mask), n_per_class=per_class,
                                        near_fraction=settings.near_fraction,
                                        near_distance_px=settings.near_distance_px, seed=seed + f)
        patches.append(cut_pixel_patches(image, sample.rows, sample.cols, patch_size=size))
        labels.append(np.asarray(sample.labels, dtype=np.int64))
        frame_of_row.append(np.full(len(sample.labels), f, dtype=np.int64))
    rows = np.concatenate(frame_of_row)
    groups = tuple(f"{frames.name}/{frames.group_ids[int(f)]}" for f in rows)
    images = ImageSet(torch.cat(patches), torch.from_numpy(np.concatenate(labels)), groups)
    return images, rows


@dataclass(frozen=True, eq=False)
class SegmentationData:
    """The resampled frames of a segmentation study and what its runs need beyond the pixel patches.

    Attributes:
        frames: the "train", "val" and "test" frames, resampled to ``work_size_px``.
        factors: per split, the original pixels per working pixel of each frame.
        train_frame_of_row: the frame of each training patch.
        settings: the [segmentation] settings.
    """

    frames: dict[str, SegmentationFrames]
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
    parts = split_by_video(frames.group_ids, val_fraction=data.val_fraction, test_fraction=data.test_fraction,
                           seed=data.split_seed)
    split_frames, factors = {}, {}
    for split, index in (("train", parts.train), ("val", parts.val), ("test", parts.test)):
        split_frames[split], factors[split] = _resample(frames.subset(index.tolist()), settings.work_size_px)
    size = data.image_size
    train, train_rows = _pixel_patches(split_frames["train"], per_class=settings.pixels_per_class, settings=settings,
                                       size=size, seed=data.split_seed)
    val, _ = _pixel_patches(split_frames["val"], per_class=settings.val_pixels_per_class, settings=settings,
                            size=size, seed=data.split_seed + 1_000_003)
    test, _ = _pixel_patches(split_frames["test"], per_class=settings.val_pixels_per_class, settings=settings,
                             size=size, seed=data.split_seed + 2_000_003)
    splits = DatasetSplits(frames.name, SEGMENTATION_CLASS_NAMES, train, val, test, split_origin="seeded")
    logger.info("segmentation data %s: %d/%d/%d images at %d px, %d training patches", frames.name,
                len(split_frames["train"]), len(split_frames["val"]), len(split_frames["test"]),
                settings.work_size_px, len(train))
    return splits, SegmentationData(split_frames, factors, train_rows, settings)


def _roi(mask: np.ndarray, margin: int) -> np.ndarray:
    rows, cols = np.nonzero(mask)
    roi = np.zeros_like(mask)
    roi[max(0, rows.min() - margin): rows.max() + margin + 1, max(0, cols.min() - margin): cols.max() + margin + 1] = 1
    return roi


def boundary_errors(model: GroupedModel, seg: SegmentationData, *, patch_size: int, device: torch.device,
                    batch_size: int = 256) -> pd.DataFrame:
    """Dense inference on every test image, the boundary read along rays, and its errors (one row per image).

    Returns:
        A table with :data:`BOUNDARY_ERROR_COLUMNS`: distances in the original images' pixels ("px") or in µm
        ("um") when ``pixel_spacing_um`` is set; Dice and IoU of the filled regions.
    """
    settings = seg.settings
    frames = seg.frames["test"]
    rows: list[dict[str, Any]] = []
    for f, (image, mask) in enumerate(zip(frames.images, frames.masks, strict=True)):
        roi = _roi(mask, settings.roi_margin_px)
        probs = dense_class_probabilities(model, image, patch_size=patch_size, stride=settings.stride,
                                          batch_size=batch_size, device=device, roi=roi)
        r, c = np.nonzero(roi)
        centre = ((r.min() + r.max()) / 2, (c.min() + c.max()) / 2)
        contour = extract_closed_boundary(probs[1], centre=centre, n_rays=settings.n_rays,
                                          smoothing=settings.smoothing)
        predicted = contour.filled(mask.shape)
        factor = float(seg.factors["test"][f])
        spacing = None if settings.pixel_spacing_um is None else settings.pixel_spacing_um * factor
        mean = mean_boundary_error(predicted, mask, pixel_spacing_um=spacing)
        hd95 = hausdorff95_boundary_error(predicted, mask, pixel_spacing_um=spacing)
        to_unit = factor if spacing is None else 1.0  # working pixels -> original pixels
        rows.append({"frame_id": frames.frame_ids[f], "group_id": frames.group_ids[f],
                     "mean_boundary_error": mean.value * to_unit, "hausdorff95_boundary_error": hd95.value * to_unit,
                     "dice_score": dice_score(predicted, mask), "iou_score": iou_score(predicted, mask),
                     "unit": mean.unit})
    return pd.DataFrame(rows, columns=list(BOUNDARY_ERROR_COLUMNS))
