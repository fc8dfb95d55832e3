"""Studies: the grid of runs, preparing it, running it resumably (one run, executors), and each task's run part.

The study folder and its records are :mod:`tunedepth.results`; a finished study's statistics are
:mod:`tunedepth.analysis`.
"""

from __future__ import annotations

from tunedepth.study.execution import StudySummary, run_study
from tunedepth.study.executors import resolve_workers, worker_gpu
from tunedepth.study.grid import expand_grid, resolve_depth
from tunedepth.study.prepare import PreparedStudy, prepare_study, resolve_device
from tunedepth.study.run_setup import build_frozen_model
from tunedepth.study.runner import StudyProgress, run_one, run_recorded
from tunedepth.study.tasks import STUDY_TASKS, TaskData, TaskOutputs, TaskRun

__all__ = [
    "STUDY_TASKS",
    "PreparedStudy",
    "StudyProgress",
    "StudySummary",
    "TaskData",
    "TaskOutputs",
    "TaskRun",
    "build_frozen_model",
    "expand_grid",
    "prepare_study",
    "resolve_depth",
    "resolve_device",
    "resolve_workers",
    "run_one",
    "run_recorded",
    "run_study",
    "worker_gpu",
]
