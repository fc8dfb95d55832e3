"""Generated CT-angiography-like volumes with known truth: a straight bright tube, dark filling defects in it, a ball.

Everything is built in physical space (voxel (k, j, i) at (k * sz, j * sy, i * sx)), so the same object on a
different ``spacing`` is the same shape in mm. Edges are soft: a voxel's occupancy falls linearly from 1 to 0 over
:data:`EDGE_VOXELS` largest voxel sizes across the surface (0.5 exactly on it), a cheap stand-in for partial-volume
blur. The edge spans at least two voxels on every axis, so interpolation resolves it everywhere and a threshold at
half the contrast sits on the true surface; a sharper edge is aliased on the coarse axis of anisotropic voxels (a
tube of radius 5 mm on 1.6 mm slices looked 4.8 mm across the slices and 5 mm within them). Noise is Gaussian,
drawn from ``numpy.random.default_rng(seed)``: the same arguments give the same volume, bit for bit.

Intensities are relative to a background of 0: ``contrast`` is the lumen's brightness, so ``contrast / noise_sd``
is the signal-to-noise ratio the tests state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tunedepth.data.volumes._inputs import check_center, check_positive, check_spacing

__all__ = ["EDGE_VOXELS", "FillingDefect", "TubePhantom", "ball_phantom", "tube_phantom"]

EDGE_VOXELS = 2.0
"""The width of a phantom's soft edge, in units of the largest voxel size."""


@dataclass(frozen=True)
class FillingDefect:
    """A dark ball inside the tube's lumen (an "embolus"), where the lumen has ``contrast`` instead of the tube's.

    Attributes:
        center: voxel coordinates (z, y, x) of the ball's centre; must lie inside the tube.
        radius: the ball's radius, physical units (those of the spacing).
        contrast: the brightness inside the defect, on the same scale as the tube's (0 = background).
    """

    center: tuple[float, float, float]
    radius: float
    contrast: float


@dataclass(frozen=True)
class TubePhantom:
    """A generated tube volume and its truth.

    Attributes:
        volume: float64 array of shape (Z, Y, X).
        spacing: voxel size (sz, sy, sx).
        point: voxel coordinates (z, y, x) of a point on the tube's axis.
        direction: unit vector (z, y, x) of the axis in physical space.
        radius: the tube's radius, physical units.
        defects: the filling defects, as passed.
    """

    volume: np.ndarray
    spacing: tuple[float, float, float]
    point: tuple[float, float, float]
    direction: tuple[float, float, float]
    radius: float
    defects: tuple[FillingDefect, ...]


def _physical_grid(shape: tuple[int, int, int], spacing: tuple[float, float, float]) -> np.ndarray:
    """Physical coordinates of every voxel, of shape (Z, Y, X, 3)."""
    axes = [np.arange(n) * s for n, s in zip(shape, spacing, strict=True)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)


def _occupancy(distance: np.ndarray, radius: float, edge: float) -> np.ndarray:
    return np.clip(0.5 - (distance - radius) / edge, 0.0, 1.0)


def _check_shape(shape: object, func: str) -> tuple[int, int, int]:
    if isinstance(shape, (tuple, list)) and len(shape) == 3 \
            and all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 2 for n in shape):
        return int(shape[0]), int(shape[1]), int(shape[2])
    raise ValueError(f"The 'shape' parameter of {func} must be (Z, Y, X), three ints >= 2; got {shape!r}.")


def _check_noise(noise_sd: object, func: str) -> float:
    if isinstance(noise_sd, bool) or not isinstance(noise_sd, (int, float, np.integer, np.floating)) \
            or not np.isfinite(noise_sd) or noise_sd < 0:
        raise ValueError(f"The 'noise_sd' parameter of {func} must be a finite number >= 0; got {noise_sd!r}.")
    return float(noise_sd)


def _with_noise(clean: np.ndarray, noise_sd: float, seed: int) -> np.ndarray:
    return clean + np.random.default_rng(seed).normal(0.0, noise_sd, clean.shape) if noise_sd > 0 else clean


def tube_phantom(shape: tuple[int, int, int], *, spacing: tuple[float, float, float],
                 direction: tuple[float, float, float], radius: float, contrast: float, noise_sd: float, seed: int,
                 point: tuple[float, float, float] | None = None,
                 defects: Sequence[FillingDefect] = ()) -> TubePhantom:
    """A straight bright tube of infinite length through the volume, with optional dark filling defects and noise.

    Args:
        shape: (Z, Y, X), each >= 2.
        spacing: voxel size (sz, sy, sx), each > 0.
        direction: the axis in physical space (z, y, x); any non-zero length, normalised here.
        radius: the tube's radius, > 0, physical units.
        contrast: the lumen's brightness over the background of 0.
        noise_sd: standard deviation of the added Gaussian noise, >= 0.
        seed: seed of the noise.
        point: voxel coordinates (z, y, x) of a point on the axis, inside the volume; default the volume's centre.
        defects: filling defects, each centred inside the tube.

    Returns:
        The volume and its truth; the defects' balls are cut to the lumen (a defect never leaves the tube).

    Raises:
        ValueError: a bad shape, spacing, radius, noise or point; a zero direction; a defect centred outside the
            tube.

    Example:
        >>> tube = tube_phantom((9, 9, 9), spacing=(1, 1, 1), direction=(0, 0, 1), radius=2.0, contrast=1.0,
        ...                     noise_sd=0.0, seed=0)
        >>> tube.volume[4, 4, :].tolist() == [1.0] * 9, float(tube.volume[0, 0, 0])
        (True, 0.0)
    """
    func = "tube_phantom"
    dims = _check_shape(shape, func)
    sizes = check_spacing(spacing, "spacing", func)
    r = check_positive(radius, "radius", func)
    sd = _check_noise(noise_sd, func)
    axis = np.asarray(direction, dtype=float)
    if axis.shape != (3,) or not np.all(np.isfinite(axis)) or np.linalg.norm(axis) == 0:
        raise ValueError(f"The 'direction' parameter of {func} must be a non-zero finite vector (z, y, x); "
                         f"got {direction!r}.")
    axis = axis / np.linalg.norm(axis)
    on_axis = (np.asarray(dims, dtype=float) - 1) / 2 if point is None else check_center(point, dims, "point", func)
    grid = _physical_grid(dims, sizes)
    origin = on_axis * np.asarray(sizes)
    edge = EDGE_VOXELS * max(sizes)
    rel = grid - origin
    tube = _occupancy(np.linalg.norm(rel - (rel @ axis)[..., None] * axis, axis=-1), r, edge)
    clean = contrast * tube
    for k, defect in enumerate(defects):
        c = check_center(defect.center, dims, f"defects[{k}].center", func) * np.asarray(sizes)
        off_axis = float(np.linalg.norm((c - origin) - ((c - origin) @ axis) * axis))
        if off_axis >= r:
            raise ValueError(f"The 'defects[{k}].center' parameter of {func} must lie inside the tube (within "
                             f"{r:g} of its axis); it is {off_axis:.3g} away. Move it onto the tube.")
        ball_radius = check_positive(defect.radius, f"defects[{k}].radius", func)
        ball = _occupancy(np.linalg.norm(grid - c, axis=-1), ball_radius, edge)
        clean = clean + (defect.contrast - contrast) * tube * ball
    return TubePhantom(volume=_with_noise(clean, sd, seed), spacing=sizes,
                       point=(float(on_axis[0]), float(on_axis[1]), float(on_axis[2])),
                       direction=(float(axis[0]), float(axis[1]), float(axis[2])), radius=r, defects=tuple(defects))


def ball_phantom(shape: tuple[int, int, int], *, spacing: tuple[float, float, float], radius: float,
                 contrast: float, noise_sd: float, seed: int,
                 center: tuple[float, float, float] | None = None) -> np.ndarray:
    """A bright ball (a blob with no axis: the case where the vessel axis falls back to orthogonal views).

    Args:
        shape: (Z, Y, X), each >= 2.
        spacing: voxel size (sz, sy, sx), each > 0.
        radius: the ball's radius, > 0, physical units.
        contrast: the ball's brightness over the background of 0.
        noise_sd: standard deviation of the added Gaussian noise, >= 0.
        seed: seed of the noise.
        center: voxel coordinates (z, y, x), inside the volume; default the volume's centre.

    Returns:
        float64 array of shape ``shape``.

    Raises:
        ValueError: a bad shape, spacing, radius, noise or centre.

    Example:
        >>> ball = ball_phantom((5, 5, 5), spacing=(1, 1, 1), radius=1.0, contrast=2.0, noise_sd=0.0, seed=0)
        >>> float(ball[2, 2, 2]), float(ball[2, 2, 3]), float(ball[0, 0, 0])
        (2.0, 1.0, 0.0)
    """
    func = "ball_phantom"
    dims = _check_shape(shape, func)
    sizes = check_spacing(spacing, "spacing", func)
    r = check_positive(radius, "radius", func)
    sd = _check_noise(noise_sd, func)
    middle = (np.asarray(dims, dtype=float) - 1) / 2 if center is None else check_center(center, dims, "center", func)
    distance = np.linalg.norm(_physical_grid(dims, sizes) - middle * np.asarray(sizes), axis=-1)
    return _with_noise(contrast * _occupancy(distance, r, min(sizes)), sd, seed)
