"""Frame-bootstrap statistics of the per-frame FROC analysis: intervals and paired differences of sensitivity.

The definitions (hits, sensitivity, false positives per frame, the step rule at a target) are those of
:mod:`tunedepth.evaluation.froc`; the functions here add seeded frame-bootstrap percentile intervals to
:func:`~tunedepth.evaluation.froc.sensitivity_at_fps` and compare two detectors on the same frames.

Notes:
    * Bootstrap intervals resample frames with replacement (Efron & Tibshirani, "An Introduction to the
      Bootstrap", 1993, ch. 13, percentile interval), which keeps a frame's polyps and false positives together.
      A paired comparison of two detectors on the same frames gives both the same resampled frames; its p-value
      is a percentile-bootstrap test (ch. 16), see :func:`paired_sensitivity_difference`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from tunedepth._checks import check_int
from tunedepth.errors import UndefinedMetricWarning
from tunedepth.evaluation._inputs import check_confidence
from tunedepth.evaluation.candidate_hits import CandidateHits
from tunedepth.evaluation.froc import (
    _NAN,
    _SLACK,
    DEFAULT_FPS_TARGETS,
    _check_hits,
    _check_targets,
    _warn_no_polyps,
)

__all__ = [
    "FrocSensitivityDifference",
    "FrocSensitivityInterval",
    "paired_sensitivity_difference",
    "sensitivity_at_fps_ci",
]

_CHUNK = 128  # bootstrap resamples evaluated at once; fixed so that a seed gives the same draws everywhere


@dataclass(frozen=True)
class FrocSensitivityInterval:
    """Sensitivity at one false-positive-per-frame target, with its frame-bootstrap percentile interval.

    Attributes:
        fps_per_frame_target: the target r (false positives per frame), >= 0.
        sensitivity: the best sensitivity with fps_per_frame <= r, in [0, 1].
        low: lower percentile bound.
        high: upper percentile bound.
        confidence: the interval's confidence level.
    """

    fps_per_frame_target: float
    sensitivity: float
    low: float
    high: float
    confidence: float


@dataclass(frozen=True)
class FrocSensitivityDifference:
    """Difference of two detectors' sensitivities at one false-positive-per-frame target, on the same frames.

    Attributes:
        fps_per_frame_target: the target r (false positives per frame), >= 0.
        difference: sensitivity of detector a minus that of detector b at fps_per_frame <= r, in [-1, 1].
        low: lower bound of the paired frame-bootstrap percentile interval of the difference.
        high: upper bound of that interval.
        p_value: two-sided bootstrap p-value of "equal sensitivities", in [0, 1] (see
            :func:`paired_sensitivity_difference`).
        confidence: the interval's confidence level.
    """

    fps_per_frame_target: float
    difference: float
    low: float
    high: float
    p_value: float
    confidence: float


def _check_bootstrap_options(confidence: float, n_boot: int, seed: int, func: str) -> tuple[float, int, int]:
    conf = check_confidence(confidence, func)
    check_int(n_boot, "n_boot", func, minimum=1, example=", for example 2000")
    check_int(seed, "seed", func, minimum=0)
    return conf, int(n_boot), int(seed)


def _warn_too_few_frames(func: str, n_frames: int) -> None:
    warnings.warn(
        f"{func}: a frame bootstrap needs at least 2 frames; got {n_frames}. The estimates are returned, the "
        "intervals are NaN.",
        UndefinedMetricWarning,
        stacklevel=3,
    )


def _warn_resamples_without_polyps(func: str, empty: int, n_boot: int) -> None:
    if empty:
        warnings.warn(
            f"{func}: {empty} of {n_boot} bootstrap resamples contain no polyp and were left out of the "
            "interval; use more frames with polyps.",
            UndefinedMetricWarning,
            stacklevel=3,
        )


def _resampled_frame_weights(n_frames: int, n_boot: int, seed: int) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (first row, weights of shape (n_rows, n_frames)): how often each resample drew each frame."""
    rng = np.random.default_rng(seed)
    for start in range(0, n_boot, _CHUNK):
        b = min(_CHUNK, n_boot - start)
        draws = rng.integers(0, n_frames, size=(b, n_frames))
        flat = (np.arange(b)[:, None] * n_frames + draws).ravel()
        yield start, np.bincount(flat, minlength=b * n_frames).reshape(b, n_frames).astype(float)


def _bootstrap_sensitivities(hits: CandidateHits, allowed: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Sensitivity at each allowed false-positive count for frame weights of shape (n_rows, n_frames).

    A row's weight of a frame is how often the resample drew it. With ``v*`` the highest background score whose
    weighted count of background scores >= ``v*`` exceeds the budget, the best feasible threshold accepts exactly
    the scores above ``v*``; the sensitivity is the weighted share of polyps scored above it.

    Returns:
        Array of shape (n_rows, n_targets); NaN where a row's weights hold no polyp.
    """
    n_rows = weights.shape[0]
    order = np.argsort(-hits.fp_scores, kind="stable")
    fp_desc = hits.fp_scores[order]
    # end of each tie group in the descending order: the count of scores >= v includes the whole group
    group_end = np.r_[np.flatnonzero(np.diff(fp_desc) != 0), fp_desc.size - 1] if fp_desc.size else np.zeros(0, int)
    fp_cum = np.cumsum(weights[:, hits.fp_frames[order]], axis=1)[:, group_end] if fp_desc.size else None
    pol_order = np.argsort(hits.polyp_scores, kind="stable")
    pol_asc = hits.polyp_scores[pol_order]
    pol_w = weights[:, hits.polyp_frames[pol_order]]
    pol_cum = np.c_[np.zeros(n_rows), np.cumsum(pol_w, axis=1)]
    total = pol_cum[:, -1]
    out = np.empty((n_rows, allowed.size))
    for j, budget in enumerate(allowed):
        if fp_cum is None:
            cut = np.full(n_rows, -np.inf)
        else:
            over = fp_cum > budget + _SLACK
            first = np.argmax(over, axis=1)
            cut = np.where(over.any(axis=1), fp_desc[group_end[first]], -np.inf)
        # polyps never hit have score -inf and never pass, even when the cut is -inf
        below = np.searchsorted(pol_asc, cut, side="right")
        passed = total - pol_cum[np.arange(n_rows), below]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, j] = np.where(total > 0, passed / np.where(total > 0, total, 1.0), _NAN)
    return out


def sensitivity_at_fps_ci(
    hits: CandidateHits,
    *,
    fps_targets: tuple[float, ...] = DEFAULT_FPS_TARGETS,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[FrocSensitivityInterval, ...]:
    """Sensitivity at each false-positive-per-frame target with a seeded frame-bootstrap percentile interval.

    Frames are resampled with replacement (n_frames draws per resample). Resamples without any polyp have no
    sensitivity; they are left out of the percentiles with an :class:`~tunedepth.errors.UndefinedMetricWarning`
    that says how many.

    Args:
        hits: the candidates' hits, from :func:`~tunedepth.evaluation.candidate_hits.match_candidates` or
            :func:`~tunedepth.evaluation.candidate_hits.candidate_hits_from_table`.
        fps_targets: false-positive-per-frame rates, each >= 0. Default (0.01, 0.1, 1).
        confidence: level of the two-sided percentile interval, in (0, 1).
        n_boot: number of bootstrap resamples (default 2000).
        seed: seed of the resampling generator (``numpy.random.default_rng``); same seed, same intervals.

    Returns:
        One :class:`FrocSensitivityInterval` per target, in the order given. Everything is NaN (with a warning)
        when no frame contains a polyp; the interval is NaN (with a warning) for fewer than 2 frames.

    Raises:
        TypeError: if hits is not a CandidateHits.
        ValueError: as :func:`~tunedepth.evaluation.froc.sensitivity_at_fps`, and if confidence is not in (0, 1),
            n_boot is not a positive int or seed is not a non-negative int.

    Example:
        >>> from tunedepth.evaluation import match_candidates
        >>> rng = np.random.default_rng(0)
        >>> lab = np.zeros((8, 8), int); lab[:4, :4] = 1
        >>> cen = [[(1.0, 1.0), (6.0, 6.0)]] * 40
        >>> sc = [[rng.normal(1, 1), rng.normal(0, 1)] for _ in range(40)]
        >>> hits = match_candidates(cen, sc, [lab] * 40)
        >>> [r.low <= r.sensitivity <= r.high for r in sensitivity_at_fps_ci(hits, n_boot=200)]
        [True, True, True]
    """
    func = "sensitivity_at_fps_ci"
    _check_hits(hits, "hits", func)
    targets = _check_targets(fps_targets, func)
    conf, n_boot, seed = _check_bootstrap_options(confidence, n_boot, seed, func)
    n = hits.n_frames
    if hits.polyp_scores.size == 0:
        _warn_no_polyps(func, n)
        return tuple(FrocSensitivityInterval(float(t), _NAN, _NAN, _NAN, conf) for t in targets)
    allowed = np.floor(targets * n + _SLACK)
    estimate = _bootstrap_sensitivities(hits, allowed, np.ones((1, n)))[0]
    low = np.full(targets.size, _NAN)
    high = np.full(targets.size, _NAN)
    if n < 2:
        _warn_too_few_frames(func, n)
    else:
        boot = np.empty((n_boot, targets.size))
        for start, weights in _resampled_frame_weights(n, n_boot, seed):
            boot[start : start + weights.shape[0]] = _bootstrap_sensitivities(hits, allowed, weights)
        empty = int(np.isnan(boot[:, 0]).sum())
        _warn_resamples_without_polyps(func, empty, n_boot)
        if empty < n_boot:
            alpha = 1 - conf
            low, high = np.nanquantile(boot, [alpha / 2, 1 - alpha / 2], axis=0)
    return tuple(
        FrocSensitivityInterval(float(t), float(e), float(lo), float(hi), conf)
        for t, e, lo, hi in zip(targets, estimate, low, high, strict=True)
    )


def paired_sensitivity_difference(
    hits_a: CandidateHits,
    hits_b: CandidateHits,
    *,
    fps_targets: tuple[float, ...] = DEFAULT_FPS_TARGETS,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[FrocSensitivityDifference, ...]:
    """Difference of two detectors' sensitivities on the same frames, with a paired frame-bootstrap test.

    Each resample draws n_frames frames with replacement and gives both detectors the same frame weights, so a
    frame's polyps and both detectors' false positives on it stay together. The difference is
    ``sensitivity_at_fps(hits_a) - sensitivity_at_fps(hits_b)`` at each target.

    Args:
        hits_a: the hits of detector a, from :func:`~tunedepth.evaluation.candidate_hits.match_candidates` or
            :func:`~tunedepth.evaluation.candidate_hits.candidate_hits_from_table`.
        hits_b: the hits of detector b on the same frames and polyps (same n_frames and polyp_frames).
        fps_targets: false-positive-per-frame rates, each >= 0. Default (0.01, 0.1, 1).
        confidence: level of the two-sided percentile interval of the difference, in (0, 1).
        n_boot: number of bootstrap resamples (default 2000); p-values below 2 / n_boot are not resolved.
        seed: seed of the resampling generator (``numpy.random.default_rng``); same seed, same result.

    Returns:
        One :class:`FrocSensitivityDifference` per target, in the order given. Everything is NaN (with an
        :class:`~tunedepth.errors.UndefinedMetricWarning`) when no frame contains a polyp; the interval and
        p-value are NaN (with a warning) for fewer than 2 frames. Resamples without any polyp are left out of the
        interval and the p-value, with a warning that says how many.

    Raises:
        TypeError: if hits_a or hits_b is not a CandidateHits.
        ValueError: if hits_a and hits_b differ in n_frames or polyp_frames, and as
            :func:`sensitivity_at_fps_ci` for the options.

    Notes:
        The p-value is a percentile-bootstrap test (Efron & Tibshirani, "An Introduction to the Bootstrap", 1993,
        ch. 16): with d* the n kept resampled differences and c the number on the
        rarer side of 0 (``min(#{d* <= 0}, #{d* >= 0})``), ``p = min(1, 2 (1 + c) / (n + 1))``, as in
        :func:`~tunedepth.evaluation.operating_points.sensitivity_at_fpr_test`; so p is never 0 and the smallest
        p-value is 2 / (n + 1). Identical detectors give difference 0, interval [0, 0] and p = 1.

    Example:
        Detector a scores every polyp .9 and its background candidate .1; detector b swaps the two in 5 of 10
        frames. At 0.5 FP/frame (5 false positives) a detects all 10 polyps and b the 5 it scores .9.

        >>> from tunedepth.evaluation import candidate_hits_from_table
        >>> frame, polyp = np.repeat(np.arange(10), 2), np.tile([1, 0], 10)
        >>> a = candidate_hits_from_table(frame, polyp, np.tile([.9, .1], 10), np.ones(10, int))
        >>> b = candidate_hits_from_table(frame, polyp, np.r_[np.tile([.1, .9], 5), np.tile([.9, .1], 5)],
        ...                               np.ones(10, int))
        >>> (r,) = paired_sensitivity_difference(a, b, fps_targets=(0.5,), n_boot=500)
        >>> r.difference, r.low > 0, r.p_value < 0.05
        (0.5, True, True)
    """
    func = "paired_sensitivity_difference"
    _check_hits(hits_a, "hits_a", func)
    _check_hits(hits_b, "hits_b", func)
    targets = _check_targets(fps_targets, func)
    conf, n_boot, seed = _check_bootstrap_options(confidence, n_boot, seed, func)
    if hits_a.n_frames != hits_b.n_frames or not np.array_equal(hits_a.polyp_frames, hits_b.polyp_frames):
        raise ValueError(
            f"{func} compares two detectors on the same frames: 'hits_a' and 'hits_b' need the same n_frames and "
            f"polyp_frames; got {hits_a.n_frames} and {hits_b.n_frames} frames with {hits_a.polyp_frames.size} and "
            f"{hits_b.polyp_frames.size} polyps. Build both from the same label images or n_polyps_per_frame."
        )
    n = hits_a.n_frames
    if hits_a.polyp_scores.size == 0:
        _warn_no_polyps(func, n)
        return tuple(FrocSensitivityDifference(float(t), _NAN, _NAN, _NAN, _NAN, conf) for t in targets)
    allowed = np.floor(targets * n + _SLACK)
    ones = np.ones((1, n))
    estimate = (_bootstrap_sensitivities(hits_a, allowed, ones) - _bootstrap_sensitivities(hits_b, allowed, ones))[0]
    low, high, p_value = (np.full(targets.size, _NAN) for _ in range(3))
    if n < 2:
        _warn_too_few_frames(func, n)
    else:
        boot = np.empty((n_boot, targets.size))
        for start, w in _resampled_frame_weights(n, n_boot, seed):
            # same weights for both detectors: this is what makes the bootstrap paired
            boot_a = _bootstrap_sensitivities(hits_a, allowed, w)
            boot[start : start + w.shape[0]] = boot_a - _bootstrap_sensitivities(hits_b, allowed, w)
        # a resample without polyps is NaN in every column for both detectors (same polyp_frames)
        kept = boot[~np.isnan(boot[:, 0])]
        _warn_resamples_without_polyps(func, n_boot - kept.shape[0], n_boot)
        if kept.shape[0]:
            alpha = 1 - conf
            low, high = np.quantile(kept, [alpha / 2, 1 - alpha / 2], axis=0)
            rarer = np.minimum((kept <= 0).sum(axis=0), (kept >= 0).sum(axis=0))
            p_value = np.minimum(1.0, 2.0 * (1 + rarer) / (kept.shape[0] + 1))
    return tuple(
        FrocSensitivityDifference(float(t), float(d), float(lo), float(hi), float(p), conf)
        for t, d, lo, hi, p in zip(targets, estimate, low, high, p_value, strict=True)
    )
