"""Pairing image and mask files of a frame folder, and the per-frame problems a loader raises or skips.

Shared by the polyp (:mod:`tunedepth.data.masked.polyp`) and carotid (:mod:`tunedepth.data.masked.carotid`) loaders:
both read an image folder and a mask folder with matching file names, and both refuse a bad frame with one line naming
the file, or skip it and list it (``skip_bad_frames``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from tunedepth.data._image_file import IMAGE_SUFFIXES
from tunedepth.errors import DataError

__all__ = ["SkippedFrame"]

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
