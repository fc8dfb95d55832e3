"""``task = "segmentation"``, analysis part: boundary errors per regime, box plots and overlays for the report.

Boundary errors of a finished segmentation study: per regime, and each depth against scratch, over test images.

Each run of a segmentation study writes ``boundary_errors_test.csv`` (one row per test image; see the
segmentation task's run part, :mod:`tunedepth.study.tasks.segmentation`). This module summarises them per run
(mean, SD and median over images of the mean boundary distance, Hausdorff-95 and Dice) and compares every
fine-tuning depth with scratch at the same fraction and seed by a paired test over the same test images: the
Wilcoxon signed-rank test of the per-image differences in mean boundary distance (``scipy.stats.wilcoxon``,
two-sided; Wilcoxon 1945), which does not assume normal differences (boundary errors are skewed by the occasional
failed image). p-values of the depths compared with scratch at one fraction and seed are Holm-adjusted together.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon

from tunedepth.analysis.tasks.base import ANALYSIS_TASKS, FigureData, TaskAnalysis, TaskTable
from tunedepth.config import AnalysisConfig
from tunedepth.errors import StudyFolderError
from tunedepth.evaluation import holm_adjust
from tunedepth.results import FinishedStudy

if TYPE_CHECKING:
    from tunedepth.analysis.analyze import StudyAnalysis

__all__ = ["BOUNDARY_TABLE_COLUMNS", "SEGMENTATION_ANALYSIS", "boundary_table", "read_boundary_errors"]

BOUNDARY_TABLE_COLUMNS = (
    "train_fraction", "seed", "label", "depth", "n_images", "n_images_without_boundary", "unit",
    "mean_boundary_error", "sd_boundary_error",
    "median_boundary_error", "mean_hausdorff95_boundary_error", "mean_dice_score", "vs_scratch_difference",
    "vs_scratch_p", "vs_scratch_p_holm",
)


def read_boundary_errors(study: FinishedStudy, run_id: str) -> pd.DataFrame:
    """The per-image boundary errors of one run (its ``boundary_errors_test.csv``).

    Raises:
        StudyFolderError: if the file is missing (not a segmentation run, or an incomplete folder).
    """
    return study.run_table(run_id, "boundary_errors_test")


def _paired_p(a: np.ndarray, b: np.ndarray) -> float:
    diff = a - b
    diff = diff[np.isfinite(diff)]
    if diff.size == 0 or np.all(diff == 0):
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy warns on ties and small samples; p is still defined
        return float(wilcoxon(diff, alternative="two-sided").pvalue)


def boundary_table(study: FinishedStudy) -> pd.DataFrame:
    """Per run: boundary error statistics over the test images, and the paired comparison with scratch.

    Returns:
        One row per finished run with :data:`BOUNDARY_TABLE_COLUMNS`; ``vs_scratch_difference`` is the mean
        per-image difference (depth - scratch, negative = smaller error than scratch); the vs_scratch columns are
        NaN for scratch itself, without a scratch run at that fraction and seed, and where every difference is 0
        (no test is defined).

    An image where a run found no boundary (an empty predicted region: its distance is undefined, NaN) is
    counted in ``n_images_without_boundary``; the distance statistics and the paired test use the images where
    the distances are defined (both runs', for the test), and Dice counts such an image as 0. Compare regimes
    with different counts with that in mind.
    """
    rows: list[dict[str, Any]] = []
    for train_fraction in study.train_fractions:
        for seed in study.seeds_at(train_fraction):
            found = {arm: study.runs_of(arm, train_fraction=train_fraction).get(seed)
                     for arm in study.arms_at(train_fraction)}
            runs = {arm: run for arm, run in found.items() if run is not None}
            errors = {arm: read_boundary_errors(study, run.run_id) for arm, run in runs.items()}
            scratch = next((table for arm, table in errors.items() if arm.is_scratch), None)
            block = []
            for arm, table in errors.items():
                values = table["mean_boundary_error"].to_numpy(dtype=float)
                row = {
                    "train_fraction": train_fraction, "seed": seed, "label": runs[arm].label,
                    "depth": np.nan if arm.is_scratch else arm.depth, "n_images": len(table),
                    "n_images_without_boundary": int(np.isnan(values).sum()),
                    "unit": str(table["unit"].iloc[0]) if len(table) else "", "mean_boundary_error": np.nanmean(values),
                    "sd_boundary_error": np.nanstd(values, ddof=1) if len(values) > 1 else np.nan,
                    "median_boundary_error": np.nanmedian(values),
                    "mean_hausdorff95_boundary_error": table["hausdorff95_boundary_error"].mean(),
                    "mean_dice_score": table["dice_score"].mean(), "vs_scratch_difference": np.nan,
                    "vs_scratch_p": np.nan, "vs_scratch_p_holm": np.nan,
                }
                if scratch is not None and not arm.is_scratch:
                    if list(scratch["frame_id"]) != list(table["frame_id"]):
                        raise StudyFolderError(f"Runs of {study.root} scored different test images; re-run the "
                                               "study in a new folder.")
                    base = scratch["mean_boundary_error"].to_numpy(dtype=float)
                    row["vs_scratch_difference"] = float(np.nanmean(values - base))
                    row["vs_scratch_p"] = _paired_p(values, base)
                block.append(row)
            compared = [r for r in block if not math.isnan(r["vs_scratch_p"])]
            if compared:
                for r, p in zip(compared, holm_adjust([r["vs_scratch_p"] for r in compared]), strict=True):
                    r["vs_scratch_p_holm"] = float(p)
            rows.extend(block)
    return pd.DataFrame(rows, columns=list(BOUNDARY_TABLE_COLUMNS))


def _boundary_boxes(study: FinishedStudy, analysis: StudyAnalysis, train_fraction: float) -> FigureData | None:
    table = analysis.task_tables["boundary_errors"]
    seed = min(study.seeds_at(train_fraction))
    errors = {}
    for arm in study.arms_at(train_fraction):
        run = study.runs_of(arm, train_fraction=train_fraction).get(seed)
        if run is not None:
            errors[run.label] = read_boundary_errors(study, run.run_id)["mean_boundary_error"].to_numpy(dtype=float)
    rows = table[np.isclose(table["train_fraction"].to_numpy(dtype=float), train_fraction)]
    unit = str(rows["unit"].iloc[0]) if len(rows) else "px"
    title = f"Boundary error per test image (seed {seed}), {train_fraction * 100:g}% of the training data"
    if not errors:
        return None
    return FigureData("boundary_errors", title, train_fraction, {"errors_by_label": errors, "unit": unit})


def _overlays(study: FinishedStudy, analysis: StudyAnalysis, train_fraction: float) -> FigureData | None:
    recommended = [r.arm for r in analysis.recommendations if r.train_fraction == train_fraction and r.arm is not None]
    scratch = [arm for arm in study.arms_at(train_fraction) if arm.is_scratch]
    panels = {}
    for arm in dict.fromkeys([*scratch, *recommended]):
        runs = study.runs_of(arm, train_fraction=train_fraction)
        arrays = study.run_arrays(runs[min(runs)].run_id, "overlays_test") if runs else None
        if arrays is None:
            continue
        n = len([k for k in arrays if k.startswith("image_")])
        panels[study.label_of(arm)] = [(arrays[f"image_{k}"], arrays[f"reference_{k}"], arrays[f"predicted_{k}"])
                                       for k in range(n)]
    if not panels:
        return None
    title = (f"Test images with reference and predicted boundaries: scratch and the recommended depth, "
             f"{train_fraction * 100:g}% of the training data")
    return FigureData("boundary_overlays", title, train_fraction, {"panels": panels})


def _figures(study: FinishedStudy, analysis: StudyAnalysis, train_fraction: float) -> list[FigureData]:
    return [f for f in (_boundary_boxes(study, analysis, train_fraction), _overlays(study, analysis, train_fraction))
            if f is not None]


def _boundary_table(study: FinishedStudy, settings: AnalysisConfig) -> pd.DataFrame:
    return boundary_table(study)


SEGMENTATION_ANALYSIS = TaskAnalysis(
    name="segmentation",
    tables=(TaskTable(
        "boundary_errors", "Segmentation: boundary error on the test images",
        "Per run: mean, SD and median over the test images of the mean boundary distance (unit column), mean "
        "Hausdorff-95 and Dice; and the mean per-image difference from scratch (same fraction and seed; negative "
        "= smaller error) with the Wilcoxon signed-rank p-value over images, Holm-adjusted over the depths. Cases "
        "of the AUC tables are sampled boundary/background pixels.", _boundary_table),),
    figures=_figures,
)
ANALYSIS_TASKS.register(SEGMENTATION_ANALYSIS.name, SEGMENTATION_ANALYSIS)
