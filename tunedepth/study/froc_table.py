"""FROC statistics of a finished detection study: sensitivity at fixed false positives per frame, per regime.

For every finished run, on the test frames: sensitivity at each ``fps_targets`` value with a frame-bootstrap
interval (:func:`~tunedepth.evaluation.sensitivity_at_fps_ci`), and its difference from scratch at the same training
fraction and seed with a paired frame bootstrap (:func:`~tunedepth.evaluation.paired_sensitivity_difference`: the
same resampled frames for both runs). The p-values of the regimes compared with scratch at one fraction, seed and
target are Holm-adjusted together (:func:`~tunedepth.evaluation.holm_adjust`).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tunedepth.errors import UndefinedMetricWarning
from tunedepth.evaluation import (
    FrocCurve,
    froc_curve,
    holm_adjust,
    paired_sensitivity_difference,
    sensitivity_at_fps_ci,
)
from tunedepth.study.detection import candidate_hits
from tunedepth.study.finished import FinishedRun, FinishedStudy

__all__ = ["FROC_COLUMNS", "froc_curves", "froc_table"]

FROC_COLUMNS = (
    "train_fraction", "seed", "label", "depth", "fps_per_frame", "sensitivity", "sensitivity_low", "sensitivity_high",
    "vs_scratch_difference", "vs_scratch_low", "vs_scratch_high", "vs_scratch_p", "vs_scratch_p_holm",
)


def _polyp_scores(run: FinishedRun) -> np.ndarray:
    return np.asarray(run.test_scores[:, 1], dtype=float)


def froc_curves(study: FinishedStudy, *, train_fraction: float, seed: int) -> dict[str, FrocCurve]:
    """The test FROC curve of every regime at one training fraction and seed, keyed by regime label (scratch
    first, then by depth)."""
    curves = {}
    for label in study.regimes_at(train_fraction):
        run = study.runs_of(label, train_fraction=train_fraction).get(seed)
        if run is not None:
            curves[label] = froc_curve(candidate_hits(study.root, "test", _polyp_scores(run)))
    return curves


def froc_table(study: FinishedStudy, *, fps_targets: tuple[float, ...], confidence: float, n_boot: int,
               bootstrap_seed: int) -> pd.DataFrame:
    """Test sensitivity at each false-positive-per-frame target for every run, and its paired difference from
    scratch.

    Args:
        study: a finished detection study (its folder holds ``detection/``).
        fps_targets: false positives per frame, each > 0.
        confidence: level of the intervals.
        n_boot: bootstrap resamples.
        bootstrap_seed: seed of the resampling (the same frames are drawn for every run).

    Returns:
        One row per run and target with :data:`FROC_COLUMNS`; the vs_scratch columns are NaN for scratch itself
        and where the study has no scratch run at that fraction and seed.
    """
    rows = []
    for fraction in study.train_fractions:
        seeds = sorted({r.seed for r in study.runs if r.train_fraction == fraction})
        for seed in seeds:
            rows.extend(_rows_at(study, fraction, seed, fps_targets, confidence, n_boot, bootstrap_seed))
    return pd.DataFrame(rows, columns=list(FROC_COLUMNS))


def _rows_at(study: FinishedStudy, fraction: float, seed: int, fps_targets: tuple[float, ...], confidence: float,
             n_boot: int, bootstrap_seed: int) -> list[dict[str, Any]]:
    runs = {label: study.runs_of(label, train_fraction=fraction).get(seed) for label in study.regimes_at(fraction)}
    hits = {label: candidate_hits(Path(study.root), "test", _polyp_scores(run))
            for label, run in runs.items() if run is not None}
    scratch = hits.get("scratch")
    rows: list[dict[str, Any]] = []
    for label, h in hits.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedMetricWarning)  # NaN is kept and shown
            sens = sensitivity_at_fps_ci(h, fps_targets=fps_targets, confidence=confidence, n_boot=n_boot,
                                         seed=bootstrap_seed)
            diff = None
            if scratch is not None and label != "scratch":
                diff = paired_sensitivity_difference(h, scratch, fps_targets=fps_targets, confidence=confidence,
                                                     n_boot=n_boot, seed=bootstrap_seed)
        run = runs[label]
        assert run is not None  # hits only holds finished runs
        for j, s in enumerate(sens):
            d = diff[j] if diff is not None else None
            rows.append({
                "train_fraction": fraction, "seed": seed, "label": label,
                "depth": np.nan if run.regime == "scratch" else run.depth, "fps_per_frame": s.fps_per_frame_target,
                "sensitivity": s.sensitivity, "sensitivity_low": s.low, "sensitivity_high": s.high,
                "vs_scratch_difference": np.nan if d is None else d.difference,
                "vs_scratch_low": np.nan if d is None else d.low, "vs_scratch_high": np.nan if d is None else d.high,
                "vs_scratch_p": np.nan if d is None else d.p_value, "vs_scratch_p_holm": np.nan,
            })
    for target in fps_targets:  # Holm over the regimes compared with scratch at this target
        idx = [i for i, r in enumerate(rows) if r["fps_per_frame"] == target and not np.isnan(r["vs_scratch_p"])]
        if idx:
            adjusted = holm_adjust([float(rows[i]["vs_scratch_p"]) for i in idx])
            for i, p in zip(idx, adjusted, strict=True):
                rows[i]["vs_scratch_p_holm"] = float(p)
    return rows
