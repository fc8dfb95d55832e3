"""Video boundaries of numbered colonoscopy frames, derived from image content; video-grouped splits.

CVC-ClinicDB numbers its 612 frames consecutively across the videos they were taken from, but ships no
frame-to-video table. Frames of one video share the scene; a new video starts with a different scene. Frames are
not near-identical inside a video, though: they are sparse samples, and the scope moves between them. So a single
pair of neighbours is a weak cue, and the boundary score compares small windows on both sides instead:

1. Thumbnail: each frame becomes a grey image (mean of R, G, B) box-averaged to ``thumbnail_size`` (24x18 px by
   default, i.e. 16x16-px blocks of a 384x288 frame), scaled to [0, 1]. Box averaging keeps the coarse scene
   layout and drops texture, noise and specular highlights.
2. Dissimilarity of two frames: the mean absolute difference of their thumbnails, in [0, 1].
3. Boundary score between frames i and i + 1 (in frame-number order): the smallest dissimilarity between any of
   frames i - w + 1 .. i and any of frames i + 1 .. i + w (``window`` w, 3 by default). Inside a video some pair
   across the cut still shows the same scene, so the score is low even when one frame is blurred or the scope has
   jumped; across two videos every pair differs.
4. Threshold from the data's own distribution: a score is a boundary when it exceeds
   ``median + outlier_z * 1.4826 * MAD`` of all scores (robust z-score; Iglewicz & Hoaglin, "How to Detect and
   Handle Outliers", ASQC 1993; 1.4826 * MAD estimates the standard deviation of normal data).
5. Boundaries are accepted from the highest score down, skipping one that would leave fewer than
   ``min_segment_frames`` frames between it and an accepted boundary.

A gap in the numbering is not a boundary by itself (the PraNet copy lacks 62 frames); a boundary hidden in a gap
is still found when the scenes on its two sides differ.

Measured on the 550-frame PraNet copy of CVC-ClinicDB with the defaults: 29 videos (threshold 0.091). A
third-party frame-to-sequence table (29 sequences, provenance not verified) has 28 boundaries inside these frames;
24 of them are found, 4 are missed and 4 extra ones are reported. The count is sensitive to ``outlier_z`` (2.0 gives
32 videos, 3.0 gives 21). The boundary list is pinned in
``tests/data/masked/test_video_segments.py::test_real_cvc_clinicdb_segments``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from tunedepth._checks import check_int
from tunedepth.data.splits import SplitIndices, split_indices

__all__ = [
    "DEFAULT_MIN_SEGMENT_FRAMES",
    "DEFAULT_OUTLIER_Z",
    "DEFAULT_THUMBNAIL_SIZE",
    "DEFAULT_WINDOW",
    "VideoSegments",
    "boundary_scores",
    "frame_thumbnails",
    "segment_videos",
    "split_by_video",
]

logger = logging.getLogger(__name__)

DEFAULT_THUMBNAIL_SIZE: tuple[int, int] = (24, 18)
"""(width, height) of the grey thumbnails compared; 16x16-px blocks of a 384x288 CVC-ClinicDB frame."""

DEFAULT_WINDOW = 3
"""Frames on each side of a candidate boundary whose closest pair gives its score."""

DEFAULT_OUTLIER_Z = 2.5
"""Robust z-score above which a boundary score marks a new video."""

DEFAULT_MIN_SEGMENT_FRAMES = 5
"""Fewest frames between two accepted boundaries (the shortest CVC-ClinicDB video in the PraNet copy has 5)."""

_MAD_TO_SD = 1.4826


@dataclass(frozen=True, eq=False)
class VideoSegments:
    """Derived videos of numbered frames.

    Attributes:
        video_ids: one id per frame ("video01", "video02", ... in frame order).
        frame_numbers: the frame numbers, increasing, shape (n_frames,).
        scores: boundary score between each frame and the next, shape (n_frames - 1,).
        threshold: the score above which a boundary was allowed.
        first_frames: the frame number that starts each video, in order.
    """

    video_ids: tuple[str, ...]
    frame_numbers: np.ndarray
    scores: np.ndarray
    threshold: float
    first_frames: tuple[int, ...]

    @property
    def n_videos(self) -> int:
        return len(self.first_frames)


def frame_thumbnails(
    images: Sequence[np.ndarray], *, thumbnail_size: tuple[int, int] = DEFAULT_THUMBNAIL_SIZE
) -> np.ndarray:
    """Grey, box-averaged thumbnails of colour frames, scaled to [0, 1].

    Args:
        images: uint8 arrays of shape (height, width, 3), any sizes.
        thumbnail_size: (width, height) of the thumbnails, each >= 1. Default (24, 18).

    Returns:
        float array of shape (n_frames, thumbnail height, thumbnail width).

    Raises:
        ValueError: if an image is not uint8 of shape (height, width, 3) or the size is invalid.

    Example:
        >>> frame = np.zeros((4, 4, 3), np.uint8); frame[:, 2:] = 255
        >>> frame_thumbnails([frame], thumbnail_size=(2, 1)).tolist()
        [[[0.0, 1.0]]]
    """
    func = "frame_thumbnails"
    if len(thumbnail_size) != 2:
        raise ValueError(f"The 'thumbnail_size' parameter of {func} must be (width, height); got {thumbnail_size!r}.")
    for v in thumbnail_size:
        check_int(v, "thumbnail_size", func, minimum=1)
    width, height = int(thumbnail_size[0]), int(thumbnail_size[1])
    out = np.empty((len(images), height, width))
    for i, image in enumerate(images):
        a = np.asarray(image)
        if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
            raise ValueError(
                f"The 'images' parameter of {func} must hold uint8 arrays of shape (height, width, 3); image {i} has "
                f"dtype {a.dtype} and shape {a.shape}."
            )
        grey = Image.fromarray(a.mean(axis=2, dtype=np.float32), mode="F")
        out[i] = np.asarray(grey.resize((width, height), Image.Resampling.BOX), dtype=np.float64) / 255.0
    return out


def boundary_scores(thumbnails: np.ndarray, *, window: int = DEFAULT_WINDOW) -> np.ndarray:
    """Boundary score between each frame and the next: the closest pair across a window on each side.

    Args:
        thumbnails: float array of shape (n_frames, height, width), from :func:`frame_thumbnails`, in frame order.
        window: frames on each side compared, >= 1 (1 compares the two neighbours only). Default 3.

    Returns:
        float array of shape (n_frames - 1,): entry i is the smallest mean absolute thumbnail difference between
        frames ``max(0, i - window + 1) .. i`` and ``i + 1 .. min(n_frames - 1, i + window)``.

    Raises:
        ValueError: if ``thumbnails`` is not 3-D or ``window`` is not an int >= 1.

    Example:
        An odd frame inside a steady scene scores high against its neighbours alone, not across a window:

        >>> t = np.zeros((5, 1, 1)); t[2] = 1.0
        >>> boundary_scores(t, window=1).tolist(), boundary_scores(t, window=2).tolist()
        ([0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0])
    """
    func = "boundary_scores"
    check_int(window, "window", func, minimum=1)
    t = np.asarray(thumbnails, dtype=np.float64)
    if t.ndim != 3:
        raise ValueError(
            f"The 'thumbnails' parameter of {func} must have shape (n_frames, height, width); got {t.shape}."
        )
    n = t.shape[0]
    flat = t.reshape(n, t.shape[1] * t.shape[2])
    scores = np.empty(max(n - 1, 0))
    for i in range(n - 1):
        left = flat[max(0, i - window + 1) : i + 1]
        right = flat[i + 1 : i + 1 + window]
        scores[i] = np.abs(left[:, None, :] - right[None, :, :]).mean(axis=2).min()
    return scores


def segment_videos(
    images: Sequence[np.ndarray],
    frame_numbers: Sequence[int],
    *,
    thumbnail_size: tuple[int, int] = DEFAULT_THUMBNAIL_SIZE,
    window: int = DEFAULT_WINDOW,
    outlier_z: float = DEFAULT_OUTLIER_Z,
    min_segment_frames: int = DEFAULT_MIN_SEGMENT_FRAMES,
) -> VideoSegments:
    """Split numbered frames into videos where the image content jumps (method in the module docstring).

    Args:
        images: uint8 frames of shape (height, width, 3), in the order of ``frame_numbers``.
        frame_numbers: strictly increasing frame numbers, one per image; gaps are allowed.
        thumbnail_size: (width, height) of the compared thumbnails. Default (24, 18).
        window: frames on each side of a cut whose closest pair scores it. Default 3.
        outlier_z: a score above ``median + outlier_z * 1.4826 * MAD`` may start a video (> 0). Default 2.5.
        min_segment_frames: fewest frames between two boundaries (>= 1). Default 5.

    Returns:
        The videos. Fewer than 2 frames give one video. When more than half of the scores are equal (MAD = 0),
        the threshold is the median and every higher score may start a video.

    Raises:
        ValueError: if the lengths differ, the numbers are not strictly increasing, or an option is invalid.

    Example:
        Two scenes of four frames each, numbered with a gap inside the first scene (5 follows 2):

        >>> dark, bright = np.full((8, 8, 3), 40, np.uint8), np.full((8, 8, 3), 200, np.uint8)
        >>> frames = [dark] * 4 + [bright] * 4
        >>> s = segment_videos(frames, [1, 2, 5, 6, 7, 8, 9, 10], thumbnail_size=(2, 2), window=1,
        ...                    min_segment_frames=2)
        >>> s.video_ids, s.first_frames
        (('video01', 'video01', 'video01', 'video01', 'video02', 'video02', 'video02', 'video02'), (1, 7))
    """
    func = "segment_videos"
    numbers = np.asarray(frame_numbers, dtype=np.int64).reshape(-1)
    if numbers.size != len(images):
        raise ValueError(
            f"{func} needs one frame number per image; got {numbers.size} numbers for {len(images)} images."
        )
    if numbers.size > 1 and not (np.diff(numbers) > 0).all():
        raise ValueError(
            f"The 'frame_numbers' parameter of {func} must be strictly increasing (sort the frames by number); got "
            f"{numbers[:10].tolist()}{' ...' if numbers.size > 10 else ''}."
        )
    if isinstance(outlier_z, bool) or not isinstance(outlier_z, (int, float)) or not outlier_z > 0:
        raise ValueError(
            f"The 'outlier_z' parameter of {func} must be a number > 0, for example 2.5; got {outlier_z!r}."
        )
    check_int(min_segment_frames, "min_segment_frames", func, minimum=1)
    scores = boundary_scores(frame_thumbnails(images, thumbnail_size=thumbnail_size), window=window)
    if scores.size == 0:
        threshold = float("inf")
        cuts: list[int] = []
    else:
        median = float(np.median(scores))
        threshold = median + float(outlier_z) * _MAD_TO_SD * float(np.median(np.abs(scores - median)))
        cuts = _accept(scores, threshold, int(min_segment_frames))
    video = np.zeros(numbers.size, dtype=np.int64)
    for cut in cuts:
        video[cut + 1 :] += 1
    width = max(2, len(str(len(cuts) + 1)))
    ids = tuple(f"video{v + 1:0{width}d}" for v in video.tolist())
    first = ((int(numbers[0]),) if numbers.size else ()) + tuple(int(numbers[c + 1]) for c in cuts)
    logger.info("Derived %d videos from %d frames (threshold %.4f)", len(first), numbers.size, threshold)
    return VideoSegments(ids, numbers, scores, threshold, first)


def _accept(scores: np.ndarray, threshold: float, min_segment_frames: int) -> list[int]:
    """Cut positions above the threshold, highest first, at least ``min_segment_frames`` apart; sorted."""
    accepted: list[int] = []
    candidates = np.flatnonzero(scores > threshold)
    for i in candidates[np.argsort(-scores[candidates], kind="stable")]:
        if all(abs(int(i) - j) >= min_segment_frames for j in accepted):
            accepted.append(int(i))
    return sorted(accepted)


def split_by_video(
    video_ids: Sequence[str], *, val_fraction: float, test_fraction: float, seed: int
) -> SplitIndices:
    """Seeded train/val/test split of frames that keeps every video on one side.

    Whole videos are assigned by :func:`tunedepth.data.splits.split_indices` (largest first, each to the side
    furthest below its target share of frames), so the fractions are met up to the size of a video.

    Args:
        video_ids: one video (group) id per frame, e.g. ``PolypFrames.group_ids``.
        val_fraction: share of frames for validation, in (0, 1).
        test_fraction: share of frames for testing, in (0, 1); ``val + test < 1``.
        seed: seed of the assignment order.

    Returns:
        The three sides' frame indices, each sorted ascending; together a partition of ``range(n_frames)``.

    Raises:
        DataError: if the fractions are invalid, an id is empty, or there are too few videos to fill every side.

    Example:
        >>> ids = ["a"] * 6 + ["b"] * 2 + ["c"] * 2
        >>> parts = split_by_video(ids, val_fraction=0.2, test_fraction=0.2, seed=0)
        >>> sorted({ids[i] for i in parts.train}), len(parts.val), len(parts.test)
        (['a'], 2, 2)
    """
    return split_indices(
        np.zeros(len(video_ids), dtype=np.int64),
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        seed=seed,
        groups=list(video_ids),
    )
