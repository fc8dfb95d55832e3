"""Which polyp each scored candidate hits: the per-candidate input of the FROC statistics.

Definitions (per frame; a frame is one 2-D image):

* The polyps of a frame are the distinct positive values of its label image (0 is background), for example the
  connected components from :func:`tunedepth.data.masked.polyp.label_polyps`.
* A candidate is a point ``(x, y)`` in pixel coordinates (x = column, y = row; pixel ``(r, c)`` covers
  ``[c, c + 1) x [r, r + 1)``) with a score; for a box ``(x0, y0, x1, y1)`` pass its centre
  ``((x0 + x1) / 2, (y0 + y1) / 2)``. The candidate *hits* the polyp whose label is at pixel
  ``(floor(y), floor(x))``; a centre exactly on the border between two polyps therefore lies in exactly one of
  them (the one to the right / below). A candidate whose pixel is background hits nothing.
* A polyp's score is the highest score of the candidates hitting it (-inf when none does), so that several hits on
  one polyp count once in the FROC analysis (one true positive per lesion; see :mod:`tunedepth.evaluation.froc`).

:func:`match_candidates` applies this rule to label images. :func:`candidate_hits_from_table` takes the outcome
of the rule already applied elsewhere, one row per candidate (frame, polyp hit or 0, score), plus the number of
polyps per frame, so that polyps no candidate reached still count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["CandidateHits", "candidate_hits_from_table", "match_candidates"]


@dataclass(frozen=True, eq=False)
class CandidateHits:
    """Per-candidate and per-polyp outcomes of all frames; frame indices refer to the input order.

    Build it with :func:`match_candidates` or :func:`candidate_hits_from_table`. Instances compare by identity
    (the fields are arrays); compare fields with ``numpy.array_equal``.

    Attributes:
        fp_scores: float array of shape (n_background,), the scores of the candidates on background (false
            positives once accepted).
        fp_frames: int array of shape (n_background,), the frame of each of those candidates.
        polyp_scores: float array of shape (n_polyps,), the best score of a candidate hitting each polyp; -inf
            when no candidate hits it.
        polyp_frames: int array of shape (n_polyps,), the frame of each polyp, non-decreasing.
        all_scores: float array of shape (n_candidates,), the scores of all candidates, including extra hits on a
            polyp (they add thresholds to a FROC curve).
        n_frames: number of frames, >= 1, including frames without candidates or without polyps.
    """

    fp_scores: np.ndarray
    fp_frames: np.ndarray
    polyp_scores: np.ndarray
    polyp_frames: np.ndarray
    all_scores: np.ndarray
    n_frames: int


def match_candidates(
    centres: Sequence[npt.ArrayLike],
    scores: Sequence[npt.ArrayLike],
    label_images: Sequence[npt.ArrayLike],
) -> CandidateHits:
    """Match each frame's candidate centres to the polyps of its label image (see the module docstring).

    Args:
        centres: per frame, candidate centres of shape (n_candidates, 2) as (x, y) pixel coordinates.
        scores: per frame, candidate scores of shape (n_candidates,); higher means more polyp-like.
        label_images: per frame, an integer label image of shape (height, width); 0 is background and each
            positive value one polyp.

    Returns:
        The hits of all frames, with ``n_frames == len(label_images)``.

    Raises:
        ValueError: if the per-frame lists differ in length or are empty, a label image is not a 2-D integer
            array, shapes disagree, values are not finite or a centre lies outside its image.

    Example:
        One frame with one polyp (label 1 in the left half) and two candidates: .9 on background, .5 on the polyp.

        >>> lab = np.zeros((4, 4), int); lab[:, :2] = 1
        >>> h = match_candidates([[(3.5, 0.5), (0.5, 0.5)]], [[.9, .5]], [lab])
        >>> h.fp_scores.tolist(), h.polyp_scores.tolist(), h.n_frames
        ([0.9], [0.5], 1)
    """
    func = "match_candidates"
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
    return CandidateHits(
        fp_scores=np.concatenate(fp_s),
        fp_frames=np.concatenate(fp_f),
        polyp_scores=np.concatenate(pol_s),
        polyp_frames=np.concatenate(pol_f),
        all_scores=np.concatenate(every),
        n_frames=len(label_images),
    )


def _int_vector(values: npt.ArrayLike, name: str, func: str, shape_text: str) -> np.ndarray:
    """Return ``values`` as a 1-D intp array, or raise; an empty input of any dtype is an empty int array."""
    a = np.asarray(values)
    if a.ndim == 1 and a.size == 0:
        return a.astype(np.intp)
    if a.ndim != 1 or a.dtype.kind not in "iu":
        raise ValueError(
            f"The '{name}' parameter of {func} must be a 1-D integer array of shape {shape_text}; got dtype "
            f"{a.dtype} and shape {a.shape}."
        )
    return a.astype(np.intp)


def candidate_hits_from_table(
    frame_index: npt.ArrayLike,
    polyp_index: npt.ArrayLike,
    scores: npt.ArrayLike,
    n_polyps_per_frame: npt.ArrayLike,
) -> CandidateHits:
    """Build the hits from a per-candidate table whose hit rule was applied elsewhere (one row per candidate).

    Args:
        frame_index: int array of shape (n_candidates,), each candidate's frame, in [0, n_frames).
        polyp_index: int array of shape (n_candidates,); 0 when the candidate's centre is on background, k in
            1..n_polyps_per_frame[frame] when it hits polyp k of its frame.
        scores: finite float array of shape (n_candidates,); higher means more polyp-like.
        n_polyps_per_frame: int array of shape (n_frames,), each >= 0; n_frames = its length, so frames without
            candidates count. Polyps that no candidate hits get score -inf (missed by the candidate generator).

    Returns:
        The hits, with ``n_frames == len(n_polyps_per_frame)``.

    Raises:
        ValueError: if an index array is not 1-D integer, the three candidate columns differ in length, there is
            no frame, a polyp count is negative, a frame index is out of range, a score is not finite, or a polyp
            index is negative or beyond its frame's polyp count.

    Example:
        Two frames: frame 0 has one polyp, hit twice (.4 and .7), and a background candidate .9; frame 1 has two
        polyps and no candidate.

        >>> h = candidate_hits_from_table([0, 0, 0], [1, 0, 1], [.4, .9, .7], [1, 2])
        >>> h.fp_scores.tolist(), h.polyp_scores.tolist(), h.polyp_frames.tolist(), h.n_frames
        ([0.9], [0.7, -inf, -inf], [0, 1, 1], 2)
    """
    func = "candidate_hits_from_table"
    frame = _int_vector(frame_index, "frame_index", func, "(n_candidates,)")
    polyp = _int_vector(polyp_index, "polyp_index", func, "(n_candidates,)")
    counts = _int_vector(n_polyps_per_frame, "n_polyps_per_frame", func, "(n_frames,)")
    s = np.asarray(scores, dtype=float)
    if s.ndim != 1 or not (frame.shape == polyp.shape == s.shape):
        raise ValueError(
            f"{func} needs 'frame_index', 'polyp_index' and 'scores' of the same shape (n_candidates,), one row per "
            f"candidate; got {frame.shape}, {polyp.shape} and {s.shape}."
        )
    n_frames = counts.size
    if n_frames == 0:
        raise ValueError(
            f"The 'n_polyps_per_frame' parameter of {func} needs one entry per evaluated frame, at least one frame; "
            "got 0."
        )
    if (counts < 0).any():
        raise ValueError(
            f"The 'n_polyps_per_frame' parameter of {func} must be >= 0; got {int(counts.min())} at frame "
            f"{int(np.argmin(counts))}."
        )
    if ((frame < 0) | (frame >= n_frames)).any():
        i = int(np.flatnonzero((frame < 0) | (frame >= n_frames))[0])
        raise ValueError(
            f"The 'frame_index' parameter of {func} must be in [0, {n_frames}) (n_frames = len(n_polyps_per_frame)); "
            f"got {int(frame[i])} for candidate {i}."
        )
    if not np.isfinite(s).all():
        i = int(np.flatnonzero(~np.isfinite(s))[0])
        raise ValueError(
            f"The 'scores' parameter of {func} must be finite; got {s[i]} for candidate {i}. Check the detector output."
        )
    bad = (polyp < 0) | (polyp > counts[frame])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"The 'polyp_index' parameter of {func} must be 0 (background) or in 1..n_polyps_per_frame[frame]; "
            f"candidate {i} has polyp_index {int(polyp[i])} in frame {int(frame[i])}, which has "
            f"{int(counts[frame[i]])} polyp(s)."
        )
    on_background = polyp == 0
    # polyp k of frame f is entry offsets[f] + k - 1 of the polyp arrays, so polyps are ordered by frame
    offsets = np.r_[0, np.cumsum(counts)]
    polyp_scores = np.full(int(offsets[-1]), -np.inf)
    np.maximum.at(polyp_scores, offsets[frame[~on_background]] + polyp[~on_background] - 1, s[~on_background])
    return CandidateHits(
        fp_scores=s[on_background],
        fp_frames=frame[on_background],
        polyp_scores=polyp_scores,
        polyp_frames=np.repeat(np.arange(n_frames, dtype=np.intp), counts),
        all_scores=s.copy(),
        n_frames=n_frames,
    )
