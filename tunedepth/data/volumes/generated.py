"""Generated CT-angiography-like volumes with known emboli, and a simple candidate generator: the volume-candidate
path (volume -> candidates -> vessel-aligned patches -> FROC per volume) end to end, with known truth.

A volume (:func:`generated_cta_volume`) holds ``n_tubes`` straight bright tubes (contrast-filled vessels) of random
direction and radius through random points, on a background of 0 with Gaussian noise. Each embolus is a dark ball
(a filling defect) centred on a tube's axis, of radius about the tube's, where the lumen has ``defect_contrast``
instead of ``contrast``. Values are in the units of ``contrast`` (think of HU above the background).

Candidates (:func:`generated_candidates`) are a table made from the truth, as a candidate generator's output would
be given to the task: one per embolus (its centre moved by up to one voxel) and ``n_negatives`` false candidates,
hard and easy: on a vessel's axis at least two radii from any embolus (bright lumen), on a vessel's wall, and in the
background away from every vessel. The task learns to tell them apart; a real study reads its generator's table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tunedepth._checks import check_int
from tunedepth.data.volumes.phantoms import FillingDefect, tube_phantom

__all__ = ["GeneratedVolume", "generated_candidates", "generated_cta_volume"]


@dataclass(frozen=True)
class GeneratedVolume:
    """One generated volume and its truth.

    Attributes:
        volume: float32 array (Z, Y, X).
        spacing: voxel size (sz, sy, sx) in mm.
        emboli: float64 (k, 3): voxel coordinates (z, y, x) of each embolus' centre.
        emboli_radius: float64 (k,): their radii in mm.
        tubes: one (point (z, y, x) in voxels, unit axis (z, y, x) physical, radius mm) per vessel.
    """

    volume: np.ndarray
    spacing: tuple[float, float, float]
    emboli: np.ndarray
    emboli_radius: np.ndarray
    tubes: tuple[tuple[np.ndarray, np.ndarray, float], ...]


def generated_cta_volume(seed: int, *, shape: tuple[int, int, int] = (40, 40, 40),
                         spacing: tuple[float, float, float] = (1.0, 1.0, 1.0), n_tubes: int = 3,
                         radius_mm: tuple[float, float] = (2.5, 4.0), max_emboli: int = 2, contrast: float = 400.0,
                         defect_contrast: float = 60.0, noise_sd: float = 60.0) -> GeneratedVolume:
    """A CT-angiography-like volume with 0 to ``max_emboli`` emboli, drawn from ``seed``.

    Args:
        seed: the volume's seed, an int >= 0.
        shape: (Z, Y, X) voxels.
        spacing: voxel size in mm.
        n_tubes: straight vessels, >= 1.
        radius_mm: range of the vessels' radii.
        max_emboli: most emboli per volume (each in a random vessel, away from the volume's border).
        contrast: the lumen's value over the background.
        defect_contrast: the value inside an embolus.
        noise_sd: standard deviation of the Gaussian noise.

    Example:
        >>> v = generated_cta_volume(0, shape=(24, 24, 24), max_emboli=1)
        >>> v.volume.shape, v.emboli.shape[1]
        ((24, 24, 24), 3)
    """
    check_int(seed, "seed", "generated_cta_volume", minimum=0)
    check_int(n_tubes, "n_tubes", "generated_cta_volume", minimum=1)
    rng = np.random.default_rng([seed, 7_368_787])
    dims = np.asarray(shape, dtype=float)
    clean = np.zeros(shape, dtype=np.float64)
    n_emboli = int(rng.integers(0, max_emboli + 1))
    carriers = rng.integers(0, n_tubes, size=n_emboli)
    emboli, radii, tubes = [], [], []
    for t in range(n_tubes):
        direction = rng.normal(size=3)
        radius = float(rng.uniform(*radius_mm))
        point = dims / 2 + rng.uniform(-0.2, 0.2, size=3) * dims
        axis = direction / np.linalg.norm(direction)
        defects = []
        for _ in range(int(np.sum(carriers == t))):
            # on the axis, at least a radius plus 3 voxels inside the volume
            for _try in range(20):
                along = float(rng.uniform(-0.35, 0.35)) * float(np.min(dims * np.asarray(spacing)))
                centre = point + along * axis / np.asarray(spacing)
                if np.all(centre > radius + 3) and np.all(centre < dims - radius - 4):
                    defects.append(FillingDefect(tuple(centre), radius=radius * float(rng.uniform(0.7, 1.0)),
                                                 contrast=defect_contrast))
                    break
        tube = tube_phantom(shape, spacing=spacing, direction=tuple(axis), radius=radius, contrast=contrast,
                            noise_sd=0.0, seed=0, point=tuple(point), defects=defects)
        clean = np.maximum(clean, tube.volume) if not defects else _with_defects(clean, tube.volume, defects,
                                                                                 spacing)
        tubes.append((point, axis, radius))
        emboli += [d.center for d in defects]
        radii += [d.radius for d in defects]
    noisy = clean + rng.normal(0.0, noise_sd, size=shape)
    return GeneratedVolume(noisy.astype(np.float32), spacing, np.asarray(emboli, dtype=np.float64).reshape(-1, 3),
                           np.asarray(radii, dtype=np.float64), tuple(tubes))


def _with_defects(clean: np.ndarray, tube: np.ndarray, defects: list[FillingDefect],
                  spacing: tuple[float, float, float]) -> np.ndarray:
    """Add a tube whose emboli must stay dark where another vessel crosses them."""
    out = np.maximum(clean, tube)
    grid = np.indices(clean.shape, dtype=np.float64).transpose(1, 2, 3, 0) * np.asarray(spacing)
    for d in defects:
        inside = np.linalg.norm(grid - np.asarray(d.center) * np.asarray(spacing), axis=-1) < d.radius
        out[inside] = tube[inside]
    return out


def generated_candidates(volume: GeneratedVolume, *, n_negatives: int, seed: int,
                         border: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """The candidate table of a generated volume (module docstring): every embolus, then ``n_negatives`` false
    candidates (half on vessel axes, a quarter on vessel walls, a quarter in the background).

    Args:
        volume: from :func:`generated_cta_volume`.
        n_negatives: false candidates, >= 0 (fewer when the volume has no room for them).
        seed: seed of their positions.
        border: voxels at each face where no candidate is placed.

    Returns:
        ``(centers, lesion)``: float64 (n, 3) voxel coordinates (z, y, x) and int64 (n,) with the embolus hit,
        1..k, or 0 for a false candidate.

    Example:
        >>> v = generated_cta_volume(3, shape=(32, 32, 32), max_emboli=2)
        >>> centers, lesion = generated_candidates(v, n_negatives=8, seed=0)
        >>> int((lesion > 0).sum()) == len(v.emboli), int((lesion == 0).sum()) <= 8
        (True, True)
    """
    check_int(n_negatives, "n_negatives", "generated_candidates", minimum=0)
    rng = np.random.default_rng([seed, 86_028_121])
    dims = np.asarray(volume.volume.shape, dtype=float)
    step = np.asarray(volume.spacing)
    jitter = rng.uniform(-1.0, 1.0, size=volume.emboli.shape)
    centers = [np.clip(volume.emboli + jitter, border, dims - 1 - border)]
    lesion = [np.arange(1, len(volume.emboli) + 1)]

    def inside(p: np.ndarray) -> bool:
        return bool(np.all(p >= border) and np.all(p <= dims - 1 - border))

    def far_from_emboli(p: np.ndarray) -> bool:
        return all(np.linalg.norm((p - e) * step) > 2 * r + 2 for e, r in zip(volume.emboli, volume.emboli_radius,
                                                                               strict=True))

    def off_vessels(p: np.ndarray) -> bool:
        return all(_distance_to_axis(p, point, axis, step) > radius + 3 for point, axis, radius in volume.tubes)

    kinds = ["axis"] * (n_negatives - n_negatives // 2) + ["wall"] * (n_negatives // 4) \
        + ["background"] * (n_negatives // 2 - n_negatives // 4)
    negatives = []
    for kind in kinds:
        for _try in range(50):
            point, axis, radius = volume.tubes[int(rng.integers(len(volume.tubes)))]
            along = point + rng.uniform(-0.5, 0.5) * float(np.min(dims)) * axis / step
            if kind == "axis":
                p = along
            elif kind == "wall":
                across = np.cross(axis, rng.normal(size=3))
                p = along + radius * across / np.linalg.norm(across) / step
            else:
                p = rng.uniform(border, dims - 1 - border)
            if inside(p) and far_from_emboli(p) and (kind != "background" or off_vessels(p)):
                negatives.append(p)
                break
    centers.append(np.asarray(negatives, dtype=np.float64).reshape(-1, 3))
    lesion.append(np.zeros(len(negatives), dtype=np.int64))
    return np.concatenate(centers), np.concatenate(lesion).astype(np.int64)


def _distance_to_axis(p: np.ndarray, point: np.ndarray, axis: np.ndarray, step: np.ndarray) -> float:
    rel = (p - point) * step
    return float(np.linalg.norm(rel - (rel @ axis) * axis))
