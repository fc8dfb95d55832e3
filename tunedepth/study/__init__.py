"""Studies: the grid of runs, running it resumably, and the study folder on disk."""

from __future__ import annotations

from tunedepth.study.grid import RunSpec, expand_grid, hashed_config, resolve_depth, run_id
from tunedepth.study.prepare import PreparedStudy, load_data, prepare_study
from tunedepth.study.runner import StudyProgress, StudySummary, run_one, run_study
from tunedepth.study.store import RESULT_COLUMNS, StudyStore

__all__ = [
    "RESULT_COLUMNS",
    "PreparedStudy",
    "RunSpec",
    "StudyProgress",
    "StudyStore",
    "StudySummary",
    "expand_grid",
    "hashed_config",
    "load_data",
    "prepare_study",
    "resolve_depth",
    "run_id",
    "run_one",
    "run_study",
]
