"""Boundary distances and overlap of predicted and reference segmentations (issue 6).

* :func:`mean_boundary_error`: average symmetric surface distance (ASD) of two closed regions' boundaries
  (Heimann et al., "Comparison and evaluation of methods for liver segmentation from CT datasets",
  IEEE TMI 28(8):1251-1265, 2009): for every boundary pixel of one region, the distance to the nearest boundary
  pixel of the other, in both directions, pooled, then averaged.
* :func:`hausdorff95_boundary_error`: the 95th percentile of the same pooled distances (robust Hausdorff distance).
* :func:`layered_boundary_error`: for open layered boundaries (one row per image column, such as the carotid
  lumen-intima and media-adventitia interfaces), the mean over columns of ``|y_pred(x) - y_ref(x)|`` over the columns
  where both boundaries exist: "the mean distance between the predicted and the expert boundary" of Tajbakhsh et
  al., "Convolutional neural networks for medical image analysis: full training or fine tuning?", IEEE TMI
  35(5):1299-1312, 2016.
* :func:`dice_score` and :func:`iou_score`: overlap of the filled regions (Dice, Ecology 26(3):297-302, 1945;
  Jaccard, New Phytologist 11(2):37-50, 1912).

Distances come back as a :class:`BoundaryDistance`, whose unit is part of the value: micrometres when the
keyword-only ``pixel_spacing_um`` is given, pixels when it is ``None``. Spacing is never guessed.

Notes:
    * Closed boundaries are given as filled boolean masks of shape (height, width) (the same input as Dice and IoU).
      A region's boundary is the mask minus its erosion by the 3x3 cross, ``mask & ~binary_erosion(mask, cross,
      border_value=0)``: the mask pixels with a 4-neighbour outside the region. Pixels on the image edge therefore
      belong to the boundary (the image edge closes a region that touches it). This is the rule of MONAI's
      ``get_mask_edges`` and MedPy's surface distances (connectivity 1); Heimann et al. use the 18-neighbourhood
      in 3-D. Distances are between pixel centres.
    * Hausdorff-95 pools both directions before taking the percentile, as MedPy's ``hd95`` does, so that it
      summarises the very distances whose mean is the ASD. MONAI's ``compute_hausdorff_distance(percentile=95)``
      and DeepMind's ``surface-distance`` instead take the larger of the two directed 95th percentiles; the two
      conventions differ when one boundary is much longer than the other (the shorter boundary's far pixels are
      a smaller share of the pool). Percentiles use numpy's default linear interpolation, as MONAI and MedPy do.
    * Pixel spacing is isotropic (one float, in micrometres per pixel); anisotropic spacing is a later extension.
    * Undefined values warn with :class:`~tunedepth.errors.UndefinedMetricWarning` and return NaN: a boundary
      distance when either mask is empty (the message names which), Dice and IoU when both masks are empty, a
      layered error when no column holds both boundaries. MONAI's ``ignore_empty=True`` returns NaN whenever the
      reference is empty; here an empty reference with a non-empty prediction scores Dice = IoU = 0, because the
      false positive is a real error.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.ndimage import binary_erosion, distance_transform_edt, generate_binary_structure

from tunedepth.errors import UndefinedMetricWarning

__all__ = [
    "BoundaryDistance",
    "dice_score",
    "hausdorff95_boundary_error",
    "iou_score",
    "layered_boundary_error",
    "mean_boundary_error",
]

_NAN = float("nan")
_SYMBOLS = {"um": "µm", "px": "px"}
# 4-connectivity: a pixel is inside when its up, down, left and right neighbours are all in the region.
_CROSS = generate_binary_structure(2, 1)


@dataclass(frozen=True)
class BoundaryDistance:
    """A distance between boundaries, with its unit always attached.

    Attributes:
        value: the distance (NaN when undefined).
        unit: ``"um"`` (micrometres) when the pixel spacing was given, ``"px"`` (pixels) otherwise.

    Example:
        >>> str(BoundaryDistance(12.5, "um")), str(BoundaryDistance(3.2, "px"))
        ('12.5 µm', '3.2 px')
    """

    value: float
    unit: Literal["um", "px"]

    def __post_init__(self) -> None:
        if self.unit not in _SYMBOLS:
            raise ValueError(
                f"The 'unit' parameter of BoundaryDistance must be 'um' or 'px'; got {self.unit!r}. "
                "Convert the value to micrometres or pixels first."
            )

    def __str__(self) -> str:
        return f"{self.value:.4g} {_SYMBOLS[self.unit]}"


def mean_boundary_error(
    pred_mask: npt.ArrayLike, ref_mask: npt.ArrayLike, *, pixel_spacing_um: float | None = None
) -> BoundaryDistance:
    """Average symmetric surface distance between two filled regions' boundaries (lower is better).

    Every boundary pixel of the prediction is matched to its nearest reference boundary pixel and vice versa; the
    result is the mean of all these distances, both directions pooled (Heimann et al., IEEE TMI 2009; MONAI's
    ``compute_average_surface_distance(symmetric=True)``). The boundary rule is in the module Notes.

    Args:
        pred_mask: predicted region, boolean (or 0/1) of shape (height, width).
        ref_mask: reference region, of the same shape.
        pixel_spacing_um: isotropic pixel size in micrometres; ``None`` gives the result in pixels.

    Returns:
        The distance in µm (or px). NaN, with an :class:`~tunedepth.errors.UndefinedMetricWarning`, when either
        mask is empty.

    Raises:
        ValueError: if a mask is not 2-D or not binary, the shapes differ, or the spacing is not a positive finite
            number.

    Example:
        >>> ref = np.zeros((8, 8), bool); ref[2:6, 2:6] = True
        >>> pred = np.roll(ref, 1, axis=1)
        >>> str(mean_boundary_error(pred, ref)), str(mean_boundary_error(pred, ref, pixel_spacing_um=60.0))
        ('0.5 px', '30 µm')
    """
    directed, unit = _directed_distances(pred_mask, ref_mask, pixel_spacing_um, "mean_boundary_error")
    if directed is None:
        return BoundaryDistance(_NAN, unit)
    # Sum each direction, then add the two sums: a + b == b + a exactly, so swapping pred and ref gives the
    # same float (a mean of the concatenation would not, as numpy's pairwise summation depends on the order).
    to_ref, to_pred = directed
    return BoundaryDistance(float((to_ref.sum() + to_pred.sum()) / (to_ref.size + to_pred.size)), unit)


def hausdorff95_boundary_error(
    pred_mask: npt.ArrayLike, ref_mask: npt.ArrayLike, *, pixel_spacing_um: float | None = None
) -> BoundaryDistance:
    """95th percentile of the pooled boundary distances, a robust Hausdorff distance (lower is better).

    The distances are those of :func:`mean_boundary_error`, both directions pooled, as in MedPy's ``hd95``;
    MONAI takes the larger of the two directed percentiles instead (see the module Notes). Linear interpolation
    between order statistics (``np.percentile``).

    Args:
        pred_mask: predicted region, boolean (or 0/1) of shape (height, width).
        ref_mask: reference region, of the same shape.
        pixel_spacing_um: isotropic pixel size in micrometres; ``None`` gives the result in pixels.

    Returns:
        The distance in µm (or px). NaN, with an :class:`~tunedepth.errors.UndefinedMetricWarning`, when either
        mask is empty.

    Raises:
        ValueError: if a mask is not 2-D or not binary, the shapes differ, or the spacing is not a positive finite
            number.

    Example:
        >>> ref = np.zeros((8, 8), bool); ref[2:6, 2:6] = True
        >>> pred = np.roll(ref, 1, axis=1)
        >>> str(hausdorff95_boundary_error(pred, ref, pixel_spacing_um=60.0))
        '60 µm'
    """
    directed, unit = _directed_distances(pred_mask, ref_mask, pixel_spacing_um, "hausdorff95_boundary_error")
    if directed is None:
        return BoundaryDistance(_NAN, unit)
    return BoundaryDistance(float(np.percentile(np.concatenate(directed), 95)), unit)


def layered_boundary_error(
    pred_y: npt.ArrayLike, ref_y: npt.ArrayLike, *, pixel_spacing_um: float | None = None
) -> BoundaryDistance:
    """Mean vertical distance between two open layered boundaries, column by column (lower is better).

    ``mean over x of |pred_y[x] - ref_y[x]|`` over the columns x where both boundaries exist, times the pixel
    spacing (Tajbakhsh et al., IEEE TMI 2016, carotid intima-media boundaries).

    Args:
        pred_y: predicted boundary's row (in pixels, may be fractional) in each image column, of shape
            (n_columns,); NaN where the prediction has no boundary.
        ref_y: reference boundary's row per column, of the same shape; NaN where the expert drew none.
        pixel_spacing_um: isotropic pixel size in micrometres; ``None`` gives the result in pixels.

    Returns:
        The distance in µm (or px). NaN, with an :class:`~tunedepth.errors.UndefinedMetricWarning`, when no column
        holds both boundaries.

    Raises:
        ValueError: if the arrays are not 1-D of the same shape, hold infinite values, or the spacing is not a
            positive finite number.

    Notes:
        Columns where only one boundary exists are left out, not penalised: report how many columns the
        prediction covers separately if coverage matters.

    Example:
        >>> pred_y = [10.0, 12.0, float("nan"), 15.0]
        >>> ref_y = [11.0, 12.0, 13.0, float("nan")]
        >>> str(layered_boundary_error(pred_y, ref_y)), str(layered_boundary_error(pred_y, ref_y, pixel_spacing_um=60))
        ('0.5 px', '30 µm')
    """
    func = "layered_boundary_error"
    spacing, unit = _check_spacing(pixel_spacing_um, func)
    pred = _check_rows(pred_y, "pred_y", func)
    ref = _check_rows(ref_y, "ref_y", func)
    if pred.shape != ref.shape:
        raise ValueError(
            f"{func} compares the two boundaries column by column: 'pred_y' and 'ref_y' must have the same shape "
            f"(n_columns,); got {pred.shape} and {ref.shape}. Sample both on the same image columns."
        )
    shared = ~np.isnan(pred) & ~np.isnan(ref)
    if not shared.any():
        n_pred, n_ref = int((~np.isnan(pred)).sum()), int((~np.isnan(ref)).sum())
        warnings.warn(
            f"{func} is undefined when no column holds both boundaries ('pred_y' has {n_pred} and 'ref_y' "
            f"{n_ref} of {pred.size} columns, none shared); returning NaN.",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        return BoundaryDistance(_NAN, unit)
    return BoundaryDistance(float(np.abs(pred[shared] - ref[shared]).mean()) * spacing, unit)


def dice_score(pred_mask: npt.ArrayLike, ref_mask: npt.ArrayLike) -> float:
    """Dice coefficient ``2 |P & R| / (|P| + |R|)`` of two filled regions (higher is better).

    Args:
        pred_mask: predicted region, boolean (or 0/1) of shape (height, width).
        ref_mask: reference region, of the same shape.

    Returns:
        The Dice score in [0, 1]; 0 when exactly one mask is empty. NaN, with an
        :class:`~tunedepth.errors.UndefinedMetricWarning`, when both are empty.

    Raises:
        ValueError: if a mask is not 2-D or not binary, or the shapes differ.

    Example:
        >>> ref = np.zeros((4, 4), bool); ref[:2, :] = True
        >>> pred = np.zeros((4, 4), bool); pred[:, :2] = True
        >>> dice_score(pred, ref)
        0.5
    """
    overlap = _overlap(pred_mask, ref_mask, "dice_score")
    if overlap is None:
        return _NAN
    intersection, pred_size, ref_size = overlap
    return 2 * intersection / (pred_size + ref_size)


def iou_score(pred_mask: npt.ArrayLike, ref_mask: npt.ArrayLike) -> float:
    """Intersection over union (Jaccard index) ``|P & R| / |P | R|`` of two filled regions (higher is better).

    Args:
        pred_mask: predicted region, boolean (or 0/1) of shape (height, width).
        ref_mask: reference region, of the same shape.

    Returns:
        The IoU in [0, 1]; 0 when exactly one mask is empty. NaN, with an
        :class:`~tunedepth.errors.UndefinedMetricWarning`, when both are empty.

    Raises:
        ValueError: if a mask is not 2-D or not binary, or the shapes differ.

    Example:
        >>> ref = np.zeros((4, 4), bool); ref[:2, :] = True
        >>> pred = np.zeros((4, 4), bool); pred[:, :2] = True
        >>> round(iou_score(pred, ref), 4)
        0.3333
    """
    overlap = _overlap(pred_mask, ref_mask, "iou_score")
    if overlap is None:
        return _NAN
    intersection, pred_size, ref_size = overlap
    return intersection / (pred_size + ref_size - intersection)


def _overlap(pred_mask: npt.ArrayLike, ref_mask: npt.ArrayLike, func: str) -> tuple[float, float, float] | None:
    """Return (|P & R|, |P|, |R|), or None after warning when both masks are empty."""
    pred, ref = _check_masks(pred_mask, ref_mask, func)
    pred_size, ref_size = float(pred.sum()), float(ref.sum())
    if pred_size + ref_size == 0:
        warnings.warn(
            f"{func} is undefined when both 'pred_mask' and 'ref_mask' are empty; returning NaN.",
            UndefinedMetricWarning,
            stacklevel=3,
        )
        return None
    return float((pred & ref).sum()), pred_size, ref_size


def _directed_distances(
    pred_mask: npt.ArrayLike, ref_mask: npt.ArrayLike, pixel_spacing_um: float | None, func: str
) -> tuple[tuple[np.ndarray, np.ndarray] | None, Literal["um", "px"]]:
    """Distances from each predicted boundary pixel to the reference boundary, and from each reference one back.

    Returns None (with the unit) after warning when either mask is empty (a non-empty mask always has a non-empty
    boundary: its topmost pixel has a background or off-image neighbour above it).
    """
    spacing, unit = _check_spacing(pixel_spacing_um, func)
    pred, ref = _check_masks(pred_mask, ref_mask, func)
    empty = [name for name, mask in (("pred_mask", pred), ("ref_mask", ref)) if not mask.any()]
    if empty:
        warnings.warn(
            f"{func} is undefined when a region is empty: {' and '.join(repr(n) for n in empty)} "
            f"{'is' if len(empty) == 1 else 'are'} empty; returning NaN.",
            UndefinedMetricWarning,
            stacklevel=3,
        )
        return None, unit
    pred_edge = pred & ~binary_erosion(pred, structure=_CROSS, border_value=0)
    ref_edge = ref & ~binary_erosion(ref, structure=_CROSS, border_value=0)
    # The Euclidean distance transform of the complement gives, at every pixel, the distance to the nearest edge
    # pixel; `sampling` scales both axes by the isotropic spacing.
    to_ref = distance_transform_edt(~ref_edge, sampling=(spacing, spacing))
    to_pred = distance_transform_edt(~pred_edge, sampling=(spacing, spacing))
    return (to_ref[pred_edge], to_pred[ref_edge]), unit


def _check_spacing(pixel_spacing_um: float | None, func: str) -> tuple[float, Literal["um", "px"]]:
    """Return (spacing, unit): (1.0, "px") for None, else the validated spacing and "um"."""
    if pixel_spacing_um is None:
        return 1.0, "px"
    if (
        isinstance(pixel_spacing_um, bool)
        or not isinstance(pixel_spacing_um, (int, float, np.integer, np.floating))
        or not math.isfinite(pixel_spacing_um)
        or pixel_spacing_um <= 0
    ):
        raise ValueError(
            f"The 'pixel_spacing_um' parameter of {func} must be a positive finite number of micrometres per pixel, "
            f"or None for a result in pixels; got {pixel_spacing_um!r}. Take it from the data source's metadata; "
            "it is never guessed."
        )
    return float(pixel_spacing_um), "um"


def _check_masks(pred_mask: npt.ArrayLike, ref_mask: npt.ArrayLike, func: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate two binary masks of the same 2-D shape and return them as bool arrays."""
    masks = []
    for name, value in (("pred_mask", pred_mask), ("ref_mask", ref_mask)):
        mask = np.asarray(value)
        if mask.ndim != 2:
            raise ValueError(
                f"The '{name}' parameter of {func} must be a 2-D mask of shape (height, width); got shape "
                f"{mask.shape}. Pass one image's mask at a time (squeeze channel axes)."
            )
        if mask.dtype != bool and (mask.dtype.kind not in "biuf" or not np.isin(mask, (0, 1)).all()):
            values = np.unique(mask)[:5].tolist() if mask.dtype.kind in "biuf" else str(mask.dtype)
            raise ValueError(
                f"The '{name}' parameter of {func} must be a binary mask (bool, or only 0 and 1); got {values}. "
                "Threshold probabilities, or divide 0/255 masks by 255."
            )
        masks.append(mask.astype(bool))
    if masks[0].shape != masks[1].shape:
        raise ValueError(
            f"{func} compares masks pixel by pixel: 'pred_mask' and 'ref_mask' must have the same shape; got "
            f"{masks[0].shape} and {masks[1].shape}. Resize the prediction to the reference image's size."
        )
    return masks[0], masks[1]


def _check_rows(rows: npt.ArrayLike, name: str, func: str) -> np.ndarray:
    """Validate a boundary's per-column rows: 1-D floats, NaN allowed (no boundary), no infinities."""
    y = np.asarray(rows, dtype=float)
    if y.ndim != 1:
        raise ValueError(
            f"The '{name}' parameter of {func} must have shape (n_columns,), one row per image column; got shape "
            f"{y.shape}. Pass one boundary of one image at a time."
        )
    if np.isinf(y).any():
        raise ValueError(
            f"The '{name}' parameter of {func} must hold finite rows, or NaN where there is no boundary; got "
            f"{int(np.isinf(y).sum())} infinite value(s)."
        )
    return y
