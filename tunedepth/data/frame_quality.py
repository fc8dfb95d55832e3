"""Which frames of the frame-quality proxy are informative (kept clean) and which non-informative (degraded), and
the labelled frames that result.

Each frame is used once: it is either informative or non-informative, never both (issue 16). The choice is a seeded
permutation; the degradation of a non-informative frame is drawn from a generator of its own, seeded by the seed and
the frame's index, so it does not depend on the other frames' draws (:func:`tunedepth.data.degrade.draw_degradation`).
Label 1 is non-informative, the class a frame filter looks for; label 0 informative. Every refusal is a one-line
``ValueError``: :class:`~tunedepth.errors.ConfigError` for a bad argument, ``DataError`` for bad frames.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tunedepth._checks import check_int
from tunedepth.data.degrade import Degradation, degrade, draw_degradation
from tunedepth.errors import ConfigError, DataError

__all__ = ["FRAME_QUALITY_CLASSES", "FrameQuality", "assign_frame_quality", "degrade_frames"]

FRAME_QUALITY_CLASSES = ("informative", "non_informative")
"""Class names by label."""

# Offsets of the seeds of the assignment and of the per-frame draws from the study's seed.
_ASSIGN_SEED_OFFSET = 15_485_863
_DRAW_SEED_OFFSET = 32_452_843


@dataclass(frozen=True)
class FrameQuality:
    """The frame-quality assignment of ``n_frames`` frames.

    Attributes:
        labels: int64 array of shape (n_frames,): 0 informative (clean), 1 non-informative (degraded).
        degradations: one entry per frame: None for an informative frame, its degradation otherwise.
    """

    labels: np.ndarray
    degradations: tuple[Degradation | None, ...]

    def __len__(self) -> int:
        return len(self.degradations)


def assign_frame_quality(n_frames: int, *, non_informative_fraction: float, seed: int) -> FrameQuality:
    """Choose which frames are degraded, and how.

    Exactly ``round(non_informative_fraction * n_frames)`` frames are non-informative, chosen by a permutation drawn
    from ``seed``; frame ``i`` of those gets the degradation drawn from ``np.random.default_rng([seed, offset, i])``.
    The same arguments give the same assignment.

    Args:
        n_frames: number of frames, >= 2.
        non_informative_fraction: share of degraded frames, in (0, 1); both classes must end up non-empty.
        seed: the study's seed, an int >= 0.

    Returns:
        the labels and degradations.

    Raises:
        ValueError: if ``n_frames`` < 2, ``seed`` < 0, or the fraction leaves a class empty.

    Example:
        >>> q = assign_frame_quality(10, non_informative_fraction=0.3, seed=0)
        >>> int(q.labels.sum()), sum(d is not None for d in q.degradations)
        (3, 3)
    """
    check_int(n_frames, "n_frames", "assign_frame_quality", minimum=2)
    check_int(seed, "seed", "assign_frame_quality", minimum=0)
    fraction = non_informative_fraction
    n_degraded = round(fraction * n_frames) if isinstance(fraction, (int, float)) and math.isfinite(fraction) else -1
    if isinstance(fraction, bool) or not 0 < n_degraded < n_frames:
        raise ConfigError(f"The 'non_informative_fraction' parameter of assign_frame_quality must be in (0, 1) and "
                          f"leave both classes non-empty for {n_frames} frames; got {fraction!r}.")
    order = np.random.default_rng([seed, _ASSIGN_SEED_OFFSET]).permutation(n_frames)
    labels = np.zeros(n_frames, dtype=np.int64)
    labels[order[:n_degraded]] = 1
    degradations = tuple(draw_degradation(np.random.default_rng([seed, _DRAW_SEED_OFFSET, i])) if labels[i] else None
                         for i in range(n_frames))
    return FrameQuality(labels=labels, degradations=degradations)


def degrade_frames(frames: Sequence[np.ndarray], quality: FrameQuality) -> tuple[np.ndarray, ...]:
    """The frames of the proxy: informative frames as they are, non-informative frames degraded.

    Args:
        frames: uint8 RGB arrays of shape (height, width, 3), sizes may differ; as many as ``quality`` has.
        quality: from :func:`assign_frame_quality`.

    Returns:
        one uint8 array per frame, of its shape; informative frames are the input arrays themselves (not copied).

    Raises:
        ValueError: if the counts differ, a frame is not uint8 RGB, or a degradation leaves its frame unchanged (a
            flat frame, or one so small that a blur is under a pixel).

    Example:
        >>> frames = [np.random.default_rng(i).integers(0, 256, (60, 80, 3), np.uint8) for i in range(4)]
        >>> q = assign_frame_quality(4, non_informative_fraction=0.5, seed=1)
        >>> [f is frames[i] for i, f in enumerate(degrade_frames(frames, q))] == (q.labels == 0).tolist()
        True
    """
    if len(frames) != len(quality):
        raise DataError(f"The 'frames' parameter of degrade_frames must hold one frame per assigned frame "
                        f"({len(quality)}); got {len(frames)}. Assign with n_frames=len(frames).")
    out = []
    for i, (frame, d) in enumerate(zip(frames, quality.degradations, strict=True)):
        if d is None:
            out.append(frame)
            continue
        degraded = degrade(frame, d.kind, d.params)
        if np.array_equal(degraded, frame):
            # A non-informative frame that looks like an informative one would be a wrong label, not a hard case.
            raise DataError(f"Frame {i} of degrade_frames (shape {np.shape(frame)}) is unchanged by its degradation "
                            f"{d.kind} {d.params}: it is flat or too small for it. Degrade frames at their full size "
                            "and leave blank frames out.")
        out.append(degraded)
    return tuple(out)
