"""Data: sources of labelled images, splits, training subsets, preprocessing, augmentation.

Data with masks (polyp and carotid frames, candidates, patches) is in :mod:`tunedepth.data.masked`, boundary
targets and layered annotations in :mod:`tunedepth.data.boundaries`.

Every public name is imported explicitly below and listed in ``__all__``.
"""

from __future__ import annotations

from tunedepth.data.augment import augment_batch
from tunedepth.data.catalog import DatasetListing, list_datasets
from tunedepth.data.dataset import DatasetSplits, ImageSet
from tunedepth.data.preprocess import check_image_size, normalize, prepare_images
from tunedepth.data.sources import (
    DATA_SOURCES,
    DataSource,
    find_medmnist_file,
    get_medmnist_info,
    load_csv_manifest,
    load_image_folder,
    load_medmnist,
)
from tunedepth.data.sources._medmnist_info import MEDMNIST_INFO, MedmnistInfo
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
    "MEDMNIST_INFO",
    "DataSource",
    "DatasetListing",
    "DatasetSplits",
    "ImageSet",
    "MedmnistInfo",
    "SplitIndices",
    "augment_batch",
    "balance_indices",
    "check_image_size",
    "check_no_leakage",
    "check_split_fractions",
    "class_weights",
    "find_medmnist_file",
    "get_medmnist_info",
    "list_datasets",
    "load_csv_manifest",
    "load_image_folder",
    "load_medmnist",
    "normalize",
    "prepare_images",
    "split_image_set",
    "split_indices",
    "train_subset_indices",
]
