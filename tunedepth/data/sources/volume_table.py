"""``data.source = "volume_table"``: your own volumes (NIfTI files, DICOM series folders or ``.npy`` arrays in one
folder) and a CSV table of candidates in them, for ``task = "volume_candidates"``.

Each volume is one entry of ``volumes`` (a ``.nii``/``.nii.gz``/``.npy`` file or a folder holding one DICOM series);
its id is the file name without its suffix, or the folder's name. The CSV
(:func:`~tunedepth.data.volumes.read_candidate_table`) has ``volume_id``, ``label`` (1 = a lesion, e.g. an embolus)
and ``z, y, x`` voxel or ``world_x, world_y, world_z`` LPS-mm coordinates, and optionally ``lesion``: candidates of
one volume with the same ``lesion`` value hit the same lesion (without it, each positive candidate is a lesion of
its own). Volumes the table does not name are not read. The split is seeded and by volume, stratified by whether a
volume holds a lesion: no volume is on two sides.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

import numpy as np

from tunedepth.data.sources.base import DATA_SOURCES, DataSource
from tunedepth.data.splits import split_indices
from tunedepth.data.volumes.candidate_table import read_candidate_table
from tunedepth.data.volumes.cases import VolumeCases
from tunedepth.data.volumes.readers import Volume, read_volume
from tunedepth.errors import DataError

__all__ = ["VOLUME_TABLE_CLASSES", "load_volume_table", "read_named_volumes", "table_volume_ids"]

logger = logging.getLogger(__name__)

VOLUME_TABLE_CLASSES = ("negative", "lesion")
"""Class names by label."""

_SUFFIXES = (".nii.gz", ".nii", ".npy")


def _volume_id(path: Path) -> str:
    for suffix in _SUFFIXES:
        if path.name.endswith(suffix):
            return path.name[: -len(suffix)]
    return path.name


def table_volume_ids(candidates: Path, *, name: str = "data.candidates") -> set[str]:
    """The volume ids a candidate CSV names (its ``volume_id`` column); ``name``: the setting, for messages."""
    try:
        with Path(candidates).open(newline="", encoding="utf-8-sig") as fh:
            return {row.get("volume_id", "").strip() for row in csv.DictReader(fh)} - {""}
    except OSError as exc:
        raise DataError(f"{name} {str(candidates)!r} cannot be read ({exc.strerror}); give the path of the "
                        "candidate CSV.") from None


def read_named_volumes(folder: Path, wanted: set[str], *, name: str = "data.volumes") -> dict[str, Volume]:
    """The volumes of ``folder`` whose ids are ``wanted`` (see the module docstring), read; ``name``: the setting.

    Raises:
        DataError: ``folder`` is not a folder, or lacks a wanted volume, or a volume is unreadable.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{name} {str(folder)!r} is not a folder; give the folder holding the volumes (NIfTI "
                        "files, DICOM series folders or .npy arrays).")
    found = {_volume_id(p): p for p in sorted(folder.iterdir()) if p.is_dir() or p.name.endswith(_SUFFIXES)}
    missing = sorted(wanted - set(found))
    if missing:
        raise DataError(f"The candidate table names volume(s) {missing[:3]} that {name} {str(folder)!r} does not "
                        "hold (ids are file names without .nii/.nii.gz/.npy, or DICOM folder names); add them or fix "
                        "the table.")
    return {vid: read_volume(found[vid], volume_id=vid) for vid in sorted(wanted)}


def load_volume_table(*, volumes: Path, candidates: Path, coordinates: str, val_fraction: float,
                      test_fraction: float, split_seed: int) -> dict[str, Any]:
    """The volumes the candidate table names, split by volume, with their candidates.

    Returns:
        ``{"name", "class_names", "split_origin", "train", "val", "test"}``.

    Raises:
        DataError: a missing folder, a volume the table names but the folder lacks, a bad table or volume (one line
            naming the file), labels other than 0 and 1, or too few volumes to fill every side.
    """
    folder = Path(volumes)
    read = read_named_volumes(folder, table_volume_ids(Path(candidates)))
    table = read_candidate_table(candidates, read, coordinates=coordinates)  # type: ignore[arg-type]
    labels = np.asarray(table.label, dtype=np.int64)
    if not np.isin(labels, (0, 1)).all():
        raise DataError(f"data.candidates {str(candidates)!r} has labels {sorted(set(labels.tolist()))}; use 1 for a "
                        "lesion and 0 for a false candidate.")
    lesion = table.lesion_numbers()
    ids = sorted(read)
    has_lesion = np.array([int(np.any(labels[np.asarray(table.volume_id) == vid] == 1)) for vid in ids])
    parts = split_indices(has_lesion, val_fraction=val_fraction, test_fraction=test_fraction, seed=split_seed,
                          groups=ids)
    out: dict[str, Any] = {"name": folder.name, "class_names": VOLUME_TABLE_CLASSES, "split_origin": "seeded"}
    for split, rows in (("train", parts.train), ("val", parts.val), ("test", parts.test)):
        split_ids = [ids[int(r)] for r in rows]
        position = {vid: k for k, vid in enumerate(split_ids)}
        mask = np.isin(np.asarray(table.volume_id), split_ids)
        volume_index = np.array([position[v] for v in np.asarray(table.volume_id)[mask]], dtype=np.int64)
        lesions = lesion[mask]
        n_lesions = np.array([int(lesions[volume_index == k].max(initial=0)) for k in range(len(split_ids))],
                             dtype=np.int64)
        out[split] = VolumeCases(
            volumes=[read[v].array for v in split_ids], spacings=tuple(read[v].spacing for v in split_ids),
            volume_ids=tuple(split_ids), volume_index=volume_index, centers=table.centers[mask],
            labels=labels[mask], lesion=lesions, n_lesions=n_lesions)
    logger.info("volume table %s: %d/%d/%d volumes", folder.name, len(parts.train), len(parts.val), len(parts.test))
    return out


DATA_SOURCES.register("volume_table", DataSource(
    name="volume_table",
    description="Your volumes (NIfTI, DICOM series, .npy) with a CSV of candidates; split by volume",
    load_frames=load_volume_table,
    user_data=True,
))
