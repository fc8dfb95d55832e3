"""Images with layered (intima-media-like) boundary annotations: ``images/`` plus one JSON file per image.

Layout::

    <root>/images/<stem>.png            (or .jpg, .jpeg, .bmp, .tif, .tiff)
    <root>/annotations/<stem>.json      the two interfaces as polylines (format: tunedepth.data.boundaries)

This is the input format for users with longitudinal carotid (or other layered) data: convert each image's
lumen-intima and media-adventitia tracings to one JSON file. A grey image is replicated into three channels (the
ImageNet CNNs take three); the group of an image is the annotation's ``group`` key (patient or sequence), else
the image itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tunedepth.data._frame_files import SkippedFrame, _BadFrames, _image_files
from tunedepth.data.boundaries import LayeredBoundaries, read_layered_annotation
from tunedepth.data.sources._image_file import read_image_file
from tunedepth.errors import DataError

__all__ = ["LayeredFrames", "load_layered"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class LayeredFrames:
    """Images and their two annotated interfaces.

    Attributes:
        name: data set name (the folder's name).
        images: one uint8 array of shape (height, width, 3) per image.
        boundaries: one :class:`~tunedepth.data.boundaries.LayeredBoundaries` per image (rows per column).
        frame_ids: image file stems, unique.
        group_ids: the annotations' ``group`` (else the stem).
        skipped: images left out with ``skip_bad_frames=True``.
    """

    name: str
    images: tuple[np.ndarray, ...]
    boundaries: tuple[LayeredBoundaries, ...]
    frame_ids: tuple[str, ...]
    group_ids: tuple[str, ...]
    skipped: tuple[SkippedFrame, ...] = ()

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, indices: list[int]) -> LayeredFrames:
        """The images at ``indices``, in that order."""
        return LayeredFrames(self.name, tuple(self.images[i] for i in indices),
                             tuple(self.boundaries[i] for i in indices), tuple(self.frame_ids[i] for i in indices),
                             tuple(self.group_ids[i] for i in indices), self.skipped)


def load_layered(root: Path, *, skip_bad_frames: bool = False) -> LayeredFrames:
    """Read a folder of images with layered annotations (layout in the module docstring).

    Args:
        root: the folder holding ``images/`` and ``annotations/``.
        skip_bad_frames: True logs each bad image (missing or unreadable annotation or image, a vertex outside
            the image, crossing interfaces, ...) and leaves it out; False raises at the first.

    Returns:
        The images in file-name order.

    Raises:
        DataError: naming the file, for a bad image unless skipping; always for a missing folder or no images.
    """
    root = Path(root).expanduser()
    images_dir, notes_dir = root / "images", root / "annotations"
    for folder in (images_dir, notes_dir):
        if not folder.is_dir():
            raise DataError(f"Layered data folder {root} has no {folder.name}/ sub-folder; expected images/ and "
                            "annotations/ (one <stem>.json per image; see tunedepth.data.layered).")
    files = _image_files(images_dir)
    if not files:
        raise DataError(f"Layered data folder {images_dir} holds no image; the data set is empty.")
    bad = _BadFrames("layered", skip_bad_frames)
    images, bounds, ids = [], [], []
    for stem, path in files.items():
        note = notes_dir / f"{stem}.json"
        try:
            if not note.is_file():
                raise DataError(f"Image {path} has no annotation: expected {note}. Add it or remove the image.")
            image = read_image_file(path)
            if image.ndim == 2:
                image = np.repeat(image[..., None], 3, axis=2)
            boundaries = read_layered_annotation(note, image_shape=image.shape[:2])
        except DataError as exc:
            bad.add(path, str(exc), exc)
            continue
        image.setflags(write=False)
        images.append(image)
        bounds.append(boundaries)
        ids.append(stem)
    bad.check_any_left(len(images), root)
    groups = tuple(b.group or stem for b, stem in zip(bounds, ids, strict=True))
    logger.info("Read %d layered images from %s (%d groups)", len(images), root, len(set(groups)))
    return LayeredFrames(root.name, tuple(images), tuple(bounds), tuple(ids), groups, tuple(bad.found))
