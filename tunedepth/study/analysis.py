"""A finished study's statistics, written next to its results: scores, significance, the recommendation.

:func:`analyze_study` reads the study folder once and writes, atomically:

* ``scores.csv``: each regime's test AUC (and sensitivity at fixed FPRs) with intervals, per training fraction
  (:func:`~tunedepth.study.score_table`);
* ``significance.csv``: every pair of regimes per fraction, Holm-adjusted (:func:`~tunedepth.study.significance_table`);
* ``recommendation.csv`` and ``recommendation.txt``: the recommended depth per fraction, chosen on validation,
  with one sentence each (:func:`~tunedepth.study.recommend_depths`);
* ``froc.csv`` (detection studies only): each run's test sensitivity at fixed false positives per frame, and its
  paired difference from scratch (:func:`~tunedepth.study.froc_table`);
* ``boundary_errors.csv`` (segmentation studies only): each run's boundary errors over the test images, and the
  paired Wilcoxon comparison of each depth with scratch (:func:`~tunedepth.study.boundary_table`);
* ``analysis.json``: the settings used (alpha, depth rule, confidence, FPR targets, bootstrap size and seed) and
  the tunedepth version, so every number can be reproduced.

The settings come from the study file's ``[analysis]`` table (:class:`~tunedepth.config.AnalysisConfig`); each
can be overridden for one analysis.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

import tunedepth
from tunedepth._io import atomic_write_json, atomic_write_text
from tunedepth.config import AnalysisConfig
from tunedepth.errors import ConfigError
from tunedepth.study._checks import check_alpha
from tunedepth.study.boundary_table import boundary_table
from tunedepth.study.finished import load_finished_study
from tunedepth.study.froc_table import froc_table
from tunedepth.study.recommend import DepthRecommendation, recommend_depths, recommendation_table
from tunedepth.study.scores import score_table
from tunedepth.study.significance import significance_table
from tunedepth.study.store import frame_to_csv

logger = logging.getLogger(__name__)

__all__ = ["ANALYSIS_FILES", "StudyAnalysis", "analyze_study"]

ANALYSIS_FILES = ("scores.csv", "significance.csv", "recommendation.csv", "recommendation.txt", "analysis.json")
"""The files :func:`analyze_study` writes into the study folder."""


@dataclass(frozen=True)
class StudyAnalysis:
    """What :func:`analyze_study` computed and wrote.

    Attributes:
        study_dir: the study folder (the files :data:`ANALYSIS_FILES` are in it).
        scores: the score table (see :func:`~tunedepth.study.score_table`).
        significance: the significance table (see :func:`~tunedepth.study.significance_table`).
        recommendations: one recommendation per training fraction, largest first.
        settings: the analysis settings used (alpha, depth rule, confidence, FPR targets, bootstrap).
        froc: for a detection study, the FROC table (see :func:`~tunedepth.study.froc_table`); else None.
        boundaries: for a segmentation study, the boundary error table (see :func:`~tunedepth.study.boundary_table`);
            else None.
    """

    study_dir: Path
    scores: pd.DataFrame
    significance: pd.DataFrame
    recommendations: tuple[DepthRecommendation, ...]
    settings: AnalysisConfig
    froc: pd.DataFrame | None = None
    boundaries: pd.DataFrame | None = None

    @property
    def sentences(self) -> tuple[str, ...]:
        """The verdict per training fraction, one sentence each, largest fraction first."""
        return tuple(rec.sentence for rec in self.recommendations)


def _study_file(study_dir: Path) -> dict[str, Any]:
    path = Path(study_dir) / "study.json"
    if not path.is_file():
        return {}
    with open(path, encoding="utf-8") as fh:
        stored: dict[str, Any] = json.load(fh)
    return stored


def _settings(study_dir: Path, overrides: dict[str, Any]) -> AnalysisConfig:
    """The study's ``[analysis]`` settings (from its study.json; defaults where absent) with ``overrides`` applied.

    The overrides are validated before anything is read, so a bad value is refused first.
    """
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
    stored = _study_file(study_dir).get("analysis") or {}
    return AnalysisConfig.model_validate({**stored, **overrides})


def analyze_study(
    study_dir: Path,
    *,
    alpha: float | None = None,
    depth_rule: str | None = None,
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
        depth_rule: the recommendation's walk, "lookahead" (default) or "stepwise" (see
            :func:`~tunedepth.study.recommend_depths`).
        confidence: level of every two-sided interval, in (0, 1). Default 0.95.
        fpr_targets: false-positive rates of the sensitivity operating points (binary tasks), each in (0, 1).
            Default: the paper's (0.10, 0.15, 0.20).
        n_boot: bootstrap resamples of a one-seed sensitivity interval (>= 100). Default 2000.
        bootstrap_seed: seed of that bootstrap. Default 0.

    Returns:
        The tables and recommendations, also written as :data:`ANALYSIS_FILES` in ``study_dir``.

    Raises:
        StudyFolderError: if ``study_dir`` is not a study or has no finished runs (see
            :func:`~tunedepth.study.load_finished_study`).
        ConfigError: if a parameter is invalid (checked before anything is read).

    Example:
        See ``tests/study/test_analysis.py``; a study folder is needed.
    """
    settings = _settings(study_dir, {"alpha": alpha, "depth_rule": depth_rule, "confidence": confidence,
                                     "fpr_targets": fpr_targets, "n_boot": n_boot, "bootstrap_seed": bootstrap_seed})
    study = load_finished_study(study_dir)
    scores = score_table(study, confidence=settings.confidence, fpr_targets=settings.fpr_targets,
                         n_boot=settings.n_boot, bootstrap_seed=settings.bootstrap_seed)
    significance = significance_table(study, alpha=settings.alpha, confidence=settings.confidence)
    recommendations = recommend_depths(study, alpha=settings.alpha, confidence=settings.confidence,
                                       depth_rule=settings.depth_rule)
    recommendation = recommendation_table(recommendations)
    root = study.root
    froc, boundaries = None, None
    task = _study_file(root).get("task")
    if task == "segmentation":
        boundaries = boundary_table(study)
        atomic_write_text(root / "boundary_errors.csv", frame_to_csv(boundaries))
    if task == "detection":
        froc = froc_table(study, fps_targets=settings.fps_targets, confidence=settings.confidence,
                          n_boot=settings.n_boot, bootstrap_seed=settings.bootstrap_seed)
        atomic_write_text(root / "froc.csv", frame_to_csv(froc))
    atomic_write_text(root / "scores.csv", frame_to_csv(scores))
    atomic_write_text(root / "significance.csv", frame_to_csv(significance))
    atomic_write_text(root / "recommendation.csv", frame_to_csv(recommendation))
    atomic_write_text(root / "recommendation.txt", "".join(f"{rec.sentence}\n" for rec in recommendations))
    atomic_write_json(root / "analysis.json", {
        **settings.model_dump(mode="json"), "tunedepth_version": tunedepth.__version__,
        "n_runs": len(study.runs), "files": list(ANALYSIS_FILES) + (["froc.csv"] if froc is not None else [])
        + (["boundary_errors.csv"] if boundaries is not None else []),
    })
    n_noted = sum(int((frame["note"] != "").sum()) for frame in (scores, significance, recommendation))
    if n_noted:
        logger.warning("study %s: %d table rows note undefined statistics or skipped runs (see their 'note' "
                       "column)", root, n_noted)
    return StudyAnalysis(root, scores, significance, recommendations, settings, froc, boundaries)
