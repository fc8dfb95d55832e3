"""The task-analysis plug-in type and its registry: what a task adds to a finished study's analysis and report."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from tunedepth._registry import Registry
from tunedepth.config import AnalysisConfig
from tunedepth.results import FinishedStudy

if TYPE_CHECKING:
    from tunedepth.analysis.analyze import StudyAnalysis

__all__ = ["ANALYSIS_TASKS", "FigureData", "TaskAnalysis", "TaskTable"]


@dataclass(frozen=True)
class TaskTable:
    """A study-wide table of a task, written as ``<name>.csv`` and shown in the report.

    Attributes:
        name: the table's name; its file is ``<name>.csv`` in the study folder.
        title: the report section's title.
        caption: the report's caption (what the rows and columns are, which test).
        make: computes the table from the finished study and the analysis settings.
    """

    name: str
    title: str
    caption: str
    make: Callable[[FinishedStudy, AnalysisConfig], pd.DataFrame]


@dataclass(frozen=True)
class FigureData:
    """What one report figure shows, without drawing it: the report draws it with the plot function registered for
    ``kind`` (:data:`tunedepth.report.PLOT_KINDS`), called with ``data`` as keyword arguments.

    Attributes:
        kind: a registered plot kind, e.g. "froc".
        title: the caption shown above the image.
        train_fraction: the fraction it shows, or None for a figure across fractions.
        data: the plot function's keyword arguments.
    """

    kind: str
    title: str
    train_fraction: float | None
    data: Mapping[str, Any]


@dataclass(frozen=True)
class TaskAnalysis:
    """A task's part of the analysis.

    Attributes:
        name: the task's name (as in :data:`tunedepth.config.TASK_CONFIGS`).
        tables: the task's own tables, in report order (shown after the score table).
        figures: the task's figures at one training fraction, in report order (shown after the ROC curves);
            called with the study, its analysis and the fraction.
        header: extra lines of the report's header, as (field, text) pairs.
        summary: a short table the command line prints after the study, as (title, table of display strings),
            made from the task's tables (by name); None prints nothing.
    """

    name: str
    tables: tuple[TaskTable, ...] = ()
    figures: Callable[[FinishedStudy, StudyAnalysis, float], list[FigureData]] | None = None
    header: Callable[[FinishedStudy], list[tuple[str, str]]] | None = None
    summary: Callable[[Mapping[str, pd.DataFrame]], tuple[str, pd.DataFrame]] | None = None


ANALYSIS_TASKS: Registry[TaskAnalysis] = Registry("task (analysis part)")
"""Every task's analysis part, by task name."""
