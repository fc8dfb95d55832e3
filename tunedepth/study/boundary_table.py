"""Boundary errors of a finished segmentation study: per regime, and each depth against scratch, over test images.

Each run of a segmentation study writes ``boundary_errors_test.csv`` (one row per test image; see
:func:`~tunedepth.study.boundary_errors`). This module summarises them per run (mean, SD and median over images
of the mean boundary distance, Hausdorff-95 and Dice) and compares every fine-tuning depth with scratch at the
same fraction and seed by a paired test over the same test images: the Wilcoxon signed-rank test of the per-image
differences in mean boundary distance (``scipy.stats.wilcoxon``, two-sided; Wilcoxon 1945), which does not assume
normal differences (boundary errors are skewed by the occasional failed image). p-values of the depths compared
with scratch at one fraction and seed are Holm-adjusted together.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon

from tunedepth.errors import StudyFolderError
from tunedepth.evaluation import holm_adjust
from tunedepth.study.finished import FinishedStudy

__all__ = ["BOUNDARY_TABLE_COLUMNS", "boundary_table", "read_boundary_errors"]

BOUNDARY_TABLE_COLUMNS = (
    "train_fraction", "seed", "label", "depth", "n_images", "n_images_without_boundary", "unit",
    "mean_boundary_error", "sd_boundary_error",
    "median_boundary_error", "mean_hausdorff95_boundary_error", "mean_dice_score", "vs_scratch_difference",
    "vs_scratch_p", "vs_scratch_p_holm",
)


def read_boundary_errors(study: FinishedStudy, run_id: str) -> pd.DataFrame:
    """The per-image boundary errors of one run (``runs/<run_id>/boundary_errors_test.csv``).

    Raises:
        StudyFolderError: if the file is missing (not a segmentation run, or an incomplete folder).
    """
    path = study.root / "runs" / run_id / "boundary_errors_test.csv"
    if not path.is_file():
        raise StudyFolderError(f"{path} is missing; the study is not a segmentation study or the run folder is "
                               "incomplete (re-run `tunedepth study` on it).")
    return pd.read_csv(path)


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
    for fraction in study.train_fractions:
        for seed in sorted({r.seed for r in study.runs if r.train_fraction == fraction}):
            runs = {label: study.runs_of(label, train_fraction=fraction).get(seed)
                    for label in study.regimes_at(fraction)}
            errors = {label: read_boundary_errors(study, run.run_id) for label, run in runs.items() if run is not None}
            scratch = errors.get("scratch")
            block = []
            for label, table in errors.items():
                run = runs[label]
                values = table["mean_boundary_error"].to_numpy(dtype=float)
                row = {
                    "train_fraction": fraction, "seed": seed, "label": label,
                    "depth": np.nan if run is None or run.regime == "scratch" else run.depth, "n_images": len(table),
                    "n_images_without_boundary": int(np.isnan(values).sum()),
                    "unit": str(table["unit"].iloc[0]) if len(table) else "", "mean_boundary_error": np.nanmean(values),
                    "sd_boundary_error": np.nanstd(values, ddof=1) if len(values) > 1 else np.nan,
                    "median_boundary_error": np.nanmedian(values),
                    "mean_hausdorff95_boundary_error": table["hausdorff95_boundary_error"].mean(),
                    "mean_dice_score": table["dice_score"].mean(), "vs_scratch_difference": np.nan,
                    "vs_scratch_p": np.nan, "vs_scratch_p_holm": np.nan,
                }
                if scratch is not None and label != "scratch":
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
