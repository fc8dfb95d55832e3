"""Carotid ultrasound frames with artery masks: the "Common Carotid Artery Ultrasound Images" layout.

The data set (Momot, Mendeley Data 2022, doi:10.17632/d4xt63mgjm.1, CC BY 4.0; the 110-image subset in
``../shared/data/carotid-cca-us-subset`` is described in its ``PROVENANCE.md``) holds transverse B-mode images of
the common carotid artery and a filled expert mask of the artery per image::

    <root>/US images/<sequence>_slice_<n>.png            709x749 RGB, grey content
    <root>/Expert mask images/<sequence>_slice_<n>.png   same size, mode L, values {0, 255}

It is a real-data proxy for boundary segmentation: the paper (Tajbakhsh et al., IEEE TMI 2016) segments intima-media
boundaries on longitudinal images, which no public data set available here provides; the artery outline from
:func:`tunedepth.data.boundaries.closed_boundary` stands in for them.

* Images are kept as the three channels stored in the file, uint8 of shape (height, width, 3): the ImageNet CNNs of
  this package take three channels, and the stored channels are close to but not exactly equal (they differ by up to
  14 grey levels in the subset), so averaging them would be a result-changing conversion. A greyscale (mode L) image
  file is replicated into the three channels, which loses nothing.
* A mask pixel is artery when its value is not 0. A mask must be binary (0 and one other value, 0/255 in the data
  set); a mask with more grey levels (for example saved as JPEG) is refused rather than thresholded.
* The group id is the acquisition sequence, the file-name part before ``_slice`` (e.g.
  ``202201121748100022VAS``): frames of one cine sequence are near-duplicates and must stay on one side of a split.
  The data set's 11 subjects are not mapped to sequences, so a subject-wise split is not possible.

A bad frame is an image without mask or a mask without image, a mask of another size than its image, an unreadable
or truncated file, a mask that is not binary or has no artery pixel, or a file name without ``_slice``. The loader
raises :class:`~tunedepth.errors.DataError` naming its file or, with ``skip_bad_frames=True``, logs a warning, leaves
the frame out and lists it in :attr:`SegmentationFrames.skipped`. Problems of the whole data set always raise.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from tunedepth.data._image_file import read_image_file

# The per-frame bookkeeping (pairing by file name, raise-or-skip) is the polyp loaders'; shared, not copied.
from tunedepth.data.masked._frame_files import _BadFrames, _pair_files
from tunedepth.data.masked.segmentation_frames import SegmentationFrames
from tunedepth.errors import DataError

__all__ = ["CAROTID_DATA_FOLDER", "CAROTID_IMAGE_FOLDER", "CAROTID_MASK_FOLDER", "load_carotid"]

logger = logging.getLogger(__name__)

CAROTID_DATA_FOLDER = "carotid-cca-us-subset"
"""Default folder name of the carotid data under ``$TUNEDEPTH_DATA_DIR`` (as in ``../shared/data``)."""

CAROTID_IMAGE_FOLDER = "US images"
"""Sub-folder of the ultrasound images, with the space of the original release."""

CAROTID_MASK_FOLDER = "Expert mask images"
"""Sub-folder of the artery masks; each has the file name of its image."""

_SEQUENCE_SEPARATOR = "_slice"
_DATA_SET = "carotid"


def _layout(root: Path) -> tuple[Path, Path]:
    if not root.is_dir():
        raise DataError(
            f"The carotid folder {root} does not exist; point 'root' at the folder holding "
            f"'{CAROTID_IMAGE_FOLDER}/' and '{CAROTID_MASK_FOLDER}/'."
        )
    folders = (root / CAROTID_IMAGE_FOLDER, root / CAROTID_MASK_FOLDER)
    for folder in folders:
        if not folder.is_dir():
            raise DataError(
                f"The carotid folder {root} has no '{folder.name}/' sub-folder; expected '{CAROTID_IMAGE_FOLDER}/' "
                f"and '{CAROTID_MASK_FOLDER}/' with matching file names."
            )
    return folders


def _sequence(image_path: Path) -> str:
    prefix, found, _ = image_path.stem.partition(_SEQUENCE_SEPARATOR)
    if not found or not prefix:
        raise DataError(
            f"Carotid file {image_path} is not named <sequence>{_SEQUENCE_SEPARATOR}_<n> (e.g. "
            f"202201121748100022VAS_slice_1069.png), so its acquisition sequence (group) is unknown; rename it."
        )
    return prefix


def _read_pair(image_path: Path, mask_path: Path) -> tuple[np.ndarray, np.ndarray]:
    image = read_image_file(image_path)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    stored = read_image_file(mask_path)
    if stored.ndim == 3:
        if not (stored == stored[:, :, :1]).all():
            raise DataError(
                f"Mask {mask_path} is a colour image with different channels; a mask must be one binary channel "
                "(0 and 255). Save it as a greyscale PNG."
            )
        stored = stored[:, :, 0]
    if stored.shape != image.shape[:2]:
        raise DataError(
            f"Mask {mask_path} is {stored.shape[1]}x{stored.shape[0]} but its image {image_path.name} is "
            f"{image.shape[1]}x{image.shape[0]} (width x height); they must match pixel for pixel."
        )
    values = np.unique(stored)
    if values.size > 2 or (values.size == 2 and values[0] != 0):
        raise DataError(
            f"Mask {mask_path} holds {values.size} grey levels ({', '.join(str(v) for v in values[:5])}"
            f"{', ...' if values.size > 5 else ''}); a mask must be binary, 0 for background and one value for the "
            "artery. Re-save it losslessly (PNG) with values 0 and 255."
        )
    mask = stored != 0
    if not mask.any():
        raise DataError(
            f"Mask {mask_path} is empty (every pixel 0) but every carotid frame shows the artery; fix the mask or "
            "remove the frame."
        )
    image.setflags(write=False)
    mask.setflags(write=False)
    return image, mask


def load_carotid(root: Path, *, skip_bad_frames: bool = False) -> SegmentationFrames:
    """Read carotid ultrasound images and their artery masks, grouped by acquisition sequence.

    Frames are in file-name order. See the module docstring for the layout, the image and mask conventions and what
    makes a frame bad.

    Args:
        root: the data set folder, holding ``US images/`` and ``Expert mask images/``.
        skip_bad_frames: True logs each bad frame and leaves it out; False raises at the first. Default False.

    Returns:
        The frames, named "carotid-cca-us": uint8 images of shape
        (height, width, 3), bool artery masks, frame ids = file stems, group ids = sequence prefixes; ``skipped``
        lists the bad frames left out.

    Raises:
        DataError: naming the file, for a bad frame unless ``skip_bad_frames``; always for a missing folder, an
            empty data set, two images of one name, or when every frame is bad.
        TypeError: if ``skip_bad_frames`` is not a bool.

    Example:
        >>> frames = load_carotid(Path("data/carotid-cca-us-subset"))  # doctest: +SKIP
        >>> len(frames), frames.images[0].shape, frames.group_ids[0]  # doctest: +SKIP
        (110, (749, 709, 3), '202201121748100022VAS')
    """
    if not isinstance(skip_bad_frames, bool):
        raise TypeError(
            f"The 'skip_bad_frames' parameter of load_carotid must be True or False; got {skip_bad_frames!r}."
        )
    root = Path(root).expanduser()
    images_dir, masks_dir = _layout(root)
    bad = _BadFrames(_DATA_SET, skip_bad_frames)
    images, masks, frame_ids, group_ids = [], [], [], []
    for stem, image_path, mask_path in _pair_files(images_dir, masks_dir, bad):
        try:
            group = _sequence(image_path)
            image, mask = _read_pair(image_path, mask_path)
        except DataError as exc:  # only this frame's files are read here
            bad.add(image_path, str(exc), exc)
            continue
        images.append(image)
        masks.append(mask)
        frame_ids.append(stem)
        group_ids.append(group)
    bad.check_any_left(len(images), root)
    logger.info("Read %d carotid frames from %s: %d sequences, %d skipped", len(images), root, len(set(group_ids)),
                len(bad.found))
    return SegmentationFrames(
        name="carotid-cca-us",
        images=tuple(images),
        masks=tuple(masks),
        frame_ids=tuple(frame_ids),
        group_ids=tuple(group_ids),
        skipped=tuple(bad.found),
    )
