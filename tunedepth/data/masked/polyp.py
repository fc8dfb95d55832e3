"""Colonoscopy frames with polyp masks: the Kvasir-SEG and CVC-ClinicDB layouts, and polyps as mask components.

Two public data sets hold the polyp-detection material (paper-protocol section 1.3 uses the authors' private
videos, which are not available):

* Kvasir-SEG (Jha et al., MMM 2020): ``images/<id>.jpg`` and ``masks/<id>.jpg`` of varying sizes (332x487 to
  1920x1072), optional ``kavsir_bboxes.json``. Every image is an independent capture, so its group id is its own id.
* CVC-ClinicDB (Bernal et al., CMIG 2015), as converted by PraNet: ``images/<n>.png`` and ``masks/<n>.png``,
  384x288, frame numbers 1..612 with gaps. Consecutive frames come from one video, so the group id is the video id
  derived from image content by :func:`tunedepth.data.masked.video_segments.segment_videos` (the official frame-to-video
  table is not shipped with the data).

A polyp is an 8-connected component of a frame's mask with at least ``min_area_px`` pixels
(:func:`label_polyps`). Smaller components are treated as annotation noise: the JPEG masks of Kvasir-SEG carry
compression speckles around the polyp edge that survive thresholding.

A bad frame is an image without mask or a mask without image, a mask of another size than its image, an unreadable
or truncated file, a grayscale image, a mask without polyp (every frame of both data sets shows one), an invalid
Kvasir-SEG box-file entry, or a CVC-ClinicDB file not named by its frame number. The loaders raise
:class:`~tunedepth.errors.DataError` naming its file or, with ``skip_bad_frames=True``, log a warning, leave the frame
out and list it in :attr:`PolypFrames.skipped`. Problems of the whole data set always raise.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy import ndimage

from tunedepth._checks import check_int
from tunedepth.data._image_file import read_image_file
from tunedepth.data.masked._frame_files import (
    FrameFiles,
    SkippedFrame,
    _BadFrames,
    _layout,
    _pair_files,
    _read_mask,
    box_file_entry,
)
from tunedepth.data.masked.video_segments import segment_videos
from tunedepth.errors import DataError

__all__ = [
    "MASK_THRESHOLD",
    "POLYP_DATA_FOLDERS",
    "MIN_POLYP_AREA_PX",
    "FrameFiles",
    "PolypFrames",
    "SkippedFrame",
    "label_polyps",
    "load_cvc_clinicdb",
    "load_kvasir_seg",
]

logger = logging.getLogger(__name__)

POLYP_DATA_FOLDERS = {"kvasir_seg": "kvasir-seg", "cvc_clinicdb": "cvc-clinicdb-pranet-train550"}
"""Detection data source -> its default folder name under ``$TUNEDEPTH_DATA_DIR`` (as in ``../shared/data``)."""

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
        skipped: the bad frames the load left out (``skip_bad_frames=True``), in the order found; empty otherwise.
            It describes the load, so :meth:`subset` keeps it unchanged.
    """

    name: str
    images: Sequence[np.ndarray]
    masks: Sequence[np.ndarray]
    frame_ids: tuple[str, ...]
    group_ids: tuple[str, ...]
    boxes: tuple[np.ndarray, ...] | None = None
    skipped: tuple[SkippedFrame, ...] = ()

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
        if isinstance(self.images, FrameFiles):
            return  # validated by the loader's read (the files are read again on demand)
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

    @property
    def on_demand(self) -> bool:
        """Whether the pixels are read from the files when indexed (``lazy=True`` loads) instead of held."""
        return isinstance(self.images, FrameFiles)

    def in_memory(self) -> PolypFrames:
        """The same frames with every image and mask read into memory (itself when they already are)."""
        if not self.on_demand:
            return self
        return dataclasses.replace(self, images=tuple(self.images), masks=tuple(self.masks))

    def subset(self, indices: Sequence[int]) -> PolypFrames:
        """A new PolypFrames with the given rows, in the given order (arrays shared, not copied; frames read on
        demand stay so; ``skipped`` kept)."""
        idx = [int(i) for i in indices]
        images, masks = self.images, self.masks
        return PolypFrames(
            name=self.name,
            images=images.subset(idx) if isinstance(images, FrameFiles) else tuple(images[i] for i in idx),
            masks=masks.subset(idx) if isinstance(masks, FrameFiles) else tuple(masks[i] for i in idx),
            frame_ids=tuple(self.frame_ids[i] for i in idx),
            group_ids=tuple(self.group_ids[i] for i in idx),
            boxes=None if self.boxes is None else tuple(self.boxes[i] for i in idx),
            skipped=self.skipped,
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
    check_int(min_area_px, "min_area_px", "label_polyps", minimum=1)
    labels, n = ndimage.label(m, structure=_EIGHT_CONNECTED)
    if n == 0:
        return np.zeros(m.shape, dtype=np.int32)
    areas = np.bincount(labels.ravel(), minlength=n + 1)
    keep = areas >= min_area_px
    keep[0] = False
    new_ids = np.zeros(n + 1, dtype=np.int32)
    new_ids[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    return new_ids[labels]


def _check_options(func: str, mask_threshold: int, min_area_px: int, skip_bad_frames: bool) -> None:
    is_int = not isinstance(mask_threshold, bool) and isinstance(mask_threshold, (int, np.integer))
    if not (is_int and 1 <= mask_threshold <= 255):
        raise ValueError(
            f"The 'mask_threshold' parameter of {func} must be an int in [1, 255]; got {mask_threshold!r}."
        )
    check_int(min_area_px, "min_area_px", func, minimum=1)
    if not isinstance(skip_bad_frames, bool):
        raise TypeError(f"The 'skip_bad_frames' parameter of {func} must be True or False; got {skip_bad_frames!r}.")


class _Frame(NamedTuple):
    frame_id: str
    image_path: Path
    mask_path: Path
    shape: tuple[int, ...]
    image: np.ndarray | None  # None when the frame is read on demand
    mask: np.ndarray | None


def _read_pair(
    image_path: Path, mask_path: Path, mask_threshold: int, min_area_px: int, data_set: str
) -> tuple[np.ndarray, np.ndarray]:
    image = read_image_file(image_path)
    if image.ndim != 3:
        raise DataError(f"Image {image_path} is grayscale; colonoscopy frames must be colour (RGB) images.")
    mask = _read_mask(mask_path, mask_threshold)
    if mask.shape != image.shape[:2]:
        raise DataError(
            f"Mask {mask_path} is {mask.shape[1]}x{mask.shape[0]} but its image {image_path.name} is "
            f"{image.shape[1]}x{image.shape[0]} (width x height); they must match pixel for pixel."
        )
    if mask.sum() < min_area_px or label_polyps(mask, min_area_px=min_area_px).max() == 0:
        raise DataError(
            f"Mask {mask_path} has no polyp (no 8-connected component of at least {min_area_px} px with grey value "
            f">= {mask_threshold}) but every {data_set} frame shows one; fix the mask or remove the frame."
        )
    image.setflags(write=False)
    return image, mask


def _read_frames(
    pairs: Sequence[tuple[str, Path, Path]], mask_threshold: int, min_area_px: int, bad: _BadFrames, *,
    lazy: bool = False,
) -> list[_Frame]:
    """Every frame read and checked; ``lazy`` keeps only its files and shape (its pixels are read again on demand)."""
    frames = []
    for stem, image_path, mask_path in pairs:
        try:
            image, mask = _read_pair(image_path, mask_path, mask_threshold, min_area_px, bad.data_set)
        except DataError as exc:  # only this frame's files are read here
            bad.add(image_path, str(exc), exc)
            continue
        frames.append(_Frame(stem, image_path, mask_path, image.shape, None if lazy else image,
                             None if lazy else mask))
    return frames


def _pixels(frames: Sequence[_Frame], mask_threshold: int, *, lazy: bool
            ) -> tuple[Sequence[np.ndarray], Sequence[np.ndarray]]:
    """The frames' images and masks: held arrays, or :class:`FrameFiles` read on demand."""
    if lazy:
        files = [(f.image_path, f.mask_path) for f in frames]
        return (FrameFiles(files, part="image", mask_threshold=mask_threshold),
                FrameFiles(files, part="mask", mask_threshold=mask_threshold))
    return tuple(f.image for f in frames if f.image is not None), tuple(f.mask for f in frames if f.mask is not None)


def _attach_kvasir_boxes(
    path: Path, frames: Sequence[_Frame], bad: _BadFrames
) -> tuple[list[_Frame], tuple[np.ndarray, ...]]:
    try:
        table = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"Box file {path} could not be read as JSON ({exc}); replace it or delete it.") from exc
    if not isinstance(table, dict):
        raise DataError(f"Box file {path} holds a JSON {type(table).__name__}, not an object of image ids; replace it.")
    kept, boxes = [], []
    for frame in frames:
        try:
            boxes.append(box_file_entry(table, path, frame.frame_id, frame.shape))
            kept.append(frame)
        except DataError as exc:
            bad.add(frame.image_path, str(exc), exc)
    return kept, tuple(boxes)


def _select(
    pairs: list[tuple[str, Path, Path]], frame_ids: Sequence[str], images_dir: Path, bad: _BadFrames
) -> list[tuple[str, Path, Path]]:
    if isinstance(frame_ids, str) or len(frame_ids) == 0:
        raise ValueError(
            "The 'frame_ids' parameter of load_kvasir_seg must be a non-empty sequence of image ids, or None to "
            f"read every image; got {frame_ids!r}."
        )
    by_id = {stem: (stem, image, mask) for stem, image, mask in pairs}
    skipped = {s.path.stem for s in bad.found}
    missing = [f for f in frame_ids if f not in by_id and f not in skipped]
    if missing:
        guess = difflib.get_close_matches(missing[0], list(by_id), n=1)
        hint = f" Did you mean {guess[0]!r}?" if guess else ""
        raise DataError(f"Frame id {missing[0]!r} is not an image in {images_dir} ({len(missing)} unknown).{hint}")
    requested = set(frame_ids)
    bad.found = [s for s in bad.found if s.path.stem in requested]  # skipped lists only frames of this load
    return [by_id[f] for f in frame_ids if f in by_id]


def load_kvasir_seg(
    root: Path,
    *,
    mask_threshold: int = MASK_THRESHOLD,
    frame_ids: Sequence[str] | None = None,
    min_area_px: int = MIN_POLYP_AREA_PX,
    skip_bad_frames: bool = False,
    max_frames: int | None = None,
    lazy: bool = False,
) -> PolypFrames:
    """Read Kvasir-SEG: ``images/<id>.jpg``, ``masks/<id>.jpg`` and, when present, ``kavsir_bboxes.json``.

    Args:
        root: the Kvasir-SEG folder.
        mask_threshold: grey value (mean over the mask's channels) from which a mask pixel is polyp, in [1, 255].
            Default 128: the JPEG masks are white on black with grey edges.
        frame_ids: image ids (file stems) to read, in this order; None reads every image in file-name order.
        min_area_px: smallest mask component that is a polyp (see :func:`label_polyps`), in pixels. Default 50.
        skip_bad_frames: leave bad frames (module docstring) out, with a warning, instead of raising. Default False.
        max_frames: read only the first ``max_frames`` images in file-name order (>= 1; not with ``frame_ids``);
            None reads all.
        lazy: keep only each frame's files once it is checked, and read its pixels again whenever they are indexed
            (:class:`FrameFiles`), so that the frames are never all in memory. Default False (held as arrays).

    Returns:
        The frames, named "kvasir-seg"; each frame is its own group. ``boxes`` holds the official boxes when the
        json file exists, else None. ``skipped`` lists the bad frames left out (of ``frame_ids`` when given).

    Raises:
        DataError: naming the file, for a bad frame unless ``skip_bad_frames``; always for a missing folder, an
            empty data set, two images of one name, a box file that is not a JSON object, an unknown frame id, or
            when every frame is bad.
        ValueError: if ``mask_threshold`` is not an int in [1, 255], ``min_area_px`` not an int >= 1, or
            ``frame_ids`` is empty.
        TypeError: if ``skip_bad_frames`` is not a bool.

    Example:
        >>> frames = load_kvasir_seg(Path("data/kvasir-seg"), skip_bad_frames=True)  # doctest: +SKIP
        >>> len(frames), frames.images[0].shape, frames.skipped  # doctest: +SKIP
        (1000, (529, 622, 3), ())
    """
    _check_options("load_kvasir_seg", mask_threshold, min_area_px, skip_bad_frames)
    images_dir, masks_dir = _layout(root, "Kvasir-SEG")
    bad = _BadFrames("Kvasir-SEG", skip_bad_frames)
    pairs = _pair_files(images_dir, masks_dir, bad)
    if max_frames is not None:
        if isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 1 or frame_ids is not None:
            raise ValueError(f"The 'max_frames' parameter of load_kvasir_seg must be an int >= 1, and frame_ids None; "
                             f"got {max_frames!r} (frame_ids {'given' if frame_ids is not None else 'None'}).")
        pairs = pairs[:max_frames]
    if frame_ids is not None:
        pairs = _select(pairs, frame_ids, images_dir, bad)
    frames = _read_frames(pairs, mask_threshold, min_area_px, bad, lazy=lazy)
    box_file = Path(root).expanduser() / "kavsir_bboxes.json"
    boxes = None
    if box_file.is_file():
        frames, boxes = _attach_kvasir_boxes(box_file, frames, bad)
    bad.check_any_left(len(frames), root)
    ids = tuple(f.frame_id for f in frames)
    n_bad = len(bad.found)
    logger.info("Read %d Kvasir-SEG frames from %s (boxes: %s, %d skipped)", len(ids), root, boxes is not None, n_bad)
    images, masks = _pixels(frames, mask_threshold, lazy=lazy)
    return PolypFrames(
        name="kvasir-seg",
        images=images,
        masks=masks,
        frame_ids=ids,
        group_ids=ids,
        boxes=boxes,
        skipped=tuple(bad.found),
    )


def _numbered(pairs: list[tuple[str, Path, Path]], bad: _BadFrames) -> list[tuple[str, Path, Path]]:
    misnamed = [image for stem, image, _ in pairs if not stem.isdigit()]
    for image in misnamed:
        bad.add(
            image,
            f"CVC-ClinicDB file {image} is not named by its frame number (e.g. 12.png); {len(misnamed)} such "
            "file(s). Rename them or remove them.",
        )
    return sorted((p for p in pairs if p[0].isdigit()), key=lambda p: int(p[0]))


def load_cvc_clinicdb(
    root: Path,
    *,
    mask_threshold: int = MASK_THRESHOLD,
    min_area_px: int = MIN_POLYP_AREA_PX,
    skip_bad_frames: bool = False,
    lazy: bool = False,
) -> PolypFrames:
    """Read CVC-ClinicDB frames ``images/<n>.png`` and masks ``masks/<n>.png``, grouped by derived video.

    Frames are ordered by frame number n (gaps are allowed: the PraNet training copy lacks 62 of 612). Group ids
    are the video ids from :func:`tunedepth.data.masked.video_segments.segment_videos` with its documented defaults; to
    use other settings, call it on ``frames.images`` and replace the groups with ``dataclasses.replace``. The
    videos are derived from the frames that remain: a skipped frame becomes one more gap in the numbering.

    Args:
        root: the CVC-ClinicDB folder.
        mask_threshold: grey value from which a mask pixel is polyp, in [1, 255]. Default 128 (masks are 0/255).
        min_area_px: mask components of fewer pixels are noise, not polyps (:func:`label_polyps`). Default 50.
        skip_bad_frames: True logs each bad frame (module docstring) and leaves it out; False raises. Default False.
        lazy: read the pixels on demand (:class:`FrameFiles`) instead of holding them, as for
            :func:`load_kvasir_seg`. Default False.

    Returns:
        The frames, named "cvc-clinicdb"; ``frame_ids`` are the frame numbers as strings; ``boxes`` is None;
        ``skipped`` lists the bad frames left out.

    Raises:
        DataError: naming the file, for a bad frame unless ``skip_bad_frames``; always for a missing folder, an
            empty data set, two images of one name, or when every frame is bad.
        ValueError: if ``mask_threshold`` is not an int in [1, 255] or ``min_area_px`` not an int >= 1.
        TypeError: if ``skip_bad_frames`` is not a bool.

    Example:
        >>> frames = load_cvc_clinicdb(Path("data/cvc-clinicdb-pranet-train550"))  # doctest: +SKIP
        >>> len(frames), frames.frame_ids[:3], frames.group_ids[0]  # doctest: +SKIP
        (550, ('1', '2', '3'), 'video01')
    """
    _check_options("load_cvc_clinicdb", mask_threshold, min_area_px, skip_bad_frames)
    images_dir, masks_dir = _layout(root, "CVC-ClinicDB")
    bad = _BadFrames("CVC-ClinicDB", skip_bad_frames)
    pairs = _numbered(_pair_files(images_dir, masks_dir, bad), bad)
    frames = _read_frames(pairs, mask_threshold, min_area_px, bad, lazy=lazy)
    bad.check_any_left(len(frames), root)
    numbers = [int(f.frame_id) for f in frames]
    images, masks = _pixels(frames, mask_threshold, lazy=lazy)
    segments = segment_videos(images, numbers)
    n_videos, n_bad = segments.n_videos, len(bad.found)
    logger.info("Read %d CVC-ClinicDB frames from %s: %d derived videos, %d skipped", len(numbers), root, n_videos,
                n_bad)
    return PolypFrames(
        name="cvc-clinicdb",
        images=images,
        masks=masks,
        frame_ids=tuple(str(n) for n in numbers),
        group_ids=segments.video_ids,
        skipped=tuple(bad.found),
    )
