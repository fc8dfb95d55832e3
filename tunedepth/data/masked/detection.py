"""Polyp detection as candidate classification: candidates per frame, their labels, and their patch sets.

The paper's pipeline (``paper-protocol.md`` section 1.3): a handcrafted detector proposes candidate boxes in each
frame; a candidate is positive when it "falls inside the polyp ground truth" (here: its box centre lies on a polyp
of :func:`tunedepth.data.masked.polyp.label_polyps`); the CNN is trained on a stratified set of augmented patches
around the candidates and scores a test candidate by the mean probability over its patches.

* :func:`find_candidates` runs :func:`tunedepth.data.masked.candidates.generate_candidates` on every frame and records,
  per candidate, its frame and the polyp its centre hits (0 = background), and per frame its number of polyps
  (polyps no candidate reaches still count against sensitivity).
* :func:`training_patches` draws the training patch set once: half positive and half negative views (see
  :mod:`tunedepth.data.masked.patches`), without replacement, seeded, so the same study always trains on the same
  patches (and the frozen-prefix feature cache can serve them).
* :func:`evaluation_patches` cuts the same views for every candidate of a split, for scoring.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from tunedepth.data.dataset import ImageSet
from tunedepth.data.masked.candidates import generate_candidates
from tunedepth.data.masked.patches import PatchViews, cut_patches
from tunedepth.data.masked.polyp import PolypFrames, label_polyps
from tunedepth.errors import DataError

logger = logging.getLogger(__name__)

__all__ = ["CandidateSet", "PatchSet", "evaluation_patches", "find_candidates", "training_patches"]


@dataclass(frozen=True, eq=False)
class CandidateSet:
    """The candidates of a set of frames, one row per candidate (frames in order, best candidate first).

    Attributes:
        frames: the frames.
        frame_index: int array of shape (n_candidates,), the candidate's frame (row of ``frames``).
        boxes: float array of shape (n_candidates, 4), (x0, y0, x1, y1) in the frame's pixels.
        polyp_index: int array of shape (n_candidates,): the polyp (1, 2, ... within its frame) the box centre lies
            on, 0 for background.
        n_polyps: int array of shape (n_frames,), polyps per frame.
        polyp_share: float array of shape (n_candidates,), the share of the box's pixels (inside the frame) that lie
            on a polyp; None when not computed. A background candidate with a share > 0 sits at a polyp's edge: the
            *near-polyp* negatives that hard-negative mining draws from (:func:`training_patches`).
    """

    frames: PolypFrames
    frame_index: np.ndarray
    boxes: np.ndarray
    polyp_index: np.ndarray
    n_polyps: np.ndarray
    polyp_share: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.frame_index.shape[0])

    @property
    def labels(self) -> np.ndarray:
        """int64 array of shape (n_candidates,): 1 for a candidate on a polyp, else 0."""
        return (self.polyp_index > 0).astype(np.int64)

    @property
    def recall(self) -> float:
        """Share of the polyps with at least one candidate centre on them (NaN without polyps)."""
        total = int(self.n_polyps.sum())
        hit = {(int(f), int(p)) for f, p in zip(self.frame_index, self.polyp_index, strict=True) if p > 0}
        return len(hit) / total if total else float("nan")


def find_candidates(frames: PolypFrames, *, max_candidates: int, min_area_px: int) -> CandidateSet:
    """Candidate boxes of every frame, labelled by the polyp their centre lies on.

    Args:
        frames: the frames with their masks.
        max_candidates: most candidates per frame (see :func:`~tunedepth.data.masked.candidates.generate_candidates`).
        min_area_px: smallest mask component counted as a polyp.

    Returns:
        The candidates of all frames.
    """
    frame_index, boxes, polyp_index, n_polyps, polyp_share = [], [], [], [], []
    for f, (image, mask) in enumerate(zip(frames.images, frames.masks, strict=True)):
        labels = label_polyps(mask, min_area_px=min_area_px)
        cand = generate_candidates(image, max_candidates=max_candidates)
        centres = cand.centres
        rows = np.clip(np.floor(centres[:, 1]).astype(np.intp), 0, labels.shape[0] - 1)
        cols = np.clip(np.floor(centres[:, 0]).astype(np.intp), 0, labels.shape[1] - 1)
        frame_index.append(np.full(len(cand), f, dtype=np.int64))
        boxes.append(cand.boxes)
        polyp_index.append(labels[rows, cols].astype(np.int64))
        n_polyps.append(int(labels.max()))
        polyp_share.append(_polyp_share(labels > 0, cand.boxes))
    result = CandidateSet(
        frames, np.concatenate(frame_index), np.concatenate(boxes).reshape(-1, 4), np.concatenate(polyp_index),
        np.array(n_polyps, dtype=np.int64), np.concatenate(polyp_share),
    )
    logger.info("%s: %d candidates in %d frames (%.1f per frame), candidate recall %.3f", frames.name, len(result),
                len(frames), len(result) / max(1, len(frames)), result.recall)
    return result


def _polyp_share(on_polyp: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Per box (x0, y0, x1, y1), the share of its pixels inside the frame that are on a polyp (0 for an empty box)."""
    height, width = on_polyp.shape
    table = np.zeros((height + 1, width + 1), dtype=np.int64)
    table[1:, 1:] = on_polyp.cumsum(0).cumsum(1)
    x0 = np.clip(np.round(boxes[:, 0]).astype(np.intp), 0, width)
    x1 = np.clip(np.round(boxes[:, 2]).astype(np.intp), 0, width)
    y0 = np.clip(np.round(boxes[:, 1]).astype(np.intp), 0, height)
    y1 = np.clip(np.round(boxes[:, 3]).astype(np.intp), 0, height)
    inside = table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]
    area = (x1 - x0) * (y1 - y0)
    return np.where(area > 0, inside / np.maximum(area, 1), 0.0)


@dataclass(frozen=True)
class PatchSet:
    """Patches with the candidate each comes from.

    Attributes:
        images: the patches as an :class:`~tunedepth.data.ImageSet` (labels = the candidate's label, patient ids =
            the frame's group id).
        candidate: int64 array of shape (n_patches,), the patch's row in the :class:`CandidateSet`.
    """

    images: ImageSet
    candidate: np.ndarray


def _cut(cands: CandidateSet, candidate: np.ndarray, view: np.ndarray, views: PatchViews, size: int) -> PatchSet:
    """Patches for (candidate, view) pairs, grouped by candidate so each box is cut once per view."""
    out = np.empty((candidate.size, 3, size, size), dtype=np.uint8)
    order = np.argsort(candidate, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(candidate[order]) != 0])
    frame, image = -1, np.empty((0, 0, 3), dtype=np.uint8)
    for begin, end in zip(starts, np.r_[starts[1:], order.size], strict=True):
        rows = order[begin:end]
        c = int(candidate[rows[0]])
        if int(cands.frame_index[c]) != frame:  # candidates are in frame order: each frame is read once
            frame = int(cands.frame_index[c])
            image = cands.frames.images[frame]
        out[rows] = cut_patches(image, cands.boxes[c], views.take(view[rows]), size=size)
    # group ids name their data set, so frames of two data sets (cross-data-set mode) never collide
    groups = tuple(f"{cands.frames.name}/{g}" for g in cands.frames.group_ids)
    images = ImageSet(
        torch.from_numpy(out), torch.from_numpy(cands.labels[candidate]),
        tuple(groups[int(cands.frame_index[c])] for c in candidate),
    )
    return PatchSet(images, candidate.astype(np.int64))


def training_patches(cands: CandidateSet, views: PatchViews, *, n_patches: int, size: int, seed: int,
                     hard_negatives: float = 0.0) -> PatchSet:
    """A stratified training set: ``n_patches // 2`` positive and as many negative (candidate, view) pairs.

    Pairs are drawn without replacement with ``numpy.random.default_rng(seed)``; when a class has fewer pairs than
    its half, all of them are taken (and a warning logged), so the set may be smaller and unbalanced.

    Hard-negative mining (``hard_negatives`` > 0): that share of the negative half is drawn first from the
    *near-polyp* negatives (background candidates whose box holds polyp pixels, ``cands.polyp_share`` > 0; all of
    their pairs when there are fewer), the rest from the remaining negative pairs. On the Kvasir-SEG example 40-43%
    of a fine-tuned model's highest-scoring false candidates were such boxes, against 23% of all negatives
    (docs/detection.md). With 0 the draw is the one from before the option existed.

    Args:
        cands: the training candidates.
        views: the views each candidate can be cut in.
        n_patches: the set's size (paper: 100,000), >= 2.
        size: side of the square patches in pixels.
        seed: seed of the draw.
        hard_negatives: share of the negative patches drawn from near-polyp negatives, in [0, 1].

    Returns:
        The patches, ordered by candidate.

    Raises:
        DataError: if there is no positive or no negative candidate.
        ValueError: if ``hard_negatives`` is out of range, or set while ``cands.polyp_share`` is None.
    """
    if not 0.0 <= hard_negatives <= 1.0:
        raise ValueError(
            f"The 'hard_negatives' parameter of training_patches must be in [0, 1]; got {hard_negatives!r}.")
    if hard_negatives > 0 and cands.polyp_share is None:
        raise ValueError("training_patches: hard_negatives > 0 needs candidates with polyp_share (find_candidates).")
    rng = np.random.default_rng(seed)
    labels, n_views = cands.labels, len(views)
    chosen = []
    for cls, name in ((1, "positive (centre on a polyp)"), (0, "negative")):
        members = np.flatnonzero(labels == cls)
        if members.size == 0:
            raise DataError(
                f"{cands.frames.name}: no {name} training candidate in {len(cands.frames)} frames; the detector "
                "cannot be trained. Use more frames or more candidates per frame (detection.max_candidates)."
            )
        pairs = members.size * n_views
        take = min(n_patches // 2, pairs)
        if take < n_patches // 2:
            logger.warning("only %d %s (candidate, view) pairs exist; all are used instead of %d", pairs, name,
                           n_patches // 2)
        if cls == 0 and hard_negatives > 0:
            flat = _draw_with_hard_share(rng, cands.polyp_share[members] > 0, n_views, take,  # type: ignore[index]
                                         round(hard_negatives * take))
        else:
            flat = rng.choice(pairs, size=take, replace=False)
        chosen.append(np.c_[members[flat // n_views], flat % n_views])
    pick = np.concatenate(chosen)
    pick = pick[np.lexsort((pick[:, 1], pick[:, 0]))]
    return _cut(cands, pick[:, 0], pick[:, 1], views, size)


def _draw_with_hard_share(rng: np.random.Generator, hard: np.ndarray, n_views: int, take: int,
                          n_hard: int) -> np.ndarray:
    """``take`` distinct pair indices (member * n_views + view): up to ``n_hard`` from the members flagged ``hard``,
    the rest from every other pair."""
    pair_is_hard = np.repeat(hard, n_views)
    hard_pairs, other_pairs = np.flatnonzero(pair_is_hard), np.flatnonzero(~pair_is_hard)
    n_hard = min(n_hard, hard_pairs.size)
    first = rng.choice(hard_pairs, size=n_hard, replace=False)
    rest = np.sort(np.r_[other_pairs, np.setdiff1d(hard_pairs, first)])
    second = rng.choice(rest, size=take - n_hard, replace=False)
    logger.info("hard-negative mining: %d of %d negative patches from %d near-polyp candidates", n_hard, take,
                int(hard.sum()))
    return np.r_[first, second]


def evaluation_patches(cands: CandidateSet, views: PatchViews, *, size: int) -> PatchSet:
    """Every view of every candidate, candidate-major: rows ``c * len(views)`` to ``(c + 1) * len(views) - 1``
    belong to candidate ``c``."""
    n_views = len(views)
    candidate = np.repeat(np.arange(len(cands)), n_views)
    view = np.tile(np.arange(n_views), len(cands))
    return _cut(cands, candidate, view, views, size)
