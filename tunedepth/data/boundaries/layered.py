"""Layered (intima-media-like) boundary annotations: their JSON format, their label image, and a folder loader.

Layout::

    <root>/images/<stem>.png            (or .jpg, .jpeg, .bmp, .tif, .tiff)
    <root>/annotations/<stem>.json      the two interfaces as polylines (format below)

This is the input format for users with longitudinal carotid (or other layered) data: convert each image's
lumen-intima and media-adventitia tracings to one JSON file. A grey image is replicated into three channels (the
ImageNet CNNs take three); the group of an image is the annotation's ``group`` key (patient or sequence), else
the image itself.

Layered annotation format (one UTF-8 JSON file per image; naming it ``<image stem>.json`` is recommended)::

    {
      "image": "subject07_left.png",
      "pixel_spacing_um": 60.0,
      "boundaries": {
        "lumen_intima":     [[x0, y0], [x1, y1], ...],
        "media_adventitia": [[x0, y0], [x1, y1], ...]
      }
    }

* ``image``: the file name of the annotated image (non-empty string); ``pixel_spacing_um``: the pixel size in
  micrometres (a positive number) or ``null`` when unknown. Both are carried along, not used here.
* Each boundary is a polyline of at least two vertices ``[x, y]`` in pixel coordinates: x is the column and y the
  row of a pixel centre, 0-based from the top-left pixel, and may be fractional. x must increase strictly from
  vertex to vertex and every vertex must lie in the image (0 <= x <= width - 1, 0 <= y <= height - 1).
* The format describes the far wall, as traced in intima-media thickness studies (e.g. CUBS, Meiburger et al.
  2021): the lumen lies above, so LI must be above MA (smaller y) in every column where both are traced. For
  near-wall tracings, flip the image and the tracings upside down first.
* ``group`` (optional): the patient or sequence the image belongs to, so that a study keeps a patient's images on
  one side of a split; without it each image is its own group.
* No other key is allowed, at either level; a typo is an error, not an ignored entry.

Per column x = 0 .. width - 1 the boundary row y(x) is the linear interpolation between the two vertices around x,
and NaN outside the polyline's x-range (untraced columns carry no boundary and are background in the label image).
"""

from __future__ import annotations

import difflib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tunedepth._checks import check_shape, is_number
from tunedepth.data._image_file import read_image_file
from tunedepth.data.masked._frame_files import SkippedFrame, _BadFrames, _image_files
from tunedepth.errors import DataError

__all__ = [
    "LAYERED_BOUNDARY_NAMES",
    "LayeredBoundaries",
    "LayeredFrames",
    "layered_label_image",
    "load_layered",
    "read_layered_annotation",
]

logger = logging.getLogger(__name__)

LAYERED_BOUNDARY_NAMES = ("lumen_intima", "media_adventitia")
"""The two interfaces of a layered annotation, top to bottom; their classes in the label image are 1 and 2."""

_TOP_KEYS = ("image", "pixel_spacing_um", "boundaries")


@dataclass(frozen=True, eq=False)
class LayeredBoundaries:
    """The two interfaces of a layered annotation, as one row per image column.

    Attributes:
        image: the file name of the annotated image, as given in the annotation.
        pixel_spacing_um: pixel size in micrometres, or None when unknown.
        lumen_intima: float array of shape (width,): the row y(x) of the LI interface per column x, NaN where it
            is not traced.
        media_adventitia: float array of shape (width,), likewise for the MA interface, below LI.
        group: the patient or sequence id from the annotation's optional ``group`` key, or None.

    Raises:
        ValueError: if the two row arrays are not 1-D float arrays of one shape.
    """

    image: str
    pixel_spacing_um: float | None
    lumen_intima: np.ndarray
    media_adventitia: np.ndarray
    group: str | None = None

    def __post_init__(self) -> None:
        for name in LAYERED_BOUNDARY_NAMES:
            rows = getattr(self, name)
            if not np.issubdtype(rows.dtype, np.floating) or rows.ndim != 1:
                raise ValueError(
                    f"The '{name}' field of LayeredBoundaries must be a 1-D float array of shape (width,); got dtype "
                    f"{rows.dtype} and shape {rows.shape}."
                )
        if self.lumen_intima.shape != self.media_adventitia.shape:
            raise ValueError(
                "The 'lumen_intima' and 'media_adventitia' fields of LayeredBoundaries must have one shape "
                f"(width,); got {self.lumen_intima.shape} and {self.media_adventitia.shape}."
            )

    @property
    def width(self) -> int:
        """The image width in pixels: the length of the row arrays."""
        return int(self.lumen_intima.shape[0])


def _check_keys(path: Path, where: str, found: dict[str, object], expected: tuple[str, ...],
                optional: tuple[str, ...] = ()) -> None:
    missing = [k for k in expected if k not in found]
    if missing:
        raise DataError(
            f"Layered annotation {path} has no key '{where}{missing[0]}' ({len(missing)} missing); it needs "
            f"{', '.join(where + k for k in expected)}. Add it (see tunedepth.data.boundaries.layered for the format)."
        )
    unknown = [k for k in found if k not in expected + optional]
    if unknown:
        guess = difflib.get_close_matches(str(unknown[0]), expected + optional, n=1)
        hint = f" Did you mean '{where}{guess[0]}'?" if guess else ""
        raise DataError(
            f"Layered annotation {path} has an unknown key '{where}{unknown[0]}'; the allowed keys are "
            f"{', '.join(where + k for k in expected + optional)}.{hint}"
        )


def _polyline_rows(path: Path, name: str, value: object, height: int, width: int) -> np.ndarray:
    key = f"'boundaries.{name}'"
    vertices_ok = isinstance(value, list) and all(
        isinstance(v, list) and len(v) == 2 and all(is_number(c) for c in v) for v in value
    )
    if not vertices_ok or len(value) < 2:  # type: ignore[arg-type]
        raise DataError(
            f"Layered annotation {path}: key {key} must be a list of at least two [x, y] pairs of finite numbers; "
            f"got {json.dumps(value)[:80]}. Fix the polyline."
        )
    points = np.asarray(value, dtype=float)
    xs, ys = points[:, 0], points[:, 1]
    outside = np.flatnonzero((xs < 0) | (xs > width - 1) | (ys < 0) | (ys > height - 1))
    if outside.size:
        k = int(outside[0])
        raise DataError(
            f"Layered annotation {path}: key {key} has vertex {k} at (x, y) = ({xs[k]:g}, {ys[k]:g}) outside the "
            f"{width}x{height} image (0 <= x <= {width - 1}, 0 <= y <= {height - 1}); {outside.size} such vertices. "
            "Check the image size and that x is the column and y the row."
        )
    steps = np.flatnonzero(np.diff(xs) <= 0)
    if steps.size:
        k = int(steps[0]) + 1
        raise DataError(
            f"Layered annotation {path}: key {key} must have strictly increasing x; vertex {k} has x = {xs[k]:g} "
            f"after x = {xs[k - 1]:g}. Sort the vertices by x and drop repeated columns."
        )
    columns = np.arange(width, dtype=float)
    traced = (columns >= xs[0]) & (columns <= xs[-1])
    if not traced.any():
        raise DataError(
            f"Layered annotation {path}: key {key} spans x = {xs[0]:g} .. {xs[-1]:g}, which contains no pixel "
            "column (integer x); extend the polyline."
        )
    rows = np.full(width, np.nan)
    rows[traced] = np.interp(columns[traced], xs, ys)
    return rows


def read_layered_annotation(path: Path, *, image_shape: tuple[int, int]) -> LayeredBoundaries:
    """Read one layered annotation file (format in the module docstring) as one row per column per interface.

    Args:
        path: the JSON file.
        image_shape: (height, width) of the annotated image in pixels; vertices must lie inside it.

    Returns:
        The two interfaces as float arrays of shape (width,): y(x) by linear interpolation between the vertices,
        NaN outside each polyline's x-range.

    Raises:
        DataError: naming the file and the key, if the file is not a JSON object, a key is missing or unknown,
            ``image`` is not a non-empty string, ``pixel_spacing_um`` is not a positive number or null, a polyline
            is malformed, has a vertex outside the image or x not strictly increasing, or LI is not above MA
            (smaller y) in a column where both are traced.
        ValueError: if ``image_shape`` is not two ints >= 1.

    Example:
        >>> import tempfile
        >>> doc = {"image": "a.png", "pixel_spacing_um": None,
        ...        "boundaries": {"lumen_intima": [[1, 2], [3, 4]], "media_adventitia": [[0, 6], [4, 6]]}}
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = (Path(tmp) / "a.json").write_text(json.dumps(doc))
        ...     b = read_layered_annotation(Path(tmp) / "a.json", image_shape=(8, 5))
        >>> b.lumen_intima.tolist(), b.media_adventitia.tolist()
        ([nan, 2.0, 3.0, 4.0, nan], [6.0, 6.0, 6.0, 6.0, 6.0])
    """
    height, width = check_shape(image_shape, "image_shape", "read_layered_annotation")
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(
            f"Layered annotation {path} could not be read as JSON ({type(exc).__name__}: {exc}); fix or replace it."
        ) from exc
    if not isinstance(raw, dict):
        raise DataError(
            f"Layered annotation {path} holds a JSON {type(raw).__name__}, not an object with keys "
            f"{', '.join(_TOP_KEYS)}; see tunedepth.data.boundaries.layered for the format."
        )
    _check_keys(path, "", raw, _TOP_KEYS, optional=("group",))
    image, spacing, bounds = raw["image"], raw["pixel_spacing_um"], raw["boundaries"]
    group = raw.get("group")
    if group is not None and (not isinstance(group, str) or not group):
        raise DataError(f"Layered annotation {path}: key 'group' must be a non-empty string (the patient or sequence "
                        f"id); got {group!r}.")
    if not isinstance(image, str) or not image:
        raise DataError(
            f"Layered annotation {path}: key 'image' must be the image's file name (a non-empty string); got "
            f"{image!r}."
        )
    if spacing is not None and not (is_number(spacing) and spacing > 0):
        raise DataError(
            f"Layered annotation {path}: key 'pixel_spacing_um' must be a positive number of micrometres, or null "
            f"when unknown; got {spacing!r}."
        )
    if not isinstance(bounds, dict):
        raise DataError(
            f"Layered annotation {path}: key 'boundaries' must be an object with keys "
            f"{', '.join(LAYERED_BOUNDARY_NAMES)}; got a JSON {type(bounds).__name__}."
        )
    _check_keys(path, "boundaries.", bounds, LAYERED_BOUNDARY_NAMES)
    upper, lower = (_polyline_rows(path, name, bounds[name], height, width) for name in LAYERED_BOUNDARY_NAMES)
    with np.errstate(invalid="ignore"):  # NaN columns compare False
        crossing = np.flatnonzero(upper >= lower)
    if crossing.size:
        c = int(crossing[0])
        raise DataError(
            f"Layered annotation {path}: key 'boundaries.lumen_intima' must lie above (at smaller y than) "
            f"'boundaries.media_adventitia' in every column where both are traced; at x = {c} they are at "
            f"y = {upper[c]:g} and {lower[c]:g} ({crossing.size} such columns). Check that the keys are not swapped "
            "and that a near-wall tracing was flipped."
        )
    return LayeredBoundaries(
        image=image,
        pixel_spacing_um=None if spacing is None else float(spacing),
        lumen_intima=upper,
        media_adventitia=lower,
        group=group,
    )


def layered_label_image(boundaries: LayeredBoundaries, shape: tuple[int, int]) -> np.ndarray:
    """Draw layered boundaries as a label image: one pixel per traced column and interface.

    In column x, interface k (1 for lumen-intima, 2 for media-adventitia) marks the row ``floor(y(x) + 0.5)``, the
    nearest pixel centre, halves going down (to the larger row index).

    Args:
        boundaries: the interfaces, e.g. from :func:`read_layered_annotation`; rows must lie in [0, height - 1].
        shape: (height, width) of the image; width must equal ``boundaries.width``.

    Returns:
        int32 array of shape (height, width): 0 background, 1 on LI, 2 on MA.

    Raises:
        ValueError: if ``shape`` is not two ints >= 1, its width differs from ``boundaries.width``, a row lies
            outside the image, or LI and MA fall on the same pixel (they are less than a pixel apart there:
            resample the image finer).

    Example:
        >>> b = LayeredBoundaries("a.png", None, np.array([np.nan, 1.0, 1.5]), np.array([3.0, 3.2, 3.4]))
        >>> layered_label_image(b, (4, 3)).tolist()
        [[0, 0, 0], [0, 1, 0], [0, 0, 1], [2, 2, 2]]
    """
    height, width = check_shape(shape, "shape", "layered_label_image")
    if boundaries.width != width:
        raise ValueError(
            f"The 'shape' parameter of layered_label_image gives width {width} but 'boundaries' has "
            f"{boundaries.width} columns; pass the annotated image's (height, width)."
        )
    labels = np.zeros((height, width), dtype=np.int32)
    for k, name in enumerate(LAYERED_BOUNDARY_NAMES, start=1):
        rows = getattr(boundaries, name)
        cols = np.flatnonzero(np.isfinite(rows))
        pixel_rows = np.floor(rows[cols] + 0.5).astype(np.int64)
        outside = (pixel_rows < 0) | (pixel_rows >= height)
        if outside.any():
            c = int(cols[np.flatnonzero(outside)[0]])
            raise ValueError(
                f"The 'boundaries' parameter of layered_label_image has {name} at y = {rows[c]:g} in column {c}, "
                f"outside the {height} rows of 'shape'; pass the annotated image's (height, width)."
            )
        taken = labels[pixel_rows, cols] != 0
        if taken.any():
            c = int(cols[np.flatnonzero(taken)[0]])
            raise ValueError(
                f"The 'boundaries' parameter of layered_label_image has both interfaces on pixel row "
                f"{pixel_rows[np.flatnonzero(taken)[0]]} in column {c} (less than a pixel apart); resample the image "
                "and tracings to a finer pixel spacing."
            )
        labels[pixel_rows, cols] = k
    return labels


@dataclass(frozen=True, eq=False)
class LayeredFrames:
    """Images and their two annotated interfaces.

    Attributes:
        name: data set name (the folder's name).
        images: one uint8 array of shape (height, width, 3) per image.
        boundaries: one :class:`LayeredBoundaries` per image (rows per column).
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
                            "annotations/ (one <stem>.json per image; see tunedepth.data.boundaries.layered).")
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
