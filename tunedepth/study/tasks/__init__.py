"""Each task's run part: how its runs get their data and score their cases, registered under the task's name.

Adding a task's run part = one module here that registers a :class:`TaskRun` in :data:`STUDY_TASKS` (with a
:class:`TaskData` subclass), and one import line below (or, for a task outside the package, an import of its own
module before the study runs; see docs/architecture.md).
"""

from __future__ import annotations

from tunedepth.study.tasks.base import STUDY_TASKS, TaskData, TaskOutputs, TaskRun

# Each import below registers its task.
from tunedepth.study.tasks.classification import CLASSIFICATION_RUN, ClassificationData, load_labelled_images
from tunedepth.study.tasks.detection import (
    DETECTION_CLASS_NAMES,
    DETECTION_RUN,
    DetectionData,
    candidate_log_odds,
    load_polyp_frames,
    prepare_detection,
    write_detection_tables,
)
from tunedepth.study.tasks.frame_classification import (
    FRAME_CLASSIFICATION_RUN,
    FrameData,
    prepare_frames,
)
from tunedepth.study.tasks.segmentation import (
    BOUNDARY_ERROR_COLUMNS,
    SEGMENTATION_CLASS_NAMES,
    SEGMENTATION_RUN,
    SegmentationData,
    load_segmentation_frames,
    prepare_segmentation,
)
from tunedepth.study.tasks.volume_candidates import VOLUME_CANDIDATES_RUN, VolumeData, prepare_volumes

__all__ = [
    "BOUNDARY_ERROR_COLUMNS",
    "CLASSIFICATION_RUN",
    "DETECTION_CLASS_NAMES",
    "DETECTION_RUN",
    "FRAME_CLASSIFICATION_RUN",
    "SEGMENTATION_CLASS_NAMES",
    "SEGMENTATION_RUN",
    "STUDY_TASKS",
    "VOLUME_CANDIDATES_RUN",
    "ClassificationData",
    "DetectionData",
    "FrameData",
    "SegmentationData",
    "TaskData",
    "TaskOutputs",
    "TaskRun",
    "VolumeData",
    "candidate_log_odds",
    "load_labelled_images",
    "load_polyp_frames",
    "load_segmentation_frames",
    "prepare_detection",
    "prepare_frames",
    "prepare_segmentation",
    "prepare_volumes",
    "write_detection_tables",
]
