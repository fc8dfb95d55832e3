"""Argument checks for the volume functions: a (Z, Y, X) volume, its spacing, a voxel centre inside it, a 3-vector.

Each check returns the value in a normal form (float arrays, float tuples) or raises ``ValueError`` with one line
naming the parameter, the public function, what was expected, what was got and, where it helps, the fix.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["UNIT_TOLERANCE", "check_center", "check_positive", "check_spacing", "check_unit_vector", "check_volume"]

UNIT_TOLERANCE = 1e-6
"""How far from 1 a direction's norm (and from 0 the dot product of two directions) may be."""


def _triple(value: object) -> np.ndarray | None:
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    if array.shape != (3,) or not np.all(np.isfinite(array)):
        return None
    return array


def _shown(value: object) -> str:
    array = _triple(value)
    return repr(value) if array is None else "(" + ", ".join(f"{x:g}" for x in array) + ")"


def check_volume(volume: object, name: str, func: str) -> np.ndarray:
    """Return ``volume`` as a float64 array of shape (Z, Y, X), each size >= 1, or raise."""
    array = np.asarray(volume)
    if array.ndim != 3 or min(array.shape) < 1 or not np.issubdtype(array.dtype, np.number) \
            or np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(f"The '{name}' parameter of {func} must be a real array of shape (Z, Y, X), each size >= 1; "
                         f"got shape {array.shape} and dtype {array.dtype}.")
    return array.astype(np.float64, copy=False)


def check_spacing(spacing: object, name: str, func: str) -> tuple[float, float, float]:
    """Return ``spacing`` as (sz, sy, sx), three finite numbers > 0, or raise."""
    array = _triple(spacing)
    if array is None or not np.all(array > 0):
        raise ValueError(f"The '{name}' parameter of {func} must be the voxel size (sz, sy, sx), three finite "
                         f"numbers > 0 (mm, or 1s for voxel units); got {_shown(spacing)}.")
    return float(array[0]), float(array[1]), float(array[2])


def check_center(center: object, shape: Sequence[int], name: str, func: str) -> np.ndarray:
    """Return ``center`` as a float array (z, y, x) of voxel coordinates inside ``shape``, or raise.

    Inside means ``0 <= c[i] <= shape[i] - 1`` on every axis: voxel centres sit at integer coordinates.
    """
    array = _triple(center)
    if array is None:
        raise ValueError(f"The '{name}' parameter of {func} must be three finite voxel coordinates (z, y, x); "
                         f"got {center!r}.")
    upper = np.asarray(shape, dtype=float) - 1
    if np.any(array < 0) or np.any(array > upper):
        limits = ", ".join(f"[0, {int(u)}]" for u in upper)
        raise ValueError(f"The '{name}' parameter of {func} must lie inside the volume of shape {tuple(shape)} "
                         f"(z, y, x in {limits}); got (z, y, x) = {_shown(array)}. Pass a candidate inside the "
                         "volume, in voxel coordinates.")
    return array


def check_unit_vector(vector: object, name: str, func: str) -> np.ndarray:
    """Return ``vector`` as a float array (z, y, x) of norm 1 (within :data:`UNIT_TOLERANCE`), or raise."""
    array = _triple(vector)
    norm = None if array is None else float(np.linalg.norm(array))
    if array is None or norm is None or abs(norm - 1) > UNIT_TOLERANCE:
        got = _shown(vector) + ("" if norm is None else f" of norm {norm:.6g}")
        raise ValueError(f"The '{name}' parameter of {func} must be a unit vector (z, y, x) in physical space; "
                         f"got {got}. Divide it by its norm.")
    return array


def check_positive(value: object, name: str, func: str) -> float:
    """Return ``value`` as a float, or raise unless it is a finite number > 0 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or value <= 0:
        raise ValueError(f"The '{name}' parameter of {func} must be a finite number > 0; got {value!r}.")
    return float(value)
