"""The local vessel direction at a candidate, from the Hessian at one vessel scale, with a tubularity flag.

For a bright tube the intensity curves down strongly across the tube and hardly at all along it: of the Hessian's
three eigenvalues, the two across are large and negative and the one along is near zero, so the axis is the
eigenvector of the eigenvalue of smallest magnitude (Frangi et al., "Multiscale vessel enhancement filtering",
MICCAI 1998, section 2). The Hessian is taken with Gaussian derivatives (``scipy.ndimage.gaussian_filter``) of one
standard deviation ``sigma`` in physical units, so the smoothing is isotropic in mm however anisotropic the voxels;
the derivatives are converted to physical units before the eigen-decomposition, so the axis is a physical
direction, ready for :func:`tunedepth.data.volumes.geometry.cross_section`.

Notes:
    Tubularity is Frangi's shape term without his structureness factor (which needs a contrast scale ``c``):
    ``(1 - exp(-Ra^2 / (2 alpha^2))) * exp(-Rb^2 / (2 beta^2))`` with ``Ra = |l2| / |l3|``,
    ``Rb = |l1| / sqrt(|l2 l3|)``, ``alpha = beta = 0.5`` (his values), and 0 unless ``l2 < 0`` and ``l3 < 0``
    (a bright tube on a dark background). It lies in [0, 1 - e^-2 = 0.865]: an ideal tube scores 0.865, a ball
    ``0.865 e^-2 = 0.117``, a plate about 0. The contrast the shape term leaves out is reported separately as
    ``strength``, the scale-normalised cross curvature ``sigma^2 |l2|``, in intensity units, for callers that know
    their noise level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from tunedepth.data.volumes._inputs import check_center, check_positive, check_spacing, check_volume

__all__ = ["FRANGI_ALPHA", "FRANGI_BETA", "MIN_TUBULARITY", "VesselAxis", "estimate_vessel_axis", "hessian_at"]

FRANGI_ALPHA = 0.5
"""Frangi's alpha: how sharply the tubularity falls as the cross-section flattens (plate-like)."""

FRANGI_BETA = 0.5
"""Frangi's beta: how sharply the tubularity falls as the structure rounds (blob-like)."""

MIN_TUBULARITY = 0.5
"""The default tubularity below which a point has no vessel axis (between a ball, 0.117, and a tube, 0.865)."""

_TRUNCATE = 4.0  # gaussian_filter's kernel radius in standard deviations (its default)


@dataclass(frozen=True)
class VesselAxis:
    """The local vessel direction at a point, and whether a tube is there at all.

    Attributes:
        axis: unit vector (z, y, x) in physical space, the eigenvector of the eigenvalue of smallest magnitude; its
            sign is arbitrary. When ``is_tubular`` is False it is still that eigenvector, but it describes no vessel.
        eigenvalues: the Hessian's eigenvalues ``(l1, l2, l3)`` in intensity per squared physical unit, ordered
            by magnitude, ``|l1| <= |l2| <= |l3|``.
        tubularity: Frangi's shape term in [0, 0.865] (module notes).
        strength: the scale-normalised cross curvature ``sigma^2 * |l2|``, in intensity units (0 unless tubular
            in sign).
        is_tubular: ``tubularity >= min_tubularity`` and ``strength >= min_strength``. When False the caller falls
            back to :func:`tunedepth.data.volumes.geometry.orthogonal_views` (and says so).
    """

    axis: np.ndarray
    eigenvalues: tuple[float, float, float]
    tubularity: float
    strength: float
    is_tubular: bool


def hessian_at(volume: np.ndarray, spacing: tuple[float, float, float], center: tuple[float, float, float], *,
               sigma: float) -> np.ndarray:
    """The Gaussian-smoothed Hessian of ``volume`` at ``center``, in physical units.

    The six second derivatives are computed on a crop around the centre (``scipy.ndimage.gaussian_filter``,
    standard deviation ``sigma / spacing`` voxels on each axis, kernels truncated at 4 standard deviations, edges
    mirrored as the filter does), interpolated trilinearly at ``center``, and divided by the spacings, so entry
    ``(i, j)`` is d2I / (dp_i dp_j) with p in physical units (z, y, x).

    Args:
        volume: real array of shape (Z, Y, X).
        spacing: voxel size (sz, sy, sx), each > 0.
        center: voxel coordinates (z, y, x), inside the volume.
        sigma: the vessel scale, > 0, in the unit of ``spacing`` (mm, or voxels for unit spacing).

    Returns:
        Symmetric float64 array of shape (3, 3).

    Raises:
        ValueError: a volume that is not 3D, a spacing or sigma not > 0, a centre outside the volume.

    Example:
        >>> z, y, x = np.meshgrid(*[np.arange(21.0)] * 3, indexing="ij")
        >>> f = -((y - 10) ** 2) - ((x - 10) / 2) ** 2  # x voxels of 0.5 mm: the same curvature per mm as y
        >>> np.round(np.diag(hessian_at(f, (1, 1, 0.5), (10, 10, 10), sigma=1.0)), 1).tolist()
        [0.0, -2.0, -2.0]
    """
    func = "hessian_at"
    array = check_volume(volume, "volume", func)
    sizes = np.asarray(check_spacing(spacing, "spacing", func))
    origin = check_center(center, array.shape, "center", func)
    scale = check_positive(sigma, "sigma", func)
    sigma_vox = scale / sizes
    half = np.ceil(_TRUNCATE * sigma_vox).astype(int) + 2
    lo = np.maximum(np.floor(origin).astype(int) - half, 0)
    hi = np.minimum(np.floor(origin).astype(int) + half + 2, array.shape)
    crop = array[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    local = (origin - lo)[:, None]
    hessian = np.empty((3, 3))
    for i in range(3):
        for j in range(i, 3):
            order = [0, 0, 0]
            order[i] += 1
            order[j] += 1
            derivative = ndimage.gaussian_filter(crop, sigma_vox, order=order, truncate=_TRUNCATE)
            value = ndimage.map_coordinates(derivative, local, order=1, mode="nearest")[0]
            hessian[i, j] = hessian[j, i] = value / (sizes[i] * sizes[j])
    return hessian


def _tubularity(l1: float, l2: float, l3: float) -> float:
    if l2 >= 0 or l3 >= 0:
        return 0.0
    ra = abs(l2) / abs(l3)
    rb = abs(l1) / math.sqrt(abs(l2 * l3))
    return (1 - math.exp(-ra**2 / (2 * FRANGI_ALPHA**2))) * math.exp(-rb**2 / (2 * FRANGI_BETA**2))


def estimate_vessel_axis(volume: np.ndarray, spacing: tuple[float, float, float], center: tuple[float, float, float],
                         *, sigma: float, min_tubularity: float = MIN_TUBULARITY,
                         min_strength: float = 0.0) -> VesselAxis:
    """The direction of the bright vessel through ``center``, with the flag that says whether there is one.

    The fallback is a flag, not None: the result always carries an axis, and ``is_tubular`` False tells the caller
    that no tubular structure was found, so it cuts :func:`~tunedepth.data.volumes.geometry.orthogonal_views`
    instead of vessel-aligned sections.

    Args:
        volume: real array of shape (Z, Y, X), vessels bright.
        spacing: voxel size (sz, sy, sx), each > 0.
        center: voxel coordinates (z, y, x), inside the volume.
        sigma: the vessel scale, > 0, in the unit of ``spacing``; about half the vessel radius to the radius
            (a smaller scale follows the wall, a larger one blurs in the surroundings).
        min_tubularity: tubularity below which ``is_tubular`` is False, in [0, 1]; default
            :data:`MIN_TUBULARITY` (0.5).
        min_strength: strength (``sigma^2 |l2|``, intensity units) below which ``is_tubular`` is False, >= 0;
            default 0 (shape only). Set it to a few noise standard deviations of the smoothed volume to refuse
            tube-like noise.

    Returns:
        The axis, the eigenvalues, the tubularity, the strength and the flag.

    Raises:
        ValueError: as :func:`hessian_at`, or a threshold out of range.

    Example:
        >>> from tunedepth.data.volumes.phantoms import tube_phantom
        >>> tube = tube_phantom((25, 25, 25), spacing=(1, 1, 1), direction=(0, 1, 1), radius=3.0, contrast=1.0,
        ...                     noise_sd=0.0, seed=0)
        >>> found = estimate_vessel_axis(tube.volume, tube.spacing, tube.point, sigma=2.0)
        >>> found.is_tubular, np.round(np.abs(found.axis), 3).tolist()
        (True, [0.0, 0.707, 0.707])
    """
    func = "estimate_vessel_axis"
    if isinstance(min_tubularity, bool) or not isinstance(min_tubularity, (int, float)) \
            or not 0 <= min_tubularity <= 1:
        raise ValueError(f"The 'min_tubularity' parameter of {func} must be a number in [0, 1]; "
                         f"got {min_tubularity!r}.")
    if isinstance(min_strength, bool) or not isinstance(min_strength, (int, float)) \
            or not math.isfinite(min_strength) or min_strength < 0:
        raise ValueError(f"The 'min_strength' parameter of {func} must be a finite number >= 0; got {min_strength!r}.")
    hessian = hessian_at(volume, spacing, center, sigma=sigma)
    values, vectors = np.linalg.eigh(hessian)
    order = np.argsort(np.abs(values), kind="stable")
    l1, l2, l3 = (float(values[k]) for k in order)
    tubularity = _tubularity(l1, l2, l3)
    strength = float(sigma) ** 2 * abs(l2) if tubularity > 0 else 0.0
    axis = vectors[:, order[0]] / np.linalg.norm(vectors[:, order[0]])
    return VesselAxis(axis=axis, eigenvalues=(l1, l2, l3), tubularity=tubularity, strength=strength,
                      is_tubular=tubularity >= min_tubularity and strength >= min_strength)
