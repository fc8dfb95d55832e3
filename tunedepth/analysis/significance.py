"""Pairwise significance tables of a finished study, like the paper's supplementary Tables S1-S4.

For each training fraction, every pair of regimes that finished there (scratch and each fine-tuning depth) is
compared on the test cases by :func:`~tunedepth.analysis.compare_regimes`: DeLong's paired test on the same cases
with one seed, the paired t-test across seeds with several (the ``method`` column says which). The p-values of one
fraction form one family and are Holm-adjusted together (Holm, Scand. J. Stat. 1979,
:func:`~tunedepth.evaluation.holm_adjust`); different fractions are separate families, as the paper's tables are
per operating point and data size.

Notes:
    The paper read significance off non-overlapping 95% error bars (Edwards et al. 2002), which is conservative
    and uncorrected for the many pairs; a paired test with Holm's correction is both more powerful (it uses the
    shared cases or seeds) and controls the family-wise error rate per fraction.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from tunedepth.analysis._checks import check_alpha
from tunedepth.analysis.compare import compare_regimes
from tunedepth.evaluation import holm_adjust
from tunedepth.results import FinishedStudy

__all__ = ["SIGNIFICANCE_COLUMNS", "significance_table"]

SIGNIFICANCE_COLUMNS = (
    "train_fraction", "label_a", "label_b", "auc_a", "auc_b", "difference", "low", "high", "p_value", "p_holm",
    "significant", "method", "n_seeds", "note",
)


def significance_table(study: FinishedStudy, *, alpha: float = 0.05, confidence: float = 0.95) -> pd.DataFrame:
    """Every pair of regimes at each training fraction: test AUC difference, interval, p-value, Holm-adjusted.

    Args:
        study: the finished study.
        alpha: family-wise significance level of the ``significant`` column, in (0, 1).
        confidence: level of the differences' two-sided intervals, in (0, 1).

    Returns:
        One row per pair and fraction, with the columns :data:`SIGNIFICANCE_COLUMNS`. Regimes are ordered scratch,
        depth 1, 2, ...; each pair appears once with label_a the later of the two (the fine-tuned, or the deeper,
        regime) and label_b the earlier, so ``difference = auc_a - auc_b`` > 0 means the fine-tuned (or deeper)
        regime scored higher. ``p_holm`` is the Holm-adjusted p-value within the fraction (NaN p-values are left
        out of the family), ``significant`` is ``p_holm < alpha``. ``note`` holds messages of undefined
        statistics ("" when none). Intervals are not adjusted.

    Raises:
        ConfigError: if alpha is not in (0, 1).

    Example:
        See ``tests/analysis/test_significance.py``; a study folder is needed.
    """
    alpha = check_alpha(alpha, "significance_table")
    rows: list[dict[str, Any]] = []
    for train_fraction in study.train_fractions:
        arms = study.arms_at(train_fraction)
        family: list[dict[str, Any]] = []
        for j, arm_a in enumerate(arms):
            for arm_b in arms[:j]:
                c = compare_regimes(study, arm_a, arm_b, train_fraction=train_fraction, split="test",
                                    confidence=confidence)
                family.append({
                    "train_fraction": train_fraction, "label_a": c.label_a, "label_b": c.label_b, "auc_a": c.auc_a,
                    "auc_b": c.auc_b, "difference": c.difference, "low": c.low, "high": c.high,
                    "p_value": c.p_value, "method": c.method, "n_seeds": c.n_seeds, "note": "; ".join(c.notes),
                })
        adjusted = holm_adjust(np.array([row["p_value"] for row in family], dtype=float))
        for row, p_holm in zip(family, adjusted, strict=True):
            row["p_holm"] = float(p_holm)
            row["significant"] = bool(not math.isnan(p_holm) and p_holm < alpha)
        rows += family
    return pd.DataFrame(rows, columns=list(SIGNIFICANCE_COLUMNS))
