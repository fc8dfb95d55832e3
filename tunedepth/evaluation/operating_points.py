"""Sensitivity at fixed false-positive rates, with seeded case-bootstrap intervals and paired comparisons.

The paper compares models at fixed points of the ROC curve: sensitivity at 10%, 15% and 20% false-positive rate
(Tajbakhsh et al., IEEE TMI 35(5):1299-1312, 2016, Table S3). Here the sensitivity at a target FPR t is read from
the empirical ROC curve as a step function (Fawcett, "An introduction to ROC analysis", Pattern Recognit. Lett.
27(8):861-874, 2006, Algorithm 1): the largest true-positive rate among the thresholds whose false-positive rate
is at most t. A case is called positive when its score is at least the threshold, so with n negatives and
k = floor(t * n) false positives allowed, the sensitivity is the share of positives scored strictly above the
(k + 1)-th highest negative score. It is the sensitivity of a threshold one can actually deploy at FPR <= t.

Intervals come from a seeded case bootstrap stratified by class (positives and negatives resampled separately,
with replacement, at their observed counts; Efron & Tibshirani, "An Introduction to the Bootstrap", 1993, ch. 13,
percentile interval). A paired comparison resamples the same cases for both models; its two-sided p-value is the
smallest level whose percentile interval of the difference excludes 0, with the Monte Carlo correction
``p = min(1, 2 (1 + #{d* <= 0 or d* >= 0, whichever is fewer}) / (n_boot + 1))`` (Davison & Hinkley,
"Bootstrap Methods and their Application", 1997, sections 4.4 and 5.2), so it is never 0.

Notes:
    * No interpolation between ROC points: a linear interpolation (as in pROC's ``coords`` or the ``pauc``
      package) describes a randomised classifier that mixes two thresholds (Fawcett 2006, section 7), so it can
      report a sensitivity no single threshold reaches. Tied scores move together: a tie group straddling the
      target is excluded as a whole.
    * Target unreachable: when t < 1 / n (for example 10% FPR with 9 negatives), only thresholds with no false
      positive at all have FPR <= t, and the sample cannot resolve the target. That target's estimate, interval and
      p-value are NaN with an :class:`~tunedepth.errors.UndefinedMetricWarning`.
    * One class only: everything is NaN with a warning. Fewer than 2 positives or 2 negatives: the estimates are
      returned, intervals and p-values are NaN with a warning (a resample of one case is that case).
    * Paired comparison whose bootstrap differences are all equal (for example identical models): the difference
      and its zero-width interval are returned, the p-value is NaN with a warning.
    * Binary tasks only: a multi-class task has no single ROC curve; pass one class's one-vs-rest labels and
      scores if a per-class operating point is wanted.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import norm

from tunedepth._checks import check_int
from tunedepth.errors import UndefinedMetricWarning
from tunedepth.evaluation._inputs import check_binary, check_confidence, check_paired_scores

__all__ = [
    "DEFAULT_FPR_TARGETS",
    "PairedSensitivityTest",
    "SensitivityInterval",
    "sensitivity_at_fpr",
    "sensitivity_at_fpr_ci",
    "sensitivity_at_fpr_seeds_ci",
    "sensitivity_at_fpr_test",
]

DEFAULT_FPR_TARGETS: tuple[float, ...] = (0.10, 0.15, 0.20)
"""The paper's operating points (Table S3): sensitivity at 10%, 15% and 20% false-positive rate."""

_NAN = float("nan")
_CHUNK = 256  # resamples drawn and evaluated at once; fixed so that a seed gives the same draws everywhere


@dataclass(frozen=True)
class SensitivityInterval:
    """Sensitivity at one target false-positive rate, with its bootstrap percentile interval.

    Attributes:
        fpr_target: the target false-positive rate t, in (0, 1).
        sensitivity: the largest true-positive rate at FPR <= t, in [0, 1].
        low: lower percentile bound.
        high: upper percentile bound.
        confidence: the interval's confidence level.
    """

    fpr_target: float
    sensitivity: float
    low: float
    high: float
    confidence: float


@dataclass(frozen=True)
class PairedSensitivityTest:
    """Paired comparison of two models' sensitivities at one target false-positive rate.

    Attributes:
        fpr_target: the target false-positive rate t, in (0, 1).
        sensitivity_a: model a's sensitivity at FPR <= t.
        sensitivity_b: model b's sensitivity at FPR <= t.
        difference: ``sensitivity_a - sensitivity_b``.
        low: lower percentile bound of the paired bootstrap difference.
        high: upper percentile bound of the paired bootstrap difference.
        p_value: two-sided bootstrap p-value of "equal sensitivities" (see the module docstring).
        confidence: the interval's confidence level.
    """

    fpr_target: float
    sensitivity_a: float
    sensitivity_b: float
    difference: float
    low: float
    high: float
    p_value: float
    confidence: float


def _check_targets(fpr_targets: tuple[float, ...], func: str) -> np.ndarray:
    t = np.asarray(fpr_targets, dtype=float)
    if t.ndim != 1 or t.size == 0 or not (np.isfinite(t).all() and (t > 0).all() and (t < 1).all()):
        raise ValueError(
            f"The 'fpr_targets' parameter of {func} must be a non-empty sequence of false-positive rates in (0, 1), "
            f"for example {DEFAULT_FPR_TARGETS}; got {fpr_targets!r}."
        )
    return t


def _check_bootstrap(n_boot: int, seed: int, func: str) -> None:
    check_int(n_boot, "n_boot", func, minimum=1, example=", for example 2000")
    check_int(seed, "seed", func, minimum=0)


def _allowed_false_positives(targets: np.ndarray, n_negatives: int) -> np.ndarray:
    # The small slack keeps e.g. 0.29 * 100 = 28.999999999999996 from losing a false positive to rounding.
    return np.floor(targets * n_negatives + 1e-9).astype(int)


def _sensitivities(pos: np.ndarray, neg: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Sensitivity at k allowed false positives, row-wise.

    Args:
        pos: positive scores of shape (n_rows, m).
        neg: negative scores of shape (n_rows, n).
        k: allowed false positives of shape (n_targets,), each in [1, n - 1].

    Returns:
        Array of shape (n_rows, n_targets): the share of positives above the (k + 1)-th highest negative.
    """
    n = neg.shape[1]
    order = n - 1 - k  # 0-based position of the (k + 1)-th highest negative in ascending order
    cut = np.partition(neg, order, axis=1)[:, order]
    return (pos[:, :, None] > cut[:, None, :]).mean(axis=1)


def _point(y: np.ndarray, s: np.ndarray, targets: np.ndarray, func: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Validated point estimates (NaN where unreachable) and the allowed false positives; None for one class."""
    m, n = int(y.sum()), int(y.size - y.sum())
    if m == 0 or n == 0:
        warnings.warn(
            f"{func}: sensitivity at a false-positive rate is undefined with one class in labels ({m} positives, "
            f"{n} negatives); returning NaN.",
            UndefinedMetricWarning,
            stacklevel=3,
        )
        return None
    k = _allowed_false_positives(targets, n)
    reachable = k >= 1
    if not reachable.all():
        warnings.warn(
            f"{func}: FPR targets {targets[~reachable].tolist()} are unreachable with {n} negatives (the smallest "
            f"non-zero FPR is 1/{n} = {1 / n:.4g}); their sensitivity is NaN. Use more negative cases or larger "
            "targets.",
            UndefinedMetricWarning,
            stacklevel=3,
        )
    estimate = np.full(targets.size, _NAN)
    estimate[reachable] = _sensitivities(s[y][None, :], s[~y][None, :], k[reachable])[0]
    return estimate, k


def _bootstrap_ok(y: np.ndarray, func: str) -> bool:
    m, n = int(y.sum()), int(y.size - y.sum())
    if m < 2 or n < 2:
        warnings.warn(
            f"{func}: a bootstrap interval needs at least 2 positives and 2 negatives ({m} positives, {n} "
            "negatives); the estimates are returned, intervals and p-values are NaN.",
            UndefinedMetricWarning,
            stacklevel=3,
        )
        return False
    return True


def _bootstrap(
    y: np.ndarray, scores: list[np.ndarray], k: np.ndarray, n_boot: int, seed: int
) -> list[np.ndarray]:
    """Stratified case-bootstrap sensitivities, one array of shape (n_boot, n_targets) per model in ``scores``.

    Every model is evaluated on the same resampled cases, which makes the differences paired.
    """
    rng = np.random.default_rng(seed)
    pos = [s[y] for s in scores]
    neg = [s[~y] for s in scores]
    m, n = pos[0].size, neg[0].size
    out = [np.empty((n_boot, k.size)) for _ in scores]
    for start in range(0, n_boot, _CHUNK):
        b = min(_CHUNK, n_boot - start)
        i_pos = rng.integers(0, m, size=(b, m))
        i_neg = rng.integers(0, n, size=(b, n))
        for model, result in enumerate(out):
            result[start : start + b] = _sensitivities(pos[model][i_pos], neg[model][i_neg], k)
    return out


def sensitivity_at_fpr(
    labels: npt.ArrayLike, scores: npt.ArrayLike, *, fpr_targets: tuple[float, ...] = DEFAULT_FPR_TARGETS
) -> np.ndarray:
    """Sensitivity (true-positive rate) at each target false-positive rate, read off the empirical ROC curve.

    The largest sensitivity among thresholds with FPR <= t, as a step function without interpolation; see the
    module docstring for the definition, the citation and the undefined cases.

    Args:
        labels: binary labels of shape (n_cases,), 1 for positive and 0 for negative.
        scores: the positive class's score of shape (n_cases,).
        fpr_targets: target false-positive rates, each in (0, 1). Default: the paper's (0.10, 0.15, 0.20).

    Returns:
        Array of shape (n_targets,) in [0, 1]; NaN, with an :class:`~tunedepth.errors.UndefinedMetricWarning`, for
        an unreachable target or for every target when one class is absent.

    Raises:
        ValueError: if the shapes differ, labels are not 0/1, scores are not finite or a target is not in (0, 1).

    Example:
        With 10 negatives, 10% FPR allows one false positive: the threshold sits just above the second-highest
        negative (.7), and 2 of the 4 positives pass it.

        >>> labels = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        >>> scores = [.95, .8, .6, .3, .9, .7, .5, .4, .35, .2, .15, .1, .05, .01]
        >>> sensitivity_at_fpr(labels, scores, fpr_targets=(0.1, 0.2, 0.3)).tolist()
        [0.5, 0.75, 0.75]
    """
    func = "sensitivity_at_fpr"
    targets = _check_targets(fpr_targets, func)
    y, s = check_binary(labels, scores, func)
    point = _point(y, s, targets, func)
    return np.full(targets.size, _NAN) if point is None else point[0]


def sensitivity_at_fpr_ci(
    labels: npt.ArrayLike,
    scores: npt.ArrayLike,
    *,
    fpr_targets: tuple[float, ...] = DEFAULT_FPR_TARGETS,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[SensitivityInterval, ...]:
    """Sensitivity at each target false-positive rate with a stratified case-bootstrap percentile interval.

    Args:
        labels: binary labels of shape (n_cases,), 1 for positive and 0 for negative.
        scores: the positive class's score of shape (n_cases,).
        fpr_targets: target false-positive rates, each in (0, 1). Default: the paper's (0.10, 0.15, 0.20).
        confidence: level of the two-sided percentile interval, in (0, 1).
        n_boot: number of bootstrap resamples (default 2000).
        seed: seed of the resampling generator (``numpy.random.default_rng``); same seed, same intervals.

    Returns:
        One :class:`SensitivityInterval` per target, in the order given.

    Raises:
        ValueError: if the shapes differ, labels are not 0/1, scores are not finite, a target is not in (0, 1),
            confidence is not in (0, 1), n_boot is not a positive int or seed is not a non-negative int.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> labels = np.r_[np.ones(50, int), np.zeros(50, int)]
        >>> scores = np.r_[rng.normal(1, 1, 50), rng.normal(0, 1, 50)]
        >>> [r.low <= r.sensitivity <= r.high for r in sensitivity_at_fpr_ci(labels, scores, n_boot=200)]
        [True, True, True]
    """
    func = "sensitivity_at_fpr_ci"
    targets = _check_targets(fpr_targets, func)
    conf = check_confidence(confidence, func)
    _check_bootstrap(n_boot, seed, func)
    y, s = check_binary(labels, scores, func)
    point = _point(y, s, targets, func)
    if point is None:
        return tuple(SensitivityInterval(float(t), _NAN, _NAN, _NAN, conf) for t in targets)
    estimate, k = point
    low = np.full(targets.size, _NAN)
    high = np.full(targets.size, _NAN)
    reachable = k >= 1
    if _bootstrap_ok(y, func) and reachable.any():
        (boot,) = _bootstrap(y, [s], k[reachable], int(n_boot), int(seed))
        alpha = 1 - conf
        low[reachable], high[reachable] = np.quantile(boot, [alpha / 2, 1 - alpha / 2], axis=0)
    return tuple(
        SensitivityInterval(float(t), float(e), float(lo), float(hi), conf)
        for t, e, lo, hi in zip(targets, estimate, low, high, strict=True)
    )


def sensitivity_at_fpr_seeds_ci(
    labels: npt.ArrayLike,
    scores: list[npt.ArrayLike],
    *,
    fpr_targets: tuple[float, ...] = DEFAULT_FPR_TARGETS,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[SensitivityInterval, ...]:
    """The mean sensitivity of k runs (seeds) of one model on the same cases at each target false-positive rate, with
    an interval that counts both the cases and the seeds.

    ``se^2 = var_case + s^2 / k``: ``var_case`` is the variance of the seed-mean sensitivity over stratified case
    resamples (every run scored on the same resampled cases), ``s^2`` the sample variance of the per-seed
    sensitivities (divisor k - 1), the spread a new set of training runs would add; normal interval clipped to
    [0, 1] (the AUC's :func:`~tunedepth.evaluation.roc_auc_seeds_ci` does the same with DeLong's case variance). A t
    interval over the k values alone has k - 1 degrees of freedom: with 2 seeds it spans [0, 1] for any data.

    Args:
        labels: binary labels of shape (n_cases,).
        scores: one positive-class score array of shape (n_cases,) per seed, for the same cases in the same order.
        fpr_targets: target false-positive rates, each in (0, 1).
        confidence: level of the two-sided interval, in (0, 1).
        n_boot: case resamples.
        seed: seed of the resampling.

    Returns:
        One :class:`SensitivityInterval` per target (the seed-mean and its interval); NaN as
        :func:`sensitivity_at_fpr_ci`.

    Raises:
        ValueError: as :func:`sensitivity_at_fpr_ci`, or ``scores`` empty or of differing shapes.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> labels = np.r_[np.ones(50, int), np.zeros(50, int)]
        >>> runs = [np.r_[rng.normal(1, 1, 50), rng.normal(0, 1, 50)] for _ in range(2)]
        >>> [r.low < r.sensitivity < r.high for r in sensitivity_at_fpr_seeds_ci(labels, runs, n_boot=200)]
        [True, True, True]
    """
    func = "sensitivity_at_fpr_seeds_ci"
    targets = _check_targets(fpr_targets, func)
    conf = check_confidence(confidence, func)
    _check_bootstrap(n_boot, seed, func)
    if not isinstance(scores, (list, tuple)) or not scores:
        raise ValueError(f"The 'scores' parameter of {func} must be a non-empty list of score arrays, one per seed; "
                         f"got {type(scores).__name__}.")
    checked = [check_binary(labels, s, func) for s in scores]
    y = checked[0][0]
    runs = [s for _, s in checked]
    points = [_point(y, s, targets, func) for s in runs]
    if points[0] is None:
        return tuple(SensitivityInterval(float(t), _NAN, _NAN, _NAN, conf) for t in targets)
    per_seed = np.array([p[0] for p in points if p is not None])
    k = points[0][1]
    estimate = per_seed.mean(axis=0)
    low = np.full(targets.size, _NAN)
    high = np.full(targets.size, _NAN)
    reachable = k >= 1
    if _bootstrap_ok(y, func) and reachable.any():
        boot = np.mean(_bootstrap(y, runs, k[reachable], int(n_boot), int(seed)), axis=0)  # (n_boot, targets)
        case_var = boot.var(axis=0, ddof=1)
        seed_var = per_seed[:, reachable].var(axis=0, ddof=1) / len(runs) if len(runs) > 1 else 0.0
        half = float(norm.ppf(0.5 + conf / 2)) * np.sqrt(case_var + seed_var)
        low[reachable] = np.clip(estimate[reachable] - half, 0.0, 1.0)
        high[reachable] = np.clip(estimate[reachable] + half, 0.0, 1.0)
    return tuple(
        SensitivityInterval(float(t), float(e), float(lo), float(hi), conf)
        for t, e, lo, hi in zip(targets, estimate, low, high, strict=True)
    )


def sensitivity_at_fpr_test(
    labels: npt.ArrayLike,
    scores_a: npt.ArrayLike,
    scores_b: npt.ArrayLike,
    *,
    fpr_targets: tuple[float, ...] = DEFAULT_FPR_TARGETS,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[PairedSensitivityTest, ...]:
    """Paired bootstrap comparison of two models' sensitivities at each target false-positive rate.

    Both models are evaluated on the same stratified case resamples; the interval is the percentile interval of
    the resampled differences and the p-value inverts it (see the module docstring).

    Args:
        labels: binary labels of shape (n_cases,), 1 for positive and 0 for negative.
        scores_a: model a's positive-class score of shape (n_cases,).
        scores_b: model b's positive-class score of shape (n_cases,), for the same cases in the same order.
        fpr_targets: target false-positive rates, each in (0, 1). Default: the paper's (0.10, 0.15, 0.20).
        confidence: level of the two-sided percentile interval, in (0, 1).
        n_boot: number of bootstrap resamples (default 2000); the smallest p-value is 2 / (n_boot + 1).
        seed: seed of the resampling generator (``numpy.random.default_rng``).

    Returns:
        One :class:`PairedSensitivityTest` per target, in the order given. Swapping a and b negates the
        difference and mirrors its interval; the p-value is unchanged.

    Raises:
        ValueError: as :func:`sensitivity_at_fpr_ci`, and if the two score arrays differ in shape.

    Example:
        >>> labels = np.r_[np.ones(40, int), np.zeros(40, int)]
        >>> good = np.r_[np.linspace(1, 2, 40), np.linspace(0, 1.1, 40)]
        >>> [round(t.difference, 3) for t in sensitivity_at_fpr_test(labels, good, -good, n_boot=200)]
        [1.0, 1.0, 1.0]
    """
    func = "sensitivity_at_fpr_test"
    targets = _check_targets(fpr_targets, func)
    conf = check_confidence(confidence, func)
    _check_bootstrap(n_boot, seed, func)
    y, s_a = check_binary(labels, scores_a, func)
    check_paired_scores(s_a, np.asarray(scores_b, dtype=float), func)
    _, s_b = check_binary(labels, scores_b, func)
    point_a = _point(y, s_a, targets, func)
    if point_a is None:
        return tuple(PairedSensitivityTest(float(t), _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, conf) for t in targets)
    with warnings.catch_warnings():  # model a already warned about the same unreachable targets
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        point_b = _point(y, s_b, targets, func)
    assert point_b is not None  # same labels as model a
    (est_a, k), (est_b, _) = point_a, point_b
    low, high, p_value = (np.full(targets.size, _NAN) for _ in range(3))
    reachable = k >= 1
    if _bootstrap_ok(y, func) and reachable.any():
        boot_a, boot_b = _bootstrap(y, [s_a, s_b], k[reachable], int(n_boot), int(seed))
        diff = boot_a - boot_b
        alpha = 1 - conf
        low[reachable], high[reachable] = np.quantile(diff, [alpha / 2, 1 - alpha / 2], axis=0)
        p_value[reachable] = _bootstrap_p_value(diff, targets[reachable], func)
    return tuple(
        PairedSensitivityTest(float(t), float(a), float(b), float(a - b), float(lo), float(hi), float(p), conf)
        for t, a, b, lo, hi, p in zip(targets, est_a, est_b, low, high, p_value, strict=True)
    )


def _bootstrap_p_value(diff: np.ndarray, targets: np.ndarray, func: str) -> np.ndarray:
    """Two-sided percentile-inversion p-values of shape (n_targets,) from differences of shape (n_boot, n_targets)."""
    n_boot = diff.shape[0]
    tail = np.minimum((diff <= 0).sum(axis=0), (diff >= 0).sum(axis=0))
    p = np.minimum(1.0, 2.0 * (1 + tail) / (n_boot + 1))
    constant = np.ptp(diff, axis=0) == 0
    if constant.any():
        warnings.warn(
            f"{func}: at FPR targets {targets[constant].tolist()} every bootstrap difference is the same (for example "
            "identical models); the p-value is undefined and set to NaN.",
            UndefinedMetricWarning,
            stacklevel=3,
        )
        p[constant] = _NAN
    return p
