"""Data: sources of labelled images, splits, training subsets, preprocessing, augmentation.

Every public name is imported explicitly below and listed in ``__all__``.
"""

from __future__ import annotations

from tunedepth.data.augment import augment_batch
from tunedepth.data.boundaries import PixelSample, closed_boundary, sample_boundary_pixels
from tunedepth.data.candidates import (
    DEFAULT_WINDOW_FRACTIONS,
    CandidateRecall,
    Candidates,
    candidate_recall,
    generate_candidates,
)
from tunedepth.data.carotid import CAROTID_DATA_FOLDER, CAROTID_IMAGE_FOLDER, CAROTID_MASK_FOLDER, load_carotid
from tunedepth.data.catalog import DatasetListing, list_datasets
from tunedepth.data.dataset import DatasetSplits, ImageSet
from tunedepth.data.detection import (
    CandidateSet,
    PatchSet,
    evaluation_patches,
    find_candidates,
    training_patches,
)
from tunedepth.data.layered import (
    LAYERED_BOUNDARY_NAMES,
    LayeredBoundaries,
    LayeredFrames,
    layered_label_image,
    load_layered,
    read_layered_annotation,
)
from tunedepth.data.locations import MASK_DATA_FOLDERS, default_mask_data_folder, resolve_mask_data_root
from tunedepth.data.patches import PATCH_ORIENTATIONS, PatchViews, cut_patches, orient_patch, patch_views
from tunedepth.data.polyp import (
    MASK_THRESHOLD,
    MIN_POLYP_AREA_PX,
    POLYP_DATA_FOLDERS,
    PolypFrames,
    SkippedFrame,
    label_polyps,
    load_cvc_clinicdb,
    load_kvasir_seg,
)
from tunedepth.data.preprocess import check_image_size, normalize, prepare_images
from tunedepth.data.segmentation_frames import SegmentationFrames
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
    balance_indices,
    check_no_leakage,
    check_split_fractions,
    class_weights,
    split_image_set,
    split_indices,
    train_subset_indices,
)
from tunedepth.data.video_segments import (
    DEFAULT_MIN_SEGMENT_FRAMES,
    DEFAULT_OUTLIER_Z,
    DEFAULT_THUMBNAIL_SIZE,
    DEFAULT_WINDOW,
    VideoSegments,
    boundary_scores,
    frame_thumbnails,
    segment_videos,
    split_by_video,
)

__all__ = [
    "CAROTID_DATA_FOLDER",
    "CAROTID_IMAGE_FOLDER",
    "CAROTID_MASK_FOLDER",
    "DATA_SOURCES",
    "DEFAULT_MIN_SEGMENT_FRAMES",
    "DEFAULT_OUTLIER_Z",
    "DEFAULT_THUMBNAIL_SIZE",
    "DEFAULT_WINDOW",
    "DEFAULT_WINDOW_FRACTIONS",
    "LAYERED_BOUNDARY_NAMES",
    "MASK_DATA_FOLDERS",
    "MASK_THRESHOLD",
    "MEDMNIST_INFO",
    "MIN_POLYP_AREA_PX",
    "PATCH_ORIENTATIONS",
    "POLYP_DATA_FOLDERS",
    "CandidateRecall",
    "CandidateSet",
    "Candidates",
    "DataSource",
    "DatasetListing",
    "DatasetSplits",
    "ImageSet",
    "LayeredBoundaries",
    "LayeredFrames",
    "MedmnistInfo",
    "PatchSet",
    "PatchViews",
    "PixelSample",
    "PolypFrames",
    "SegmentationFrames",
    "SkippedFrame",
    "SplitIndices",
    "VideoSegments",
    "augment_batch",
    "balance_indices",
    "boundary_scores",
    "candidate_recall",
    "check_image_size",
    "check_no_leakage",
    "check_split_fractions",
    "class_weights",
    "closed_boundary",
    "cut_patches",
    "default_mask_data_folder",
    "evaluation_patches",
    "find_candidates",
    "find_medmnist_file",
    "frame_thumbnails",
    "generate_candidates",
    "get_medmnist_info",
    "label_polyps",
    "layered_label_image",
    "list_datasets",
    "load_carotid",
    "load_csv_manifest",
    "load_cvc_clinicdb",
    "load_image_folder",
    "load_kvasir_seg",
    "load_layered",
    "load_medmnist",
    "normalize",
    "orient_patch",
    "patch_views",
    "prepare_images",
    "resolve_mask_data_root",
    "read_layered_annotation",
    "sample_boundary_pixels",
    "segment_videos",
    "split_by_video",
    "split_image_set",
    "split_indices",
    "train_subset_indices",
    "training_patches",
]
