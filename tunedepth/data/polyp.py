"""Colonoscopy frames with polyp masks: the Kvasir-SEG and CVC-ClinicDB layouts, and polyps as mask components.

Two public data sets hold the polyp-detection material (paper-protocol section 1.3 uses the authors' private
videos, which are not available):

* Kvasir-SEG (Jha et al., MMM 2020): ``images/<id>.jpg`` and ``masks/<id>.jpg`` of varying sizes (332x487 to
  1920x1072), optional ``kavsir_bboxes.json``. Every image is an independent capture, so its group id is its own id.
* CVC-ClinicDB (Bernal et al., CMIG 2015), as converted by PraNet: ``images/<n>.png`` and ``masks/<n>.png``,
  384x288, frame numbers 1..612 with gaps. Consecutive frames come from one video, so the group id is the video id
  derived from image content by :func:`tunedepth.data.video_segments.segment_videos` (the official frame-to-video
  table is not shipped with the data).

A polyp is an 8-connected component of a frame's mask with at least ``min_area_px`` pixels
(:func:`label_polyps`). Smaller components are treated as annotation noise: the JPEG masks of Kvasir-SEG carry
compression speckles around the polyp edge that survive thresholding.
"""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from tunedepth.data.sources._image_file import IMAGE_SUFFIXES, read_image_file
from tunedepth.data.video_segments import segment_videos
from tunedepth.errors import DataError

__all__ = [
    "MASK_THRESHOLD",
    "MIN_POLYP_AREA_PX",
    "PolypFrames",
    "label_polyps",
    "load_cvc_clinicdb",
    "load_kvasir_seg",
]

logger = logging.getLogger(__name__)

MASK_THRESHOLD = 128
"""Mask pixels whose grey value (mean over channels) is at least this are polyp; JPEG masks need a threshold."""

MIN_POLYP_AREA_PX = 50
"""Mask components smaller than this many pixels are annotation noise, not polyps."""

_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True, eq=False)
class PolypFrames:
    """Colour frames, their polyp masks and ids; sizes may differ between frames.

    Attributes:
        name: data set name, e.g. "kvasir-seg".
        images: one read-only uint8 array of shape (height, width, 3) per frame.
        masks: one read-only bool array of shape (height, width) per frame, True on polyp pixels.
        frame_ids: one id per frame (file stem), unique.
        group_ids: one group id per frame; frames of one group must stay on one side of a split
            (the video for CVC-ClinicDB, the image itself for Kvasir-SEG).
        boxes: reference boxes per frame as int arrays of shape (n_boxes, 4) holding (x0, y0, x1, y1), or None
            when the data set ships none.
    """

    name: str
    images: tuple[np.ndarray, ...]
    masks: tuple[np.ndarray, ...]
    frame_ids: tuple[str, ...]
    group_ids: tuple[str, ...]
    boxes: tuple[np.ndarray, ...] | None = None

    def __post_init__(self) -> None:
        n = len(self.images)
        lengths = {"masks": len(self.masks), "frame_ids": len(self.frame_ids), "group_ids": len(self.group_ids)}
        if self.boxes is not None:
            lengths["boxes"] = len(self.boxes)
        wrong = {k: v for k, v in lengths.items() if v != n}
        if wrong:
            raise DataError(f"PolypFrames {self.name!r} has {n} images but {wrong}; give one entry per frame.")
        if len(set(self.frame_ids)) != n:
            raise DataError(f"PolypFrames {self.name!r} has repeated frame ids; every frame id must be unique.")
        for image, mask, fid in zip(self.images, self.masks, self.frame_ids, strict=True):
            if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
                raise DataError(
                    f"PolypFrames {self.name!r}: image {fid!r} must be uint8 of shape (height, width, 3); got "
                    f"dtype {image.dtype} and shape {image.shape}."
                )
            if mask.dtype != np.bool_ or mask.shape != image.shape[:2]:
                raise DataError(
                    f"PolypFrames {self.name!r}: mask {fid!r} must be bool of shape {image.shape[:2]}; got dtype "
                    f"{mask.dtype} and shape {mask.shape}."
                )

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, indices: Sequence[int]) -> PolypFrames:
        """A new PolypFrames with the given rows, in the given order (arrays are shared, not copied)."""
        idx = [int(i) for i in indices]
        return PolypFrames(
            name=self.name,
            images=tuple(self.images[i] for i in idx),
            masks=tuple(self.masks[i] for i in idx),
            frame_ids=tuple(self.frame_ids[i] for i in idx),
            group_ids=tuple(self.group_ids[i] for i in idx),
            boxes=None if self.boxes is None else tuple(self.boxes[i] for i in idx),
        )


def label_polyps(mask: np.ndarray, *, min_area_px: int = MIN_POLYP_AREA_PX) -> np.ndarray:
    """Label the polyps of one mask: 8-connected components with at least ``min_area_px`` pixels.

    Args:
        mask: bool array of shape (height, width), True on polyp pixels.
        min_area_px: smallest component kept, in pixels (>= 1); smaller ones become background. Default 50.

    Returns:
        int32 label image of shape (height, width): 0 is background, polyps are 1..n_polyps in raster order of
        their first pixel.

    Raises:
        ValueError: if ``mask`` is not a 2-D bool array or ``min_area_px`` is not a positive int.

    Example:
        >>> m = np.zeros((4, 6), bool); m[:2, :2] = True; m[2, 2] = True; m[3, 5] = True
        >>> int(label_polyps(m, min_area_px=1).max()), int(label_polyps(m, min_area_px=2).max())
        (2, 1)
    """
    m = np.asarray(mask)
    if m.dtype != np.bool_ or m.ndim != 2:
        raise ValueError(
            f"The 'mask' parameter of label_polyps must be a 2-D bool array; got dtype {m.dtype} and shape {m.shape}."
        )
    if isinstance(min_area_px, bool) or not isinstance(min_area_px, (int, np.integer)) or min_area_px < 1:
        raise ValueError(f"The 'min_area_px' parameter of label_polyps must be an int >= 1; got {min_area_px!r}.")
    labels, n = ndimage.label(m, structure=_EIGHT_CONNECTED)
    if n == 0:
        return np.zeros(m.shape, dtype=np.int32)
    areas = np.bincount(labels.ravel(), minlength=n + 1)
    keep = areas >= min_area_px
    keep[0] = False
    new_ids = np.zeros(n + 1, dtype=np.int32)
    new_ids[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    return new_ids[labels]


def _check_threshold(mask_threshold: int, func: str) -> None:
    is_int = not isinstance(mask_threshold, bool) and isinstance(mask_threshold, (int, np.integer))
    if not (is_int and 1 <= mask_threshold <= 255):
        raise ValueError(
            f"The 'mask_threshold' parameter of {func} must be an int in [1, 255]; got {mask_threshold!r}."
        )


def _layout(root: Path, data_set: str) -> tuple[Path, Path]:
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


def _pair_files(images_dir: Path, masks_dir: Path, data_set: str) -> list[tuple[str, Path, Path]]:
    images = _image_files(images_dir)
    masks = {p.name: p for p in _image_files(masks_dir).values()}
    if not images:
        raise DataError(
            f"The {data_set} folder {images_dir} holds no image file ({', '.join(IMAGE_SUFFIXES)}); the data set is "
            "empty."
        )
    pairs = []
    for stem, path in images.items():
        mask = masks.pop(path.name, None)
        if mask is None:
            raise DataError(
                f"Image {path} has no mask: expected {masks_dir / path.name}. Add the mask or remove the image."
            )
        pairs.append((stem, path, mask))
    if masks:
        extra = sorted(masks)[0]
        raise DataError(
            f"Mask {masks_dir / extra} has no image: expected {images_dir / extra} ({len(masks)} unpaired mask(s)). "
            "Add the image or remove the mask."
        )
    return pairs


def _read_pair(image_path: Path, mask_path: Path, mask_threshold: int) -> tuple[np.ndarray, np.ndarray]:
    image = read_image_file(image_path)
    if image.ndim != 3:
        raise DataError(f"Image {image_path} is grayscale; colonoscopy frames must be colour (RGB) images.")
    grey = read_image_file(mask_path)
    if grey.ndim == 3:
        grey = grey.mean(axis=2)
    if grey.shape != image.shape[:2]:
        raise DataError(
            f"Mask {mask_path} is {grey.shape[1]}x{grey.shape[0]} but its image {image_path.name} is "
            f"{image.shape[1]}x{image.shape[0]} (width x height); they must match pixel for pixel."
        )
    image.setflags(write=False)
    mask = grey >= mask_threshold
    mask.setflags(write=False)
    return image, mask


def _read_kvasir_boxes(path: Path, frames: Sequence[tuple[str, np.ndarray]]) -> tuple[np.ndarray, ...]:
    try:
        table = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"Box file {path} could not be read as JSON ({exc}); replace it or delete it.") from exc
    out = []
    for fid, image in frames:
        entry = table.get(fid) if isinstance(table, dict) else None
        try:
            height, width = int(entry["height"]), int(entry["width"])  # type: ignore[index]
            boxes = np.array(
                [[b["xmin"], b["ymin"], b["xmax"], b["ymax"]] for b in entry["bbox"]],  # type: ignore[index]
                dtype=np.int64,
            ).reshape(-1, 4)
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(
                f"Box file {path} has no valid entry for image {fid!r} (expected height, width and bbox with xmin, "
                f"ymin, xmax, ymax; {type(exc).__name__}: {exc})."
            ) from exc
        if (height, width) != image.shape[:2]:
            raise DataError(
                f"Box file {path} gives image {fid!r} as {width}x{height} but the image is "
                f"{image.shape[1]}x{image.shape[0]} (width x height); the boxes belong to another image."
            )
        boxes.setflags(write=False)
        out.append(boxes)
    return tuple(out)


def load_kvasir_seg(
    root: Path, *, mask_threshold: int = MASK_THRESHOLD, frame_ids: Sequence[str] | None = None
) -> PolypFrames:
    """Read Kvasir-SEG: ``images/<id>.jpg``, ``masks/<id>.jpg`` and, when present, ``kavsir_bboxes.json``.

    Args:
        root: the Kvasir-SEG folder.
        mask_threshold: grey value (mean over the mask's channels) from which a mask pixel is polyp, in [1, 255].
            Default 128: the JPEG masks are white on black with grey edges.
        frame_ids: image ids (file stems) to read, in this order; None reads every image in file-name order.

    Returns:
        The frames, named "kvasir-seg"; each frame is its own group. ``boxes`` holds the official boxes when the
        json file exists, else None.

    Raises:
        DataError: if a folder is missing, the data set is empty, an image has no mask (or a mask no image), a
            mask's size differs from its image's, a file is unreadable or truncated, an image is grayscale, the box
            file is invalid, or a requested frame id does not exist.
        ValueError: if ``mask_threshold`` is not an int in [1, 255] or ``frame_ids`` is empty.

    Example:
        >>> frames = load_kvasir_seg(Path("data/kvasir-seg"))  # doctest: +SKIP
        >>> len(frames), frames.images[0].shape  # doctest: +SKIP
        (1000, (529, 622, 3))
    """
    _check_threshold(mask_threshold, "load_kvasir_seg")
    images_dir, masks_dir = _layout(root, "Kvasir-SEG")
    pairs = _pair_files(images_dir, masks_dir, "Kvasir-SEG")
    if frame_ids is not None:
        pairs = _select(pairs, frame_ids, images_dir)
    frames = [(stem, *_read_pair(image, mask, mask_threshold)) for stem, image, mask in pairs]
    box_file = Path(root).expanduser() / "kavsir_bboxes.json"
    boxes = _read_kvasir_boxes(box_file, [(f, img) for f, img, _ in frames]) if box_file.is_file() else None
    ids = tuple(f for f, _, _ in frames)
    logger.info("Read %d Kvasir-SEG frames from %s (boxes: %s)", len(ids), root, "yes" if boxes else "no")
    return PolypFrames(
        name="kvasir-seg",
        images=tuple(img for _, img, _ in frames),
        masks=tuple(m for _, _, m in frames),
        frame_ids=ids,
        group_ids=ids,
        boxes=boxes,
    )


def _select(
    pairs: list[tuple[str, Path, Path]], frame_ids: Sequence[str], images_dir: Path
) -> list[tuple[str, Path, Path]]:
    if isinstance(frame_ids, str) or len(frame_ids) == 0:
        raise ValueError(
            "The 'frame_ids' parameter of load_kvasir_seg must be a non-empty sequence of image ids, or None to "
            f"read every image; got {frame_ids!r}."
        )
    by_id = {stem: (stem, image, mask) for stem, image, mask in pairs}
    missing = [f for f in frame_ids if f not in by_id]
    if missing:
        guess = difflib.get_close_matches(missing[0], list(by_id), n=1)
        hint = f" Did you mean {guess[0]!r}?" if guess else ""
        raise DataError(f"Frame id {missing[0]!r} is not an image in {images_dir} ({len(missing)} unknown).{hint}")
    return [by_id[f] for f in frame_ids]


def load_cvc_clinicdb(root: Path, *, mask_threshold: int = MASK_THRESHOLD) -> PolypFrames:
    """Read CVC-ClinicDB frames ``images/<n>.png`` and masks ``masks/<n>.png``, grouped by derived video.

    Frames are ordered by frame number n (gaps are allowed: the PraNet training copy lacks 62 of 612). Group ids
    are the video ids from :func:`tunedepth.data.video_segments.segment_videos` with its documented defaults; to
    use other settings, call it on ``frames.images`` and replace the groups with ``dataclasses.replace``.

    Args:
        root: the CVC-ClinicDB folder.
        mask_threshold: grey value from which a mask pixel is polyp, in [1, 255]. Default 128 (masks are 0/255).

    Returns:
        The frames, named "cvc-clinicdb"; ``frame_ids`` are the frame numbers as strings; ``boxes`` is None.

    Raises:
        DataError: if a folder is missing, the data set is empty, a file name is not a frame number, an image has
            no mask (or a mask no image), sizes differ, a file is unreadable or truncated, or an image is grayscale.
        ValueError: if ``mask_threshold`` is not an int in [1, 255].

    Example:
        >>> frames = load_cvc_clinicdb(Path("data/cvc-clinicdb-pranet-train550"))  # doctest: +SKIP
        >>> len(frames), frames.frame_ids[:3], frames.group_ids[0]  # doctest: +SKIP
        (550, ('1', '2', '3'), 'video01')
    """
    _check_threshold(mask_threshold, "load_cvc_clinicdb")
    images_dir, masks_dir = _layout(root, "CVC-ClinicDB")
    pairs = _pair_files(images_dir, masks_dir, "CVC-ClinicDB")
    bad = [image for stem, image, _ in pairs if not stem.isdigit()]
    if bad:
        raise DataError(
            f"CVC-ClinicDB file {bad[0]} is not named by its frame number (e.g. 12.png); {len(bad)} such file(s). "
            "Rename them or remove them."
        )
    pairs.sort(key=lambda p: int(p[0]))
    frames = [_read_pair(image, mask, mask_threshold) for _, image, mask in pairs]
    numbers = [int(stem) for stem, _, _ in pairs]
    segments = segment_videos([img for img, _ in frames], numbers)
    logger.info("Read %d CVC-ClinicDB frames from %s in %d derived videos", len(frames), root, segments.n_videos)
    return PolypFrames(
        name="cvc-clinicdb",
        images=tuple(img for img, _ in frames),
        masks=tuple(m for _, m in frames),
        frame_ids=tuple(str(n) for n in numbers),
        group_ids=segments.video_ids,
    )
