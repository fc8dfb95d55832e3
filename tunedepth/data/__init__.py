"""Data: the registry of data sources, image splits, training subsets, preprocessing, augmentation.

The sources and their loaders are in :mod:`tunedepth.data.sources`; data with masks (polyp and carotid frames,
candidates, patches) in :mod:`tunedepth.data.masked`; boundary targets and layered annotations in
:mod:`tunedepth.data.boundaries`.

Every public name is imported explicitly below and listed in ``__all__``.
"""

from __future__ import annotations

from tunedepth.data.augment import augment_batch, augmented_views
from tunedepth.data.catalog import DatasetListing, list_datasets
from tunedepth.data.dataset import DatasetSplits, ImageSet
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
    "DATA_SOURCES",
    "DataSource",
    "DatasetListing",
    "DatasetSplits",
    "ImageSet",
    "SplitIndices",
    "augment_batch",
    "augmented_views",
    "balance_indices",
    "check_image_size",
    "check_no_leakage",
    "check_split_fractions",
    "class_weights",
    "list_datasets",
    "normalize",
    "prepare_images",
    "split_image_set",
    "split_indices",
    "train_subset_indices",
]
