"""Summaries across training seeds and multiple-comparison correction.

* :func:`seed_mean_ci`: mean of a metric over seeds with Student's t interval,
  ``mean +- t_{(1 + confidence) / 2, n - 1} * sd / sqrt(n)`` (sd with divisor n - 1).
* :func:`seed_paired_test`: two configurations trained with the same seeds, compared by the paired t-test on the
  per-seed differences (Student, "The probable error of a mean", Biometrika 6(1):1-25, 1908); the same statistic as
  ``scipy.stats.ttest_rel``.
* :func:`holm_adjust`: Holm's step-down adjusted p-values (Holm, "A simple sequentially rejective multiple test
  procedure", Scand. J. Stat. 6(2):65-70, 1979), which control the family-wise error rate.

These intervals describe the spread due to training (initialisation, data order), on a fixed test set; the DeLong
and bootstrap intervals of :mod:`tunedepth.evaluation.delong` and :mod:`tunedepth.evaluation.operating_points`
describe the spread due to the test cases. With one seed only the latter exist.

Notes:
    * NaN metric values (a seed whose metric was undefined) are left out with an
      :class:`~tunedepth.errors.UndefinedMetricWarning` saying how many; ``n`` counts the seeds actually used. In
      the paired test a pair is left out when either value is NaN.
    * Fewer than 2 usable seeds: the mean (or mean difference) of the one seed is returned, the interval, t and
      p-value are NaN with a warning. No usable seed: everything is NaN with a warning.
    * Zero spread (every seed gives the same value, or the same difference): the interval has zero width; in the
      paired test t and the p-value are NaN with a warning, as t = 0 / 0 or +-inf is not a test.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import t as student_t

from tunedepth.errors import UndefinedMetricWarning
from tunedepth.evaluation._inputs import check_confidence

__all__ = ["MeanInterval", "PairedMeanTest", "holm_adjust", "seed_mean_ci", "seed_paired_test"]

_NAN = float("nan")


@dataclass(frozen=True)
class MeanInterval:
    """Mean of a metric over seeds with its Student t interval.

    Attributes:
        mean: the mean over the seeds used.
        low: lower bound, ``mean - t * se``.
        high: upper bound, ``mean + t * se``.
        se: standard error of the mean, ``sd / sqrt(n)`` with sd's divisor n - 1.
        n: number of seeds used (non-NaN values).
        confidence: the interval's confidence level.
    """

    mean: float
    low: float
    high: float
    se: float
    n: int
    confidence: float


@dataclass(frozen=True)
class PairedMeanTest:
    """Paired t-test of two configurations across the seeds they share.

    Attributes:
        mean_a: mean of configuration a over the pairs used.
        mean_b: mean of configuration b over the pairs used.
        difference: mean of the per-seed differences a - b (equal to ``mean_a - mean_b``).
        low: lower bound of the difference's t interval.
        high: upper bound of the difference's t interval.
        se: standard error of the mean difference.
        t: the test statistic ``difference / se``, with n - 1 degrees of freedom.
        p_value: two-sided p-value of "no difference".
        n: number of seed pairs used.
        confidence: the interval's confidence level.
    """

    mean_a: float
    mean_b: float
    difference: float
    low: float
    high: float
    se: float
    t: float
    p_value: float
    n: int
    confidence: float


def holm_adjust(p_values: npt.ArrayLike) -> np.ndarray:
    """Holm step-down adjusted p-values (Holm 1979).

    With the m non-NaN p-values sorted as p_(1) <= ... <= p_(m), the adjusted value of p_(i) is
    ``max_{j <= i} min(1, (m - j + 1) p_(j))``. Rejecting where the adjusted value is <= alpha is Holm's procedure at
    family-wise level alpha. Equal p-values get equal adjusted values.

    Args:
        p_values: p-values of any shape, each in [0, 1] or NaN; all non-NaN entries form one family.

    Returns:
        Adjusted p-values, same shape as the input. NaN entries stay NaN and do not count in the family size m
        (an undefined test is not a test).

    Raises:
        ValueError: if a p-value is outside [0, 1] or infinite.

    Example:
        >>> holm_adjust([0.01, 0.04, 0.03, 0.005]).round(4).tolist()
        [0.03, 0.06, 0.06, 0.02]
        >>> holm_adjust([0.02, float("nan"), 0.5]).tolist()
        [0.04, nan, 0.5]
    """
    p = np.asarray(p_values, dtype=float)
    finite = ~np.isnan(p)
    if ((p[finite] < 0) | (p[finite] > 1)).any():
        raise ValueError(
            "The 'p_values' parameter of holm_adjust must hold p-values in [0, 1] or NaN; "
            f"got values in [{p[finite].min()}, {p[finite].max()}]."
        )
    values = p[finite]
    m = values.size
    order = np.argsort(values, kind="stable")
    stepped = np.minimum(1.0, (m - np.arange(m)) * values[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(stepped)
    out = np.full(p.shape, _NAN)
    out[finite] = adjusted
    return out


def _usable(values: np.ndarray, func: str) -> np.ndarray:
    keep = ~np.isnan(values)
    if not keep.all():
        warnings.warn(
            f"{func}: {int((~keep).sum())} of {values.size} seed values are NaN (undefined metric) and are left out.",
            UndefinedMetricWarning,
            stacklevel=3,
        )
    return keep


def _check_values(values: npt.ArrayLike, name: str, func: str) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or np.isinf(v).any():
        raise ValueError(
            f"The '{name}' parameter of {func} must be a 1-D array of finite (or NaN) metric values, one per seed; "
            f"got shape {v.shape}{' with infinite values' if np.isinf(v).any() else ''}."
        )
    return v


def _t_half_width(se: float, n: int, confidence: float) -> float:
    return float(student_t.ppf(0.5 + confidence / 2, n - 1)) * se


def seed_mean_ci(values: npt.ArrayLike, *, confidence: float = 0.95) -> MeanInterval:
    """Mean of a metric over training seeds with a Student t confidence interval.

    Args:
        values: one metric value per seed, of shape (n_seeds,); NaN marks an undefined value.
        confidence: level of the two-sided interval, in (0, 1).

    Returns:
        The mean, its t interval (not clipped: the caller knows the metric's range) and SE, and the number of
        seeds used. With fewer than 2 usable seeds the interval and SE are NaN, with an
        :class:`~tunedepth.errors.UndefinedMetricWarning` (see the module Notes).

    Raises:
        ValueError: if values is not 1-D or holds infinities, or confidence is not in (0, 1).

    Example:
        >>> r = seed_mean_ci([0.80, 0.85, 0.90])
        >>> round(r.mean, 4), round(r.low, 4), round(r.high, 4), r.n
        (0.85, 0.7258, 0.9742, 3)
    """
    func = "seed_mean_ci"
    conf = check_confidence(confidence, func)
    v = _check_values(values, "values", func)
    v = v[_usable(v, func)]
    n = int(v.size)
    if n < 2:
        warnings.warn(
            f"{func}: a confidence interval across seeds needs at least 2 seeds, got {n}; the interval is NaN. "
            "Use the within-test-set intervals (DeLong, bootstrap) instead.",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        return MeanInterval(float(v[0]) if n else _NAN, _NAN, _NAN, _NAN, n, conf)
    mean = float(v.mean())
    se = float(v.std(ddof=1) / np.sqrt(n))
    half = _t_half_width(se, n, conf)
    return MeanInterval(mean, mean - half, mean + half, se, n, conf)


def seed_paired_test(
    values_a: npt.ArrayLike, values_b: npt.ArrayLike, *, confidence: float = 0.95
) -> PairedMeanTest:
    """Paired t-test of two configurations trained with the same seeds.

    Entry i of both arrays must come from the same seed (same initialisation of the shared parts and the same
    data order), which is what makes the comparison paired.

    Args:
        values_a: configuration a's metric per seed, of shape (n_seeds,); NaN marks an undefined value.
        values_b: configuration b's metric for the same seeds in the same order, of shape (n_seeds,).
        confidence: level of the two-sided interval of the mean difference, in (0, 1).

    Returns:
        Both means, the mean difference a - b with its t interval and SE, t, the two-sided p-value and the number
        of pairs used. Swapping a and b negates the difference and t and keeps the p-value. NaN fields with an
        :class:`~tunedepth.errors.UndefinedMetricWarning` as in the module Notes.

    Raises:
        ValueError: if the arrays are not 1-D, differ in length or hold infinities, or confidence is not in (0, 1).

    Example:
        >>> r = seed_paired_test([0.90, 0.92, 0.95], [0.85, 0.90, 0.91])
        >>> round(r.difference, 4), round(r.t, 4), round(r.p_value, 4)
        (0.0367, 4.1576, 0.0533)
    """
    func = "seed_paired_test"
    conf = check_confidence(confidence, func)
    a = _check_values(values_a, "values_a", func)
    b = _check_values(values_b, "values_b", func)
    if a.shape != b.shape:
        raise ValueError(
            f"{func} pairs the seeds by position: 'values_a' and 'values_b' must have the same shape (n_seeds,); "
            f"got {a.shape} and {b.shape}."
        )
    keep = _usable(np.where(np.isnan(b), np.nan, a), func)
    a, b = a[keep], b[keep]
    n = int(a.size)
    d = a - b
    if n < 2:
        warnings.warn(
            f"{func}: a paired comparison across seeds needs at least 2 seed pairs, got {n}; interval, t and "
            "p-value are NaN. Use the within-test-set paired tests (DeLong, bootstrap) instead.",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        mean_a, mean_b, difference = (float(x[0]) if n else _NAN for x in (a, b, d))
        return PairedMeanTest(mean_a, mean_b, difference, _NAN, _NAN, _NAN, _NAN, _NAN, n, conf)
    difference = float(d.mean())
    se = float(d.std(ddof=1) / np.sqrt(n))
    mean_a, mean_b = float(a.mean()), float(b.mean())
    # Equal differences can differ in the last bits (0.9 - 0.8 != 0.8 - 0.7); treat rounding-level spread as none.
    if np.ptp(d) <= 16 * np.finfo(float).eps * max(1.0, float(np.abs(a).max()), float(np.abs(b).max())):
        warnings.warn(
            f"{func}: every seed gives the same difference ({difference:.6g}); the t statistic and p-value are "
            "undefined and set to NaN.",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        return PairedMeanTest(mean_a, mean_b, difference, difference, difference, 0.0, _NAN, _NAN, n, conf)
    half = _t_half_width(se, n, conf)
    t = difference / se
    p_value = float(2 * student_t.sf(abs(t), n - 1))
    return PairedMeanTest(mean_a, mean_b, difference, difference - half, difference + half, se, t, p_value, n, conf)
