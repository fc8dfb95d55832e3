"""A finished study's statistics, written next to its results: scores, significance, the recommendation.

:func:`analyze_study` reads the study folder once and writes, atomically:

* ``scores.csv``: each regime's test AUC (and sensitivity at fixed FPRs) with intervals, per training fraction
  (:func:`~tunedepth.study.score_table`);
* ``significance.csv``: every pair of regimes per fraction, Holm-adjusted (:func:`~tunedepth.study.significance_table`);
* ``recommendation.csv`` and ``recommendation.txt``: the recommended depth per fraction, chosen on validation,
  with one sentence each (:func:`~tunedepth.study.recommend_depths`);
* ``analysis.json``: the parameters used (alpha, confidence, FPR targets, bootstrap size and seed) and the
  tunedepth version, so every number can be reproduced.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

import tunedepth
from tunedepth._io import atomic_write_json, atomic_write_text
from tunedepth.evaluation import DEFAULT_FPR_TARGETS
from tunedepth.study._checks import check_alpha
from tunedepth.study.finished import load_finished_study
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
    """

    study_dir: Path
    scores: pd.DataFrame
    significance: pd.DataFrame
    recommendations: tuple[DepthRecommendation, ...]

    @property
    def sentences(self) -> tuple[str, ...]:
        """The verdict per training fraction, one sentence each, largest fraction first."""
        return tuple(rec.sentence for rec in self.recommendations)


def analyze_study(
    study_dir: Path,
    *,
    alpha: float = 0.05,
    confidence: float = 0.95,
    fpr_targets: tuple[float, ...] = DEFAULT_FPR_TARGETS,
    n_boot: int = 2000,
    bootstrap_seed: int = 0,
) -> StudyAnalysis:
    """Compute and write a finished study's score table, significance table and depth recommendation.

    Args:
        study_dir: the folder written by :func:`tunedepth.study.run_study`.
        alpha: significance level of the recommendation's steps, of its comparison with scratch and of the
            significance table's ``significant`` column (after Holm), in (0, 1).
        confidence: level of every two-sided interval, in (0, 1).
        fpr_targets: false-positive rates of the sensitivity operating points (binary tasks), each in (0, 1).
            Default: the paper's (0.10, 0.15, 0.20).
        n_boot: bootstrap resamples of a one-seed sensitivity interval.
        bootstrap_seed: seed of that bootstrap.

    Returns:
        The tables and recommendations, also written as :data:`ANALYSIS_FILES` in ``study_dir``.

    Raises:
        StudyFolderError: if ``study_dir`` is not a study or has no finished runs (see
            :func:`~tunedepth.study.load_finished_study`).
        ConfigError: if alpha is not in (0, 1).
        ValueError: if confidence, fpr_targets, n_boot or bootstrap_seed is invalid.

    Example:
        See ``tests/study/test_analysis.py``; a study folder is needed.
    """
    alpha = check_alpha(alpha, "analyze_study")
    study = load_finished_study(study_dir)
    scores = score_table(study, confidence=confidence, fpr_targets=fpr_targets, n_boot=n_boot,
                         bootstrap_seed=bootstrap_seed)
    significance = significance_table(study, alpha=alpha, confidence=confidence)
    recommendations = recommend_depths(study, alpha=alpha, confidence=confidence)
    recommendation = recommendation_table(recommendations)
    root = study.root
    atomic_write_text(root / "scores.csv", frame_to_csv(scores))
    atomic_write_text(root / "significance.csv", frame_to_csv(significance))
    atomic_write_text(root / "recommendation.csv", frame_to_csv(recommendation))
    atomic_write_text(root / "recommendation.txt", "".join(f"{rec.sentence}\n" for rec in recommendations))
    atomic_write_json(root / "analysis.json", {
        "alpha": alpha, "confidence": confidence, "fpr_targets": list(fpr_targets), "n_boot": n_boot,
        "bootstrap_seed": bootstrap_seed, "tunedepth_version": tunedepth.__version__,
        "n_runs": len(study.runs), "files": list(ANALYSIS_FILES),
    })
    n_noted = sum(int((frame["note"] != "").sum()) for frame in (scores, significance, recommendation))
    if n_noted:
        logger.warning("study %s: %d table rows note undefined statistics or skipped runs (see their 'note' "
                       "column)", root, n_noted)
    return StudyAnalysis(root, scores, significance, recommendations)
