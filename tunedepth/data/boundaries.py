"""Boundary targets for segmentation by patch classification: which pixels are boundary, of which class.

Tajbakhsh et al. (IEEE TMI 2016, the fourth application) segment boundaries by classifying the patch around each
pixel as "on boundary k" or "background". This module turns annotations into such per-pixel targets and draws the
training pixels:

* A **closed boundary** is the 1-pixel inner contour of a filled region mask (:func:`closed_boundary`), for
  example the artery outline of :func:`tunedepth.data.carotid.load_carotid`. Its label image is 0 background,
  1 boundary.
* **Layered boundaries** are two open interfaces crossing the image from left to right, one row per column, as the
  lumen-intima (LI) and media-adventitia (MA) interfaces of a longitudinal carotid image. They are read from one
  JSON file per image (:func:`read_layered_annotation`, format below) and drawn as a label image with 0
  background, 1 on LI and 2 on MA (:func:`layered_label_image`).
* The **training sample** (:func:`sample_boundary_pixels`) is stratified: up to ``n_per_class`` pixels of each
  boundary class and ``n_per_class`` background pixels, a share of them hard (near a boundary), fixed by the seed.
  Boundary patches are not translated: a shifted patch would no longer be centred on its boundary.

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
import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy import ndimage

from tunedepth._checks import check_int, check_shape
from tunedepth.errors import DataError

__all__ = [
    "LAYERED_BOUNDARY_NAMES",
    "LayeredBoundaries",
    "PixelSample",
    "closed_boundary",
    "layered_label_image",
    "read_layered_annotation",
    "sample_boundary_pixels",
]

logger = logging.getLogger(__name__)

LAYERED_BOUNDARY_NAMES = ("lumen_intima", "media_adventitia")
"""The two interfaces of a layered annotation, top to bottom; their classes in the label image are 1 and 2."""

_TOP_KEYS = ("image", "pixel_spacing_um", "boundaries")
_CROSS = ndimage.generate_binary_structure(2, 1)  # 3x3 cross: 4-neighbourhood erosion


def closed_boundary(mask: np.ndarray) -> np.ndarray:
    """The 1-pixel inner contour of a filled mask: mask pixels with a 4-neighbour outside the mask.

    It is the mask minus its binary erosion with a 3x3 cross, so the contour is 8-connected and one pixel wide.
    Outside the image counts as background: mask pixels on the image border are contour. A mask with holes also
    gets the contours of its holes; every region of a mask with several regions gets its own contour.

    Args:
        mask: bool array of shape (height, width), True inside the region(s); at least one True pixel.

    Returns:
        bool array of shape (height, width), True on contour pixels (a subset of ``mask``).

    Raises:
        ValueError: if ``mask`` is not a 2-D bool array or has no True pixel.

    Example:
        >>> m = np.zeros((7, 7), bool); m[1:6, 1:6] = True
        >>> contour = closed_boundary(m)
        >>> int(contour.sum()), bool(contour[3, 3]), bool(contour[1, 3])
        (16, False, True)
    """
    m = np.asarray(mask)
    if m.dtype != np.bool_ or m.ndim != 2:
        raise ValueError(
            "The 'mask' parameter of closed_boundary must be a 2-D bool array; got dtype "
            f"{m.dtype} and shape {m.shape}. Convert it, e.g. with mask > 0."
        )
    if not m.any():
        raise ValueError(
            f"The 'mask' parameter of closed_boundary has no True pixel (shape {m.shape}), so it has no boundary; "
            "leave empty masks out."
        )
    return m & ~ndimage.binary_erosion(m, structure=_CROSS, border_value=0)


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
            f"{', '.join(where + k for k in expected)}. Add it (see tunedepth.data.boundaries for the format)."
        )
    unknown = [k for k in found if k not in expected + optional]
    if unknown:
        guess = difflib.get_close_matches(str(unknown[0]), expected + optional, n=1)
        hint = f" Did you mean '{where}{guess[0]}'?" if guess else ""
        raise DataError(
            f"Layered annotation {path} has an unknown key '{where}{unknown[0]}'; the allowed keys are "
            f"{', '.join(where + k for k in expected + optional)}.{hint}"
        )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _polyline_rows(path: Path, name: str, value: object, height: int, width: int) -> np.ndarray:
    key = f"'boundaries.{name}'"
    vertices_ok = isinstance(value, list) and all(
        isinstance(v, list) and len(v) == 2 and all(_is_number(c) for c in v) for v in value
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
            f"{', '.join(_TOP_KEYS)}; see tunedepth.data.boundaries for the format."
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
    if spacing is not None and not (_is_number(spacing) and spacing > 0):
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


class PixelSample(NamedTuple):
    """Sampled pixels, one entry each; unpacks as ``rows, cols, labels``.

    Attributes:
        rows: int64 array of shape (n_pixels,), the pixel rows.
        cols: int64 array of shape (n_pixels,), the pixel columns.
        labels: int64 array of shape (n_pixels,), the class of each pixel: 0 background, k > 0 boundary class k.
    """

    rows: np.ndarray
    cols: np.ndarray
    labels: np.ndarray


def _check_label_image(label_image: np.ndarray) -> np.ndarray:
    labels = np.asarray(label_image)
    if labels.ndim != 2 or not (labels.dtype == np.bool_ or np.issubdtype(labels.dtype, np.integer)):
        raise ValueError(
            "The 'label_image' parameter of sample_boundary_pixels must be a 2-D bool or int array (0 background, "
            f"k > 0 boundary class k); got dtype {labels.dtype} and shape {labels.shape}."
        )
    labels = labels.astype(np.int64)
    if labels.min() < 0:
        raise ValueError(
            f"The 'label_image' parameter of sample_boundary_pixels has negative labels (min {labels.min()}); use 0 "
            "for background and k > 0 for boundary class k."
        )
    if not labels.any():
        raise ValueError(
            f"The 'label_image' parameter of sample_boundary_pixels has no boundary pixel (all 0, shape "
            f"{labels.shape}); leave frames without boundary out."
        )
    return labels


def _check_roi(roi: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    if roi is None:
        return np.ones(shape, dtype=bool)
    allowed = np.asarray(roi)
    if allowed.dtype != np.bool_ or allowed.shape != shape:
        raise ValueError(
            "The 'roi' parameter of sample_boundary_pixels must be a bool mask of the label image's shape "
            f"{shape}, True on allowed pixels; got dtype {allowed.dtype} and shape {allowed.shape}. Crop or pad the "
            "region of interest to the image."
        )
    if not allowed.any():
        raise ValueError(
            "The 'roi' parameter of sample_boundary_pixels selects no pixel of the image; it lies outside the image "
            "or is empty. Pass a mask with at least one True pixel, or None for the whole image."
        )
    return allowed


def _draw(rng: np.random.Generator, pool: np.ndarray, n: int) -> np.ndarray:
    if pool.size <= n:
        return pool
    return np.sort(rng.choice(pool, size=n, replace=False))


def sample_boundary_pixels(
    label_image: np.ndarray,
    *,
    n_per_class: int,
    near_fraction: float,
    near_distance_px: int,
    seed: int,
    roi: np.ndarray | None = None,
) -> PixelSample:
    """Draw a stratified pixel sample for boundary patches: each boundary class, and easy and hard background.

    Only pixels inside ``roi`` are drawn. Each boundary class k present in ``label_image`` gets ``n_per_class``
    of its pixels, drawn without replacement (all of them if fewer, none if the roi holds none). The background
    gets ``n_near = floor(near_fraction * n_per_class + 0.5)`` hard pixels, whose Euclidean distance
    (``scipy.ndimage.distance_transform_edt``) to the nearest boundary pixel of any class, inside the roi or not,
    is at most ``near_distance_px``, and then ``n_per_class - n_near`` pixels from the rest of the background
    (near or far). A shortfall of hard pixels is not filled from the rest, so the hard share stays as asked.

    Args:
        label_image: 2-D bool or int array of shape (height, width): 0 background, k > 0 boundary class k, e.g.
            :func:`closed_boundary` (one class) or :func:`layered_label_image` (classes 1 and 2); at least one
            boundary pixel.
        n_per_class: pixels to draw per boundary class and for the background, >= 1.
        near_fraction: share of the background drawn near the boundary, in [0, 1].
        near_distance_px: the largest distance of a hard background pixel to a boundary, in pixels, >= 1.
        seed: seed of ``numpy.random.default_rng``, >= 0; one seed gives one sample.
        roi: bool mask of label_image's shape, True where pixels may be drawn; None allows every pixel.

    Returns:
        The pixels grouped by label in increasing order (background: hard then the rest; within each draw in
        raster order). Boundary patches are meant to be cut at these pixels without translation.

    Raises:
        ValueError: if ``label_image`` is not a 2-D bool or int array, has a negative label or no boundary pixel;
            if ``roi`` is not a bool mask of that shape or selects no pixel; if ``n_per_class``,
            ``near_distance_px`` or ``seed`` is not an int in range or ``near_fraction`` not in [0, 1].

    Example:
        >>> labels = np.zeros((5, 6), int); labels[2, :] = 1
        >>> rows, cols, classes = sample_boundary_pixels(labels, n_per_class=3, near_fraction=1.0,
        ...                                              near_distance_px=1, seed=0)
        >>> classes.tolist(), bool(np.all(np.abs(rows[classes == 0] - 2) == 1)), bool(np.all(rows[classes == 1] == 2))
        ([0, 0, 0, 1, 1, 1], True, True)
    """
    labels = _check_label_image(label_image)
    n = check_int(n_per_class, "n_per_class", "sample_boundary_pixels", minimum=1)
    distance_px = check_int(near_distance_px, "near_distance_px", "sample_boundary_pixels", minimum=1)
    random_seed = check_int(seed, "seed", "sample_boundary_pixels", minimum=0)
    if not _is_number(near_fraction) or not 0.0 <= near_fraction <= 1.0:
        raise ValueError(
            f"The 'near_fraction' parameter of sample_boundary_pixels must be a number in [0, 1]; got "
            f"{near_fraction!r}."
        )
    allowed = _check_roi(roi, labels.shape).ravel()
    flat = labels.ravel()
    background = (flat == 0) & allowed
    near = ndimage.distance_transform_edt(labels == 0).ravel() <= distance_px
    rng = np.random.default_rng(random_seed)

    n_near = math.floor(near_fraction * n + 0.5)
    hard = _draw(rng, np.flatnonzero(background & near), n_near)
    rest_pool = np.flatnonzero(background)
    rest = _draw(rng, rest_pool[~np.isin(rest_pool, hard)], n - n_near)
    picks = [hard, rest]
    picked_labels = [np.zeros(hard.size + rest.size, dtype=np.int64)]
    for k in np.unique(flat[flat > 0]):
        chosen = _draw(rng, np.flatnonzero((flat == k) & allowed), n)
        picks.append(chosen)
        picked_labels.append(np.full(chosen.size, k, dtype=np.int64))
    index = np.concatenate(picks).astype(np.int64)
    rows, cols = np.divmod(index, labels.shape[1])
    if hard.size < n_near:
        logger.debug("Only %d of %d hard background pixels available within %d px", hard.size, n_near, distance_px)
    return PixelSample(rows=rows, cols=cols, labels=np.concatenate(picked_labels))
