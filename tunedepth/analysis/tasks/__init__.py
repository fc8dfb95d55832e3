"""Each task's analysis part: its own tables and its sections of the report, registered under the task's name.

Adding a task's analysis = one module here that registers a :class:`TaskAnalysis` in :data:`ANALYSIS_TASKS`, and
one import line below (or, for a task outside the package, an import of its own module before the analysis).
"""

from __future__ import annotations

from tunedepth.analysis.tasks.base import ANALYSIS_TASKS, FigureData, TaskAnalysis, TaskTable

# Each import below registers its task.
from tunedepth.analysis.tasks.classification import CLASSIFICATION_ANALYSIS
from tunedepth.analysis.tasks.detection import (
    DETECTION_ANALYSIS,
    FROC_COLUMNS,
    candidate_hits,
    froc_curves,
    froc_table,
)
from tunedepth.analysis.tasks.frame_classification import (
    CROP_TABLE_COLUMNS,
    FRAME_CLASSIFICATION_ANALYSIS,
    crop_table,
    per_crop_log_odds,
)
from tunedepth.analysis.tasks.segmentation import (
    BOUNDARY_TABLE_COLUMNS,
    SEGMENTATION_ANALYSIS,
    boundary_table,
    read_boundary_errors,
)
from tunedepth.analysis.tasks.volume_candidates import VOLUME_CANDIDATES_ANALYSIS, volume_froc_table, volume_hits

__all__ = [
    "ANALYSIS_TASKS",
    "BOUNDARY_TABLE_COLUMNS",
    "CLASSIFICATION_ANALYSIS",
    "CROP_TABLE_COLUMNS",
    "DETECTION_ANALYSIS",
    "FRAME_CLASSIFICATION_ANALYSIS",
    "FROC_COLUMNS",
    "SEGMENTATION_ANALYSIS",
    "VOLUME_CANDIDATES_ANALYSIS",
    "FigureData",
    "TaskAnalysis",
    "TaskTable",
    "boundary_table",
    "candidate_hits",
    "crop_table",
    "froc_curves",
    "froc_table",
    "per_crop_log_odds",
    "read_boundary_errors",
    "volume_froc_table",
    "volume_hits",
]
