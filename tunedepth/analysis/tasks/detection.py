"""``task = "detection"``, analysis part: FROC statistics per regime, FROC curves and the candidates summary.

FROC statistics of a finished detection study: sensitivity at fixed false positives per frame, per regime.

For every finished run, on the test frames: sensitivity at each ``fps_targets`` value with a frame-bootstrap
interval (:func:`~tunedepth.evaluation.sensitivity_at_fps_ci`), and its difference from scratch at the same training
fraction and seed with a paired frame bootstrap (:func:`~tunedepth.evaluation.paired_sensitivity_difference`: the
same resampled frames for both runs). The p-values of the regimes compared with scratch at one fraction, seed and
target are Holm-adjusted together (:func:`~tunedepth.evaluation.holm_adjust`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tunedepth.analysis.tasks.base import ANALYSIS_TASKS, FigureData, TaskAnalysis, TaskTable
from tunedepth.config import AnalysisConfig
from tunedepth.errors import StudyFolderError, UndefinedMetricWarning
from tunedepth.evaluation import (
    CandidateHits,
    FrocCurve,
    candidate_hits_from_table,
    froc_curve,
    holm_adjust,
    paired_sensitivity_difference,
    sensitivity_at_fps_ci,
)
from tunedepth.results import FinishedRun, FinishedStudy

if TYPE_CHECKING:
    from tunedepth.analysis.analyze import StudyAnalysis

__all__ = [
    "DETECTION_ANALYSIS", "FROC_COLUMNS", "HitsOf", "candidate_hits", "froc_curves", "froc_summary", "froc_table",
]

FROC_COLUMNS = (
    "train_fraction", "seed", "label", "depth", "fps_per_frame", "sensitivity", "sensitivity_low", "sensitivity_high",
    "vs_scratch_difference", "vs_scratch_low", "vs_scratch_high", "vs_scratch_p", "vs_scratch_p_holm",
)


def candidate_hits(study: FinishedStudy, split: str, scores: np.ndarray) -> CandidateHits:
    """The FROC inputs of one run's candidate scores on ``split`` ("val" or "test") of a detection study: the
    study's ``detection/frames.csv`` and ``detection/candidates_<split>.csv`` (written when the study ran) with the
    scores, one per candidate in the order of the run's prediction file.

    Raises:
        StudyFolderError: if the detection tables are missing or do not match the scores.
    """
    frames = study.task_table("frames.csv")
    cands = study.task_table(f"candidates_{split}.csv")
    if len(cands) != len(scores):
        raise StudyFolderError(
            f"The detection table candidates_{split}.csv of {str(study.root)!r} lists {len(cands)} candidates but the "
            f"run scored {len(scores)}; the study folder is inconsistent: re-run the study in a new folder."
        )
    n_polyps = frames.loc[frames["split"] == split, "n_polyps"].to_numpy(dtype=np.int64)
    return candidate_hits_from_table(cands["frame"].to_numpy(), cands["polyp"].to_numpy(), np.asarray(scores),
                                     n_polyps)


def _polyp_scores(run: FinishedRun) -> np.ndarray:
    return np.asarray(run.test_scores[:, 1], dtype=float)


HitsOf = Callable[[FinishedStudy, str, np.ndarray], CandidateHits]
"""How a task turns one run's candidate scores on a split into FROC inputs (:func:`candidate_hits` for detection,
where a frame is the unit; a volume study's own function, where a volume is)."""


def froc_curves(study: FinishedStudy, *, train_fraction: float, seed: int,
                hits_of: HitsOf = candidate_hits) -> dict[str, FrocCurve]:
    """The test FROC curve of every regime at one training fraction and seed, keyed by regime label (scratch
    first, then by depth)."""
    curves = {}
    for arm in study.arms_at(train_fraction):
        run = study.runs_of(arm, train_fraction=train_fraction).get(seed)
        if run is not None:
            curves[run.label] = froc_curve(hits_of(study, "test", _polyp_scores(run)))
    return curves


def froc_table(study: FinishedStudy, *, fps_targets: tuple[float, ...], confidence: float, n_boot: int,
               bootstrap_seed: int, hits_of: HitsOf = candidate_hits) -> pd.DataFrame:
    """Test sensitivity at each false-positive-per-frame target for every run, and its paired difference from
    scratch.

    Args:
        study: a finished detection study (its folder holds ``detection/``), or another candidate study with its
            own ``hits_of``.
        fps_targets: false positives per frame (per unit of ``hits_of``), each > 0.
        confidence: level of the intervals.
        n_boot: bootstrap resamples.
        bootstrap_seed: seed of the resampling (the same frames are drawn for every run).
        hits_of: the FROC inputs of a run's scores (default: detection's frames and candidates).

    Returns:
        One row per run and target with :data:`FROC_COLUMNS`; the vs_scratch columns are NaN for scratch itself
        and where the study has no scratch run at that fraction and seed.
    """
    rows = []
    for train_fraction in study.train_fractions:
        for seed in study.seeds_at(train_fraction):
            rows.extend(_rows_at(study, train_fraction, seed, fps_targets, confidence, n_boot, bootstrap_seed,
                                 hits_of))
    return pd.DataFrame(rows, columns=list(FROC_COLUMNS))


def _rows_at(study: FinishedStudy, train_fraction: float, seed: int, fps_targets: tuple[float, ...], confidence: float,
             n_boot: int, bootstrap_seed: int, hits_of: HitsOf) -> list[dict[str, Any]]:
    found = {arm: study.runs_of(arm, train_fraction=train_fraction).get(seed) for arm in study.arms_at(train_fraction)}
    runs = {arm: run for arm, run in found.items() if run is not None}
    hits = {arm: hits_of(study, "test", _polyp_scores(run)) for arm, run in runs.items()}
    scratch = next((h for arm, h in hits.items() if arm.is_scratch), None)
    rows: list[dict[str, Any]] = []
    for arm, h in hits.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedMetricWarning)  # NaN is kept and shown
            sens = sensitivity_at_fps_ci(h, fps_targets=fps_targets, confidence=confidence, n_boot=n_boot,
                                         seed=bootstrap_seed)
            diff = None
            if scratch is not None and not arm.is_scratch:
                diff = paired_sensitivity_difference(h, scratch, fps_targets=fps_targets, confidence=confidence,
                                                     n_boot=n_boot, seed=bootstrap_seed)
        run = runs[arm]
        for j, s in enumerate(sens):
            d = diff[j] if diff is not None else None
            rows.append({
                "train_fraction": train_fraction, "seed": seed, "label": run.label,
                "depth": np.nan if arm.is_scratch else arm.depth, "fps_per_frame": s.fps_per_frame_target,
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


def _froc_figures(study: FinishedStudy, analysis: StudyAnalysis, train_fraction: float) -> list[FigureData]:
    seed = min(study.seeds_at(train_fraction))
    curves = froc_curves(study, train_fraction=train_fraction, seed=seed)
    title = f"FROC curves on the test frames (seed {seed}), {train_fraction * 100:g}% of the training data"
    return [FigureData("froc", title, train_fraction, {"curves": curves})] if curves else []


def _summary_header(study: FinishedStudy) -> list[tuple[str, str]]:
    """Frames, polyps and candidate recall per split (from ``detection/summary.json``)."""
    summary = study.task_summary("summary.json")
    if summary is None:
        return []
    parts = [f"{split}: {s['frames']} frames, {s['polyps']} polyps, {s['candidates_per_frame']:.1f} candidates per "
             f"frame (recall {s['candidate_recall']:.3f}), {s['patches']} patches"
             for split, s in ((k, summary[k]) for k in ("train", "val", "test") if k in summary)]
    parts.append(f"{summary.get('views_per_evaluated_candidate', '?')} patches averaged per candidate")
    skipped = summary.get("skipped_frames") or []
    if skipped:
        parts.append(f"{len(skipped)} frame(s) skipped, listed in detection/summary.json")
    return [_centres(study, summary), ("Detection (frames, polyps, candidates)", "; ".join(parts))]


def _centres(study: FinishedStudy, summary: dict[str, Any]) -> tuple[str, str]:
    """Which data set (centre) trained and validated the detector and which tested it."""
    data = study.study_config().get("data", {})
    frames = {split: int(summary[split]["frames"]) for split in ("train", "val", "test") if split in summary}
    trained = f"{data.get('source')} ({frames.get('train', 0)} training and {frames.get('val', 0)} validation frames)"
    if data.get("test_source"):
        return ("Centres", f"trained and validated on {trained}; tested on every frame of another data set, "
                           f"{data['test_source']} ({frames.get('test', 0)} frames): a cross-centre test")
    return ("Centres", f"one data set: {trained}, tested on {frames.get('test', 0)} held-out frames of whole "
                       "groups (videos or images) none of which trained")


def _froc_table(study: FinishedStudy, settings: AnalysisConfig) -> pd.DataFrame:
    return froc_table(study, fps_targets=settings.fps_targets, confidence=settings.confidence,
                      n_boot=settings.n_boot, bootstrap_seed=settings.bootstrap_seed)


def froc_summary(froc: pd.DataFrame, *, per: str = "frame") -> pd.DataFrame:
    """Test sensitivity per regime (rows: scratch, then by depth) at each training fraction and FP target (columns
    "<fraction> @ <target>"), mean over seeds, as display strings; ``per`` names the target column
    (``fps_per_<per>``)."""
    column = f"fps_per_{per}"
    columns = sorted({(f, t) for f, t in zip(froc["train_fraction"], froc[column], strict=True)},
                     key=lambda c: (-c[0], c[1]))
    rows = []
    for label in froc.drop_duplicates("label").sort_values("depth", na_position="first")["label"]:
        row = {"regime": label}
        for f, t in columns:
            sel = froc[(froc["label"] == label) & (froc["train_fraction"] == f) & (froc[column] == t)]
            row[f"{f:g} @ {t:g}"] = "-" if sel.empty else f"{sel['sensitivity'].mean():.3f}"
        rows.append(row)
    return pd.DataFrame(rows, columns=["regime", *(f"{f:g} @ {t:g}" for f, t in columns)])


def _froc_summary(tables: Mapping[str, pd.DataFrame]) -> tuple[str, pd.DataFrame]:
    return "detection: test sensitivity at FP per frame (rows: regime)", froc_summary(tables["froc"])


DETECTION_ANALYSIS = TaskAnalysis(
    name="detection",
    tables=(TaskTable(
        "froc", "Detection: sensitivity at false positives per frame",
        "Per run: test sensitivity at each FP/frame target with its frame-bootstrap interval, and the paired "
        "frame-bootstrap difference from scratch (same fraction and seed) with its p-value, Holm-adjusted over "
        "the regimes at each target. Cases of the other tables are candidates.", _froc_table),),
    figures=_froc_figures,
    header=_summary_header,
    summary=_froc_summary,
)
ANALYSIS_TASKS.register(DETECTION_ANALYSIS.name, DETECTION_ANALYSIS)
