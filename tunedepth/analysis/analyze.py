"""A finished study's statistics, written next to its results: scores, significance, the recommendation.

:func:`analyze_study` reads the study folder once and writes, atomically:

* ``scores.csv``: each regime's test AUC (and sensitivity at fixed FPRs) with intervals, per training fraction
  (:func:`~tunedepth.analysis.score_table`);
* ``significance.csv``: every pair of regimes per fraction, Holm-adjusted
  (:func:`~tunedepth.analysis.significance_table`);
* ``recommendation.csv`` and ``recommendation.txt``: the recommended depth per fraction, chosen on validation,
  with one sentence each (:func:`~tunedepth.analysis.recommend_depths`);
* ``methods.csv`` (a study with tuning methods beyond the paper's, ``grid.methods``): each method against the
  paper's best depth and full fine-tuning, and a method sentence per fraction in ``recommendation.txt``
  (:func:`~tunedepth.analysis.compare_methods`);
* the task's own tables (:mod:`tunedepth.analysis.tasks`), e.g. ``froc.csv`` for detection (each run's test
  sensitivity at fixed false positives per frame, and its paired difference from scratch) and
  ``boundary_errors.csv`` for segmentation (each run's boundary errors over the test images, and the paired
  Wilcoxon comparison of each depth with scratch);
* ``analysis.json``: the settings used (alpha, depth rule, confidence, FPR targets, bootstrap size and seed) and
  the tunedepth version, so every number can be reproduced.

The settings come from the study file's ``[analysis]`` table (:class:`~tunedepth.config.AnalysisConfig`); each
can be overridden for one analysis.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

import tunedepth
from tunedepth.analysis._checks import check_alpha
from tunedepth.analysis.methods import MethodChoice, compare_methods
from tunedepth.analysis.recommend import DepthRecommendation, recommend_depths, recommendation_table
from tunedepth.analysis.scores import score_table
from tunedepth.analysis.significance import significance_table
from tunedepth.analysis.tasks import ANALYSIS_TASKS
from tunedepth.config import AnalysisConfig
from tunedepth.errors import ConfigError
from tunedepth.results import FinishedStudy, StudyStore, load_finished_study

logger = logging.getLogger(__name__)

__all__ = ["ANALYSIS_FILES", "StudyAnalysis", "analyze_study"]

ANALYSIS_FILES = ("scores.csv", "significance.csv", "recommendation.csv", "recommendation.txt", "analysis.json")
"""The files :func:`analyze_study` writes into the study folder."""


@dataclass(frozen=True)
class StudyAnalysis:
    """What :func:`analyze_study` computed and wrote.

    Attributes:
        study_dir: the study folder (the files :data:`ANALYSIS_FILES` are in it).
        scores: the score table (see :func:`~tunedepth.analysis.score_table`).
        significance: the significance table (see :func:`~tunedepth.analysis.significance_table`).
        recommendations: one recommendation per training fraction, largest first.
        settings: the analysis settings used (alpha, depth rule, confidence, FPR targets, bootstrap).
        task_tables: the task's own tables by name (each written as ``<name>.csv``; e.g. "froc" for detection,
            "boundary_errors" for segmentation), in report order; empty for classification.
        task: the study's task (its analysis part is ``ANALYSIS_TASKS.get(task)``).
        methods: ``methods.csv`` (see :func:`~tunedepth.analysis.compare_methods`); empty without tuning methods.
        method_choices: the method recommendation per fraction; empty without tuning methods.
    """

    study_dir: Path
    scores: pd.DataFrame
    significance: pd.DataFrame
    recommendations: tuple[DepthRecommendation, ...]
    settings: AnalysisConfig
    task_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    task: str = "classification"
    methods: pd.DataFrame = field(default_factory=pd.DataFrame)
    method_choices: tuple[MethodChoice, ...] = ()

    @property
    def sentences(self) -> tuple[str, ...]:
        """The verdict per training fraction, largest fraction first: the depth's sentence, then (with tuning
        methods) the method's."""
        methods = {choice.train_fraction: choice.sentence for choice in self.method_choices}
        out: list[str] = []
        for rec in self.recommendations:
            out.append(rec.sentence)
            if rec.train_fraction in methods:
                out.append(methods[rec.train_fraction])
        return tuple(out)


def _settings(study: FinishedStudy, overrides: dict[str, Any]) -> AnalysisConfig:
    """The study's ``[analysis]`` settings (from its study.json; defaults where absent) with ``overrides`` applied."""
    stored = study.study_config().get("analysis") or {}
    return AnalysisConfig.model_validate({**stored, **overrides})


def _check_overrides(overrides: dict[str, Any]) -> dict[str, Any]:
    """The overrides given (not None), validated before anything is read, so that a bad value is refused first."""
    overrides = {key: value for key, value in overrides.items() if value is not None}
    if "alpha" in overrides:
        check_alpha(overrides["alpha"], "analyze_study")
    try:
        AnalysisConfig.model_validate(overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = ".".join(str(part) for part in error["loc"])
        raise ConfigError(f"The {name!r} parameter of analyze_study is invalid: {error['msg']}; got "
                          f"{overrides.get(str(error['loc'][0]))!r}.") from None
    return overrides


def analyze_study(
    study_dir: Path,
    *,
    alpha: float | None = None,
    depth_rule: str | None = None,
    depth_metric: str | None = None,
    cross_fit: bool | None = None,
    confidence: float | None = None,
    fpr_targets: tuple[float, ...] | None = None,
    n_boot: int | None = None,
    bootstrap_seed: int | None = None,
) -> StudyAnalysis:
    """Compute and write a finished study's score table, significance table and depth recommendation.

    Every parameter left None takes the study's own value, from the ``[analysis]`` table of its study file (as
    resolved in ``study.json``), or the default of :class:`~tunedepth.config.AnalysisConfig` where the study has
    none. A value given here overrides it for this analysis (the study file is not changed).

    Args:
        study_dir: the folder written by :func:`tunedepth.study.run_study`.
        alpha: significance level of the recommendation's steps, of its comparison with scratch and of the
            significance table's ``significant`` column (after Holm), in (0, 1). Default 0.05.
        depth_rule: the recommendation's rule, one of :data:`~tunedepth.analysis.DEPTH_RULES` (see
            :func:`~tunedepth.analysis.recommend_depths`).
        depth_metric: what depths are compared on: "auc", "log_loss" or "brier".
        cross_fit: choose epochs and depths on disjoint halves of the validation cases.
        confidence: level of every two-sided interval, in (0, 1). Default 0.95.
        fpr_targets: false-positive rates of the sensitivity operating points (binary tasks), each in (0, 1).
            Default: the paper's (0.10, 0.15, 0.20).
        n_boot: bootstrap resamples of a one-seed sensitivity interval (>= 100). Default 2000.
        bootstrap_seed: seed of that bootstrap. Default 0.

    Returns:
        The tables and recommendations, also written as :data:`ANALYSIS_FILES` in ``study_dir``.

    Raises:
        StudyFolderError: if ``study_dir`` is not a study or has no finished runs (see
            :func:`~tunedepth.results.load_finished_study`).
        ConfigError: if a parameter is invalid (checked before anything is read).

    Example:
        See ``tests/analysis/test_analyze.py``; a study folder is needed.
    """
    overrides = _check_overrides({"alpha": alpha, "depth_rule": depth_rule, "depth_metric": depth_metric,
                                  "cross_fit": cross_fit, "confidence": confidence,
                                  "fpr_targets": fpr_targets, "n_boot": n_boot, "bootstrap_seed": bootstrap_seed})
    study = load_finished_study(study_dir)
    settings = _settings(study, overrides)
    task = ANALYSIS_TASKS.get(study.task)
    scores = score_table(study, confidence=settings.confidence, fpr_targets=settings.fpr_targets,
                         n_boot=settings.n_boot, bootstrap_seed=settings.bootstrap_seed)
    significance = significance_table(study, alpha=settings.alpha, confidence=settings.confidence)
    recommendations = recommend_depths(study, alpha=settings.alpha, confidence=settings.confidence,
                                       depth_rule=settings.depth_rule, depth_metric=settings.depth_metric,
                                       cross_fit=settings.cross_fit, n_boot=settings.n_boot,
                                       seed=settings.bootstrap_seed)
    recommendation = recommendation_table(recommendations)
    methods, choices = compare_methods(study, recommendations, alpha=settings.alpha, confidence=settings.confidence,
                                       depth_metric=settings.depth_metric, cross_fit=settings.cross_fit,
                                       n_boot=settings.n_boot, seed=settings.bootstrap_seed)
    task_tables = {table.name: table.make(study, settings) for table in task.tables}
    store = StudyStore(study.root)
    for name, frame in task_tables.items():
        store.write_table(f"{name}.csv", frame)
    store.write_table("scores.csv", scores)
    store.write_table("significance.csv", significance)
    store.write_table("recommendation.csv", recommendation)
    extra = [f"{name}.csv" for name in task_tables]
    if not methods.empty:
        store.write_table("methods.csv", methods)
        extra.append("methods.csv")
    analysis = StudyAnalysis(study.root, scores, significance, recommendations, settings, task_tables, study.task,
                             methods, choices)
    store.write_text("recommendation.txt", "".join(f"{sentence}\n" for sentence in analysis.sentences))
    store.write_json("analysis.json", {
        **settings.model_dump(mode="json"), "tunedepth_version": tunedepth.__version__,
        "n_runs": len(study.runs), "files": list(ANALYSIS_FILES) + extra,
    })
    n_noted = sum(int((frame["note"] != "").sum()) for frame in (scores, significance, recommendation))
    if n_noted:
        logger.warning("study %s: %d table rows note undefined statistics or skipped runs (see their 'note' "
                       "column)", study.root, n_noted)
    return analysis
