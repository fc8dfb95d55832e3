"""Per-frame FROC analysis of polyp candidates: sensitivity against false positives per frame.

The paper evaluates polyp detection with a FROC curve, false positives per frame on the x-axis (Tajbakhsh et al.,
IEEE TMI 35(5):1299-1312, 2016, Fig. 2; statistics at 0.01 and 0.001 FP/frame, Table S1). Free-response ROC
analysis goes back to Chakraborty, "Maximum likelihood analysis of free-response receiver operating characteristic
(FROC) data", Med. Phys. 16(4):561-568, 1989.

The statistics take a :class:`~tunedepth.evaluation.candidate_hits.CandidateHits`, which records for every frame
which candidate hits which polyp (the hit rule is defined in :mod:`tunedepth.evaluation.candidate_hits`); build
it from label images with :func:`~tunedepth.evaluation.candidate_hits.match_candidates` or from a per-candidate
table with :func:`~tunedepth.evaluation.candidate_hits.candidate_hits_from_table`.

Definitions:

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
    * Bootstrap intervals and the paired comparison of two detectors are in
      :mod:`tunedepth.evaluation.froc_bootstrap`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from tunedepth.errors import UndefinedMetricWarning
from tunedepth.evaluation.candidate_hits import CandidateHits

__all__ = [
    "DEFAULT_FPS_TARGETS",
    "FrameLevelScores",
    "FrocCurve",
    "frame_level_scores",
    "froc_curve",
    "sensitivity_at_fps",
]

DEFAULT_FPS_TARGETS: tuple[float, ...] = (0.01, 0.1, 1.0)
"""Default operating points in false positives per frame (the paper's statistics use 0.01 and 0.001, Table S1)."""

_NAN = float("nan")
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


def _check_hits(hits: CandidateHits, name: str, func: str) -> None:
    if not isinstance(hits, CandidateHits):
        raise TypeError(
            f"The '{name}' parameter of {func} must be a CandidateHits from match_candidates or "
            f"candidate_hits_from_table; got {type(hits).__name__}. From label images, pass "
            "match_candidates(centres, scores, label_images)."
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


def froc_curve(hits: CandidateHits) -> FrocCurve:
    """FROC curve over every distinct candidate score (see the module docstring for the definitions).

    Args:
        hits: the candidates' hits, from :func:`~tunedepth.evaluation.candidate_hits.match_candidates` or
            :func:`~tunedepth.evaluation.candidate_hits.candidate_hits_from_table`.

    Returns:
        The curve, starting at threshold +inf (0 FP/frame, sensitivity 0). Sensitivity is NaN, with an
        :class:`~tunedepth.errors.UndefinedMetricWarning`, when no frame contains a polyp.

    Raises:
        TypeError: if hits is not a CandidateHits.

    Example:
        One frame with one polyp (label 1 in the left half) and two candidates: .9 on background, .5 on the polyp.

        >>> from tunedepth.evaluation import match_candidates
        >>> lab = np.zeros((4, 4), int); lab[:, :2] = 1
        >>> c = froc_curve(match_candidates([[(3.5, 0.5), (0.5, 0.5)]], [[.9, .5]], [lab]))
        >>> c.fps_per_frame.tolist(), c.sensitivity.tolist(), c.thresholds.tolist()
        ([0.0, 1.0, 1.0], [0.0, 0.0, 1.0], [inf, 0.9, 0.5])
    """
    func = "froc_curve"
    _check_hits(hits, "hits", func)
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


def sensitivity_at_fps(hits: CandidateHits, *, fps_targets: tuple[float, ...] = DEFAULT_FPS_TARGETS) -> np.ndarray:
    """Best sensitivity with at most the target false positives per frame (step rule, no interpolation).

    Args:
        hits: the candidates' hits, from :func:`~tunedepth.evaluation.candidate_hits.match_candidates` or
            :func:`~tunedepth.evaluation.candidate_hits.candidate_hits_from_table`.
        fps_targets: false-positive-per-frame rates, each >= 0. Default (0.01, 0.1, 1).

    Returns:
        Array of shape (n_targets,) in [0, 1]; all NaN, with an :class:`~tunedepth.errors.UndefinedMetricWarning`,
        when no frame contains a polyp.

    Raises:
        TypeError: if hits is not a CandidateHits.
        ValueError: if a target is negative or not finite, or there is no target.

    Example:
        Ten frames, each with one polyp hit by a candidate of score i / 10 and one background candidate of score
        i / 10 - 0.05 (i = 1..10). At 0.1 FP/frame one false positive is allowed: the threshold .9 accepts the
        background candidate .95 and detects the polyps scored .9 and 1.0.

        >>> from tunedepth.evaluation import candidate_hits_from_table
        >>> frame, polyp = np.repeat(np.arange(10), 2), np.tile([1, 0], 10)
        >>> sc = [s for i in range(1, 11) for s in (i / 10, i / 10 - .05)]
        >>> hits = candidate_hits_from_table(frame, polyp, sc, np.ones(10, int))
        >>> sensitivity_at_fps(hits, fps_targets=(0.0, 0.1, 0.5)).tolist()
        [0.1, 0.2, 0.6]
    """
    func = "sensitivity_at_fps"
    _check_hits(hits, "hits", func)
    targets = _check_targets(fps_targets, func)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        curve = froc_curve(hits)
    if np.isnan(curve.sensitivity).all():
        _warn_no_polyps(func, hits.n_frames)
        return np.full(targets.size, _NAN)
    n_frames = hits.n_frames
    fp_counts = np.rint(curve.fps_per_frame * n_frames)
    allowed = np.floor(targets * n_frames + _SLACK)
    # both curve columns are non-decreasing, so the best feasible point is the last one within the budget
    last = (fp_counts[None, :] <= allowed[:, None]).sum(axis=1) - 1
    return curve.sensitivity[last]


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
