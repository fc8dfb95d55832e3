"""``data.source = "medmnist3d"``: a MedMNIST 3D file (official split) as volumes with one candidate each, at the
volume's centre, for ``task = "volume_candidates"``.

The files are the official ``.npz`` of MedMNIST v2 (Yang et al., Sci. Data 2023): ``<flag>.npz`` (28^3 voxels) or
``<flag>_64.npz`` (64^3), keys ``{train,val,test}_{images,labels}``, uint8 volumes. They record no voxel size, so
patch widths are in voxels (``unit = "voxel"`` or ``"auto"``). They are looked for like the 2D files (``root``, else
``$TUNEDEPTH_DATA_DIR/medmnist``, else the user cache) but not downloaded here; the four files whose MD5 the project
records (VesselMNIST3D and AdrenalMNIST3D at both sizes) are checked.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from tunedepth.data.sources.base import DATA_SOURCES, DataSource
from tunedepth.data.sources.medmnist import medmnist_search_paths
from tunedepth.data.volumes.cases import VolumeCases
from tunedepth.data.volumes.readers import read_npz_volumes
from tunedepth.errors import DataError

__all__ = ["MEDMNIST3D_CLASSES", "load_medmnist3d"]

MEDMNIST3D_CLASSES: dict[str, tuple[str, ...]] = {
    "vesselmnist3d": ("vessel", "aneurysm"),
    "adrenalmnist3d": ("normal", "hyperplasia"),
    "nodulemnist3d": ("benign", "malignant"),
    "synapsemnist3d": ("inhibitory", "excitatory"),
}
"""The binary MedMNIST 3D data sets and their class names by label (MedMNIST v2's info.py)."""

_MD5 = {  # ../shared/data/medmnist/PROVENANCE.md
    "vesselmnist3d.npz": "b41fd4f7e7e2feedddb201585ecafa1b",
    "vesselmnist3d_64.npz": "6bb274a8846e1097066dcd64e2c4520f",
    "adrenalmnist3d.npz": "bbd3c5a5576322bc4cdfea780653b1ce",
    "adrenalmnist3d_64.npz": "17721accfe9fb005146a47d33bc54b2f",
}


def _locate(flag: str, size: int, root: Path | None) -> Path:
    if flag not in MEDMNIST3D_CLASSES:
        raise DataError(f"data.flag {flag!r} is not a binary MedMNIST 3D data set; use one of "
                        f"{', '.join(MEDMNIST3D_CLASSES)}.")
    name = f"{flag}.npz" if size == 28 else f"{flag}_{size}.npz"
    places = medmnist_search_paths(name, root)
    for path in places:
        if path.is_file():
            expected = _MD5.get(name)
            if expected is not None and hashlib.md5(path.read_bytes()).hexdigest() != expected:
                raise DataError(f"The MedMNIST 3D file {str(path)!r} does not have the official MD5 {expected}; it is "
                                "damaged or another file: replace it with the official one.")
            return path
    raise DataError(f"The MedMNIST 3D file {name!r} was not found (looked in {', '.join(str(p) for p in places)}); "
                    "place the official file there (MedMNIST v2, Zenodo record 10519652) or set data.root.")


def load_medmnist3d(*, flag: str, size: int, root: Path | None = None) -> dict[str, Any]:
    """The three official splits as :class:`~tunedepth.data.volumes.VolumeCases`, one candidate per volume at its
    centre (positive = label 1, one lesion), and the class names.

    Returns:
        ``{"name": ..., "class_names": ..., "train": VolumeCases, "val": ..., "test": ...}``.

    Raises:
        DataError: an unknown flag, a missing or damaged file.
    """
    path = _locate(flag, size, root)
    out: dict[str, Any] = {"name": f"{flag}" if size == 28 else f"{flag}_{size}",
                           "class_names": MEDMNIST3D_CLASSES[flag]}
    for split in ("train", "val", "test"):
        stack = read_npz_volumes(path, split=split)
        n = len(stack)
        center = (np.asarray(stack.images.shape[1:], dtype=np.float64) - 1) / 2
        labels = np.asarray(stack.labels, dtype=np.int64)
        out[split] = VolumeCases(
            volumes=[stack.images[i] for i in range(n)], spacings=(None,) * n,
            volume_ids=tuple(f"{split}_{i}" for i in range(n)), volume_index=np.arange(n, dtype=np.int64),
            centers=np.tile(center, (n, 1)), labels=labels, lesion=labels.copy(), n_lesions=labels.copy(),
        )
    return out


DATA_SOURCES.register("medmnist3d", DataSource(
    name="medmnist3d",
    description="A binary MedMNIST 3D data set (VesselMNIST3D, AdrenalMNIST3D, ...): volumes, one candidate each",
    load_frames=load_medmnist3d,
))
