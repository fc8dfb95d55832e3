"""Boundaries from per-pixel class confidence maps, in the form the segmentation metrics take (issue 6).

A patch classifier applied at every pixel of a region of interest (ROI) gives one confidence map per class, of shape
(height, width), non-negative, NaN outside the ROI (class 0 is the background, classes 1.. are boundary classes).

* Open layered boundaries (the carotid far wall's lumen-intima and media-adventitia interfaces in longitudinal
  B-mode images; Tajbakhsh et al., "Convolutional neural networks for medical image analysis: full training or fine
  tuning?", IEEE TMI 35(5):1299-1312, 2016): :func:`extract_layered_boundary` takes the row of maximum confidence
  in each column, then smooths y(x). Its output is the ``pred_y`` of
  :func:`~tunedepth.evaluation.layered_boundary_error`; :func:`extract_layered_boundaries` traces both interfaces
  and keeps them in order.
* Closed boundaries (a transverse artery, a polyp): :func:`extract_closed_boundary` casts rays from the region's
  centre, takes the radius of maximum confidence on each ray, then smooths r(theta) circularly. Its
  :meth:`ClosedContour.filled` mask is the ``pred_mask`` of :func:`~tunedepth.evaluation.mean_boundary_error` and
  :func:`~tunedepth.evaluation.dice_score`.

Notes:
    * Evidence: a column or ray has a boundary only where its largest confidence is > 0. NaN pixels (outside the
      ROI) and all-zero columns give NaN rows; ties go to the first maximum (the topmost row, the smallest radius).
      Softmax outputs are positive everywhere, so only NaN and exact zeros (masked or thresholded maps) count as none.
    * Open smoother: the cubic smoothing spline of scipy's ``make_smoothing_spline`` (Reinsch, Numerische
      Mathematik 10:177-183, 1967). The paper smooths with an open active contour (snake); a snake whose external
      energy pulls each column's point quadratically towards its argmax row and whose internal energy is the
      rigidity term alone has, in the continuous limit, the smoothing spline's objective, so the spline is that
      snake's closed-form, deterministic minimiser, with one parameter and no initialisation or iteration count.
      ``smoothing`` is the spline's bandwidth h in columns, ``lam = h**4``: away from the ends the spline acts as
      the kernel ``K(u) = exp(-|u|/sqrt(2)) sin(|u|/sqrt(2) + pi/4) / 2`` at scale h (Silverman, "Spline smoothing:
      the equivalent variable kernel method", Annals of Statistics 12(3):898-916, 1984). ``smoothing=0`` returns
      the raw argmax rows. The spline is least-squares, not robust: an isolated far outlier pulls its neighbours.
    * Closed smoother: a Gaussian filter of r(theta) with periodic ("wrap") boundary, ``smoothing`` = sigma in rays
      (in degrees at the default 360 rays); ``smoothing=0`` keeps the raw radii. scipy's smoothing spline has no
      periodic form, and the Gaussian is exactly periodic for any sigma.
    * An undefined boundary (no column, or no ray, with evidence) warns with
      :class:`~tunedepth.errors.UndefinedMetricWarning` and returns NaN rows or NaN points, as the metrics do with
      undefined values: a classifier that finds nothing is a result to score (Dice 0), not bad input to reject.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.interpolate import make_smoothing_spline
from scipy.ndimage import gaussian_filter1d, map_coordinates
from skimage.draw import polygon

from tunedepth._checks import check_int
from tunedepth.errors import UndefinedMetricWarning

__all__ = ["ClosedContour", "extract_closed_boundary", "extract_layered_boundaries", "extract_layered_boundary"]

# make_smoothing_spline needs at least 5 points.
_MIN_SPLINE_COLUMNS = 5
_N_LAYERED_CLASSES = 3


@dataclass(frozen=True, eq=False)
class ClosedContour:
    """A closed boundary: a polygon whose vertices lie on rays from a centre.

    Attributes:
        points: vertices of shape (n_rays, 2), (row, col) in pixels, ray k at angle ``2 pi k / n_rays`` measured
            from the +col axis towards +row (``row = centre_row + r sin(angle)``, ``col = centre_col + r cos(angle)``).
            All NaN when the contour is undefined. Stored as a read-only copy.
        centre: (row, col) of the rays' origin in pixels; NaN when none was given and the map has no positive
            confidence.

    Example:
        >>> square = ClosedContour(np.array([[2.0, 2.0], [2.0, 6.0], [6.0, 6.0], [6.0, 2.0]]), (4.0, 4.0))
        >>> int(square.filled((8, 8)).sum())
        25
    """

    points: np.ndarray
    centre: tuple[float, float]

    def __post_init__(self) -> None:
        points = np.array(self.points, dtype=float)
        if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] < 3:
            raise ValueError(
                f"The 'points' parameter of ClosedContour must have shape (n_rays, 2) with n_rays >= 3, one "
                f"(row, col) per vertex; got shape {points.shape}."
            )
        points.flags.writeable = False
        object.__setattr__(self, "points", points)

    def filled(self, shape: tuple[int, int]) -> np.ndarray:
        """The region inside the contour as a mask (``skimage.draw.polygon``; pixels on the edges are inside).

        Args:
            shape: (height, width) of the mask; parts of the polygon outside it are clipped.

        Returns:
            A bool array of shape ``shape``; all False when the contour is undefined (NaN points).

        Raises:
            ValueError: if ``shape`` is not two positive ints.
        """
        if len(shape) != 2 or not all(
            isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0 for n in shape
        ):
            raise ValueError(
                f"The 'shape' parameter of ClosedContour.filled must be two positive ints (height, width); got "
                f"{shape!r}. Pass the confidence map's shape."
            )
        mask = np.zeros((int(shape[0]), int(shape[1])), dtype=bool)
        if np.isnan(self.points).any():
            return mask
        rows, cols = polygon(self.points[:, 0], self.points[:, 1], shape=mask.shape)
        mask[rows, cols] = True
        return mask


def extract_layered_boundary(
    confidence: npt.ArrayLike, *, smoothing: float, columns: npt.ArrayLike | None = None
) -> np.ndarray:
    """One open boundary's row in each column: the argmax row, smoothed by a cubic smoothing spline.

    Args:
        confidence: one boundary class's confidence map of shape (height, width), non-negative, NaN outside the ROI.
        smoothing: the smoothing spline's bandwidth in columns (``lam = smoothing**4`` in
            ``scipy.interpolate.make_smoothing_spline``), >= 0; 0 returns the raw argmax rows (see module Notes).
        columns: bool mask of shape (width,), True where to trace; ``None`` traces every column. Other columns are
            NaN and take no part in the fit.

    Returns:
        Rows (fractional pixels, clipped to [0, height - 1]) of shape (width,), NaN in columns without evidence.
        All NaN, with an :class:`~tunedepth.errors.UndefinedMetricWarning`, when no column has evidence.

    Raises:
        ValueError: if the map is not 2-D, holds negative or infinite values, ``smoothing`` is negative or not
            finite, ``columns`` has the wrong shape or type, or ``smoothing > 0`` with 1 to 4 columns of evidence.

    Notes:
        The spline is fitted once over all columns with evidence (x = column index), so it bridges interior gaps;
        the gap columns themselves stay NaN.

    Example:
        >>> conf = np.array([[0.1, 0.9, np.nan, 0.0], [0.8, 0.2, np.nan, 0.0]])
        >>> extract_layered_boundary(conf, smoothing=0)
        array([ 1.,  0., nan, nan])
    """
    func = "extract_layered_boundary"
    conf = _check_map(confidence, "confidence", func)
    smoothing = _check_non_negative(smoothing, "smoothing", func)
    if columns is not None:
        keep = np.asarray(columns)
        if keep.dtype != bool or keep.shape != (conf.shape[1],):
            raise ValueError(
                f"The 'columns' parameter of {func} must be a bool mask of shape (width,) = ({conf.shape[1]},); got "
                f"dtype {keep.dtype} and shape {keep.shape}. Pass None to trace every column."
            )
        conf = np.where(keep[None, :], conf, np.nan)
    return _trace_open(conf, smoothing, func, "the boundary")


def extract_layered_boundaries(confidence_maps: npt.ArrayLike, *, smoothing: float) -> tuple[np.ndarray, np.ndarray]:
    """The carotid far wall's lumen-intima (upper) and media-adventitia (lower) rows, never crossing.

    Each boundary is traced as in :func:`extract_layered_boundary`. Order rule: the lumen-intima boundary (class 1)
    is traced first; the media-adventitia boundary (class 2) is then searched, column by column, only in rows
    strictly below the smoothed lumen-intima row (in the whole column where that row is NaN), and after smoothing
    it is clipped to be no higher than the lumen-intima row, so the two may touch but never cross.

    Args:
        confidence_maps: maps of shape (3, height, width) for background (class 0, unused), lumen-intima (1) and
            media-adventitia (2), non-negative, NaN outside the ROI.
        smoothing: the smoothing spline's bandwidth in columns, for both boundaries, >= 0 (0 = raw argmax).

    Returns:
        (lumen_intima_y, media_adventitia_y), each of shape (width,), rows in pixels, NaN without evidence;
        ``media_adventitia_y >= lumen_intima_y`` wherever both exist. A boundary with no evidence at all is all NaN,
        with an :class:`~tunedepth.errors.UndefinedMetricWarning`.

    Raises:
        ValueError: as :func:`extract_layered_boundary`, or if the maps are not of shape (3, height, width).

    Example:
        >>> maps = np.zeros((3, 4, 2)); maps[1, 2] = 1.0; maps[2, 3] = 0.5; maps[2, 0] = 0.9
        >>> extract_layered_boundaries(maps, smoothing=0)  # class 2's raw argmax (row 0) lies above class 1's
        (array([2., 2.]), array([3., 3.]))
    """
    func = "extract_layered_boundaries"
    maps = np.asarray(confidence_maps, dtype=float)
    if maps.ndim != 3 or maps.shape[0] != _N_LAYERED_CLASSES:
        raise ValueError(
            f"The 'confidence_maps' parameter of {func} must have shape (3, height, width): background, "
            f"lumen-intima and media-adventitia; got shape {maps.shape}. For one boundary class use "
            "extract_layered_boundary."
        )
    smoothing = _check_non_negative(smoothing, "smoothing", func)
    upper_map = _check_map(maps[1], "confidence_maps[1]", func)
    lower_map = _check_map(maps[2], "confidence_maps[2]", func)
    upper = _trace_open(upper_map, smoothing, func, "the lumen-intima boundary")
    limit = np.where(np.isnan(upper), -np.inf, upper)
    rows = np.arange(lower_map.shape[0], dtype=float)[:, None]
    lower = _trace_open(
        np.where(rows > limit[None, :], lower_map, np.nan), smoothing, func, "the media-adventitia boundary"
    )
    # The spline's negative side lobes can pull the smoothed lower boundary above the upper one near steps.
    crossed = ~np.isnan(upper) & (lower < upper)
    return upper, np.where(crossed, upper, lower)


def extract_closed_boundary(
    confidence: npt.ArrayLike,
    *,
    centre: tuple[float, float] | None = None,
    n_rays: int = 360,
    smoothing: float,
    radial_step: float = 0.25,
    max_step_px: float | None = None,
) -> ClosedContour:
    """A closed boundary by ray-wise argmax in polar coordinates around the region's centre, smoothed circularly.

    From the centre, ``n_rays`` rays at equal angles run to the image edge; along each, the map is sampled every
    ``radial_step`` pixels with bilinear interpolation (``scipy.ndimage.map_coordinates``, order 1, NaN read as 0)
    and the radius of maximum confidence is kept. r(theta) is then smoothed by a periodic Gaussian filter.

    With ``max_step_px`` set, the radii are instead chosen together: the path through the polar map that maximises
    the summed confidence while neighbouring rays' radii differ by at most ``max_step_px`` pixels (dynamic
    programming, written here: scikit-image's ``active_contour`` has no polar form). A ray cannot then jump to
    bright tissue on its own, and rays without evidence are bridged by their neighbours. The closed path is found
    on three turns of rays and the middle turn kept, so its ends meet up to the Gaussian smoothing.

    Args:
        confidence: one closed boundary class's confidence map of shape (height, width), non-negative, NaN outside
            the ROI.
        centre: (row, col) of the rays' origin, inside the image; ``None`` takes the confidence-weighted centroid of
            the map. The region must be star-shaped from it. The centroid drifts towards diffuse confidence far
            from the boundary: pass the centre (for example the ROI's) for noisy maps.
        n_rays: number of rays (contour vertices), >= 3.
        smoothing: sigma of the periodic Gaussian filter of r(theta) in rays, >= 0; 0 keeps the raw radii.
        radial_step: spacing of the samples along a ray in pixels, in (0, 1]; the raw radius is a multiple of it.
        max_step_px: largest radius change between neighbouring rays in pixels, > 0 (at least ``radial_step``);
            ``None`` takes each ray's own maximum. About the arc length between rays (2 pi r / n_rays) lets the
            boundary turn 45 degrees to a ray.

    Returns:
        The contour. Rays without evidence get their radius interpolated periodically from the other rays, with a
        ``UserWarning`` that counts them. With no evidence at all the points are NaN (its ``filled`` mask empty),
        with an :class:`~tunedepth.errors.UndefinedMetricWarning`.

    Raises:
        ValueError: if the map is not 2-D or holds negative or infinite values, ``centre`` is not a (row, col)
            inside the image, ``n_rays`` is not an int >= 3, ``smoothing`` is negative or not finite, or
            ``radial_step`` is not in (0, 1].

    Example:
        >>> conf = np.zeros((9, 9)); conf[4, 7] = conf[6, 4] = conf[4, 0] = conf[3, 4] = 1.0
        >>> contour = extract_closed_boundary(conf, centre=(4, 4), n_rays=4, smoothing=0)
        >>> contour.points.round(6) + 0.0  # radii 3, 2, 4 and 1 on the +col, +row, -col and -row rays
        array([[4., 7.],
               [6., 4.],
               [4., 0.],
               [3., 4.]])
    """
    func = "extract_closed_boundary"
    conf = np.nan_to_num(_check_map(confidence, "confidence", func), nan=0.0)
    check_int(n_rays, "n_rays", func, minimum=3, example=", for example 360")
    smoothing = _check_non_negative(smoothing, "smoothing", func)
    radial_step = _check_non_negative(radial_step, "radial_step", func)
    if not 0 < radial_step <= 1:
        raise ValueError(
            f"The 'radial_step' parameter of {func} must be in (0, 1] pixels, so that no pixel is skipped; got "
            f"{radial_step!r}."
        )
    if max_step_px is not None:
        max_step_px = _check_non_negative(max_step_px, "max_step_px", func)
        if max_step_px < radial_step:
            raise ValueError(
                f"The 'max_step_px' parameter of {func} must be at least radial_step ({radial_step:g} px), or None "
                f"for the ray-wise maximum; got {max_step_px!r}."
            )
    height, width = conf.shape
    if centre is not None:
        centre = _check_centre(centre, conf.shape, func)
    if not (conf > 0).any():
        return _undefined_contour(n_rays, centre, func, "the map has no positive confidence")
    if centre is None:
        rr, cc = np.indices(conf.shape)
        centre = (float((conf * rr).sum() / conf.sum()), float((conf * cc).sum() / conf.sum()))
    angles = 2 * np.pi * np.arange(n_rays) / n_rays
    # The farthest corner bounds every ray's length; samples past the image edge are discarded below.
    reach = max(math.hypot(r - centre[0], c - centre[1]) for r in (0, height - 1) for c in (0, width - 1))
    radii = np.arange(0.0, reach + radial_step, radial_step)
    rows = centre[0] + np.sin(angles)[:, None] * radii[None, :]
    cols = centre[1] + np.cos(angles)[:, None] * radii[None, :]
    values = map_coordinates(conf, [rows, cols], order=1, mode="nearest")
    inside = (rows >= 0) & (rows <= height - 1) & (cols >= 0) & (cols <= width - 1)
    values = np.where(inside, values, -1.0)
    found = values.max(axis=1) > 0
    if not found.any():
        return _undefined_contour(n_rays, centre, func, f"none of the {n_rays} rays meets positive confidence")
    if max_step_px is not None:
        radius = radii[_best_closed_path(values, max(1, int(max_step_px / radial_step + 1e-9)))]
    else:
        radius = radii[values.argmax(axis=1)]
    if max_step_px is None and not found.all():
        warnings.warn(
            f"{func}: {int((~found).sum())} of {n_rays} rays meet no positive confidence (outside the ROI or an "
            "all-zero stretch); their radii were interpolated periodically from the neighbouring rays.",
            UserWarning,
            stacklevel=2,
        )
        radius = np.interp(angles, angles[found], radius[found], period=2 * np.pi)
    if smoothing > 0:
        radius = gaussian_filter1d(radius, smoothing, mode="wrap")
    points = np.stack([centre[0] + radius * np.sin(angles), centre[1] + radius * np.cos(angles)], axis=1)
    return ClosedContour(points, centre)


def _best_closed_path(values: np.ndarray, max_step: int) -> np.ndarray:
    """Per ray (row of ``values``, shape (n_rays, n_radii)), the radius index of the path of largest summed value
    whose index changes by at most ``max_step`` between neighbouring rays, closed around the circle.

    Dynamic programming over three turns of rays (so that the path's start does not matter); the middle turn is
    returned. Cost: O(3 n_rays x n_radii x (2 max_step + 1)).
    """
    n_rays, n_radii = values.shape
    tripled = np.concatenate([values, values, values])
    score = tripled[0].copy()
    came_from = np.zeros((tripled.shape[0], n_radii), dtype=np.int64)
    index = np.arange(n_radii)
    moved = index[None, :] + np.arange(-max_step, max_step + 1)[:, None]  # [k, r]: r + shift k, maybe off the ray
    source = np.clip(moved, 0, n_radii - 1)
    valid = moved == source
    for i in range(1, tripled.shape[0]):
        # candidates[k, r] = score of reaching radius r from radius r + shift k on the previous ray
        candidates = np.where(valid, score[source], -np.inf)
        best = candidates.argmax(axis=0)
        came_from[i] = source[best, index]
        score = candidates[best, index] + tripled[i]
    path = np.empty(tripled.shape[0], dtype=np.int64)
    path[-1] = int(score.argmax())
    for i in range(tripled.shape[0] - 1, 0, -1):
        path[i - 1] = came_from[i, path[i]]
    return path[n_rays:2 * n_rays]


def _trace_open(conf: np.ndarray, smoothing: float, func: str, what: str) -> np.ndarray:
    """Argmax row per column (NaN without evidence), then the smoothing spline over the columns with evidence."""
    height = conf.shape[0]
    filled = np.where(np.isnan(conf), -1.0, conf)
    rows = filled.argmax(axis=0).astype(float)
    found = filled.max(axis=0) > 0
    rows[~found] = np.nan
    n_found = int(found.sum())
    if n_found == 0:
        warnings.warn(
            f"{func}: {what} is undefined, as no column of the {conf.shape} map has positive confidence (NaN "
            "outside the ROI counts as none); returning NaN rows.",
            UndefinedMetricWarning,
            stacklevel=3,
        )
        return rows
    if smoothing == 0:
        return rows
    if n_found < _MIN_SPLINE_COLUMNS:
        raise ValueError(
            f"The 'smoothing' parameter of {func} is {smoothing!r}, but {what} has evidence in only {n_found} "
            f"column(s); the smoothing spline needs at least {_MIN_SPLINE_COLUMNS}. Pass smoothing=0 for the raw "
            "argmax rows, or widen the ROI."
        )
    x = np.flatnonzero(found).astype(float)
    spline = make_smoothing_spline(x, rows[found], lam=smoothing**4)
    rows[found] = np.clip(spline(x), 0.0, height - 1.0)
    return rows


def _undefined_contour(n_rays: int, centre: tuple[float, float] | None, func: str, reason: str) -> ClosedContour:
    warnings.warn(
        f"{func}: the closed boundary is undefined, as {reason} (NaN outside the ROI counts as none); returning a "
        "contour of NaN points, whose filled mask is empty.",
        UndefinedMetricWarning,
        stacklevel=3,
    )
    return ClosedContour(np.full((n_rays, 2), np.nan), centre if centre is not None else (math.nan, math.nan))


def _check_map(confidence: npt.ArrayLike, name: str, func: str) -> np.ndarray:
    """Validate a confidence map: 2-D, non-empty, non-negative where finite, NaN allowed, no infinities."""
    conf = np.asarray(confidence, dtype=float)
    if conf.ndim != 2 or conf.size == 0:
        raise ValueError(
            f"The '{name}' parameter of {func} must be one class's confidence map of shape (height, width); got "
            f"shape {conf.shape}. Index the class axis of (n_classes, height, width) maps first."
        )
    if np.isinf(conf).any() or (conf < 0).any():
        raise ValueError(
            f"The '{name}' parameter of {func} must hold non-negative finite confidences, NaN outside the ROI; got "
            f"{int(np.isinf(conf).sum())} infinite and {int((conf < 0).sum())} negative value(s). Pass class "
            "probabilities (softmax outputs), not logits."
        )
    return conf


def _check_non_negative(value: float, name: str, func: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"The '{name}' parameter of {func} must be a finite number >= 0; got {value!r}.")
    return float(value)


def _check_centre(centre: tuple[float, float], shape: tuple[int, ...], func: str) -> tuple[float, float]:
    values = np.asarray(centre, dtype=float)
    if (
        values.shape != (2,)
        or not np.isfinite(values).all()
        or not (0 <= values[0] <= shape[0] - 1 and 0 <= values[1] <= shape[1] - 1)
    ):
        raise ValueError(
            f"The 'centre' parameter of {func} must be a (row, col) inside the {shape} map, rows in "
            f"[0, {shape[0] - 1}] and columns in [0, {shape[1] - 1}]; got {centre!r}. Pass None for the "
            "confidence-weighted centroid."
        )
    return float(values[0]), float(values[1])
