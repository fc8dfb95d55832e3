"""Spacing-aware sampling of 2D sections from a 3D volume, and the sections the paper's PE application cuts.

Conventions, shared by every function here:

* A volume is an array of shape (Z, Y, X); ``spacing`` is the voxel size (sz, sy, sx), in mm where it is known
  and 1s for voxel units. Voxel centres sit at integer coordinates, so voxel (k, j, i) is at the physical position
  (k * sz, j * sy, i * sx).
* ``center`` is in voxel coordinates (z, y, x), fractions allowed; it must lie inside the volume.
* Directions (``u``, ``v``, ``axis``) are unit vectors (z, y, x) in **physical** space: with anisotropic spacing
  the same direction crosses a different number of voxels per mm on each axis.
* A section of ``size`` x ``size`` pixels has ``step`` physical units per pixel (mm, or voxels for unit spacing);
  its pixel (r, c) is at ``center + (r - h) * step * u + (c - h) * step * v`` with ``h = (size - 1) / 2``, so rows
  run along ``u``, columns along ``v``, and for even ``size`` the centre falls between four pixels.
* Values are trilinear interpolations (``scipy.ndimage.map_coordinates``, order 1). A pixel whose voxel
  coordinate leaves ``[0, n - 1]`` on any axis is outside the volume and takes ``fill_value``
  (:data:`OUTSIDE_FILL`, 0.0, unless the caller passes another).

Tajbakhsh et al. (IEEE TMI 2016, section II-D) represent a pulmonary-embolism candidate by a cross-section
perpendicular to the vessel and a longitudinal section along it; :func:`cross_section` and
:func:`longitudinal_section` cut those two, and :func:`orthogonal_views` the usual axial/coronal/sagittal 2.5D
triple for when no vessel axis is found.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from tunedepth._checks import check_int
from tunedepth.data.volumes._inputs import (
    UNIT_TOLERANCE,
    check_center,
    check_positive,
    check_spacing,
    check_unit_vector,
    check_volume,
)

__all__ = [
    "ORTHOGONAL_VIEW_NAMES",
    "OUTSIDE_FILL",
    "cross_section",
    "longitudinal_section",
    "orthogonal_views",
    "perpendicular_basis",
    "sample_plane",
]

OUTSIDE_FILL = 0.0
"""The value a section takes where it leaves the volume, unless the caller passes another ``fill_value``."""

ORTHOGONAL_VIEW_NAMES = ("axial", "coronal", "sagittal")
"""The order of :func:`orthogonal_views`: planes normal to z, to y and to x."""

# (u, v) of each orthogonal view: rows along the first, columns along the second, both in increasing index order.
_ORTHOGONAL_PLANES = (((0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),   # axial: rows y, columns x
                      ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),   # coronal: rows z, columns x
                      ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)))   # sagittal: rows z, columns y


def sample_plane(volume: np.ndarray, spacing: tuple[float, float, float],
                 center: tuple[float, float, float] | np.ndarray, u: tuple[float, float, float] | np.ndarray,
                 v: tuple[float, float, float] | np.ndarray, *,
                 size: int, step: float, fill_value: float = OUTSIDE_FILL, slab: float = 0.0) -> np.ndarray:
    """The square section of ``volume`` through ``center`` spanned by the physical directions ``u`` and ``v``.

    Args:
        volume: real array of shape (Z, Y, X).
        spacing: voxel size (sz, sy, sx), each > 0 (mm, or 1s for voxel units).
        center: voxel coordinates (z, y, x) of the section's centre, inside the volume.
        u: unit vector (z, y, x) in physical space along which the rows advance.
        v: unit vector (z, y, x) in physical space, orthogonal to ``u``, along which the columns advance.
        size: pixels per side, >= 1.
        step: physical distance per output pixel, > 0, in the unit of ``spacing``.
        fill_value: the value of pixels outside the volume (default :data:`OUTSIDE_FILL`, 0.0).
        slab: thickness, in the unit of ``spacing``, of a slab centred on the section: each pixel is then the
            maximum over parallel sections one (smallest) voxel apart along ``u x v``, within ``slab / 2`` of the
            section (a thick-slab maximum intensity projection, as CT angiography is read). 0 (default): the
            section alone.

    Returns:
        float64 array of shape (size, size); pixel (r, c) is the trilinear interpolation at
        ``center + (r - h) * step * u + (c - h) * step * v`` (physical offsets), ``h = (size - 1) / 2`` (with a
        slab: the maximum of it over the parallel sections).

    Raises:
        ValueError: a volume that is not 3D, a spacing not > 0, a centre outside the volume, ``u`` or ``v`` not of
            norm 1, ``u`` and ``v`` not orthogonal, a size < 1, a step not > 0 or a slab < 0.

    Example:
        >>> ramp = np.arange(4.0)[None, None, :].repeat(3, 0).repeat(3, 1)  # value = x index
        >>> sample_plane(ramp, (1, 1, 2), (1, 1, 1.5), (0, 1, 0), (0, 0, 1), size=3, step=1.0)
        array([[1. , 1.5, 2. ],
               [1. , 1.5, 2. ],
               [1. , 1.5, 2. ]])
    """
    func = "sample_plane"
    array = check_volume(volume, "volume", func)
    sizes = np.asarray(check_spacing(spacing, "spacing", func))
    origin = check_center(center, array.shape, "center", func)
    row_dir = check_unit_vector(u, "u", func)
    col_dir = check_unit_vector(v, "v", func)
    dot = float(row_dir @ col_dir)
    if abs(dot) > UNIT_TOLERANCE:
        raise ValueError(f"The 'u' and 'v' parameters of {func} must be orthogonal unit vectors; their dot product "
                         f"is {dot:.6g}. Build v from u with perpendicular_basis(u).")
    n = check_int(size, "size", func, minimum=1)
    pixel = check_positive(step, "step", func)
    thickness = float(slab)
    if not math.isfinite(thickness) or thickness < 0:
        raise ValueError(f"The 'slab' parameter of {func} must be a thickness >= 0 in the unit of the spacing; got "
                         f"{slab!r}. Use 0 for the section alone.")
    voxel = float(np.min(sizes))
    half_count = int(math.floor(thickness / 2 / voxel + 1e-9))
    depths = np.arange(-half_count, half_count + 1) * voxel  # the section itself in the middle
    offsets = (np.arange(n) - (n - 1) / 2) * pixel
    physical = (offsets[None, :, None, None] * row_dir + offsets[None, None, :, None] * col_dir
                + depths[:, None, None, None] * np.cross(row_dir, col_dir))  # (n_sections, n, n, 3)
    coords = origin[:, None, None, None] + np.moveaxis(physical / sizes, -1, 0)
    values = ndimage.map_coordinates(array, coords, order=1, mode="constant", cval=float(fill_value))
    out: np.ndarray = values.max(axis=0)
    return out


def perpendicular_basis(axis: tuple[float, float, float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors ``(e1, e2)`` orthogonal to ``axis`` and to each other, with ``e1 x e2 = axis``.

    ``e1`` is the coordinate direction least aligned with ``axis`` (the first of them on a tie), made orthogonal to
    it, so the basis is a fixed function of the axis; ``-axis`` gives a different (mirrored) basis.

    Args:
        axis: unit vector (z, y, x) in physical space.

    Returns:
        ``(e1, e2)``, float arrays of shape (3,).

    Raises:
        ValueError: ``axis`` is not a finite 3-vector of norm 1.

    Example:
        >>> e1, e2 = perpendicular_basis((0.0, 0.0, 1.0))
        >>> e1.tolist(), e2.tolist()
        ([1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
    """
    a = check_unit_vector(axis, "axis", "perpendicular_basis")
    seed = np.zeros(3)
    seed[int(np.argmin(np.abs(a)))] = 1.0
    e1 = seed - (seed @ a) * a
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(a, e1)
    return e1, e2 / np.linalg.norm(e2)


def _rotated_basis(axis: np.ndarray, angle_deg: float) -> tuple[np.ndarray, np.ndarray]:
    e1, e2 = perpendicular_basis(axis)
    t = math.radians(angle_deg)
    return math.cos(t) * e1 + math.sin(t) * e2, -math.sin(t) * e1 + math.cos(t) * e2


def _check_angle(angle_deg: object, func: str) -> float:
    if isinstance(angle_deg, bool) or not isinstance(angle_deg, (int, float, np.integer, np.floating)) \
            or not math.isfinite(angle_deg):
        raise ValueError(f"The 'angle_deg' parameter of {func} must be a finite number of degrees; got {angle_deg!r}.")
    return float(angle_deg)


def cross_section(volume: np.ndarray, spacing: tuple[float, float, float], center: tuple[float, float, float],
                  axis: tuple[float, float, float] | np.ndarray, *, size: int, step: float, angle_deg: float = 0.0,
                  fill_value: float = OUTSIDE_FILL) -> np.ndarray:
    """The section through ``center`` perpendicular to ``axis`` (across a vessel whose direction is ``axis``).

    Rows run along ``e1`` and columns along ``e2`` of :func:`perpendicular_basis`, both turned by ``angle_deg``
    about the axis (right-handed): the rotation augmentation of the paper's PE patches.

    Args:
        volume: real array of shape (Z, Y, X).
        spacing: voxel size (sz, sy, sx), each > 0.
        center: voxel coordinates (z, y, x), inside the volume.
        axis: unit vector (z, y, x) in physical space, the plane's normal.
        size: pixels per side, >= 1.
        step: physical distance per pixel, > 0.
        angle_deg: rotation of the in-plane directions about ``axis``, in degrees.
        fill_value: the value of pixels outside the volume (default 0.0).

    Returns:
        float64 array of shape (size, size), as :func:`sample_plane`.

    Raises:
        ValueError: as :func:`sample_plane`, or ``axis`` not of norm 1, or a non-finite angle.

    Example:
        >>> vol = np.zeros((5, 5, 5)); vol[2, 2, :] = 1.0  # a line along x
        >>> cross_section(vol, (1, 1, 1), (2, 2, 2), (0, 0, 1), size=3, step=1.0)
        array([[0., 0., 0.],
               [0., 1., 0.],
               [0., 0., 0.]])
    """
    a = check_unit_vector(axis, "axis", "cross_section")
    u, v = _rotated_basis(a, _check_angle(angle_deg, "cross_section"))
    return sample_plane(volume, spacing, center, u, v, size=size, step=step, fill_value=fill_value)


def longitudinal_section(volume: np.ndarray, spacing: tuple[float, float, float],
                         center: tuple[float, float, float], axis: tuple[float, float, float] | np.ndarray, *,
                         size: int, step: float, angle_deg: float = 0.0,
                         fill_value: float = OUTSIDE_FILL) -> np.ndarray:
    """The section through ``center`` that contains ``axis`` (along a vessel whose direction is ``axis``).

    Rows run along ``axis``; columns along ``e1`` of :func:`perpendicular_basis` turned by ``angle_deg`` about the
    axis, so the angles 0..180 sweep every plane containing the axis. Arguments, result and errors as
    :func:`cross_section`, except that ``axis`` lies in the plane and ``angle_deg`` turns the plane about it.

    Example:
        >>> vol = np.zeros((5, 5, 5)); vol[2, 2, :] = 1.0  # a line along x
        >>> longitudinal_section(vol, (1, 1, 1), (2, 2, 2), (0, 0, 1), size=3, step=1.0)
        array([[0., 1., 0.],
               [0., 1., 0.],
               [0., 1., 0.]])
    """
    a = check_unit_vector(axis, "axis", "longitudinal_section")
    across, _ = _rotated_basis(a, _check_angle(angle_deg, "longitudinal_section"))
    return sample_plane(volume, spacing, center, a, across, size=size, step=step, fill_value=fill_value)


def orthogonal_views(volume: np.ndarray, spacing: tuple[float, float, float], center: tuple[float, float, float],
                     *, size: int, step: float, fill_value: float = OUTSIDE_FILL) -> np.ndarray:
    """The axial, coronal and sagittal sections through ``center`` (the usual 2.5D representation).

    Args:
        volume: real array of shape (Z, Y, X).
        spacing: voxel size (sz, sy, sx), each > 0.
        center: voxel coordinates (z, y, x), inside the volume.
        size: pixels per side, >= 1.
        step: physical distance per pixel, > 0.
        fill_value: the value of pixels outside the volume (default 0.0).

    Returns:
        float64 array of shape (3, size, size) in the order of :data:`ORTHOGONAL_VIEW_NAMES`: axial (rows y,
        columns x), coronal (rows z, columns x), sagittal (rows z, columns y), indices increasing down and right.

    Raises:
        ValueError: as :func:`sample_plane`.

    Example:
        >>> vol = np.zeros((3, 3, 3)); vol[1, 1, 1] = 1.0
        >>> orthogonal_views(vol, (1, 1, 1), (1, 1, 1), size=3, step=1.0)[:, 1, 1].tolist()
        [1.0, 1.0, 1.0]
    """
    return np.stack([sample_plane(volume, spacing, center, u, v, size=size, step=step, fill_value=fill_value)
                     for u, v in _ORTHOGONAL_PLANES])
