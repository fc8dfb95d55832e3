"""Boundary targets for segmentation by patch classification: which pixels are boundary, of which class.

Tajbakhsh et al. (IEEE TMI 2016, the fourth application) segment boundaries by classifying the patch around each
pixel as "on boundary k" or "background". This module turns annotations into such per-pixel targets and draws the
training pixels:

* A **closed boundary** is the 1-pixel inner contour of a filled region mask (:func:`closed_boundary`), for
  example the artery outline of :func:`tunedepth.data.masked.carotid.load_carotid`. Its label image is 0 background,
  1 boundary.
* **Layered boundaries** are two open interfaces crossing the image from left to right, one row per column, as the
  lumen-intima (LI) and media-adventitia (MA) interfaces of a longitudinal carotid image. They are read from one
  JSON file per image and drawn as a label image with 0 background, 1 on LI and 2 on MA, in
  :mod:`tunedepth.data.boundaries.layered` (which documents the format).
* The **training sample** (:func:`sample_boundary_pixels`) is stratified: up to ``n_per_class`` pixels of each
  boundary class and ``n_per_class`` background pixels, a share of them hard (near a boundary), fixed by the seed.
  Boundary patches are not translated: a shifted patch would no longer be centred on its boundary.
"""

from __future__ import annotations

import logging
import math
from typing import NamedTuple

import numpy as np
from scipy import ndimage

from tunedepth._checks import check_int, is_number

__all__ = ["PixelSample", "closed_boundary", "sample_boundary_pixels"]

logger = logging.getLogger(__name__)

_CROSS = ndimage.generate_binary_structure(2, 1)  # 3x3 cross: 4-neighbourhood erosion


def closed_boundary(mask: np.ndarray) -> np.ndarray:
    """The 1-pixel inner contour of a filled mask: mask pixels with a 4-neighbour outside the mask.

    It is the mask minus its binary erosion with a 3x3 cross, so the contour is 8-connected and one pixel wide.
    Outside the image counts as background: mask pixels on the image border are contour. A mask with holes also
    gets the contours of its holes; every region of a mask with several regions gets its own contour.

    Args:
        mask: bool array of shape (height, width), True inside the region(s); at least one True pixel.

    Returns:
        bool array of shape (height, width), True on contour pixels (a subset of ``mask``).

    Raises:
        ValueError: if ``mask`` is not a 2-D bool array or has no True pixel.

    Example:
        >>> m = np.zeros((7, 7), bool); m[1:6, 1:6] = True
        >>> contour = closed_boundary(m)
        >>> int(contour.sum()), bool(contour[3, 3]), bool(contour[1, 3])
        (16, False, True)
    """
    m = np.asarray(mask)
    if m.dtype != np.bool_ or m.ndim != 2:
        raise ValueError(
            "The 'mask' parameter of closed_boundary must be a 2-D bool array; got dtype "
            f"{m.dtype} and shape {m.shape}. Convert it, e.g. with mask > 0."
        )
    if not m.any():
        raise ValueError(
            f"The 'mask' parameter of closed_boundary has no True pixel (shape {m.shape}), so it has no boundary; "
            "leave empty masks out."
        )
    return m & ~ndimage.binary_erosion(m, structure=_CROSS, border_value=0)


class PixelSample(NamedTuple):
    """Sampled pixels, one entry each; unpacks as ``rows, cols, labels``.

    Attributes:
        rows: int64 array of shape (n_pixels,), the pixel rows.
        cols: int64 array of shape (n_pixels,), the pixel columns.
        labels: int64 array of shape (n_pixels,), the class of each pixel: 0 background, k > 0 boundary class k.
    """

    rows: np.ndarray
    cols: np.ndarray
    labels: np.ndarray


def _check_label_image(label_image: np.ndarray) -> np.ndarray:
    labels = np.asarray(label_image)
    if labels.ndim != 2 or not (labels.dtype == np.bool_ or np.issubdtype(labels.dtype, np.integer)):
        raise ValueError(
            "The 'label_image' parameter of sample_boundary_pixels must be a 2-D bool or int array (0 background, "
            f"k > 0 boundary class k); got dtype {labels.dtype} and shape {labels.shape}."
        )
    labels = labels.astype(np.int64)
    if labels.min() < 0:
        raise ValueError(
            f"The 'label_image' parameter of sample_boundary_pixels has negative labels (min {labels.min()}); use 0 "
            "for background and k > 0 for boundary class k."
        )
    if not labels.any():
        raise ValueError(
            f"The 'label_image' parameter of sample_boundary_pixels has no boundary pixel (all 0, shape "
            f"{labels.shape}); leave frames without boundary out."
        )
    return labels


def _check_roi(roi: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    if roi is None:
        return np.ones(shape, dtype=bool)
    allowed = np.asarray(roi)
    if allowed.dtype != np.bool_ or allowed.shape != shape:
        raise ValueError(
            "The 'roi' parameter of sample_boundary_pixels must be a bool mask of the label image's shape "
            f"{shape}, True on allowed pixels; got dtype {allowed.dtype} and shape {allowed.shape}. Crop or pad the "
            "region of interest to the image."
        )
    if not allowed.any():
        raise ValueError(
            "The 'roi' parameter of sample_boundary_pixels selects no pixel of the image; it lies outside the image "
            "or is empty. Pass a mask with at least one True pixel, or None for the whole image."
        )
    return allowed


def _draw(rng: np.random.Generator, pool: np.ndarray, n: int) -> np.ndarray:
    if pool.size <= n:
        return pool
    return np.sort(rng.choice(pool, size=n, replace=False))


def sample_boundary_pixels(
    label_image: np.ndarray,
    *,
    n_per_class: int,
    near_fraction: float,
    near_distance_px: int,
    seed: int,
    roi: np.ndarray | None = None,
) -> PixelSample:
    """Draw a stratified pixel sample for boundary patches: each boundary class, and easy and hard background.

    Only pixels inside ``roi`` are drawn. Each boundary class k present in ``label_image`` gets ``n_per_class``
    of its pixels, drawn without replacement (all of them if fewer, none if the roi holds none). The background
    gets ``n_near = floor(near_fraction * n_per_class + 0.5)`` hard pixels, whose Euclidean distance
    (``scipy.ndimage.distance_transform_edt``) to the nearest boundary pixel of any class, inside the roi or not,
    is at most ``near_distance_px``, and then ``n_per_class - n_near`` pixels from the rest of the background
    (near or far). A shortfall of hard pixels is not filled from the rest, so the hard share stays as asked.

    Args:
        label_image: 2-D bool or int array of shape (height, width): 0 background, k > 0 boundary class k, e.g.
            :func:`closed_boundary` (one class) or :func:`layered_label_image` (classes 1 and 2); at least one
            boundary pixel.
        n_per_class: pixels to draw per boundary class and for the background, >= 1.
        near_fraction: share of the background drawn near the boundary, in [0, 1].
        near_distance_px: the largest distance of a hard background pixel to a boundary, in pixels, >= 1.
        seed: seed of ``numpy.random.default_rng``, >= 0; one seed gives one sample.
        roi: bool mask of label_image's shape, True where pixels may be drawn; None allows every pixel.

    Returns:
        The pixels grouped by label in increasing order (background: hard then the rest; within each draw in
        raster order). Boundary patches are meant to be cut at these pixels without translation.

    Raises:
        ValueError: if ``label_image`` is not a 2-D bool or int array, has a negative label or no boundary pixel;
            if ``roi`` is not a bool mask of that shape or selects no pixel; if ``n_per_class``,
            ``near_distance_px`` or ``seed`` is not an int in range or ``near_fraction`` not in [0, 1].

    Example:
        >>> labels = np.zeros((5, 6), int); labels[2, :] = 1
        >>> rows, cols, classes = sample_boundary_pixels(labels, n_per_class=3, near_fraction=1.0,
        ...                                              near_distance_px=1, seed=0)
        >>> classes.tolist(), bool(np.all(np.abs(rows[classes == 0] - 2) == 1)), bool(np.all(rows[classes == 1] == 2))
        ([0, 0, 0, 1, 1, 1], True, True)
    """
    labels = _check_label_image(label_image)
    n = check_int(n_per_class, "n_per_class", "sample_boundary_pixels", minimum=1)
    distance_px = check_int(near_distance_px, "near_distance_px", "sample_boundary_pixels", minimum=1)
    random_seed = check_int(seed, "seed", "sample_boundary_pixels", minimum=0)
    if not is_number(near_fraction) or not 0.0 <= near_fraction <= 1.0:
        raise ValueError(
            f"The 'near_fraction' parameter of sample_boundary_pixels must be a number in [0, 1]; got "
            f"{near_fraction!r}."
        )
    allowed = _check_roi(roi, labels.shape).ravel()
    flat = labels.ravel()
    background = (flat == 0) & allowed
    near = ndimage.distance_transform_edt(labels == 0).ravel() <= distance_px
    rng = np.random.default_rng(random_seed)

    n_near = math.floor(near_fraction * n + 0.5)
    hard = _draw(rng, np.flatnonzero(background & near), n_near)
    rest_pool = np.flatnonzero(background)
    rest = _draw(rng, rest_pool[~np.isin(rest_pool, hard)], n - n_near)
    picks = [hard, rest]
    picked_labels = [np.zeros(hard.size + rest.size, dtype=np.int64)]
    for k in np.unique(flat[flat > 0]):
        chosen = _draw(rng, np.flatnonzero((flat == k) & allowed), n)
        picks.append(chosen)
        picked_labels.append(np.full(chosen.size, k, dtype=np.int64))
    index = np.concatenate(picks).astype(np.int64)
    rows, cols = np.divmod(index, labels.shape[1])
    if hard.size < n_near:
        logger.debug("Only %d of %d hard background pixels available within %d px", hard.size, n_near, distance_px)
    return PixelSample(rows=rows, cols=cols, labels=np.concatenate(picked_labels))
