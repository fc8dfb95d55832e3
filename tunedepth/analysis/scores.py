"""The score table of a finished study: each regime's test AUC and operating points, per training fraction.

One row per (regime, train_fraction). The test AUC's interval follows :mod:`tunedepth.analysis.compare`: DeLong's
within-test-set interval with one seed; with several, the mean over seeds with an interval counting both the cases
and the seeds (:func:`~tunedepth.evaluation.roc_auc_seeds_ci`); ``ci_method`` says which. For binary tasks, the
sensitivity at each target false-positive rate (the paper's Table S3 operating points) is added: a seeded,
stratified case-bootstrap percentile interval with one seed (:func:`~tunedepth.evaluation.sensitivity_at_fpr_ci`),
with several the seed-mean with an interval counting both the cases (bootstrap) and the seeds
(:func:`~tunedepth.evaluation.sensitivity_at_fpr_seeds_ci`). The calibration of the test probabilities (log-loss,
Brier loss, expected calibration error; see :mod:`tunedepth.evaluation.calibration`) is the mean over seeds, without
an interval.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from tunedepth.analysis._notes import collect_undefined
from tunedepth.analysis.compare import score_regime
from tunedepth.evaluation import (
    DEFAULT_FPR_TARGETS,
    brier_loss,
    expected_calibration_error,
    log_loss,
    sensitivity_at_fpr_ci,
    sensitivity_at_fpr_seeds_ci,
)
from tunedepth.results import PROBABILITY_CLIP, FinishedRun, FinishedStudy

__all__ = ["score_table", "sensitivity_column"]


def sensitivity_column(fpr_target: float) -> str:
    """Name of the score-table column of the sensitivity at ``fpr_target``.

    Example:
        >>> sensitivity_column(0.15)
        'sens_at_fpr15'
    """
    return f"sens_at_fpr{fpr_target * 100:g}"


def _sensitivities(
    study: FinishedStudy, runs: list[FinishedRun], fpr_targets: tuple[float, ...], confidence: float, n_boot: int,
    bootstrap_seed: int,
) -> dict[str, float]:
    labels = study.test_labels
    out: dict[str, float] = {}
    if len(runs) == 1:
        intervals = sensitivity_at_fpr_ci(labels, runs[0].test_scores[:, 1], fpr_targets=fpr_targets,
                                          confidence=confidence, n_boot=n_boot, seed=bootstrap_seed)
        values = [(r.sensitivity, r.low, r.high) for r in intervals]
    else:
        intervals = sensitivity_at_fpr_seeds_ci(labels, [r.test_scores[:, 1] for r in runs], fpr_targets=fpr_targets,
                                                confidence=confidence, n_boot=n_boot, seed=bootstrap_seed)
        values = [(r.sensitivity, r.low, r.high) for r in intervals]
    for target, (value, low, high) in zip(fpr_targets, values, strict=True):
        name = sensitivity_column(target)
        out[name] = value
        out[f"{name}_low"] = low if math.isnan(low) else max(0.0, low)
        out[f"{name}_high"] = high if math.isnan(high) else min(1.0, high)
    return out


def _calibration(labels: np.ndarray, runs: list[FinishedRun], ece_bins: int, notes: list[str]) -> dict[str, float]:
    """Mean test log-loss, Brier loss and ECE over ``runs`` (NaN when there is none)."""
    if not runs:
        return {"test_log_loss": float("nan"), "test_brier": float("nan"), "test_ece": float("nan")}
    if any(r.score_kind == "probability" for r in runs):
        # an old folder: say that log-loss is bounded by the clip rather than silently mixing the two kinds
        notes.append(f"calibration from stored probabilities clipped to [{PROBABILITY_CLIP:.2g}, 1 - "
                     f"{PROBABILITY_CLIP:.2g}] (a study written before log-odds were stored)")
    log_odds = [r.log_odds("test") for r in runs]
    return {
        "test_log_loss": float(np.mean([log_loss(labels, z) for z in log_odds])),
        "test_brier": float(np.mean([brier_loss(labels, z) for z in log_odds])),
        "test_ece": float(np.mean([expected_calibration_error(labels, z, n_bins=ece_bins) for z in log_odds])),
    }


def score_table(
    study: FinishedStudy,
    *,
    confidence: float = 0.95,
    fpr_targets: tuple[float, ...] = DEFAULT_FPR_TARGETS,
    n_boot: int = 2000,
    bootstrap_seed: int = 0,
    ece_bins: int = 15,
) -> pd.DataFrame:
    """Each regime's test AUC (and, for binary tasks, sensitivity at fixed FPRs) with intervals, per fraction.

    Args:
        study: the finished study.
        confidence: level of every two-sided interval, in (0, 1).
        fpr_targets: false-positive rates of the operating points, each in (0, 1); binary tasks only. Default:
            the paper's (0.10, 0.15, 0.20).
        n_boot: bootstrap resamples of a one-seed sensitivity interval.
        bootstrap_seed: seed of the bootstrap; the same seed gives the same intervals.
        ece_bins: equal-width confidence bins of the expected calibration error, >= 1. Default 15 (Guo et al.).

    Returns:
        One row per (train_fraction, regime), fractions largest first, then scratch, depth 1, 2, ... Columns:
        train_fraction, label, regime, depth, method (only in a study with tuning methods beyond the paper's:
        "layerwise", another method's name, "" for scratch), n_runs, n_nan (runs with a NaN test AUC, left out),
        val_auc (mean over the usable runs, no interval), test_auc, test_auc_low, test_auc_high, ci_method; for
        binary tasks ``sens_at_fpr<t>``, ``..._low``, ``..._high`` for each target (see :func:`sensitivity_column`);
        test_log_loss (mean negative log-probability of the true class), test_brier (Brier loss: ``mean((p_1 -
        y)^2)`` for two classes, the multi-category sum over classes for more) and test_ece (top-label expected
        calibration error over ``ece_bins`` bins), each the mean over the usable runs (NaN when none), all lower
        is better (:mod:`tunedepth.evaluation.calibration`; runs of old study folders that stored probabilities
        are scored on them, clipped as :meth:`~tunedepth.results.FinishedRun.log_odds` says, with a note); and
        note (messages of undefined statistics, "" when none). As in results.csv, scratch rows have depth =
        n_groups (scratch is its own regime, not a depth; the regime column tells them apart).

    Raises:
        ValueError: if confidence, fpr_targets, n_boot, bootstrap_seed or ece_bins is invalid.

    Example:
        See ``tests/analysis/test_scores.py``; a study folder is needed.
    """
    if isinstance(ece_bins, bool) or not isinstance(ece_bins, int) or ece_bins < 1:
        raise ValueError(f"The 'ece_bins' parameter of score_table must be an int >= 1; got {ece_bins!r}.")
    rows: list[dict[str, Any]] = []
    binary = study.n_classes == 2
    with_methods = any(r.arm.method is not None for r in study.runs)
    for train_fraction in study.train_fractions:
        for arm in study.arms_at(train_fraction):
            runs = list(study.runs_of(arm, train_fraction=train_fraction).values())
            score = score_regime(study, arm, train_fraction=train_fraction, split="test", confidence=confidence)
            usable = [r for r in runs if not math.isnan(r.test_auc)]
            val = [r.val_auc for r in runs if not math.isnan(r.val_auc)]
            row: dict[str, Any] = {
                "train_fraction": train_fraction, "label": score.label, "regime": runs[0].regime,
                "depth": runs[0].depth,
                **({"method": arm.method or ("" if arm.is_scratch else "layerwise")} if with_methods else {}),
                "n_runs": score.n_runs, "n_nan": score.n_nan,
                "val_auc": float(np.mean(val)) if val else float("nan"), "test_auc": score.auc,
                "test_auc_low": score.low, "test_auc_high": score.high, "ci_method": score.method,
            }
            notes = list(score.notes)
            if binary:
                with collect_undefined(notes):
                    if usable:
                        row |= _sensitivities(study, usable, fpr_targets, confidence, n_boot, bootstrap_seed)
                    else:
                        row |= {f"{sensitivity_column(t)}{s}": float("nan") for t in fpr_targets
                                for s in ("", "_low", "_high")}
            with collect_undefined(notes):
                row |= _calibration(study.test_labels, usable, ece_bins, notes)
            row["note"] = "; ".join(notes)
            rows.append(row)
    return pd.DataFrame(rows)
