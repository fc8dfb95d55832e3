"""Per-frame FROC analysis of polyp candidates: sensitivity against false positives per frame.

The paper evaluates polyp detection with a FROC curve, false positives per frame on the x-axis (Tajbakhsh et al.,
IEEE TMI 35(5):1299-1312, 2016, Fig. 2; statistics at 0.01 and 0.001 FP/frame, Table S1). Free-response ROC
analysis goes back to Chakraborty, "Maximum likelihood analysis of free-response receiver operating characteristic
(FROC) data", Med. Phys. 16(4):561-568, 1989.

Definitions (per frame; a frame is one 2-D image):

* The polyps of a frame are the distinct positive values of its label image (0 is background), for example the
  connected components from :func:`tunedepth.data.polyp.label_polyps`.
* A candidate is a point ``(x, y)`` in pixel coordinates (x = column, y = row; pixel ``(r, c)`` covers
  ``[c, c + 1) x [r, r + 1)``) with a score; for a box ``(x0, y0, x1, y1)`` pass its centre
  ``((x0 + x1) / 2, (y0 + y1) / 2)``. The candidate *hits* the polyp whose label is at pixel
  ``(floor(y), floor(x))``; a centre exactly on the border between two polyps therefore lies in exactly one of
  them (the one to the right / below).
* At threshold t the candidates with score >= t are accepted. A polyp is detected when an accepted candidate hits
  it; several hits on one polyp count once (Bandos et al., "Area under the free-response ROC curve (FROC) and a
  related summary index", Biometrics 65(1):247-256, 2009: one true positive per lesion). Every accepted candidate
  that hits background is a false positive; extra hits on an already detected polyp are neither.
* sensitivity(t) = detected polyps / all polyps; fps_per_frame(t) = false positives / number of frames (every
  frame counts, including frames without candidates or without polyps).

Sensitivity at a target FP rate r is read from the curve as a step function: the best sensitivity among the
thresholds whose fps_per_frame is at most r, i.e. of a threshold one can deploy. With n frames this allows
``floor(r * n)`` false positives. Accepting nothing (threshold +inf) is always allowed, so every target is reachable.

Notes:
    * Deviation from CAMELYON16-derived code: MONAI's ``compute_froc_score`` ("modified from the official evaluation
      code of CAMELYON 16 Challenge") interpolates linearly between FROC points (``np.interp``), which describes a
      randomised mix of two thresholds and can report a sensitivity no single threshold reaches. We use the step
      rule, as :mod:`tunedepth.evaluation.operating_points` does for ROC curves (Fawcett 2006, section 7).
    * Ties: candidates with equal scores are accepted together, so a tie group straddling a target is excluded as
      a whole.
    * No polyp in any frame: sensitivity is undefined; it is NaN with an
      :class:`~tunedepth.errors.UndefinedMetricWarning` (fps_per_frame is still returned).
    * No candidates: the curve is the single point (0 FP/frame, sensitivity 0) at threshold +inf.
    * Zero false positives: the target is met by every threshold, so the sensitivity is that of accepting every
      candidate.
    * Frames without polyps only add false positives and to the frame count. For a frame-level question ("does
      this frame contain a polyp?") use :func:`frame_level_scores` with an ROC analysis.
    * Bootstrap intervals resample frames with replacement (Efron & Tibshirani, "An Introduction to the
      Bootstrap", 1993, ch. 13, percentile interval), which keeps a frame's polyps and false positives together.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from tunedepth.errors import UndefinedMetricWarning
from tunedepth.evaluation._inputs import check_confidence

__all__ = [
    "DEFAULT_FPS_TARGETS",
    "FrameLevelScores",
    "FrocCurve",
    "FrocSensitivityInterval",
    "frame_level_scores",
    "froc_curve",
    "sensitivity_at_fps",
    "sensitivity_at_fps_ci",
]

DEFAULT_FPS_TARGETS: tuple[float, ...] = (0.01, 0.1, 1.0)
"""Default operating points in false positives per frame (the paper's statistics use 0.01 and 0.001, Table S1)."""

_NAN = float("nan")
_CHUNK = 128  # bootstrap resamples evaluated at once; fixed so that a seed gives the same draws everywhere
_SLACK = 1e-9  # keeps e.g. 0.29 * 100 = 28.999999999999996 from losing a false positive to rounding


class FrocCurve(NamedTuple):
    """FROC points, one per threshold, ordered by decreasing threshold.

    Attributes:
        fps_per_frame: false positives per frame, shape (n_thresholds,), non-decreasing.
        sensitivity: share of polyps detected, shape (n_thresholds,), non-decreasing (NaN without polyps).
        thresholds: +inf (accept nothing) followed by every distinct candidate score, decreasing.
    """

    fps_per_frame: np.ndarray
    sensitivity: np.ndarray
    thresholds: np.ndarray


class FrameLevelScores(NamedTuple):
    """Frame-level labels and scores for an ROC analysis.

    Attributes:
        labels: int array of shape (n_frames,), 1 when the frame contains a polyp, else 0.
        scores: float array of shape (n_frames,), the frame's highest candidate score.
    """

    labels: np.ndarray
    scores: np.ndarray


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


class _Hits(NamedTuple):
    """Per-candidate and per-polyp outcomes of all frames (frame indices refer to the input order)."""

    fp_scores: np.ndarray  # scores of candidates on background
    fp_frames: np.ndarray
    polyp_scores: np.ndarray  # best score hitting each polyp; -inf when none hits it
    polyp_frames: np.ndarray
    all_scores: np.ndarray
    n_frames: int


def _as_frame_inputs(
    centres: Sequence[npt.ArrayLike],
    scores: Sequence[npt.ArrayLike],
    label_images: Sequence[npt.ArrayLike],
    func: str,
) -> _Hits:
    if not (len(centres) == len(scores) == len(label_images)):
        raise ValueError(
            f"{func} needs one entry per frame in 'centres', 'scores' and 'label_images'; got {len(centres)}, "
            f"{len(scores)} and {len(label_images)} frames."
        )
    if len(label_images) == 0:
        raise ValueError(f"{func} needs at least one frame; got 0. Pass the label image of every evaluated frame.")
    fp_s, fp_f, pol_s, pol_f, every = [], [], [], [], []
    for f, (c_raw, s_raw, lab_raw) in enumerate(zip(centres, scores, label_images, strict=True)):
        lab = np.asarray(lab_raw)
        if lab.ndim != 2 or lab.dtype.kind not in "biu":
            raise ValueError(
                f"The 'label_images' parameter of {func} must hold 2-D integer label images (0 = background); "
                f"frame {f} has dtype {lab.dtype} and shape {lab.shape}."
            )
        s = np.asarray(s_raw, dtype=float).reshape(-1)
        c = np.asarray(c_raw, dtype=float)
        if c.size == 0 and s.size == 0:
            c = c.reshape(0, 2)
        if c.ndim != 2 or c.shape != (s.size, 2):
            raise ValueError(
                f"{func}: frame {f} needs 'centres' of shape (n_candidates, 2) as (x, y) and 'scores' of shape "
                f"(n_candidates,); got centres {c.shape} and scores {s.shape}."
            )
        if not (np.isfinite(s).all() and np.isfinite(c).all()):
            raise ValueError(f"{func}: frame {f} has NaN or infinite centres or scores; check the detector output.")
        h, w = lab.shape
        inside = (c[:, 0] >= 0) & (c[:, 0] < w) & (c[:, 1] >= 0) & (c[:, 1] < h)
        if not inside.all():
            bad = c[~inside][0].tolist()
            raise ValueError(
                f"{func}: frame {f} has {int((~inside).sum())} candidate centre(s) outside its {h}x{w} label image, "
                f"e.g. (x, y) = {bad}. Centres are (column, row) pixel coordinates in [0, width) x [0, height)."
            )
        hit = lab[np.floor(c[:, 1]).astype(np.intp), np.floor(c[:, 0]).astype(np.intp)]
        on_background = hit == 0
        fp_s.append(s[on_background])
        fp_f.append(np.full(int(on_background.sum()), f, dtype=np.intp))
        polyps = np.unique(lab)
        polyps = polyps[polyps != 0]
        best = np.full(polyps.size, -np.inf)
        for i, p in enumerate(polyps):
            mine = s[hit == p]
            if mine.size:
                best[i] = mine.max()
        pol_s.append(best)
        pol_f.append(np.full(polyps.size, f, dtype=np.intp))
        every.append(s)
    return _Hits(
        np.concatenate(fp_s), np.concatenate(fp_f), np.concatenate(pol_s), np.concatenate(pol_f),
        np.concatenate(every), len(label_images),
    )


def _warn_no_polyps(func: str, n_frames: int) -> None:
    warnings.warn(
        f"{func}: sensitivity is undefined because none of the {n_frames} frames contains a polyp; returning NaN.",
        UndefinedMetricWarning,
        stacklevel=3,
    )


def _check_targets(fps_targets: tuple[float, ...], func: str) -> np.ndarray:
    t = np.asarray(fps_targets, dtype=float)
    if t.ndim != 1 or t.size == 0 or not (np.isfinite(t).all() and (t >= 0).all()):
        raise ValueError(
            f"The 'fps_targets' parameter of {func} must be a non-empty sequence of false-positive-per-frame rates "
            f">= 0, for example {DEFAULT_FPS_TARGETS}; got {fps_targets!r}."
        )
    return t


def froc_curve(
    centres: Sequence[npt.ArrayLike],
    scores: Sequence[npt.ArrayLike],
    label_images: Sequence[npt.ArrayLike],
) -> FrocCurve:
    """FROC curve over every distinct candidate score (see the module docstring for the definitions).

    Args:
        centres: per frame, candidate centres of shape (n_candidates, 2) as (x, y) pixel coordinates.
        scores: per frame, candidate scores of shape (n_candidates,); higher means more polyp-like.
        label_images: per frame, an integer label image of shape (height, width); 0 is background and each
            positive value one polyp.

    Returns:
        The curve, starting at threshold +inf (0 FP/frame, sensitivity 0). Sensitivity is NaN, with an
        :class:`~tunedepth.errors.UndefinedMetricWarning`, when no frame contains a polyp.

    Raises:
        ValueError: if the per-frame lists differ in length or are empty, a label image is not a 2-D integer
            array, shapes disagree, values are not finite or a centre lies outside its image.

    Example:
        One frame with one polyp (label 1 in the left half) and two candidates: .9 on background, .5 on the polyp.

        >>> lab = np.zeros((4, 4), int); lab[:, :2] = 1
        >>> c = froc_curve([[(3.5, 0.5), (0.5, 0.5)]], [[.9, .5]], [lab])
        >>> c.fps_per_frame.tolist(), c.sensitivity.tolist(), c.thresholds.tolist()
        ([0.0, 1.0, 1.0], [0.0, 0.0, 1.0], [inf, 0.9, 0.5])
    """
    func = "froc_curve"
    hits = _as_frame_inputs(centres, scores, label_images, func)
    thresholds = np.r_[np.inf, np.unique(hits.all_scores)[::-1]]
    fp_sorted = np.sort(hits.fp_scores)
    # counts of scores >= t, via the number of sorted scores strictly below t
    fps = (fp_sorted.size - np.searchsorted(fp_sorted, thresholds, side="left")) / hits.n_frames
    n_polyps = hits.polyp_scores.size
    if n_polyps == 0:
        _warn_no_polyps(func, hits.n_frames)
        sensitivity = np.full(thresholds.size, _NAN)
    else:
        pol_sorted = np.sort(hits.polyp_scores)
        sensitivity = np.asarray((n_polyps - np.searchsorted(pol_sorted, thresholds, side="left")) / n_polyps)
    return FrocCurve(fps.astype(float), sensitivity.astype(float), thresholds)


def sensitivity_at_fps(
    centres: Sequence[npt.ArrayLike],
    scores: Sequence[npt.ArrayLike],
    label_images: Sequence[npt.ArrayLike],
    *,
    fps_targets: tuple[float, ...] = DEFAULT_FPS_TARGETS,
) -> np.ndarray:
    """Best sensitivity with at most the target false positives per frame (step rule, no interpolation).

    Args:
        centres: per frame, candidate centres of shape (n_candidates, 2) as (x, y) pixel coordinates.
        scores: per frame, candidate scores of shape (n_candidates,).
        label_images: per frame, an integer label image of shape (height, width), 0 = background.
        fps_targets: false-positive-per-frame rates, each >= 0. Default (0.01, 0.1, 1).

    Returns:
        Array of shape (n_targets,) in [0, 1]; all NaN, with an :class:`~tunedepth.errors.UndefinedMetricWarning`,
        when no frame contains a polyp.

    Raises:
        ValueError: as :func:`froc_curve`, and if a target is negative or not finite.

    Example:
        Ten frames, each with one polyp hit by a candidate of score i / 10 and one background candidate of score
        i / 10 - 0.05 (i = 1..10). At 0.1 FP/frame one false positive is allowed: the threshold .9 accepts the
        background candidate .95 and detects the polyps scored .9 and 1.0.

        >>> lab = np.zeros((2, 2), int); lab[0, 0] = 1
        >>> cen = [[(0.5, 0.5), (1.5, 1.5)]] * 10
        >>> sc = [[i / 10, i / 10 - .05] for i in range(1, 11)]
        >>> sensitivity_at_fps(cen, sc, [lab] * 10, fps_targets=(0.0, 0.1, 0.5)).tolist()
        [0.1, 0.2, 0.6]
    """
    func = "sensitivity_at_fps"
    targets = _check_targets(fps_targets, func)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        curve = froc_curve(centres, scores, label_images)
    if np.isnan(curve.sensitivity).all():
        _warn_no_polyps(func, len(label_images))
        return np.full(targets.size, _NAN)
    n_frames = len(label_images)
    fp_counts = np.rint(curve.fps_per_frame * n_frames)
    allowed = np.floor(targets * n_frames + _SLACK)
    # both curve columns are non-decreasing, so the best feasible point is the last one within the budget
    last = (fp_counts[None, :] <= allowed[:, None]).sum(axis=1) - 1
    return curve.sensitivity[last]


def _bootstrap_sensitivities(hits: _Hits, allowed: np.ndarray, weights: np.ndarray) -> np.ndarray:
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
    centres: Sequence[npt.ArrayLike],
    scores: Sequence[npt.ArrayLike],
    label_images: Sequence[npt.ArrayLike],
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
        centres: per frame, candidate centres of shape (n_candidates, 2) as (x, y) pixel coordinates.
        scores: per frame, candidate scores of shape (n_candidates,).
        label_images: per frame, an integer label image of shape (height, width), 0 = background.
        fps_targets: false-positive-per-frame rates, each >= 0. Default (0.01, 0.1, 1).
        confidence: level of the two-sided percentile interval, in (0, 1).
        n_boot: number of bootstrap resamples (default 2000).
        seed: seed of the resampling generator (``numpy.random.default_rng``); same seed, same intervals.

    Returns:
        One :class:`FrocSensitivityInterval` per target, in the order given. Everything is NaN (with a warning)
        when no frame contains a polyp; the interval is NaN (with a warning) for fewer than 2 frames.

    Raises:
        ValueError: as :func:`sensitivity_at_fps`, and if confidence is not in (0, 1), n_boot is not a positive
            int or seed is not a non-negative int.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> lab = np.zeros((8, 8), int); lab[:4, :4] = 1
        >>> cen = [[(1.0, 1.0), (6.0, 6.0)]] * 40
        >>> sc = [[rng.normal(1, 1), rng.normal(0, 1)] for _ in range(40)]
        >>> [r.low <= r.sensitivity <= r.high for r in sensitivity_at_fps_ci(cen, sc, [lab] * 40, n_boot=200)]
        [True, True, True]
    """
    func = "sensitivity_at_fps_ci"
    targets = _check_targets(fps_targets, func)
    conf = check_confidence(confidence, func)
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"The 'n_boot' parameter of {func} must be a positive int, for example 2000; got {n_boot!r}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"The 'seed' parameter of {func} must be a non-negative int; got {seed!r}.")
    hits = _as_frame_inputs(centres, scores, label_images, func)
    n = hits.n_frames
    nan_result = tuple(FrocSensitivityInterval(float(t), _NAN, _NAN, _NAN, conf) for t in targets)
    if hits.polyp_scores.size == 0:
        _warn_no_polyps(func, n)
        return nan_result
    allowed = np.floor(targets * n + _SLACK)
    estimate = _bootstrap_sensitivities(hits, allowed, np.ones((1, n)))[0]
    low = np.full(targets.size, _NAN)
    high = np.full(targets.size, _NAN)
    if n < 2:
        warnings.warn(
            f"{func}: a frame bootstrap needs at least 2 frames; got {n}. The estimates are returned, the intervals "
            "are NaN.",
            UndefinedMetricWarning,
            stacklevel=2,
        )
    else:
        rng = np.random.default_rng(int(seed))
        boot = np.empty((int(n_boot), targets.size))
        for start in range(0, int(n_boot), _CHUNK):
            b = min(_CHUNK, int(n_boot) - start)
            draws = rng.integers(0, n, size=(b, n))
            flat = (np.arange(b)[:, None] * n + draws).ravel()
            weights = np.bincount(flat, minlength=b * n).reshape(b, n).astype(float)
            boot[start : start + b] = _bootstrap_sensitivities(hits, allowed, weights)
        empty = int(np.isnan(boot[:, 0]).sum())
        if empty:
            warnings.warn(
                f"{func}: {empty} of {n_boot} bootstrap resamples contain no polyp and were left out of the "
                "interval; use more frames with polyps.",
                UndefinedMetricWarning,
                stacklevel=2,
            )
        if empty < int(n_boot):
            alpha = 1 - conf
            low, high = np.nanquantile(boot, [alpha / 2, 1 - alpha / 2], axis=0)
    return tuple(
        FrocSensitivityInterval(float(t), float(e), float(lo), float(hi), conf)
        for t, e, lo, hi in zip(targets, estimate, low, high, strict=True)
    )


def frame_level_scores(scores: Sequence[npt.ArrayLike], label_images: Sequence[npt.ArrayLike]) -> FrameLevelScores:
    """Frame-level labels (frame contains a polyp) and scores (highest candidate score) for an ROC analysis.

    Use this when some frames have no polyp, as in the paper's test videos; pass the result to
    :func:`tunedepth.evaluation.sensitivity_at_fpr` or scikit-learn's ``roc_auc_score``.

    Args:
        scores: per frame, candidate scores of shape (n_candidates,).
        label_images: per frame, an integer label image of shape (height, width), 0 = background.

    Returns:
        The labels and scores, each of shape (n_frames,). A frame without candidates gets the lowest candidate
        score of all frames minus 1 (0.0 when there are no candidates at all): it ranks below every frame with a
        candidate, ties with the other empty frames, and keeps the scores finite for ROC code.

    Raises:
        ValueError: if the lists differ in length or are empty, a label image is not 2-D integer or a score is
            not finite.

    Example:
        >>> lab_yes = np.zeros((2, 2), int); lab_yes[0, 0] = 1
        >>> lab_no = np.zeros((2, 2), int)
        >>> r = frame_level_scores([[.2, .7], [], [.4]], [lab_yes, lab_no, lab_no])
        >>> r.labels.tolist(), r.scores.tolist()
        ([1, 0, 0], [0.7, -0.8, 0.4])
    """
    func = "frame_level_scores"
    if len(scores) != len(label_images) or len(scores) == 0:
        raise ValueError(
            f"{func} needs one entry per frame in 'scores' and 'label_images', at least one frame; got {len(scores)} "
            f"and {len(label_images)}."
        )
    per_frame = [np.asarray(s, dtype=float).reshape(-1) for s in scores]
    if not all(np.isfinite(s).all() for s in per_frame):
        raise ValueError(f"The 'scores' parameter of {func} must be finite; check the detector output.")
    labels = np.empty(len(label_images), dtype=np.int64)
    for f, lab_raw in enumerate(label_images):
        lab = np.asarray(lab_raw)
        if lab.ndim != 2 or lab.dtype.kind not in "biu":
            raise ValueError(
                f"The 'label_images' parameter of {func} must hold 2-D integer label images (0 = background); "
                f"frame {f} has dtype {lab.dtype} and shape {lab.shape}."
            )
        labels[f] = int((lab != 0).any())
    non_empty = [s for s in per_frame if s.size]
    floor = min(float(s.min()) for s in non_empty) - 1.0 if non_empty else 0.0
    best = np.array([float(s.max()) if s.size else floor for s in per_frame])
    return FrameLevelScores(labels, best)
