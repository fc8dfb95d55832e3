"""Data with masks: polyp and carotid frames, video segments, candidates, patches and where the data sets live.

Every public name is imported explicitly below and listed in ``__all__``.
"""

from __future__ import annotations

from tunedepth.data.masked.candidates import (
    DEFAULT_WINDOW_FRACTIONS,
    CandidateRecall,
    Candidates,
    candidate_recall,
    generate_candidates,
)
from tunedepth.data.masked.carotid import (
    CAROTID_DATA_FOLDER,
    CAROTID_IMAGE_FOLDER,
    CAROTID_MASK_FOLDER,
    load_carotid,
)
from tunedepth.data.masked.detection import (
    CandidateSet,
    PatchSet,
    evaluation_patches,
    find_candidates,
    training_patches,
)
from tunedepth.data.masked.locations import MASK_DATA_FOLDERS, default_mask_data_folder, resolve_mask_data_root
from tunedepth.data.masked.patches import PATCH_ORIENTATIONS, PatchViews, cut_patches, orient_patch, patch_views
from tunedepth.data.masked.polyp import (
    MASK_THRESHOLD,
    MIN_POLYP_AREA_PX,
    POLYP_DATA_FOLDERS,
    FrameFiles,
    PolypFrames,
    SkippedFrame,
    label_polyps,
    load_cvc_clinicdb,
    load_kvasir_seg,
)
from tunedepth.data.masked.segmentation_frames import SegmentationFrames
from tunedepth.data.masked.video_segments import (
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
    "DEFAULT_MIN_SEGMENT_FRAMES",
    "DEFAULT_OUTLIER_Z",
    "DEFAULT_THUMBNAIL_SIZE",
    "DEFAULT_WINDOW",
    "DEFAULT_WINDOW_FRACTIONS",
    "MASK_DATA_FOLDERS",
    "MASK_THRESHOLD",
    "MIN_POLYP_AREA_PX",
    "PATCH_ORIENTATIONS",
    "POLYP_DATA_FOLDERS",
    "CandidateRecall",
    "CandidateSet",
    "Candidates",
    "PatchSet",
    "PatchViews",
    "FrameFiles",
    "PolypFrames",
    "SegmentationFrames",
    "SkippedFrame",
    "VideoSegments",
    "boundary_scores",
    "candidate_recall",
    "cut_patches",
    "default_mask_data_folder",
    "evaluation_patches",
    "find_candidates",
    "frame_thumbnails",
    "generate_candidates",
    "label_polyps",
    "load_carotid",
    "load_cvc_clinicdb",
    "load_kvasir_seg",
    "orient_patch",
    "patch_views",
    "resolve_mask_data_root",
    "segment_videos",
    "split_by_video",
    "training_patches",
]
