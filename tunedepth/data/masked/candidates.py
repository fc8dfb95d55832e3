"""Polyp candidates without training: multi-scale windows ranked by centre-surround colour contrast.

The paper feeds the CNN with candidates from a handcrafted detector (Tajbakhsh, Gurudu & Liang, IEEE TMI 2015),
which is not public. This generator is a classical stand-in that needs no training and is deterministic:

1. The frame is box-downscaled so that its longer side is ``work_size_px`` (192 px by default) and converted to
   CIELAB. Pixels whose brightest channel is below ``min_brightness`` (the black border of the endoscope image)
   are invalid.
2. Square windows with sides ``window_fractions`` x the shorter image side slide with a stride of a quarter side.
   A window needs at least 90% valid pixels; its ring (the window grown by half a side on every side, clipped to
   the image, minus the window) needs at least 30%.
3. Score: the distance between the mean Lab colour inside the window and in its ring, divided by
   ``sqrt(1 + var_in + var_ring)`` (total Lab variances). This is the colour-contrast objectness cue of Alexe,
   Deselaers & Ferrari ("Measuring the objectness of image windows", IEEE TPAMI 34(11), 2012), with mean colours
   and a Fisher-like normalisation instead of histograms: a polyp differs in colour and shading from the mucosa
   around it, while a window on uniform wall does not.
4. Greedy non-maximum suppression keeps the highest-scoring windows whose IoU with every kept one is at most
   ``nms_iou``, up to ``max_candidates``. Ties keep the scan order (window size, then raster; stable sort).

:func:`candidate_recall` measures what a candidate stage can pass on: the share of polyps with at least one
candidate centre inside (the paper's labelling rule, "the candidate falls inside the polyp ground truth").

Measured on all 1000 Kvasir-SEG images with the defaults: recall 0.976 (1037 of 1063 polyps of >= 50 px) at 48.4
candidates per frame (at most 50); the first 10 candidates reach 0.874 and the first 20 0.934. Kvasir-SEG polyps
are large (in a 200-image sample, 10% of the frame in the median), so a regular grid is a strong baseline:
7x7 = 49 centres reach 0.964, 3x3 0.726 and 4x4 0.837. The contrast ranking is what this generator adds.
About 0.04 s per frame on one CPU core.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from PIL import Image
from skimage.color import rgb2lab

from tunedepth._checks import check_int
from tunedepth.data.masked.polyp import MIN_POLYP_AREA_PX, PolypFrames, label_polyps
from tunedepth.errors import UndefinedMetricWarning

__all__ = [
    "DEFAULT_WINDOW_FRACTIONS",
    "CandidateRecall",
    "Candidates",
    "candidate_recall",
    "generate_candidates",
]

logger = logging.getLogger(__name__)

DEFAULT_WINDOW_FRACTIONS: tuple[float, ...] = (0.12, 0.18, 0.26, 0.36, 0.5, 0.7)
"""Window sides as fractions of the shorter image side (Kvasir-SEG polyps cover 0.5% of a frame at the least)."""

_MIN_VALID_INSIDE = 0.9
_MIN_VALID_RING = 0.3


@dataclass(frozen=True, eq=False)
class Candidates:
    """Candidate boxes of one frame, highest score first.

    Attributes:
        boxes: float array of shape (n_candidates, 4) holding (x0, y0, x1, y1) in pixels of the original frame
            (x = column, y = row; x1 and y1 exclusive).
        scores: float array of shape (n_candidates,), non-increasing; higher is more polyp-like.
    """

    boxes: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        if self.boxes.ndim != 2 or self.boxes.shape[1] != 4 or self.scores.shape != (self.boxes.shape[0],):
            raise ValueError(
                "Candidates needs boxes of shape (n_candidates, 4) and scores of shape (n_candidates,); got "
                f"{self.boxes.shape} and {self.scores.shape}."
            )

    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    @property
    def centres(self) -> np.ndarray:
        """Box centres of shape (n_candidates, 2) as (x, y), as :func:`tunedepth.evaluation.match_candidates` takes."""
        return np.c_[(self.boxes[:, 0] + self.boxes[:, 2]) / 2, (self.boxes[:, 1] + self.boxes[:, 3]) / 2]


class CandidateRecall(NamedTuple):
    """How many polyps a candidate stage reaches, and at what cost.

    Attributes:
        recall: share of polyps with at least one candidate centre inside, in [0, 1] (NaN without polyps).
        n_polyps: polyps in all frames (mask components of at least ``min_area_px`` pixels).
        n_hit: polyps with a candidate centre inside.
        candidates_per_frame: mean number of candidates per frame.
        max_candidates_per_frame: largest number of candidates in one frame.
    """

    recall: float
    n_polyps: int
    n_hit: int
    candidates_per_frame: float
    max_candidates_per_frame: int


def _check_options(
    max_candidates: int, work_size_px: int, window_fractions: tuple[float, ...], nms_iou: float, min_brightness: float
) -> None:
    func = "generate_candidates"
    for name, value, low in (("max_candidates", max_candidates, 1), ("work_size_px", work_size_px, 16)):
        check_int(value, name, func, minimum=low)
    fr = np.asarray(window_fractions, dtype=float)
    if fr.ndim != 1 or fr.size == 0 or not ((fr > 0) & (fr <= 1)).all():
        raise ValueError(
            f"The 'window_fractions' parameter of {func} must be a non-empty sequence of numbers in (0, 1], for "
            f"example {DEFAULT_WINDOW_FRACTIONS}; got {window_fractions!r}."
        )
    if not 0 <= nms_iou <= 1:
        raise ValueError(f"The 'nms_iou' parameter of {func} must be in [0, 1]; got {nms_iou!r}.")
    if not 0 <= min_brightness < 1:
        raise ValueError(f"The 'min_brightness' parameter of {func} must be in [0, 1); got {min_brightness!r}.")


def _integral(a: np.ndarray) -> np.ndarray:
    out = np.zeros((a.shape[0] + 1, a.shape[1] + 1, *a.shape[2:]))
    out[1:, 1:] = a.cumsum(axis=0).cumsum(axis=1)
    return out


def _box_sums(table: np.ndarray, y0: np.ndarray, x0: np.ndarray, y1: np.ndarray, x1: np.ndarray) -> np.ndarray:
    return table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]


def _window_scores(lab: np.ndarray, valid: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (x0, y0, x1, y1) of shape (n, 4) and contrast scores (-inf where invalid) of one window side."""
    h, w = valid.shape
    stride = max(1, side // 4)
    ys, xs = np.meshgrid(np.arange(0, h - side + 1, stride), np.arange(0, w - side + 1, stride), indexing="ij")
    y0, x0 = ys.ravel(), xs.ravel()
    y1, x1 = y0 + side, x0 + side
    grow = side // 2
    oy0, ox0 = np.clip(y0 - grow, 0, h), np.clip(x0 - grow, 0, w)
    oy1, ox1 = np.clip(y1 + grow, 0, h), np.clip(x1 + grow, 0, w)
    v = valid.astype(np.float64)
    tables = (_integral(v), _integral(lab * v[..., None]), _integral(lab**2 * v[..., None]))
    inner = [_box_sums(t, y0, x0, y1, x1) for t in tables]
    outer = [_box_sums(t, oy0, ox0, oy1, ox1) - i for t, i in zip(tables, inner, strict=True)]
    n_in, n_ring = inner[0], outer[0]
    ring_area = (oy1 - oy0) * (ox1 - ox0) - side * side
    ok = (n_in >= _MIN_VALID_INSIDE * side * side) & (n_ring >= _MIN_VALID_RING * ring_area) & (ring_area > 0)
    n_in_safe, n_ring_safe = np.maximum(n_in, 1.0)[:, None], np.maximum(n_ring, 1.0)[:, None]
    mean_in, mean_ring = inner[1] / n_in_safe, outer[1] / n_ring_safe
    var_in = np.maximum(inner[2] / n_in_safe - mean_in**2, 0.0).sum(axis=1)
    var_ring = np.maximum(outer[2] / n_ring_safe - mean_ring**2, 0.0).sum(axis=1)
    contrast = np.sqrt(((mean_in - mean_ring) ** 2).sum(axis=1)) / np.sqrt(1.0 + var_in + var_ring)
    return np.c_[x0, y0, x1, y1].astype(np.float64), np.where(ok, contrast, -np.inf)


def _suppress(boxes: np.ndarray, scores: np.ndarray, nms_iou: float, limit: int) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best first."""
    kept: list[int] = []
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    for i in np.argsort(-scores, kind="stable"):
        if len(kept) == limit:
            break
        if kept:
            k = np.asarray(kept)
            iw = np.clip(np.minimum(boxes[k, 2], boxes[i, 2]) - np.maximum(boxes[k, 0], boxes[i, 0]), 0, None)
            ih = np.clip(np.minimum(boxes[k, 3], boxes[i, 3]) - np.maximum(boxes[k, 1], boxes[i, 1]), 0, None)
            inter = iw * ih
            if (inter / (area[k] + area[i] - inter) > nms_iou).any():
                continue
        kept.append(int(i))
    return np.asarray(kept, dtype=np.intp)


def generate_candidates(
    image: np.ndarray,
    *,
    max_candidates: int = 50,
    work_size_px: int = 192,
    window_fractions: tuple[float, ...] = DEFAULT_WINDOW_FRACTIONS,
    nms_iou: float = 0.1,
    min_brightness: float = 0.12,
) -> Candidates:
    """Polyp candidate boxes of one colour frame (method in the module docstring).

    Args:
        image: uint8 array of shape (height, width, 3), RGB.
        max_candidates: most boxes returned (>= 1). Default 50, the issue's budget.
        work_size_px: longer side of the downscaled frame the windows slide on (>= 16). Default 192.
        window_fractions: window sides as fractions of the shorter side, each in (0, 1].
        nms_iou: largest IoU a kept box may have with a better one, in [0, 1]. Default 0.1.
        min_brightness: brightest-channel value, in [0, 1), below which a pixel is outside the endoscope's field
            of view. Default 0.12.

    Returns:
        At most ``max_candidates`` boxes in the frame's pixel coordinates, best first; fewer when suppression or
        the field of view leaves fewer windows, none for an all-dark frame. The same image gives the same boxes.

    Raises:
        ValueError: if ``image`` is not uint8 of shape (height, width, 3) or an option is out of range.

    Example:
        A reddish disc on pale mucosa: the best window is centred on the disc.

        >>> yy, xx = np.mgrid[:120, :160]
        >>> frame = np.full((120, 160, 3), (200, 160, 150), np.uint8)
        >>> frame[(yy - 40) ** 2 + (xx - 100) ** 2 < 15 ** 2] = (150, 40, 50)
        >>> c = generate_candidates(frame, max_candidates=3)
        >>> len(c), bool(np.hypot(*(c.centres[0] - (100, 40))) < 3)
        (3, True)
    """
    a = np.asarray(image)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(
            "The 'image' parameter of generate_candidates must be a uint8 array of shape (height, width, 3); got "
            f"dtype {a.dtype} and shape {a.shape}."
        )
    _check_options(max_candidates, work_size_px, window_fractions, nms_iou, min_brightness)
    height, width = a.shape[:2]
    scale = work_size_px / max(height, width)
    w, h = max(8, round(width * scale)), max(8, round(height * scale))
    small = np.asarray(Image.fromarray(a).resize((w, h), Image.Resampling.BOX), dtype=np.float64) / 255.0
    lab = rgb2lab(small)
    valid = small.max(axis=2) >= min_brightness
    all_boxes, all_scores = [], []
    for fraction in sorted(set(float(f) for f in window_fractions)):
        side = max(4, round(fraction * min(h, w)))
        if side > min(h, w):
            continue
        boxes, scores = _window_scores(lab, valid, side)
        all_boxes.append(boxes)
        all_scores.append(scores)
    if not all_boxes:
        return Candidates(np.zeros((0, 4)), np.zeros(0))
    boxes, scores = np.concatenate(all_boxes), np.concatenate(all_scores)
    usable = np.isfinite(scores)
    boxes, scores = boxes[usable], scores[usable]
    kept = _suppress(boxes, scores, nms_iou, int(max_candidates))
    boxes = boxes[kept] * np.array([width / w, height / h, width / w, height / h])
    return Candidates(boxes.reshape(-1, 4), scores[kept])


def candidate_recall(
    frames: PolypFrames, candidates: Sequence[Candidates], *, min_area_px: int = MIN_POLYP_AREA_PX
) -> CandidateRecall:
    """Share of polyps with at least one candidate centre inside, and candidates per frame.

    A centre (x, y) lies in pixel ``(floor(y), floor(x))``, the hit rule of :mod:`tunedepth.evaluation.candidate_hits`;
    polyps are the components of :func:`tunedepth.data.masked.polyp.label_polyps`. Several centres on one polyp count
    once.

    Measured with :func:`generate_candidates` defaults on all 1000 Kvasir-SEG images (min_area_px 50): recall
    0.9755 (1037 of 1063 polyps) at 48.4 candidates per frame, 50 at most
    (``tests/data/masked/test_candidates.py::test_real_kvasir_seg_recall``).

    Args:
        frames: the frames with their masks.
        candidates: one :class:`Candidates` per frame, in the same order.
        min_area_px: smallest mask component counted as a polyp. Default 50.

    Returns:
        The recall and the candidate counts. Recall is NaN, with an
        :class:`~tunedepth.errors.UndefinedMetricWarning`, when no frame has a polyp.

    Raises:
        ValueError: if the lengths differ or a candidate centre lies outside its frame.

    Example:
        >>> m = np.zeros((4, 4), bool); m[:2, :2] = True
        >>> frames = PolypFrames("toy", (np.zeros((4, 4, 3), np.uint8),), (m,), ("f1",), ("f1",))
        >>> c = Candidates(np.array([[0., 0., 2., 2.], [2., 2., 4., 4.]]), np.array([.9, .1]))
        >>> candidate_recall(frames, [c], min_area_px=1)
        CandidateRecall(recall=1.0, n_polyps=1, n_hit=1, candidates_per_frame=2.0, max_candidates_per_frame=2)
    """
    if len(candidates) != len(frames):
        raise ValueError(
            f"candidate_recall needs one Candidates per frame; got {len(candidates)} for {len(frames)} frames."
        )
    n_polyps = n_hit = 0
    counts = []
    for mask, fid, cand in zip(frames.masks, frames.frame_ids, candidates, strict=True):
        labels = label_polyps(mask, min_area_px=min_area_px)
        centres = cand.centres
        h, w = labels.shape
        inside = (centres[:, 0] >= 0) & (centres[:, 0] < w) & (centres[:, 1] >= 0) & (centres[:, 1] < h)
        if not inside.all():
            raise ValueError(
                f"candidate_recall: frame {fid!r} has {int((~inside).sum())} candidate centre(s) outside its {w}x{h} "
                "image; boxes must be in the frame's pixel coordinates."
            )
        hit = labels[np.floor(centres[:, 1]).astype(np.intp), np.floor(centres[:, 0]).astype(np.intp)]
        n_polyps += int(labels.max())
        n_hit += int(np.unique(hit[hit > 0]).size)
        counts.append(len(cand))
    if n_polyps == 0:
        warnings.warn(
            f"candidate_recall is undefined because none of the {len(frames)} frames has a polyp; returning NaN.",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        recall = float("nan")
    else:
        recall = n_hit / n_polyps
    per_frame = float(np.mean(counts)) if counts else float("nan")
    return CandidateRecall(recall, n_polyps, n_hit, per_frame, int(max(counts, default=0)))
