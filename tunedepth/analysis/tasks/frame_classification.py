"""``task = "frame_classification"``, analysis part: crop-averaged vs single-view test AUC per regime.

Every run keeps each test crop's log-odds (``crops_test.npz``, crop 0 the centre crop). Per training fraction and
regime, the table gives the test AUC of the crop average (the study's scores, one per frame) and of the centre crop
alone, both from the same runs, and their paired difference: DeLong with one seed; with several, the seed-mean
AUCs with intervals that count the cases and the seeds (:func:`~tunedepth.evaluation.roc_auc_seeds_ci`,
:func:`~tunedepth.evaluation.roc_auc_seeds_test`). The score table's sensitivities at 10/15/20% false-positive rate
are those of whole frames already (a case is a frame).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from tunedepth.analysis.tasks.base import ANALYSIS_TASKS, FigureData, TaskAnalysis, TaskTable
from tunedepth.config import AnalysisConfig
from tunedepth.errors import StudyFolderError, UndefinedMetricWarning
from tunedepth.evaluation import roc_auc_seeds_ci, roc_auc_seeds_test
from tunedepth.results import CROPS_TEST, FinishedStudy

if TYPE_CHECKING:
    from tunedepth.analysis.analyze import StudyAnalysis

__all__ = ["CROP_TABLE_COLUMNS", "FRAME_CLASSIFICATION_ANALYSIS", "crop_table", "per_crop_log_odds"]

CROP_TABLE_COLUMNS = (
    "train_fraction", "label", "depth", "n_seeds", "n_crops", "auc_crops", "auc_crops_low", "auc_crops_high",
    "auc_single", "auc_single_low", "auc_single_high", "difference", "difference_low", "difference_high", "p_value",
    "method",
)


def per_crop_log_odds(study: FinishedStudy, run_id: str) -> np.ndarray:
    """One run's test log-odds per crop, of shape (n_crops, n_frames, n_classes), crop 0 the centre crop.

    Raises:
        StudyFolderError: if the run has no ``crops_test.npz`` or it does not match the test frames.
    """
    arrays = study.run_arrays(run_id, CROPS_TEST)
    n_frames = len(study.test_labels)
    if arrays is None or "log_odds" not in arrays or arrays["log_odds"].ndim != 3 \
            or arrays["log_odds"].shape[1] != n_frames:
        raise StudyFolderError(f"Run {run_id} of {str(study.root)!r} has no per-crop test log-odds "
                               f"({CROPS_TEST}.npz with 'log_odds' of shape (n_crops, {n_frames}, n_classes)); the "
                               "run folder is incomplete: delete it and run `tunedepth study` again.")
    return arrays["log_odds"]


def crop_table(study: FinishedStudy, *, confidence: float = 0.95) -> pd.DataFrame:
    """Crop-averaged vs single-view (centre crop) test AUC of every regime at every training fraction.

    Returns:
        One row per (train_fraction, regime), columns :data:`CROP_TABLE_COLUMNS`; ``difference`` is crop-averaged
        minus single-view (paired by seed and frame).
    """
    labels = study.test_labels
    rows: list[dict[str, Any]] = []
    for fraction in sorted(study.train_fractions, reverse=True):
        for arm in study.arms_at(fraction):
            runs = study.runs_of(arm, train_fraction=fraction)
            seeds = sorted(runs)
            averaged: list[npt.ArrayLike] = [runs[s].test_scores for s in seeds]
            per_crop = [per_crop_log_odds(study, runs[s].run_id) for s in seeds]
            single: list[npt.ArrayLike] = [p[0] for p in per_crop]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UndefinedMetricWarning)  # NaN cells say it
                crops_ci = roc_auc_seeds_ci(labels, averaged, confidence=confidence)
                single_ci = roc_auc_seeds_ci(labels, single, confidence=confidence)
                test = roc_auc_seeds_test(labels, averaged, single, confidence=confidence)
            rows.append({
                "train_fraction": fraction, "label": study.label_of(arm), "depth": arm.depth, "n_seeds": len(seeds),
                "n_crops": int(per_crop[0].shape[0]),
                "auc_crops": crops_ci.auc, "auc_crops_low": crops_ci.low, "auc_crops_high": crops_ci.high,
                "auc_single": single_ci.auc, "auc_single_low": single_ci.low, "auc_single_high": single_ci.high,
                "difference": test.difference, "difference_low": test.low, "difference_high": test.high,
                "p_value": test.p_value,
                "method": "paired delong" if len(seeds) == 1 else f"paired delong + seeds ({len(seeds)})",
            })
    return pd.DataFrame(rows, columns=list(CROP_TABLE_COLUMNS))


def _crop_table(study: FinishedStudy, settings: AnalysisConfig) -> pd.DataFrame:
    return crop_table(study, confidence=settings.confidence)


def _figures(study: FinishedStudy, analysis: StudyAnalysis, train_fraction: float) -> list[FigureData]:
    table = analysis.task_tables["crops"]
    rows = table[table["train_fraction"] == train_fraction]
    if rows.empty:
        return []
    series = {
        name: {"auc": rows[f"auc_{key}"].to_numpy(), "low": rows[f"auc_{key}_low"].to_numpy(),
               "high": rows[f"auc_{key}_high"].to_numpy()}
        for name, key in (("crop average", "crops"), ("centre crop only", "single"))
    }
    title = f"Test AUC per frame, crop-averaged vs single view, {train_fraction * 100:g}% of the training data"
    return [FigureData("crops_vs_single", title, train_fraction,
                       {"labels": list(rows["label"]), "series": series})]


def _header(study: FinishedStudy) -> list[tuple[str, str]]:
    settings = study.study_config().get("frame_classification") or {}
    if not settings:
        return []
    image_size = study.study_config().get("data", {}).get("image_size")
    frame_size = settings.get("frame_size") or image_size
    moves = [m for m, on in (("flips", settings.get("crop_flip")), ("quarter turns", settings.get("crop_rotate")))
             if on]
    scales = "/".join(f"{s:g}" for s in settings.get("crop_scales", ()))
    test = {"centre": "the centre crop", "five": "centre + 4 corners",
            "five_flips": "centre + 4 corners and their mirrors"}.get(str(settings.get("test_crops")), "?")
    text = (f"frames at {frame_size} px; training: {settings.get('crops_per_image')} crops per frame at scales "
            f"{scales}{' with ' + ' and '.join(moves) if moves else ''}, drawn per seed; test: {test} at "
            f"{settings.get('test_crop_scale'):g}, probabilities averaged per frame; crops resized to {image_size} px")
    return [("Frame crops", text)]


def _summary(tables: Mapping[str, pd.DataFrame]) -> tuple[str, pd.DataFrame]:
    """Crop-averaged / single-view test AUC per regime (rows) at each training fraction (columns)."""
    table = tables["crops"]
    fractions = sorted(set(table["train_fraction"]), reverse=True)
    rows = []
    for label in table.drop_duplicates("label")["label"]:  # the study's arm order: scratch, then by depth
        row = {"regime": label}
        for f in fractions:
            sel = table[(table["label"] == label) & (table["train_fraction"] == f)]
            row[f"{f:g}"] = "-" if sel.empty else f"{sel['auc_crops'].item():.3f} / {sel['auc_single'].item():.3f}"
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["regime", *(f"{f:g}" for f in fractions)])
    return "frames: test AUC crop-averaged / centre crop only (columns: training fraction)", frame


FRAME_CLASSIFICATION_ANALYSIS = TaskAnalysis(
    name="frame_classification",
    tables=(TaskTable(
        "crops", "Frames: crop-averaged vs single-view test AUC",
        "Per regime and training fraction, from the same runs: the test AUC of the mean over the test crops (the "
        "study's scores) and of the centre crop alone, with intervals, and their paired difference (crop-averaged "
        "minus single view; DeLong with one seed, DeLong + seeds with several). Cases are frames.", _crop_table),),
    figures=_figures,
    header=_header,
    summary=_summary,
)
ANALYSIS_TASKS.register(FRAME_CLASSIFICATION_ANALYSIS.name, FRAME_CLASSIFICATION_ANALYSIS)
