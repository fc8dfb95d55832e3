"""A CSV manifest listing image files with their labels, and optionally patients and a given split.

Columns (header row required, other columns ignored):

* ``path``: image file, relative to the CSV's folder or absolute;
* ``label``: class name, or integer class index (0, 1, ...; every index up to the largest
  must occur);
* ``patient_id`` (optional): patient or video id; the seeded split keeps each patient on
  one side;
* ``split`` (optional): ``train``, ``val`` or ``test``; when present it *is* the split
  (``split_origin="official"``) and ``val_fraction``, ``test_fraction`` and ``split_seed``
  are unused.

Errors name the CSV file and its line numbers (the header is line 1).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch

from tunedepth.data._image_file import read_image_files
from tunedepth.data.dataset import DatasetSplits, ImageSet
from tunedepth.data.preprocess import check_image_size
from tunedepth.data.sources.base import DATA_SOURCES, DataSource
from tunedepth.data.splits import check_no_leakage, check_split_fractions, split_image_set
from tunedepth.errors import DataError

__all__ = ["load_csv_manifest"]

logger = logging.getLogger(__name__)

_REQUIRED = ("path", "label")
_SPLIT_VALUES = ("train", "val", "test")
_INT = re.compile(r"^\d+$")


def load_csv_manifest(
    path: Path,
    *,
    image_size: int,
    val_fraction: float,
    test_fraction: float,
    split_seed: int,
) -> DatasetSplits:
    """Read the images listed in a CSV manifest, with its split or a seeded one.

    Args:
        path: the CSV file.
        image_size: side of the model input; images are resized (bilinear) to it.
        val_fraction: share held out for validation when the CSV has no ``split`` column, in (0, 1).
        test_fraction: share held out for testing when the CSV has no ``split`` column, in (0, 1).
        split_seed: seed of the split when the CSV has no ``split`` column; stratified by
            class and grouped by ``patient_id`` when that column exists.

    Returns:
        The split, named after the CSV file's stem; ``split_origin`` is "official" when the
        CSV has a ``split`` column, else "seeded". Patient ids are kept when given.

    Raises:
        DataError: if the file cannot be read, a required column is missing, a cell of
            ``path``, ``label``, ``patient_id`` or ``split`` is empty or invalid, an image is
            missing or unreadable, a given split puts a patient on two sides, or a side is empty.

    Example:
        >>> splits = load_csv_manifest(Path("data/manifest.csv"), image_size=64, val_fraction=0.2,
        ...                            test_fraction=0.2, split_seed=0)  # doctest: +SKIP
    """
    check_image_size(image_size)
    csv_path = Path(path).expanduser()
    table = _read_table(csv_path)
    has_split = "split" in table.columns
    if not has_split:
        check_split_fractions(val_fraction, test_fraction)
    for column in _REQUIRED:
        _check_not_empty(table, column, csv_path)
    labels, class_names = _parse_labels(table["label"].tolist(), csv_path)
    patient_ids: tuple[str, ...] | None = None
    if "patient_id" in table.columns:
        _check_not_empty(table, "patient_id", csv_path)
        patient_ids = tuple(table["patient_id"].tolist())
    files = _resolve_files(table["path"].tolist(), csv_path)
    if has_split:
        sides = _parse_split(table["split"].tolist(), csv_path)
        # Check leakage on placeholder images before the (slow) image reading.
        placeholders = _official_splits(
            csv_path.name, class_names, sides, labels, patient_ids, None
        )
        check_no_leakage(placeholders)
        images = read_image_files(files, image_size=image_size)
        splits = _official_splits(csv_path.stem, class_names, sides, labels, patient_ids, images)
        logger.info("Read %d images from %s with its given split", len(files), csv_path)
        return splits
    full = ImageSet(
        read_image_files(files, image_size=image_size),
        torch.tensor(labels, dtype=torch.int64),
        patient_ids,
    )
    logger.info("Read %d images from %s; splitting with seed %d", len(full), csv_path, split_seed)
    return split_image_set(
        full,
        name=csv_path.stem,
        class_names=class_names,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        seed=split_seed,
    )


def _read_table(csv_path: Path) -> pd.DataFrame:
    if not csv_path.is_file():
        raise DataError(
            f"The 'path' of the csv_manifest source must be a CSV file; {csv_path} does not exist. "
            "Point it (data.path in a study file) at the manifest."
        )
    try:
        table = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise DataError(
            f"CSV manifest {csv_path} could not be read ({exc}); fix the file."
        ) from exc
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in _REQUIRED if c not in table.columns]
    if missing:
        raise DataError(
            f"CSV manifest {csv_path} lacks the column(s) {', '.join(missing)}; required: path, "
            f"label (optional: patient_id, split); found: {', '.join(table.columns) or 'none'}. "
            "Add them to the header."
        )
    if len(table) == 0:
        raise DataError(
            f"CSV manifest {csv_path} has a header but no rows; list one image per line."
        )
    return table.apply(lambda col: col.str.strip())


def _lines(rows: Sequence[int]) -> str:
    """Line numbers in the file of 0-based data rows (the header is line 1)."""
    shown = ", ".join(str(r + 2) for r in rows[:5])
    return shown + (f", ... ({len(rows)} in total)" if len(rows) > 5 else "")


def _check_not_empty(table: pd.DataFrame, column: str, csv_path: Path) -> None:
    empty = [i for i, v in enumerate(table[column].tolist()) if v == ""]
    if empty:
        raise DataError(
            f"CSV manifest {csv_path}: column '{column}' is empty at line(s) {_lines(empty)}; "
            "fill every cell of that column."
        )


def _parse_labels(values: list[str], csv_path: Path) -> tuple[list[int], tuple[str, ...]]:
    """Integer labels and class names: integers are used as given, names are sorted."""
    if all(_INT.match(v) for v in values):
        ints = [int(v) for v in values]
        absent = sorted(set(range(max(ints) + 1)) - set(ints))
        if absent:
            raise DataError(
                f"CSV manifest {csv_path}: integer labels must number the classes 0 to "
                f"{max(ints)} without gaps; class(es) {absent[:5]} never occur. Renumber the "
                "labels or use class names."
            )
        return ints, tuple(str(i) for i in range(max(ints) + 1))
    class_names = tuple(sorted(set(values)))
    index = {name: i for i, name in enumerate(class_names)}
    return [index[v] for v in values], class_names


def _parse_split(values: list[str], csv_path: Path) -> list[str]:
    bad = [i for i, v in enumerate(values) if v not in _SPLIT_VALUES]
    if bad:
        shown = sorted({values[i] for i in bad})[:5]
        raise DataError(
            f"CSV manifest {csv_path}: column 'split' must be train, val or test; got {shown} at "
            f"line(s) {_lines(bad)}. Fix those cells or drop the column to get a seeded split."
        )
    absent = [s for s in _SPLIT_VALUES if s not in values]
    if absent:
        raise DataError(
            f"CSV manifest {csv_path}: column 'split' has no {' and no '.join(absent)} row; every "
            "side needs at least one image. Fix the column or drop it to get a seeded split."
        )
    return values


def _resolve_files(values: list[str], csv_path: Path) -> list[Path]:
    given = [Path(v).expanduser() for v in values]
    files = [p if p.is_absolute() else csv_path.parent / p for p in given]
    missing = [i for i, f in enumerate(files) if not f.is_file()]
    if missing:
        raise DataError(
            f"CSV manifest {csv_path}: {len(missing)} image file(s) do not exist, e.g. "
            f"{files[missing[0]]} (line(s) {_lines(missing)}). Paths are relative to the CSV's "
            f"folder ({csv_path.parent}) unless absolute."
        )
    return files


def _official_splits(
    name: str,
    class_names: tuple[str, ...],
    sides: list[str],
    labels: list[int],
    patient_ids: tuple[str, ...] | None,
    images: torch.Tensor | None,
) -> DatasetSplits:
    """The given split; with ``images=None``, 1-pixel placeholders (for the leakage check)."""
    parts = {}
    for side in _SPLIT_VALUES:
        rows = [i for i, s in enumerate(sides) if s == side]
        side_images = (
            torch.zeros((1, 3, 1, 1), dtype=torch.uint8).expand(len(rows), 3, 1, 1)
            if images is None
            else images[torch.tensor(rows, dtype=torch.long)]
        )
        parts[side] = ImageSet(
            side_images,
            torch.tensor([labels[i] for i in rows], dtype=torch.int64),
            None if patient_ids is None else tuple(patient_ids[i] for i in rows),
        )
    return DatasetSplits(name, class_names, parts["train"], parts["val"], parts["test"], "official")


DATA_SOURCES.register(
    "csv_manifest",
    DataSource(
        name="csv_manifest",
        description=(
            "A CSV of image paths and labels (optional patient_id, split); patient-grouped split."
        ),
        load=load_csv_manifest,
        user_data=True,
    ),
)
