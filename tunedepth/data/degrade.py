"""Degradations of colonoscopy frames as non-informative frames look in practice: motion blur, defocus blur,
over-exposure with specular saturation, and bubbles.

This is the frame-quality proxy of issue 16: the paper's informative / non-informative frame labels come from the
authors' private videos, so a frame of Kvasir-SEG or CVC-ClinicDB is either kept clean (informative) or degraded by
one of these (non-informative), with parameters drawn per frame from a seed (:func:`draw_degradation`; which frame
gets which: :mod:`tunedepth.data.frame_quality`). It is a proxy: real non-informative frames also hold stool, fluid,
the lumen wall at contact and mixtures of these, which no formula here reproduces.

Sizes are fractions of the frame's shorter side, so a degradation does the same to a frame before and after resizing
(up to the resampling); on small frames (under about 100 px) the mildest drawn blurs are under a pixel and may leave a
frame unchanged, which :func:`tunedepth.data.frame_quality.degrade_frames` refuses. Every function takes and returns
a uint8 RGB array of shape (height, width, 3); the computation is in float32, rounded and clipped back to [0, 255].
Blobs (highlights, bubbles) are placed by a generator seeded from ``params["seed"]``, so :func:`degrade` is a pure
function of the frame, the kind and the parameters. Only the field of view changes (:func:`field_of_view`): the black
border and overlays of the video processor stay as they are, as they do in real frames. Every refusal is a one-line
``ValueError``: :class:`~tunedepth.errors.ConfigError` for a bad kind or parameter, ``DataError`` for a bad frame.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np
from scipy import ndimage
from scipy.signal import fftconvolve

from tunedepth.errors import ConfigError, DataError

__all__ = [
    "DEGRADATION_KINDS", "DEGRADATION_PARAMS", "DRAW_RANGES", "FIELD_OF_VIEW_MIN", "Degradation", "degrade",
    "draw_degradation", "field_of_view",
]

FIELD_OF_VIEW_MIN = 25
"""Grey level (0-255, brightest channel) above which a pixel belongs to the endoscope's field of view; the black
border of Kvasir-SEG and CVC-ClinicDB frames stays below it (see :func:`field_of_view`)."""

DEGRADATION_KINDS = ("motion_blur", "defocus_blur", "over_exposure", "bubbles")
"""The degradations, in the order :func:`draw_degradation` numbers them."""

DEGRADATION_PARAMS: dict[str, dict[str, tuple[float, float]]] = {
    "motion_blur": {"length_fraction": (0.0, 0.5), "angle_deg": (0.0, 180.0)},
    "defocus_blur": {"radius_fraction": (0.0, 0.25)},
    "over_exposure": {"gain": (1.0, 8.0), "n_highlights": (0, 200), "highlight_radius_fraction": (0.0, 0.25),
                      "seed": (0, 2**32 - 1)},
    "bubbles": {"n_bubbles": (1, 200), "min_radius_fraction": (0.0, 0.25), "max_radius_fraction": (0.0, 0.25),
                "seed": (0, 2**32 - 1)},
}
"""Every kind's parameters and their allowed closed ranges (``n_*`` and ``seed`` are ints):

* ``motion_blur``: a straight, uniform blur of ``length_fraction`` of the shorter side along the direction
  ``angle_deg`` (0 is left-right, 90 up-down; counter-clockwise as displayed; 180 is 0 again).
* ``defocus_blur``: a uniform disc (the out-of-focus point spread of a round aperture) of radius ``radius_fraction``.
* ``over_exposure``: every channel times ``gain``, clipped at 255, then ``n_highlights`` saturated white specular
  blobs of radius up to ``highlight_radius_fraction``.
* ``bubbles``: ``n_bubbles`` air bubbles, each a bright thin ring with a faint bright interior and a specular dot,
  of radius uniform in [``min_radius_fraction``, ``max_radius_fraction``].
"""

DRAW_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "motion_blur": {"length_fraction": (0.03, 0.12), "angle_deg": (0.0, 180.0)},
    "defocus_blur": {"radius_fraction": (0.01, 0.04)},
    "over_exposure": {"gain": (1.5, 3.0), "n_highlights": (3, 15), "highlight_radius_fraction": (0.01, 0.05)},
    "bubbles": {"n_bubbles": (5, 30), "min_radius_fraction": (0.015, 0.03), "max_radius_fraction": (0.04, 0.1)},
}
"""The ranges :func:`draw_degradation` draws from, uniformly (ints inclusive): from mild to strong, so the proxy is
not separable by the strongest cases alone. Each ``seed`` is drawn in [0, 2**32)."""

_INT_PARAMS = frozenset({"n_highlights", "n_bubbles", "seed"})


class Degradation(NamedTuple):
    """One frame's degradation: its kind (one of :data:`DEGRADATION_KINDS`) and parameters."""

    kind: str
    params: dict[str, float]


def draw_degradation(rng: np.random.Generator) -> Degradation:
    """Draw a kind uniformly from :data:`DEGRADATION_KINDS` and its parameters uniformly from :data:`DRAW_RANGES`.

    Args:
        rng: the generator of this frame (e.g. ``np.random.default_rng([seed, frame_index])``); the same state gives
            the same draw.

    Returns:
        the kind and a new dict of parameters, valid for :func:`degrade`.

    Example:
        >>> a = draw_degradation(np.random.default_rng(0))
        >>> a == draw_degradation(np.random.default_rng(0)), a.kind in DEGRADATION_KINDS
        (True, True)
    """
    kind = DEGRADATION_KINDS[int(rng.integers(len(DEGRADATION_KINDS)))]
    params: dict[str, float] = {}
    for name, (low, high) in DRAW_RANGES[kind].items():
        if name in _INT_PARAMS:
            params[name] = int(rng.integers(int(low), int(high) + 1))
        else:
            params[name] = float(rng.uniform(low, high))
    if "seed" in DEGRADATION_PARAMS[kind]:
        params["seed"] = int(rng.integers(2**32))
    return Degradation(kind, params)


def degrade(frame: np.ndarray, kind: str, params: Mapping[str, float]) -> np.ndarray:
    """Apply one degradation to a frame.

    Args:
        frame: uint8 RGB array of shape (height, width, 3).
        kind: one of :data:`DEGRADATION_KINDS`.
        params: exactly the parameters of ``kind`` in :data:`DEGRADATION_PARAMS`, each in its range.

    Returns:
        new uint8 array of the shape of ``frame``; ``frame`` is not changed.

    Raises:
        ValueError: if ``frame`` is not a uint8 (h, w, 3) array, ``kind`` is unknown (with a guess), a parameter is
            missing, unknown or out of range, or ``min_radius_fraction`` > ``max_radius_fraction``.

    Example:
        >>> flat = np.full((8, 8, 3), 100, np.uint8)
        >>> int(degrade(flat, "defocus_blur", {"radius_fraction": 0.2})[4, 4, 0])  # a flat frame stays flat
        100
        >>> int(degrade(flat, "over_exposure", {"gain": 2.0, "n_highlights": 0, "highlight_radius_fraction": 0.1,
        ...                                     "seed": 0})[0, 0, 0])
        200
    """
    arr = np.asarray(frame)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3 or min(arr.shape[:2]) < 1:
        raise DataError(f"The 'frame' parameter of degrade must be a uint8 RGB array of shape (height, width, 3); "
                        f"got dtype {arr.dtype} and shape {arr.shape}.")
    checked = _check_params(kind, params)
    image = arr.astype(np.float32)
    fov = field_of_view(arr)
    out = np.where(fov[:, :, None], _DEGRADE[kind](image, checked, fov), image)
    result: np.ndarray = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return result


def field_of_view(frame: np.ndarray) -> np.ndarray:
    """The endoscope's field of view: pixels brighter than :data:`FIELD_OF_VIEW_MIN` in some channel, with the dark
    holes they enclose (the lumen) filled in.

    Degradations change these pixels only. The black border around it and the overlays on it are drawn by the video
    processor, not seen through the optics, so real blur, glare and bubbles leave them as they are; degrading them
    too would give a classifier a cue that real non-informative frames do not have.

    Args:
        frame: uint8 array of shape (height, width, 3).

    Returns:
        bool array of shape (height, width).

    Example:
        >>> f = np.zeros((5, 5, 3), np.uint8); f[1:4, 1:4] = 200; f[2, 2] = 0  # a dark lumen inside
        >>> int(field_of_view(f).sum())
        9
    """
    bright = np.asarray(frame).max(axis=2) > FIELD_OF_VIEW_MIN
    fov: np.ndarray = ndimage.binary_fill_holes(bright)
    return fov


def _check_params(kind: str, params: Mapping[str, float]) -> dict[str, float]:
    if kind not in DEGRADATION_PARAMS:
        guess = difflib.get_close_matches(str(kind), DEGRADATION_KINDS, n=1)
        hint = f"Did you mean {guess[0]!r}? " if guess else ""
        raise ConfigError(f"Unknown degradation {kind!r} (the 'kind' parameter of degrade). {hint}"
                          f"Available: {', '.join(DEGRADATION_KINDS)}.")
    allowed = DEGRADATION_PARAMS[kind]
    if set(params) != set(allowed):
        raise ConfigError(f"The 'params' parameter of degrade for {kind!r} must have exactly the keys "
                          f"{sorted(allowed)}; got {sorted(params)} (missing {sorted(set(allowed) - set(params))}, "
                          f"unknown {sorted(set(params) - set(allowed))}).")
    checked: dict[str, float] = {}
    for name, (low, high) in allowed.items():
        value = params[name]
        is_int = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
        number = is_int or (isinstance(value, (float, np.floating)) and name not in _INT_PARAMS)
        if not number or not math.isfinite(value) or not low <= value <= high:
            expected = "an int" if name in _INT_PARAMS else "a number"
            raise ConfigError(f"The '{name}' parameter of degrade ({kind}) must be {expected} in [{low:g}, {high:g}]; "
                              f"got {value!r}.")
        checked[name] = int(value) if name in _INT_PARAMS else float(value)
    if kind == "bubbles" and checked["min_radius_fraction"] > checked["max_radius_fraction"]:
        raise ConfigError(f"The 'min_radius_fraction' parameter of degrade (bubbles) must be <= max_radius_fraction "
                          f"({checked['max_radius_fraction']:g}); got {checked['min_radius_fraction']:g}.")
    return checked


def _blur(image: np.ndarray, kernel: np.ndarray, fov: np.ndarray) -> np.ndarray:
    """A normalised convolution over the field of view: each pixel the kernel-weighted mean of the field-of-view
    pixels around it, so the black border does not darken the content near it."""
    weight = fov.astype(np.float32)[:, :, None]
    num, den = _convolve(image * weight, kernel), _convolve(weight, kernel)
    out: np.ndarray = num / np.maximum(den, 1e-6)
    return out


def _convolve(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``image`` (h, w, c) convolved with an odd-sized ``kernel`` summing to 1, edges mirrored (no dark border)."""
    ry, rx = kernel.shape[0] // 2, kernel.shape[1] // 2
    # Mirroring needs the pad to be shorter than the side; a kernel wider than the frame is cut to fit.
    ry, rx = min(ry, image.shape[0] - 1), min(rx, image.shape[1] - 1)
    cy, cx = kernel.shape[0] // 2, kernel.shape[1] // 2
    kernel = kernel[cy - ry:cy + ry + 1, cx - rx:cx + rx + 1]
    kernel = kernel / kernel.sum()
    padded = np.pad(image, ((ry, ry), (rx, rx), (0, 0)), mode="symmetric")
    out: np.ndarray = fftconvolve(padded, kernel[:, :, None], mode="valid", axes=(0, 1))
    return out


def _motion_kernel(length_px: float, angle_deg: float) -> np.ndarray:
    """A line of ``length_px`` through the centre along ``angle_deg``, drawn anti-aliased (bilinear splats)."""
    half = int(math.ceil(length_px / 2)) + 1
    kernel = np.zeros((2 * half + 1, 2 * half + 1), dtype=np.float64)
    t = np.linspace(-length_px / 2, length_px / 2, max(2, int(8 * length_px) + 1))
    theta = math.radians(angle_deg)
    x, y = half + t * math.cos(theta), half - t * math.sin(theta)  # rows grow downwards
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    for dy, dx, w in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
        np.add.at(kernel, (y0 + dy, x0 + dx), w)
    return kernel


def _disc_kernel(radius_px: float) -> np.ndarray:
    """A uniform disc of ``radius_px``; each cell weighted by the share of it inside the disc (8 x 8 samples)."""
    half = int(math.ceil(radius_px))
    sub = (np.arange(8) + 0.5) / 8 - 0.5
    grid = np.arange(-half, half + 1)
    ys = (grid[:, None] + sub[None, :]).reshape(-1)
    inside = (ys[:, None] ** 2 + ys[None, :] ** 2) <= radius_px**2
    kernel = inside.reshape(2 * half + 1, 8, 2 * half + 1, 8).mean(axis=(1, 3))
    kernel[half, half] = max(kernel[half, half], 1e-12)  # radius 0: the identity
    return kernel


def _motion_blur(image: np.ndarray, p: dict[str, float], fov: np.ndarray) -> np.ndarray:
    return _blur(image, _motion_kernel(p["length_fraction"] * min(image.shape[:2]), p["angle_deg"]), fov)


def _defocus_blur(image: np.ndarray, p: dict[str, float], fov: np.ndarray) -> np.ndarray:
    return _blur(image, _disc_kernel(p["radius_fraction"] * min(image.shape[:2])), fov)


def _blob_centres(fov: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` points (row, column) drawn uniformly over the field of view's pixels, anywhere inside each pixel."""
    rows, cols = np.nonzero(fov)
    pick = rng.integers(rows.size, size=n) if rows.size else np.zeros(0, dtype=int)
    offsets = rng.random((pick.size, 2))
    return np.column_stack([rows[pick], cols[pick]]) + offsets


def _blend_white(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Move each pixel towards white by ``alpha`` in [0, 1] (a reflection adds light; it never darkens)."""
    out: np.ndarray = image + (255.0 - image) * alpha[:, :, None]
    return out


def _disc_alpha(shape: tuple[int, int], centres: np.ndarray, radii: np.ndarray,
                profile: Callable[[np.ndarray, float], np.ndarray]) -> np.ndarray:
    """The largest ``profile(distance, radius)`` over blobs, each evaluated in its bounding box only."""
    alpha = np.zeros(shape, dtype=np.float32)
    for (cy, cx), r in zip(centres, radii, strict=True):
        reach = int(math.ceil(1.3 * r)) + 2
        y0, y1 = max(0, int(cy) - reach), min(shape[0], int(cy) + reach + 1)
        x0, x1 = max(0, int(cx) - reach), min(shape[1], int(cx) + reach + 1)
        if y0 >= y1 or x0 >= x1:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1]
        d = np.hypot(yy + 0.5 - cy, xx + 0.5 - cx)
        alpha[y0:y1, x0:x1] = np.maximum(alpha[y0:y1, x0:x1], profile(d, float(r)))
    return alpha


def _over_exposure(image: np.ndarray, p: dict[str, float], fov: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    bright = np.minimum(image * p["gain"], 255.0)
    rng = np.random.default_rng(int(p["seed"]))
    centres = _blob_centres(fov, rng, int(p["n_highlights"]))
    radii = rng.uniform(0.5, 1.0, len(centres)) * p["highlight_radius_fraction"] * min(h, w)
    # A specular highlight: a saturated core over 60% of the radius, fading linearly to the rim.
    alpha = _disc_alpha((h, w), centres, radii, lambda d, r: np.clip((r - d) / max(0.4 * r, 1e-6), 0.0, 1.0))
    return _blend_white(bright, alpha)


def _bubbles(image: np.ndarray, p: dict[str, float], fov: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    rng = np.random.default_rng(int(p["seed"]))
    centres = _blob_centres(fov, rng, int(p["n_bubbles"]))
    radii = rng.uniform(p["min_radius_fraction"], p["max_radius_fraction"], len(centres)) * min(h, w)

    def bubble(d: np.ndarray, r: float) -> np.ndarray:
        width = max(0.6, 0.12 * r)
        ring = 0.85 * np.exp(-(((d - r) / width) ** 2))  # the film's bright rim
        inside = np.where(d < r, 0.15, 0.0)  # a faint veil over the mucosa behind it
        return np.maximum(ring, inside)

    alpha = _disc_alpha((h, w), centres, radii, bubble)
    # A specular dot up-left of each bubble's centre, where the light source reflects.
    dots = centres - 0.4 * radii[:, None]
    alpha = np.maximum(alpha, _disc_alpha((h, w), dots, np.maximum(0.15 * radii, 0.5),
                                          lambda d, r: np.clip((r - d) / max(0.5 * r, 1e-6), 0.0, 1.0)))
    return _blend_white(image, alpha)


_DEGRADE: dict[str, Callable[[np.ndarray, dict[str, float], np.ndarray], np.ndarray]] = {
    "motion_blur": _motion_blur,
    "defocus_blur": _defocus_blur,
    "over_exposure": _over_exposure,
    "bubbles": _bubbles,
}
