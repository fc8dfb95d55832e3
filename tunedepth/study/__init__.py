"""Studies: the grid of runs, running it resumably, the study folder on disk, and its statistics."""

from __future__ import annotations

from tunedepth.study.analysis import ANALYSIS_FILES, StudyAnalysis, analyze_study
from tunedepth.study.boundary_table import BOUNDARY_TABLE_COLUMNS, boundary_table, read_boundary_errors
from tunedepth.study.compare import RegimeComparison, RegimeScore, compare_regimes, score_regime
from tunedepth.study.detection import (
    DETECTION_CLASS_NAMES,
    DetectionData,
    candidate_hits,
    candidate_log_odds,
    load_polyp_frames,
    prepare_detection,
    write_detection_tables,
)
from tunedepth.study.finished import FinishedRun, FinishedStudy, Split, load_finished_study
from tunedepth.study.froc_table import FROC_COLUMNS, froc_curves, froc_table
from tunedepth.study.grid import RunSpec, expand_grid, hashed_config, resolve_depth, run_id
from tunedepth.study.prepare import PreparedStudy, load_data, prepare_study
from tunedepth.study.recommend import (
    DEPTH_RULES,
    RECOMMENDATION_COLUMNS,
    DepthRecommendation,
    WalkStep,
    recommend_depths,
    recommendation_table,
    regime_phrase,
)
from tunedepth.study.runner import StudyProgress, StudySummary, run_one, run_study
from tunedepth.study.scores import score_table, sensitivity_column
from tunedepth.study.segmentation import (
    BOUNDARY_ERROR_COLUMNS,
    SEGMENTATION_CLASS_NAMES,
    SegmentationData,
    boundary_errors,
    prepare_segmentation,
)
from tunedepth.study.significance import SIGNIFICANCE_COLUMNS, significance_table
from tunedepth.study.store import FAILURE_COLUMNS, RESULT_COLUMNS, StudyStore, frame_to_csv

__all__ = [
    "ANALYSIS_FILES",
    "BOUNDARY_ERROR_COLUMNS",
    "BOUNDARY_TABLE_COLUMNS",
    "DEPTH_RULES",
    "DETECTION_CLASS_NAMES",
    "FROC_COLUMNS",
    "RECOMMENDATION_COLUMNS",
    "FAILURE_COLUMNS",
    "RESULT_COLUMNS",
    "SEGMENTATION_CLASS_NAMES",
    "SIGNIFICANCE_COLUMNS",
    "DepthRecommendation",
    "DetectionData",
    "FinishedRun",
    "FinishedStudy",
    "PreparedStudy",
    "RegimeComparison",
    "RegimeScore",
    "RunSpec",
    "SegmentationData",
    "Split",
    "StudyAnalysis",
    "StudyProgress",
    "StudyStore",
    "StudySummary",
    "WalkStep",
    "analyze_study",
    "boundary_errors",
    "boundary_table",
    "candidate_hits",
    "candidate_log_odds",
    "compare_regimes",
    "expand_grid",
    "frame_to_csv",
    "froc_curves",
    "froc_table",
    "hashed_config",
    "load_data",
    "load_finished_study",
    "load_polyp_frames",
    "prepare_detection",
    "prepare_segmentation",
    "prepare_study",
    "read_boundary_errors",
    "recommend_depths",
    "recommendation_table",
    "regime_phrase",
    "resolve_depth",
    "run_id",
    "run_one",
    "run_study",
    "score_regime",
    "score_table",
    "sensitivity_column",
    "significance_table",
    "write_detection_tables",
]
