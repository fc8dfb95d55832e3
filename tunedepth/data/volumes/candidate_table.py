"""Candidate locations in volumes, read from a CSV file into voxel coordinates, and the unit widths are given in.

A candidate is a point in one volume with a label (for example 1 = embolus, 0 = not); the table keeps its voxel
coordinates (z, y, x) in the volume's (Z, Y, X) array, fractions allowed (conventions of
:mod:`tunedepth.data.volumes.geometry`). World coordinates in the CSV are LPS mm, as
:attr:`~tunedepth.data.volumes.readers.Volume.affine` maps them.

Rows in error messages are counted as a spreadsheet shows them: the header is row 1, the first candidate row 2.

Widths of the sections follow the segmentation task's ``unit = "auto" | "um" | "px"`` pattern, as
``unit = "auto" | "mm" | "voxel"`` (the ``[volume_candidates]`` setting): :func:`resolve_unit` gives mm where the
volume's spacing is known and voxels otherwise, and refuses mm without a spacing.
"""

from __future__ import annotations

import csv
import difflib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from tunedepth.data.volumes._inputs import check_spacing
from tunedepth.data.volumes.readers import Volume
from tunedepth.errors import ConfigError, DataError

__all__ = ["UNITS", "VOXEL_COLUMNS", "WORLD_COLUMNS", "CandidateTable", "read_candidate_table", "resolve_unit"]

UNITS = ("auto", "mm", "voxel")
"""The allowed ``unit`` values: mm where the spacing is known else voxels; mm (spacing required); voxels."""

VOXEL_COLUMNS = ("z", "y", "x")
"""The CSV columns of voxel coordinates (slice, row, column index; fractions allowed)."""

WORLD_COLUMNS = ("world_x", "world_y", "world_z")
"""The CSV columns of LPS world coordinates in mm."""

_INSIDE_TOLERANCE = 1e-6  # voxels: a world point on the last voxel centre may land 1e-12 past it after inversion


@dataclass(frozen=True, eq=False)
class CandidateTable:
    """Candidates in voxel coordinates, one entry per candidate in every field.

    Attributes:
        volume_id: the volume of each candidate.
        z: float64 array of shape (n,): slice coordinate, voxels.
        y: float64 array of shape (n,): row coordinate, voxels.
        x: float64 array of shape (n,): column coordinate, voxels.
        label: int64 array of shape (n,).
        candidate_id: each candidate's id, unique, or None when the CSV has no ``candidate_id`` column.
        lesion: each candidate's lesion key ("" when blank; candidates of one volume with the same key hit the same
            lesion), or None when the CSV has no ``lesion`` column.

    Example:
        >>> table = CandidateTable(("ct1", "ct1"), [1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [1, 0])
        >>> len(table), table.centers.tolist()
        (2, [[1.0, 3.0, 5.0], [2.0, 4.0, 6.0]])
    """

    volume_id: tuple[str, ...]
    z: np.ndarray
    y: np.ndarray
    x: np.ndarray
    label: np.ndarray
    candidate_id: tuple[str, ...] | None = None
    lesion: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        n = len(self.volume_id)
        object.__setattr__(self, "volume_id", tuple(str(v) for v in self.volume_id))
        for name, dtype in (("z", np.float64), ("y", np.float64), ("x", np.float64), ("label", np.int64)):
            array = np.array(getattr(self, name), dtype=dtype)
            if array.shape != (n,):
                raise ValueError(f"The '{name}' parameter of CandidateTable must have shape ({n},), one entry per "
                                 f"volume_id; got shape {array.shape}.")
            array.flags.writeable = False
            object.__setattr__(self, name, array)
        if self.candidate_id is not None:
            ids = tuple(str(c) for c in self.candidate_id)
            if len(ids) != n or len(set(ids)) != n:
                raise ValueError(f"The 'candidate_id' parameter of CandidateTable must hold {n} unique ids; got "
                                 f"{len(ids)} with {len(ids) - len(set(ids))} repeated.")
            object.__setattr__(self, "candidate_id", ids)
        if self.lesion is not None:
            keys = tuple(str(k) for k in self.lesion)
            if len(keys) != n:
                raise ValueError(f"The 'lesion' parameter of CandidateTable must hold {n} keys, one per volume_id; got "
                                 f"{len(keys)}.")
            object.__setattr__(self, "lesion", keys)

    def __len__(self) -> int:
        return len(self.volume_id)

    @property
    def centers(self) -> np.ndarray:
        """float64 array of shape (n, 3): each candidate's voxel coordinates (z, y, x)."""
        return np.stack([self.z, self.y, self.x], axis=1)

    def lesion_numbers(self) -> np.ndarray:
        """int64 array of shape (n,): the lesion each candidate hits, numbered 1..k within its volume in file
        order, 0 for a negative (label != 1). Positives of one volume with the same ``lesion`` key share a number;
        a positive without a key (no ``lesion`` column, or a blank cell) is a lesion of its own.

        Example:
            >>> CandidateTable(("a",) * 4, [0] * 4, [0] * 4, [0] * 4, [1, 1, 1, 0],
            ...                lesion=("L", "L", "", "")).lesion_numbers().tolist()
            [1, 1, 2, 0]
        """
        keys = self.lesion or ("",) * len(self)
        out = np.zeros(len(self), dtype=np.int64)
        numbers: dict[tuple[str, str], int] = {}
        per_volume: dict[str, int] = {}
        for i, (vid, key) in enumerate(zip(self.volume_id, keys, strict=True)):
            if self.label[i] != 1:
                continue
            lesion = (vid, key or f"row{i}")
            if lesion not in numbers:
                per_volume[vid] = per_volume.get(vid, 0) + 1
                numbers[lesion] = per_volume[vid]
            out[i] = numbers[lesion]
        return out


def read_candidate_table(csv_path: str | os.PathLike[str], volumes: Mapping[str, Volume], *,
                         coordinates: Literal["voxel", "world"], labelled: bool = True) -> CandidateTable:
    """Read candidates from a CSV file and place them in their volumes, in voxel coordinates.

    The CSV needs the columns ``volume_id`` and ``label`` (an integer), and either ``z, y, x`` (voxel coordinates,
    fractions allowed) or ``world_x, world_y, world_z`` (LPS mm, mapped through the inverse of each volume's
    affine). An optional ``candidate_id`` column gives unique ids and an optional ``lesion`` column the lesion
    each candidate hits (kept as text, blank allowed); other columns are ignored, and blank rows skipped. A
    candidate must lie inside its volume: ``0 <= z <= Z - 1`` and likewise for y and x.

    Args:
        csv_path: the CSV file (UTF-8, a byte-order mark allowed).
        volumes: the volumes by id, as the ``volume_id`` column names them.
        coordinates: "voxel" to read ``z, y, x``, "world" to read ``world_x, world_y, world_z``.
        labelled: the ``label`` column is required; False (candidates to score) makes it optional, and a table
            without it gets the label -1 (unknown) for every candidate.

    Returns:
        The candidates in file order, in voxel coordinates.

    Raises:
        ConfigError: ``coordinates`` is neither "voxel" nor "world", or it is "world" and a candidate's volume has
            no affine (the message names the volume and the row).
        DataError: the file is missing or empty, lacks a column, or a row names an unknown volume, holds a
            coordinate that is not a number, a label that is not an integer, a blank or repeated candidate_id, or a
            candidate outside its volume. Rows are counted from the header, row 1.

    Example:
        >>> table = read_candidate_table("candidates.csv", {"ct1": volume}, coordinates="world")  # doctest: +SKIP
        >>> table.centers[0]  # doctest: +SKIP
        array([12. , 40.5, 33.2])
    """
    if coordinates not in ("voxel", "world"):
        raise ConfigError(f"The 'coordinates' parameter of read_candidate_table must be 'voxel' (columns z, y, x) or "
                          f"'world' (columns world_x, world_y, world_z, LPS mm); got {coordinates!r}.")
    file = Path(csv_path)
    header, rows = _read_csv(file)
    columns = VOXEL_COLUMNS if coordinates == "voxel" else WORLD_COLUMNS
    _check_header(file, header, columns, coordinates, labelled=labelled or "label" in header)
    at = {name: header.index(name) for name in ("volume_id", "label", *columns, "candidate_id", "lesion")
          if name in header}
    ids, centers, labels, candidate_ids, lesions = [], [], [], [], []
    seen_ids: set[str] = set()
    for row_number, cells in rows:
        cell = {name: (cells[i].strip() if i < len(cells) else "") for name, i in at.items()}
        where = f"Row {row_number} of {file} (header = row 1)"
        volume = _volume(where, cell["volume_id"], volumes)
        point = np.array([_number(where, name, cell[name]) for name in columns])
        if coordinates == "world":
            point = _world_to_voxel(where, cell["volume_id"], volume, point)
        centers.append(_inside(where, point, volume, coordinates))
        labels.append(_label(where, cell["label"]) if "label" in at else -1)
        ids.append(cell["volume_id"])
        if "candidate_id" in at:
            candidate_ids.append(_candidate_id(where, cell["candidate_id"], seen_ids))
            seen_ids.add(candidate_ids[-1])
        lesions.append(cell.get("lesion", ""))
    if not ids:
        raise DataError(f"The candidate table {file} has a header but no candidate rows; add one row per candidate.")
    zyx = np.array(centers)
    return CandidateTable(tuple(ids), zyx[:, 0], zyx[:, 1], zyx[:, 2], np.array(labels, dtype=np.int64),
                          tuple(candidate_ids) if "candidate_id" in at else None,
                          tuple(lesions) if "lesion" in at else None)


def resolve_unit(unit: str, spacing: Sequence[float] | None) -> str:
    """The unit section widths are given in, for a volume with this ``spacing``: "mm" or "voxel".

    Follows the segmentation task's ``unit`` setting: "mm" needs the spacing and is refused without it; "voxel"
    ignores a known spacing; "auto" gives "mm" when the spacing is known and "voxel" when not.

    Args:
        unit: "auto", "mm" or "voxel".
        spacing: the volume's voxel size (sz, sy, sx) in mm, or None when unknown
            (:attr:`~tunedepth.data.volumes.readers.Volume.spacing`).

    Returns:
        "mm" or "voxel".

    Raises:
        ConfigError: ``unit`` is not one of :data:`UNITS`, or it is "mm" and ``spacing`` is None.
        ValueError: ``spacing`` is not three finite numbers > 0.

    Example:
        >>> resolve_unit("auto", (2.5, 0.8, 0.7)), resolve_unit("auto", None), resolve_unit("voxel", (1, 1, 1))
        ('mm', 'voxel', 'voxel')
    """
    if unit not in UNITS:
        guess = ["voxel"] if unit == "px" else difflib.get_close_matches(str(unit), UNITS, n=1)
        hint = f" Did you mean {guess[0]!r}?" if guess else ""
        raise ConfigError(f"The 'unit' parameter of resolve_unit must be one of {', '.join(map(repr, UNITS))}; got "
                          f"{unit!r}.{hint}")
    if spacing is not None:
        check_spacing(spacing, "spacing", "resolve_unit")
    if unit == "mm" and spacing is None:
        raise ConfigError("The 'unit' parameter of resolve_unit is 'mm', which needs the volume's voxel spacing, but "
                          "the spacing is unknown (e.g. a .npy array or a MedMNIST 3D .npz file); set unit = "
                          "'voxel' or 'auto' to give widths in voxels, or read the volume from a NIfTI file or DICOM "
                          "series.")
    return "mm" if unit != "voxel" and spacing is not None else "voxel"


def _read_csv(file: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The stripped header and the non-blank rows with their spreadsheet row numbers (header = row 1)."""
    if not file.is_file():
        raise DataError(f"The 'csv_path' parameter of read_candidate_table must be an existing CSV file; {file} "
                        f"{'is a folder' if file.is_dir() else 'does not exist'}.")
    try:
        with file.open(encoding="utf-8-sig", newline="") as handle:
            records = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"Cannot read the candidate table {file} as UTF-8 CSV: {' '.join(str(err).split())}.") from err
    if not records or not any(cell.strip() for cell in records[0]):
        raise DataError(f"The candidate table {file} is empty; row 1 must be a header such as "
                        "'volume_id,z,y,x,label'.")
    rows = [(n, cells) for n, cells in enumerate(records[1:], start=2) if any(cell.strip() for cell in cells)]
    return [cell.strip() for cell in records[0]], rows


def _check_header(file: Path, header: list[str], columns: Sequence[str], coordinates: str, *,
                  labelled: bool = True) -> None:
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise DataError(f"The header (row 1) of {file} repeats the column(s) {', '.join(repeated)}; name each column "
                        "once.")
    missing = [name for name in ("volume_id", *columns, *(("label",) if labelled else ())) if name not in header]
    if missing:
        other = WORLD_COLUMNS if coordinates == "voxel" else VOXEL_COLUMNS
        hint = (f" It has {', '.join(other)}: pass coordinates={'world' if coordinates == 'voxel' else 'voxel'!r}."
                if all(name in header for name in other) else "")
        raise DataError(f"The candidate table {file} lacks the column(s) {', '.join(missing)}; coordinates="
                        f"{coordinates!r} needs volume_id, {', '.join(columns)}, label (row 1 has: "
                        f"{', '.join(header)}).{hint}")


def _volume(where: str, volume_id: str, volumes: Mapping[str, Volume]) -> Volume:
    if volume_id in volumes:
        return volumes[volume_id]
    known = sorted(volumes)
    guess = difflib.get_close_matches(volume_id, known, n=1)
    hint = f" Did you mean {guess[0]!r}?" if guess else ""
    shown = ", ".join(map(repr, known[:5])) + (", ..." if len(known) > 5 else "")
    raise DataError(f"{where}: volume_id {volume_id!r} is not among the {len(known)} volumes given ({shown or 'none'})."
                    f"{hint} Fix the id in the CSV or pass that volume.")


def _number(where: str, column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not np.isfinite(value):
        raise DataError(f"{where}: column {column} must be a finite number; got {text!r}. Fix the cell.")
    return value


def _world_to_voxel(where: str, volume_id: str, volume: Volume, point: np.ndarray) -> np.ndarray:
    if volume.affine is None:
        raise ConfigError(f"{where}: coordinates='world' needs the world frame of volume {volume_id!r}, but it has no "
                          f"affine ({volume.source}); give that volume's candidates in voxel columns z, y, x and pass "
                          "coordinates='voxel', or read it from NIfTI or DICOM.")
    return volume.world_to_voxel(point)


def _inside(where: str, point: np.ndarray, volume: Volume, coordinates: str) -> np.ndarray:
    upper = np.asarray(volume.shape, dtype=float) - 1
    if np.any(point < -_INSIDE_TOLERANCE) or np.any(point > upper + _INSIDE_TOLERANCE):
        shown = ", ".join(f"{v:.4g}" for v in point)
        via = " (from its world coordinates through the volume's affine)" if coordinates == "world" else ""
        raise DataError(f"{where}: the candidate at voxel (z, y, x) = ({shown}){via} lies outside volume "
                        f"{volume.volume_id!r} of shape (Z, Y, X) = {volume.shape} (z in [0, {int(upper[0])}], y in "
                        f"[0, {int(upper[1])}], x in [0, {int(upper[2])}]); check the coordinate order, the units "
                        "and the volume_id.")
    return np.clip(point, 0, upper)


def _label(where: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise DataError(f"{where}: column label must be an integer such as 0 or 1; got {text!r}. Fix the cell.") \
            from None


def _candidate_id(where: str, text: str, seen: set[str]) -> str:
    if not text or text in seen:
        problem = "is blank" if not text else f"repeats {text!r}, already used above"
        raise DataError(f"{where}: column candidate_id {problem}; give every candidate its own id, or drop the "
                        "column.")
    return text
