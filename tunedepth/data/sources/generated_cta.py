"""``data.source = "generated_cta"``: generated CT-angiography-like volumes with known emboli and a candidate table
per volume (:mod:`tunedepth.data.volumes.generated`), for ``task = "volume_candidates"`` end to end with known
truth. Volumes of one split are drawn from seeds of their own (``seed``, the split and the volume's index), so a
study file fixes them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tunedepth.data.sources.base import DATA_SOURCES, DataSource
from tunedepth.data.volumes.cases import VolumeCases
from tunedepth.data.volumes.generated import generated_candidates, generated_cta_volume

__all__ = ["GENERATED_CTA_CLASSES", "load_generated_cta"]

GENERATED_CTA_CLASSES = ("no_embolus", "embolus")
"""Class names by label."""

_SPLIT_OFFSETS = {"train": 0, "val": 1_000_003, "test": 2_000_003}


def load_generated_cta(*, n_volumes: tuple[int, int, int], shape: tuple[int, int, int],
                       spacing: tuple[float, float, float], n_tubes: int, max_emboli: int, contrast: float,
                       defect_contrast: float, noise_sd: float, negatives_per_volume: int,
                       seed: int) -> dict[str, Any]:
    """The generated volumes of each split with their candidates (every embolus and ``negatives_per_volume`` false
    candidates per volume).

    Returns:
        ``{"name", "class_names", "split_origin", "train", "val", "test"}`` with one
        :class:`~tunedepth.data.volumes.VolumeCases` per split.
    """
    out: dict[str, Any] = {"name": "generated-cta", "class_names": GENERATED_CTA_CLASSES, "split_origin": "seeded"}
    for split, n in zip(("train", "val", "test"), n_volumes, strict=True):
        volumes, centers, lesions, index, n_lesions = [], [], [], [], []
        for i in range(n):
            volume_seed = seed + _SPLIT_OFFSETS[split] + i
            v = generated_cta_volume(volume_seed, shape=shape, spacing=spacing, n_tubes=n_tubes,
                                     max_emboli=max_emboli, contrast=contrast, defect_contrast=defect_contrast,
                                     noise_sd=noise_sd)
            c, lesion = generated_candidates(v, n_negatives=negatives_per_volume, seed=volume_seed)
            volumes.append(v.volume)
            centers.append(c)
            lesions.append(lesion)
            index.append(np.full(len(c), i, dtype=np.int64))
            n_lesions.append(len(v.emboli))
        lesion_all = np.concatenate(lesions)
        out[split] = VolumeCases(
            volumes=volumes, spacings=((float(spacing[0]), float(spacing[1]), float(spacing[2])),) * n,
            volume_ids=tuple(f"{split}_{i}" for i in range(n)), volume_index=np.concatenate(index),
            centers=np.concatenate(centers), labels=(lesion_all > 0).astype(np.int64), lesion=lesion_all,
            n_lesions=np.asarray(n_lesions, dtype=np.int64))
    return out


DATA_SOURCES.register("generated_cta", DataSource(
    name="generated_cta",
    description="Generated CT-angiography-like volumes (bright vessels, dark emboli) with a candidate table each",
    load_frames=load_generated_cta,
))
