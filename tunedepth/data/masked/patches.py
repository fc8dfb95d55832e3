"""Image patches around polyp candidates, with the paper's augmentation.

Tajbakhsh et al. (IEEE TMI 2016, section II-A; ``paper-protocol.md`` section 1.3) cut several patches per
candidate box: the box enlarged by 1.0, 1.2 and 1.5; at each scale the box translated by 10% of its size in the
horizontal and vertical directions; each patch in 8 orientations by mirroring and rotation. A *view* is one such
combination (scale, translation, orientation). The paper does not say how many translated copies it made; here a
translation of ``shift_fraction`` means five positions: the centre, left, right, up and down (``shift_fraction``
0 keeps the centre only). The 8 orientations are the dihedral group of the square: a rotation by ``k % 4`` quarter
turns, followed by a left-right mirror when ``k >= 4``; orientation 0 is the patch as cut.

Patches are cut from the frame with zero (black) padding where the box leaves it, as the endoscope's own border is
black, and resized bilinearly (PIL) to the model input, square: the aspect ratio of a non-square box is not kept.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from PIL import Image

from tunedepth._checks import check_int

__all__ = ["PATCH_ORIENTATIONS", "PatchViews", "cut_patches", "orient_patch", "patch_views"]

PATCH_ORIENTATIONS = 8
"""Number of distinct orientations of a square patch (4 rotations x mirror), the paper's "8 times"."""

_POSITIONS = np.array([[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1]], dtype=float)  # centre, left, right, up, down


class PatchViews(NamedTuple):
    """The views of a candidate, one row each.

    Attributes:
        scales: float array of shape (n_views,), the box enlargement.
        shifts: float array of shape (n_views, 2), the translation (dx, dy) in units of the enlarged box's width
            and height.
        orientations: int array of shape (n_views,), in [0, 8).
    """

    scales: np.ndarray
    shifts: np.ndarray
    orientations: np.ndarray

    def __len__(self) -> int:
        return int(self.scales.shape[0])

    def take(self, index: np.ndarray) -> PatchViews:
        """The views at ``index``, in that order."""
        return PatchViews(self.scales[index], self.shifts[index], self.orientations[index])


def patch_views(scales: tuple[float, ...], *, shift_fraction: float, orientations: int) -> PatchViews:
    """Every combination of scale, translation and orientation, scale-major.

    Args:
        scales: box enlargements, each > 0 (paper: 1.0, 1.2, 1.5).
        shift_fraction: translation as a share of the enlarged box, in [0, 0.5); 0 means no translation (one
            position), else five positions (centre, left, right, up, down). Paper: 0.1.
        orientations: how many of the 8 orientations, in [1, 8]; the first ``orientations`` of the dihedral order
            (0 is the patch as cut).

    Returns:
        ``len(scales) * n_positions * orientations`` views.

    Raises:
        ValueError: if an argument is out of range.

    Example:
        >>> v = patch_views((1.0, 1.5), shift_fraction=0.1, orientations=8)
        >>> len(v), v.scales[:2].tolist(), v.shifts[8].tolist(), int(v.orientations[9])
        (80, [1.0, 1.0], [-0.1, 0.0], 1)
    """
    if len(scales) == 0 or not all(np.isfinite(s) and s > 0 for s in scales) or len(set(scales)) != len(scales):
        raise ValueError(f"The 'scales' parameter of patch_views must be unique numbers > 0; got {scales!r}.")
    if not (0 <= shift_fraction < 0.5):
        raise ValueError(f"The 'shift_fraction' parameter of patch_views must be in [0, 0.5); got {shift_fraction!r}.")
    check_int(orientations, "orientations", "patch_views", minimum=1, maximum=8)
    positions = _POSITIONS if shift_fraction > 0 else _POSITIONS[:1]
    grid = [(s, p, o) for s in scales for p in positions for o in range(orientations)]
    return PatchViews(
        np.array([g[0] for g in grid], dtype=float),
        np.array([g[1] * shift_fraction for g in grid], dtype=float).reshape(-1, 2),
        np.array([g[2] for g in grid], dtype=np.int64),
    )


def orient_patch(patch: np.ndarray, orientation: int) -> np.ndarray:
    """One of the 8 orientations of a square patch of shape (channels, size, size).

    Example:
        >>> p = np.arange(4).reshape(1, 2, 2)
        >>> [orient_patch(p, k)[0].tolist() for k in (0, 1, 4)]
        [[[0, 1], [2, 3]], [[1, 3], [0, 2]], [[1, 0], [3, 2]]]
    """
    out = np.rot90(patch, orientation % 4, axes=(1, 2))
    if orientation >= 4:
        out = out[:, :, ::-1]
    return np.ascontiguousarray(out)


def cut_patches(image: np.ndarray, box: np.ndarray, views: PatchViews, *, size: int) -> np.ndarray:
    """The patches of one candidate box, one per view.

    Args:
        image: uint8 array of shape (height, width, 3), the frame.
        box: (x0, y0, x1, y1) in the frame's pixels.
        views: which patches (see :func:`patch_views`).
        size: side of the square output patches, in pixels.

    Returns:
        uint8 array of shape (n_views, 3, size, size). Each distinct (scale, shift) is cut and resized once.

    Example:
        A white 8x8 square at the frame's corner, cut at scale 1 (the square fills the patch) and 2 (the square fills
        the middle, black padding around it; bilinear resizing blurs the edge):

        >>> frame = np.zeros((20, 20, 3), np.uint8); frame[:8, :8] = 255
        >>> p = cut_patches(frame, np.array([0., 0., 8., 8.]), patch_views((1.0, 2.0), shift_fraction=0,
        ...                 orientations=1), size=8)
        >>> p.shape, int(p[0].min()), int(p[1, 0, 0, 0]), int(p[1, 0, 4, 4])
        ((2, 3, 8, 8), 255, 0, 255)
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    pil = Image.fromarray(np.asarray(image))
    out = np.empty((len(views), 3, size, size), dtype=np.uint8)
    cut: dict[tuple[float, float, float], np.ndarray] = {}
    for i in range(len(views)):
        scale, (dx, dy) = float(views.scales[i]), views.shifts[i]
        key = (scale, float(dx), float(dy))
        if key not in cut:
            w, h = (x1 - x0) * scale, (y1 - y0) * scale
            left, top = cx + dx * w - w / 2, cy + dy * h - h / 2
            region = (round(left), round(top), round(left + w), round(top + h))
            if region[2] <= region[0] or region[3] <= region[1]:
                raise ValueError(f"cut_patches: box {list(box)} at scale {scale} is empty; boxes need a positive size.")
            # PIL pads a crop outside the image with zeros (black, like the endoscope's border)
            patch = pil.crop(region).resize((size, size), Image.Resampling.BILINEAR)
            cut[key] = np.asarray(patch, dtype=np.uint8).transpose(2, 0, 1)
        out[i] = orient_patch(cut[key], int(views.orientations[i]))
    return out
