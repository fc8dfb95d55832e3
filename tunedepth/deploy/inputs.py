"""What ``tunedepth predict`` reads: image files, folders of them, CSV manifests and MedMNIST ``.npz`` splits, as
named uint8 images in a stated order.

- an image file (PNG, JPEG, BMP, TIFF; 8-bit): itself;
- a folder: every image file under it (any depth), in sorted path order;
- a ``.csv`` file: its ``path`` column, paths relative to the CSV's folder (a ``label`` column, if any, is copied);
- a ``.npz`` file, optionally ``FILE.npz:SPLIT`` (default ``test``): the array ``<SPLIT>_images`` of shape
  (n, h, w) or (n, h, w, c) as MedMNIST ships it, the images named ``FILE.npz:SPLIT[i]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from tunedepth.data import IMAGE_SUFFIXES, prepare_images, read_image_files
from tunedepth.errors import DataError

__all__ = ["InputImages", "collect_inputs"]


@dataclass(frozen=True)
class InputImages:
    """Images to score, in order: their names, the files to read (None for an array), the array, labels if known."""

    names: tuple[str, ...]
    files: tuple[Path, ...] | None
    array: np.ndarray | None
    labels: tuple[object, ...] | None = None

    def __len__(self) -> int:
        return len(self.names)

    def batches(self, image_size: int, batch_size: int) -> Iterator[torch.Tensor]:
        """The model-ready uint8 images (n, 3, image_size, image_size), ``batch_size`` at a time."""
        for start in range(0, len(self), batch_size):
            stop = min(start + batch_size, len(self))
            if self.files is not None:
                yield read_image_files(self.files[start:stop], image_size=image_size)
            else:
                assert self.array is not None
                yield prepare_images(self.array[start:stop], image_size=image_size)


def collect_inputs(inputs: list[str]) -> list[InputImages]:
    """The images each input names (see the module docstring), checked to exist before any is read.

    Raises:
        DataError: an input does not exist, a folder holds no image file, a CSV has no ``path`` column, an
            ``.npz`` has no such split; one line naming it.
    """
    return [_collect(item) for item in inputs]


def _collect(item: str) -> InputImages:
    path, _, split = item.partition(":") if item.lower().split(":")[0].endswith(".npz") else (item, "", "")
    source = Path(path)
    if not source.exists():
        raise DataError(f"Input {item} does not exist; give image files, folders, a CSV manifest or a .npz file.")
    if source.is_dir():
        files = tuple(sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
        if not files:
            raise DataError(f"Folder {source} holds no image file ({', '.join(IMAGE_SUFFIXES)}).")
        return InputImages(tuple(str(p) for p in files), files, None)
    suffix = source.suffix.lower()
    if suffix == ".npz":
        return _npz(source, split or "test")
    if suffix == ".csv":
        return _manifest(source)
    if suffix in IMAGE_SUFFIXES:
        return InputImages((str(source),), (source,), None)
    raise DataError(f"Input {source} is not an image file ({', '.join(IMAGE_SUFFIXES)}), a folder, a .csv manifest "
                    "or a .npz file.")


def _npz(path: Path, split: str) -> InputImages:
    key = f"{split}_images"
    try:
        with np.load(path) as npz:
            if key not in npz.files:
                splits = sorted(k.removesuffix("_images") for k in npz.files if k.endswith("_images"))
                raise DataError(f"{path} has no split {split!r} (no array {key!r}); its splits: {splits}. Give "
                                f"{path}:SPLIT.")
            array = npz[key]
    except (OSError, ValueError) as exc:
        raise DataError(f"Cannot read {path} as a .npz file: {exc}.") from None
    return InputImages(tuple(f"{path}:{split}[{i}]" for i in range(len(array))), None, array)


def _manifest(path: Path) -> InputImages:
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"Cannot read the manifest {path}: {exc}.") from None
    if "path" not in frame.columns:
        raise DataError(f"The manifest {path} has no 'path' column (columns: {list(frame.columns)}); give each "
                        "image's path, relative to the manifest's folder, in a 'path' column.")
    files = tuple((path.parent / str(p)) for p in frame["path"])
    if missing := [str(f) for f in files if not f.is_file()]:
        raise DataError(f"The manifest {path} names {len(missing)} file(s) that do not exist, e.g. {missing[0]}.")
    labels = tuple(frame["label"]) if "label" in frame.columns else None
    return InputImages(tuple(str(p) for p in frame["path"]), files, None, labels)
