"""The study folder and its records, without torch: where every file lives, writing it, reading it back.

* :class:`StudyLayout` spells every path and file name of a study folder (nothing else does);
* :class:`StudyStore` writes it (runs whole and renamed into place, files atomically, a lock);
* :class:`FinishedStudy` reads it back (:func:`load_finished_study`), with typed readers;
* :class:`RunSpec`, :class:`Arm` and :func:`run_id`: a run's identity; :class:`RunRecord` and :class:`RunFailure`:
  what a run leaves, whose fields are the columns of ``results.csv`` and ``failures.csv``.
"""

from __future__ import annotations

from tunedepth.results.finished import PROBABILITY_CLIP, FinishedRun, FinishedStudy, load_finished_study
from tunedepth.results.identity import Arm, RunSpec, hashed_config, hashed_fields, run_id
from tunedepth.results.layout import CROPS_TEST, EPOCH_PREDICTIONS, WEIGHTS_FILE, Split, StudyLayout
from tunedepth.results.records import FAILURE_COLUMNS, RESULT_COLUMNS, RunFailure, RunRecord
from tunedepth.results.status import RunState, StudyStatus, study_status
from tunedepth.results.store import StudyStore, frame_to_csv

__all__ = [
    "CROPS_TEST",
    "EPOCH_PREDICTIONS",
    "FAILURE_COLUMNS",
    "PROBABILITY_CLIP",
    "RESULT_COLUMNS",
    "WEIGHTS_FILE",
    "Arm",
    "FinishedRun",
    "FinishedStudy",
    "RunFailure",
    "RunRecord",
    "RunSpec",
    "RunState",
    "Split",
    "StudyLayout",
    "StudyStatus",
    "StudyStore",
    "frame_to_csv",
    "hashed_config",
    "hashed_fields",
    "load_finished_study",
    "run_id",
    "study_status",
]
