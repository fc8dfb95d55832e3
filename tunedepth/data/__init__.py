"""Data: the registry of data sources, image splits, training subsets, preprocessing, augmentation, the crop protocol
of frame classification and the degradations of the frame-quality proxy.

The sources and their loaders are in :mod:`tunedepth.data.sources`; data with masks (polyp and carotid frames,
candidates, patches) in :mod:`tunedepth.data.masked`; boundary targets and layered annotations in
:mod:`tunedepth.data.boundaries`.

Every public name is imported explicitly below and listed in ``__all__``.
"""

from __future__ import annotations

from tunedepth.data._image_file import IMAGE_SUFFIXES, read_image_files
from tunedepth.data.augment import augment_batch, augmented_views
from tunedepth.data.catalog import DatasetListing, list_datasets
from tunedepth.data.crops import (
    EVALUATION_CROP_SETS,
    CropSpec,
    apply_crops,
    average_over_crops,
    evaluation_crops,
    training_crops,
)
from tunedepth.data.dataset import DatasetSplits, ImageSet
from tunedepth.data.degrade import DEGRADATION_KINDS, Degradation, degrade, draw_degradation, field_of_view
from tunedepth.data.frame_quality import FRAME_QUALITY_CLASSES, FrameQuality, assign_frame_quality, degrade_frames
from tunedepth.data.preprocess import check_image_size, normalize, prepare_images
from tunedepth.data.sources import DATA_SOURCES, DataSource
from tunedepth.data.splits import (
    SplitIndices,
    check_no_leakage,
    check_split_fractions,
    split_image_set,
    split_indices,
)
from tunedepth.data.subsets import balance_indices, class_weights, train_subset_indices

__all__ = [
    "IMAGE_SUFFIXES",
    "DATA_SOURCES",
    "DEGRADATION_KINDS",
    "EVALUATION_CROP_SETS",
    "FRAME_QUALITY_CLASSES",
    "CropSpec",
    "DataSource",
    "DatasetListing",
    "DatasetSplits",
    "Degradation",
    "FrameQuality",
    "ImageSet",
    "SplitIndices",
    "apply_crops",
    "assign_frame_quality",
    "augment_batch",
    "augmented_views",
    "average_over_crops",
    "balance_indices",
    "check_image_size",
    "check_no_leakage",
    "check_split_fractions",
    "class_weights",
    "degrade",
    "degrade_frames",
    "draw_degradation",
    "evaluation_crops",
    "field_of_view",
    "list_datasets",
    "normalize",
    "prepare_images",
    "read_image_files",
    "split_image_set",
    "split_indices",
    "train_subset_indices",
    "training_crops",
]
