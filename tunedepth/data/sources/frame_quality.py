"""``data.source = "colonoscopy_frame_quality"``: the frame-quality proxy of issue 16, as labelled images.

The paper's informative / non-informative colonoscopy frames come from the authors' private videos. This source builds
a proxy from real frames of Kvasir-SEG or CVC-ClinicDB: each frame is used once, either kept clean (informative,
label 0) or degraded as non-informative frames look in practice (motion or defocus blur, over-exposure with specular
saturation, bubbles; label 1), with the choice and the degradation's parameters drawn per frame from ``split_seed``
(:mod:`tunedepth.data.frame_quality`, :mod:`tunedepth.data.degrade`). Frames are degraded at their full size, then
resized (stretched) to ``image_size``. The split keeps every group on one side and is stratified by label, as the
detection task splits: CVC-ClinicDB by its derived videos (no video on both sides), Kvasir-SEG by image.

It is a proxy: real non-informative frames also show stool, fluid, the wall at contact and mixtures, which no formula
here reproduces (docs/frames.md).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from tunedepth.data.dataset import DatasetSplits, ImageSet
from tunedepth.data.frame_quality import FRAME_QUALITY_CLASSES, assign_frame_quality, degrade_frames
from tunedepth.data.masked import PolypFrames, resolve_mask_data_root
from tunedepth.data.preprocess import prepare_images
from tunedepth.data.sources.base import DATA_SOURCES, DataSource
from tunedepth.data.splits import split_indices

__all__ = ["load_colonoscopy_frame_quality"]

logger = logging.getLogger(__name__)


def load_colonoscopy_frame_quality(*, frames: str, root: Path | None, image_size: int,
                                   non_informative_fraction: float, val_fraction: float, test_fraction: float,
                                   split_seed: int, max_frames: int | None = None,
                                   skip_bad_frames: bool = False) -> DatasetSplits:
    """The proxy's frames, labelled informative (0) or non-informative (1), split by group.

    Args:
        frames: "kvasir_seg" or "cvc_clinicdb": whose frames.
        root: that data set's folder, or None for its place under ``$TUNEDEPTH_DATA_DIR``.
        image_size: side of the square frames returned, in pixels.
        non_informative_fraction: share of the frames degraded, in (0, 1).
        val_fraction: share of the frames (whole groups) for validation.
        test_fraction: share of the frames (whole groups) for testing.
        split_seed: seed of the split, of which frames are degraded and of the degradations.
        max_frames: read only the first ``max_frames`` frames (quick trials, tests).
        skip_bad_frames: leave out unreadable frames instead of refusing the data set.

    Returns:
        The splits; patient ids are the frames' groups (videos for CVC-ClinicDB, images for Kvasir-SEG).

    Raises:
        TunedepthError: for a missing or bad data set, or a fraction that leaves a class or a side empty.
    """
    folder = resolve_mask_data_root(frames, root)
    load = DATA_SOURCES.get(frames).load_frames
    assert load is not None  # kvasir_seg and cvc_clinicdb are frame sources
    polyp: PolypFrames = load(folder, skip_bad_frames=skip_bad_frames, max_frames=max_frames)
    quality = assign_frame_quality(len(polyp), non_informative_fraction=non_informative_fraction, seed=split_seed)
    images = degrade_frames(polyp.images, quality)
    tensor = torch.cat([prepare_images(image[None], image_size=image_size) for image in images])
    labels = torch.as_tensor(quality.labels, dtype=torch.int64)
    groups = tuple(f"{polyp.name}:{g}" for g in polyp.group_ids)
    parts = split_indices(quality.labels, val_fraction=val_fraction, test_fraction=test_fraction, seed=split_seed,
                          groups=groups)

    def side(rows: np.ndarray) -> ImageSet:
        index = torch.from_numpy(rows)
        return ImageSet(tensor[index], labels[index], tuple(groups[i] for i in rows))

    logger.info("frame-quality proxy from %s: %d frames (%d degraded), %d/%d/%d train/val/test", polyp.name,
                len(polyp), int(quality.labels.sum()), len(parts.train), len(parts.val), len(parts.test))
    return DatasetSplits(f"{polyp.name}-frame-quality", FRAME_QUALITY_CLASSES, side(parts.train), side(parts.val),
                         side(parts.test), split_origin="seeded")


DATA_SOURCES.register("colonoscopy_frame_quality", DataSource(
    name="colonoscopy_frame_quality",
    description="Proxy of informative vs non-informative colonoscopy frames: Kvasir-SEG or CVC-ClinicDB frames, "
    "each kept clean or degraded (blur, over-exposure, bubbles)",
    load=load_colonoscopy_frame_quality,
))
