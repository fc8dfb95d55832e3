"""Pairing image and mask files of a frame folder, reading a frame's files on demand (:class:`FrameFiles`), a
Kvasir-SEG box-file entry, and the per-frame problems a loader raises or skips.

Shared by the polyp (:mod:`tunedepth.data.masked.polyp`) and carotid (:mod:`tunedepth.data.masked.carotid`) loaders:
both read an image folder and a mask folder with matching file names, and both refuse a bad frame with one line naming
the file, or skip it and list it (``skip_bad_frames``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

import numpy as np

from tunedepth.data._image_file import IMAGE_SUFFIXES, read_image_file
from tunedepth.errors import DataError

__all__ = ["FrameFiles", "SkippedFrame", "box_file_entry"]

logger = logging.getLogger(__name__)

_SKIP_HINT = "To skip such frames instead, set skip_bad_frames (data.skip_bad_frames = true in a study file)."


@dataclass(frozen=True)
class SkippedFrame:
    """A frame that a loader left out because of ``skip_bad_frames=True``.

    Attributes:
        path: the frame's image file (its mask file when the image is missing); ``path.stem`` is the frame id.
        reason: the one-line message, naming the file at fault, that ``skip_bad_frames=False`` raises.
    """

    path: Path
    reason: str


class _BadFrames:
    """The per-frame problems of one load: raised at the first one, or logged and collected when skipping."""

    def __init__(self, data_set: str, skip: bool) -> None:
        self.data_set, self.skip = data_set, skip
        self.found: list[SkippedFrame] = []

    def add(self, path: Path, reason: str, cause: BaseException | None = None) -> None:
        if not self.skip:
            raise DataError(f"{reason} {_SKIP_HINT}") from cause
        logger.warning("Skipping %s frame %s: %s", self.data_set, path.name, reason)
        self.found.append(SkippedFrame(path=path, reason=reason))

    def check_any_left(self, n_frames: int, root: Path) -> None:
        if n_frames == 0 and self.found:
            raise DataError(
                f"Every {self.data_set} frame read from {root} is bad ({len(self.found)} skipped), so there is "
                f"nothing to study; the first: {self.found[0].reason} Fix the data or point 'root' at a good copy."
            )


def _image_files(folder: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES:
            if p.stem in files:
                raise DataError(
                    f"Folder {folder} holds two images named {p.stem!r} ({files[p.stem].name} and {p.name}); keep one."
                )
            files[p.stem] = p
    return files


def _pair_files(images_dir: Path, masks_dir: Path, bad: _BadFrames) -> list[tuple[str, Path, Path]]:
    images = _image_files(images_dir)
    masks = {p.name: p for p in _image_files(masks_dir).values()}
    if not images:
        raise DataError(
            f"The {bad.data_set} folder {images_dir} holds no image file ({', '.join(IMAGE_SUFFIXES)}); the data set "
            "is empty."
        )
    pairs = []
    for stem, path in images.items():
        mask = masks.pop(path.name, None)
        if mask is None:
            msg = f"Image {path} has no mask: expected {masks_dir / path.name}. Add the mask or remove the image."
            bad.add(path, msg)
        else:
            pairs.append((stem, path, mask))
    for extra in sorted(masks):
        bad.add(
            masks[extra],
            f"Mask {masks_dir / extra} has no image: expected {images_dir / extra} ({len(masks)} unpaired mask(s)). "
            "Add the image or remove the mask.",
        )
    return pairs


class FrameFiles(Sequence[np.ndarray]):
    """The images, or the masks, of validated frames, read from their files each time one is indexed, so that a data
    set's pixels are never all in memory at once (Kvasir-SEG's 1,000 frames hold 1.2 GiB as arrays). Reading is
    deterministic: a frame read twice is the same array (read-only), as the loader's validating read gave it.

    Args:
        files: (image file, mask file) per frame.
        part: "image" (uint8, height x width x 3) or "mask" (bool, height x width).
        mask_threshold: grey value from which a mask pixel is polyp (as the loader's).
    """

    def __init__(self, files: Sequence[tuple[Path, Path]], *, part: str, mask_threshold: int) -> None:
        self.files, self.part, self.mask_threshold = tuple(files), part, mask_threshold

    def __len__(self) -> int:
        return len(self.files)

    @overload
    def __getitem__(self, index: int) -> np.ndarray: ...

    @overload
    def __getitem__(self, index: slice) -> FrameFiles: ...

    def __getitem__(self, index: int | slice) -> np.ndarray | FrameFiles:
        if isinstance(index, slice):
            return self.subset(range(len(self))[index])
        image_path, mask_path = self.files[index]
        if self.part == "image":
            image = read_image_file(image_path)
            image.setflags(write=False)
            return image
        return _read_mask(mask_path, self.mask_threshold)

    def subset(self, indices: Sequence[int]) -> FrameFiles:
        """The frames of the given rows, in the given order (still read on demand)."""
        return FrameFiles([self.files[int(i)] for i in indices], part=self.part, mask_threshold=self.mask_threshold)


def _read_mask(mask_path: Path, mask_threshold: int) -> np.ndarray:
    """A mask file as a read-only bool array: polyp where the grey value (mean over channels) >= the threshold."""
    grey = read_image_file(mask_path)
    if grey.ndim == 3:
        grey = grey.mean(axis=2)
    mask = grey >= mask_threshold
    mask.setflags(write=False)
    return mask


def box_file_entry(table: dict[str, object], path: Path, fid: str, shape: tuple[int, ...]) -> np.ndarray:
    """The boxes of image ``fid`` in Kvasir-SEG's box file ``path`` (parsed as ``table``), checked against the
    image's ``shape``: an int array (n_boxes, 4) of (x0, y0, x1, y1), read-only."""
    entry = table.get(fid)
    try:
        height, width = int(entry["height"]), int(entry["width"])  # type: ignore[index]
        boxes = np.array(
            [[b["xmin"], b["ymin"], b["xmax"], b["ymax"]] for b in entry["bbox"]],  # type: ignore[index]
            dtype=np.int64,
        ).reshape(-1, 4)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(
            f"Box file {path} has no valid entry for image {fid!r} (expected height, width and bbox with xmin, ymin, "
            f"xmax, ymax; {type(exc).__name__}: {exc})."
        ) from exc
    if (height, width) != shape[:2]:
        raise DataError(
            f"Box file {path} gives image {fid!r} as {width}x{height} but the image is {shape[1]}x"
            f"{shape[0]} (width x height); the boxes belong to another image."
        )
    boxes.setflags(write=False)
    return boxes


def _layout(root: Path, data_set: str) -> tuple[Path, Path]:
    """The ``images/`` and ``masks/`` folders of a data set's folder, checked to exist."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"The {data_set} folder {root} does not exist; point 'root' at the folder holding images/.")
    folders = (root / "images", root / "masks")
    for folder in folders:
        if not folder.is_dir():
            raise DataError(
                f"The {data_set} folder {root} has no {folder.name}/ sub-folder; expected images/ and masks/ with "
                "matching file names."
            )
    return folders
