"""Candidates in volumes as the volume-candidate task sees them, and the 3-channel 2.5D patches cut around them.

A candidate's patch has three channels, each a section of ``size`` x ``size`` pixels spanning ``width`` physical
units through the candidate: the cross-section perpendicular to an axis, then the two longitudinal sections that
contain the axis at ``angle`` and ``angle + 90`` degrees about it (:mod:`tunedepth.data.volumes.geometry`). With the
local vessel axis this is the paper's vessel-aligned representation of a pulmonary-embolism candidate (Tajbakhsh et
al., IEEE TMI 2016, section II-D); with the volume's z axis (1, 0, 0) it is, at angle 0, the axial, sagittal and
coronal sections, the usual 2.5D triple (MedMNIST v2's 2.5D baselines; Yang et al., Sci. Data 2023).

Intensities are mapped linearly from ``window`` = (low, high) to 0-255 and clipped, so a patch is a uint8 image like
every other input of the engine; pixels outside the volume take the value of ``low``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tunedepth.data.volumes.geometry import _rotated_basis, sample_plane
from tunedepth.data.volumes.vessel_axis import estimate_vessel_axis
from tunedepth.errors import DataError

__all__ = [
    "Z_AXIS", "CandidateAxes", "VolumeCases", "candidate_axes", "candidate_patches", "evenly_spaced_angles",
    "patch_views", "random_angles",
]

# Offset of the seed of the training rotations from the run's seed, so that their draws are not another generator's.
_ANGLES_SEED_OFFSET = 49_979_687

Z_AXIS = (1.0, 0.0, 0.0)
"""The volume's z axis (z, y, x): the orthogonal views' axis and the vessel-aligned views' fallback."""


@dataclass(frozen=True, eq=False)
class VolumeCases:
    """The candidates of one split and the volumes they lie in.

    Attributes:
        volumes: one float array of shape (Z, Y, X) per volume (views of a larger stack are fine).
        spacings: each volume's voxel size (sz, sy, sx), or None when unknown.
        volume_ids: one id per volume, unique.
        volume_index: int64 (n,): the volume of each candidate.
        centers: float64 (n, 3): each candidate's voxel coordinates (z, y, x), inside its volume.
        labels: int64 (n,): 1 for a positive candidate (e.g. an embolus), 0 otherwise.
        lesion: int64 (n,): which lesion of its volume a positive candidate hits, 1..n_lesions[v]; 0 for negatives.
        n_lesions: int64 (n_volumes,): lesions per volume (a lesion no candidate hits still counts as missed).
    """

    volumes: Sequence[np.ndarray]
    spacings: tuple[tuple[float, float, float] | None, ...]
    volume_ids: tuple[str, ...]
    volume_index: np.ndarray
    centers: np.ndarray
    labels: np.ndarray
    lesion: np.ndarray
    n_lesions: np.ndarray

    def __post_init__(self) -> None:
        n_volumes, n = len(self.volumes), len(self.labels)
        if not (len(self.spacings) == len(self.volume_ids) == len(self.n_lesions) == n_volumes):
            raise DataError(f"VolumeCases needs one spacing, id and lesion count per volume ({n_volumes}); got "
                            f"{len(self.spacings)}, {len(self.volume_ids)} and {len(self.n_lesions)}.")
        if self.volume_index.shape != (n,) or self.centers.shape != (n, 3) or self.lesion.shape != (n,):
            raise DataError(f"VolumeCases needs volume_index (n,), centers (n, 3) and lesion (n,) for its {n} "
                            f"candidates; got {self.volume_index.shape}, {self.centers.shape}, {self.lesion.shape}.")
        if n and (self.volume_index.min() < 0 or self.volume_index.max() >= n_volumes):
            raise DataError(f"VolumeCases: a candidate's volume_index is outside [0, {n_volumes - 1}].")
        if np.any((self.lesion > 0) != (self.labels == 1)):
            raise DataError("VolumeCases: a candidate must hit a lesion (lesion > 0) exactly when its label is 1.")

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class CandidateAxes:
    """The axis each candidate's patches are cut about.

    Attributes:
        axes: float64 (n, 3): unit vectors (z, y, x) in physical space.
        tubular: bool (n,): True where the vessel axis was found, False where the z axis stands in for it (and
            for every candidate of orthogonal views).
    """

    axes: np.ndarray
    tubular: np.ndarray


def _spacing(spacing: tuple[float, float, float] | None) -> tuple[float, float, float]:
    return (1.0, 1.0, 1.0) if spacing is None else spacing


def candidate_axes(cases: VolumeCases, *, vessel_aligned: bool, sigma: float, min_tubularity: float,
                   unit_spacing: bool) -> CandidateAxes:
    """The local vessel axis of every candidate (Hessian at ``sigma``), or the z axis where there is no tube or
    ``vessel_aligned`` is False.

    Args:
        cases: the candidates.
        vessel_aligned: find the vessel axis; False gives the z axis to every candidate.
        sigma: the vessel scale, in the unit of the spacing used.
        min_tubularity: below this Frangi shape term, no tube (z axis).
        unit_spacing: measure in voxels (spacing 1, 1, 1) even where a spacing is known.
    """
    n = len(cases)
    axes = np.tile(np.asarray(Z_AXIS), (n, 1))
    tubular = np.zeros(n, dtype=bool)
    if not vessel_aligned:
        return CandidateAxes(axes, tubular)
    for i in range(n):
        v = int(cases.volume_index[i])
        spacing = (1.0, 1.0, 1.0) if unit_spacing else _spacing(cases.spacings[v])
        found = estimate_vessel_axis(cases.volumes[v], spacing, tuple(cases.centers[i]), sigma=sigma,
                                     min_tubularity=min_tubularity)
        if found.is_tubular:
            axes[i], tubular[i] = found.axis, True
    return CandidateAxes(axes, tubular)


def patch_views(widths: Sequence[float], angles: Sequence[float]) -> tuple[tuple[float, float], ...]:
    """Every (width, angle) view of a candidate, width-major.

    Example:
        >>> patch_views((10, 20), (0, 90))
        ((10.0, 0.0), (10.0, 90.0), (20.0, 0.0), (20.0, 90.0))
    """
    return tuple((float(w), float(a)) for w in widths for a in angles)


def candidate_patches(volume: np.ndarray, spacing: tuple[float, float, float], center: np.ndarray, axis: np.ndarray,
                      views: Sequence[tuple[float, float]], *, size: int, window: tuple[float, float],
                      slab: float = 0.0) -> np.ndarray:
    """The 3-channel patches of one candidate, one per (width, angle) view.

    Args:
        volume: float array (Z, Y, X).
        spacing: the voxel size in the unit of the widths (1s for voxels).
        center: voxel coordinates (z, y, x).
        axis: unit vector (z, y, x), physical.
        views: (width, angle in degrees) pairs, e.g. from :func:`patch_views`.
        size: pixels per side.
        window: (low, high) intensities mapped to 0 and 255.
        slab: thickness of a slab around each section, in the unit of the widths: each pixel is the maximum over
            parallel sections one (smallest) voxel apart across the slab, the thin section in the middle (a
            thick-slab maximum intensity projection, as CT angiography is read). 0 (default): the thin sections of
            :func:`~tunedepth.data.volumes.cross_section` and :func:`~tunedepth.data.volumes.longitudinal_section`.

    Returns:
        uint8 array of shape (len(views), 3, size, size): cross-section, longitudinal at the angle, longitudinal at
        the angle + 90 degrees.

    Example:
        >>> vol = np.zeros((9, 9, 9), np.float32); vol[:, 4, 4] = 1.0  # a line along z
        >>> p = candidate_patches(vol, (1, 1, 1), np.array([4.0, 4, 4]), np.array([1.0, 0, 0]), [(3.0, 0.0)],
        ...                       size=3, window=(0.0, 1.0))
        >>> p[0, 0].tolist(), p[0, 1].tolist()  # across the line: its dot; along it: its stripe
        ([[0, 0, 0], [0, 255, 0], [0, 0, 0]], [[0, 255, 0], [0, 255, 0], [0, 255, 0]])
    """
    low, high = window
    scale = 255.0 / (high - low)
    a = np.asarray(axis, dtype=np.float64)
    array = np.asarray(volume, dtype=np.float64)  # once, not per section
    out = np.empty((len(views), 3, size, size), dtype=np.uint8)
    for k, (width, angle) in enumerate(views):
        u, v = _rotated_basis(a, angle)
        u90, _ = _rotated_basis(a, angle + 90.0)
        planes = ((u, v), (a, u), (a, u90))  # (rows, columns): cross, longitudinal, longitudinal
        for ch, (rows, cols) in enumerate(planes):
            section = sample_plane(array, spacing, center, rows, cols, size=size, step=width / size,
                                   fill_value=low, slab=slab)
            out[k, ch] = np.clip(np.rint((section - low) * scale), 0, 255).astype(np.uint8)
    return out


def evenly_spaced_angles(k: int) -> tuple[float, ...]:
    """``k`` angles evenly spaced in [0, 180) degrees: the fixed test-time rotations.

    Example:
        >>> evenly_spaced_angles(4)
        (0.0, 45.0, 90.0, 135.0)
    """
    return tuple(180.0 * i / k for i in range(k))


def random_angles(n: int, k: int, seed: int) -> np.ndarray:
    """``k`` angles per candidate, uniform in [0, 180) degrees, drawn from ``seed`` (float64, (n, k)); candidate
    ``i``'s draws do not depend on ``n``.

    Example:
        >>> a = random_angles(3, 2, seed=0)
        >>> a.shape, bool(np.all((a >= 0) & (a < 180))), bool(np.array_equal(random_angles(2, 2, seed=0), a[:2]))
        ((3, 2), True, True)
    """
    rng = np.random.default_rng([seed, _ANGLES_SEED_OFFSET])
    return np.asarray(rng.random((n, k)) * 180.0, dtype=np.float64) if n else np.zeros((0, k))
