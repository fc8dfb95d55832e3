"""The crop protocol of frame classification: many square crops per training image (several scales, translated,
flipped, rotated by quarter turns), drawn once per seed, and a fixed, named set of crops per test image whose
predictions are averaged.

The paper's colonoscopy-frame application (Tajbakhsh et al., "Convolutional neural networks for medical image
analysis: full training or fine tuning?", IEEE TMI 2016) trains on multi-scale, translated, flipped and rotated crops
of each frame and scores a test frame by the average of its crops' probabilities. Here:

* :class:`CropSpec` describes one crop; :func:`training_crops` draws ``crops_per_image`` of them per image from a
  seed (the same seed gives the same crops, so a frozen-feature cache serves them like the fixed views of
  :func:`tunedepth.data.augment.augmented_views`); :func:`evaluation_crops` returns a named fixed set.
* :func:`apply_crops` cuts, resizes, flips and turns the crops of a uint8 batch; its rows are crop-major, like the
  views of ``augmented_views``: row ``c * n_images + i`` is crop ``c`` of image ``i``.
* :func:`average_over_crops` turns the crops' log-odds into one score per image: the log-odds of the mean
  probability.

Every refusal is a one-line ``ValueError``: :class:`~tunedepth.errors.ConfigError` for a bad argument,
:class:`~tunedepth.errors.DataError` for bad images or scores.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import logsumexp

from tunedepth._checks import check_int
from tunedepth.data.preprocess import _resize
from tunedepth.errors import ConfigError, DataError

__all__ = [
    "EVALUATION_CROP_SETS", "CropSpec", "apply_crops", "average_over_crops", "evaluation_crops", "training_crops",
]

# Offset of the seed of training crops from the run's seed, so that their draws are not another generator's.
_CROPS_SEED_OFFSET = 7_919

EVALUATION_CROP_SETS = ("centre", "five", "five_flips")
"""Names of the fixed test-time crop sets (see :func:`evaluation_crops`)."""


@dataclass(frozen=True)
class CropSpec:
    """One square crop of an image.

    The crop's side is ``scale`` times the image's shorter side. Its centre moves within the room the image leaves
    around it: ``offset_x`` = -1 puts its left edge on the image's left edge, 0 centres it, +1 puts its right edge on
    the image's right edge (``offset_y`` likewise, -1 at the top, +1 at the bottom). So every crop lies inside the
    image. After the cut and the resize, the crop is mirrored left-right when ``flip`` is set, then turned
    ``quarter_turns`` times by 90° counter-clockwise (``torch.rot90`` on the last two axes).

    Attributes:
        scale: side of the crop as a fraction of the image's shorter side, in (0, 1].
        offset_x: horizontal position of the crop's centre in the free room, in [-1, 1].
        offset_y: vertical position of the crop's centre in the free room, in [-1, 1].
        flip: mirror the crop left-right.
        quarter_turns: counter-clockwise turns by 90°, in {0, 1, 2, 3}.

    Raises:
        ValueError: if a field is out of its range.

    Example:
        >>> CropSpec(0.5, offset_x=-1.0, offset_y=1.0).region(height=10, width=20)  # bottom-left 5x5 square
        (0, 5, 5, 10)
    """

    scale: float
    offset_x: float = 0.0
    offset_y: float = 0.0
    flip: bool = False
    quarter_turns: int = 0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.scale) and 0 < self.scale <= 1):
            raise ConfigError(f"The 'scale' of a CropSpec must be a fraction of the shorter side in (0, 1]; got "
                              f"{self.scale!r}. Crops larger than the image are not cut.")
        for name, value in (("offset_x", self.offset_x), ("offset_y", self.offset_y)):
            if not (math.isfinite(value) and -1 <= value <= 1):
                raise ConfigError(f"The '{name}' of a CropSpec must be in [-1, 1] (-1 and 1 touch the image's "
                                  f"edges); got {value!r}.")
        check_int(self.quarter_turns, "quarter_turns", "CropSpec", minimum=0, maximum=3)

    def region(self, *, height: int, width: int) -> tuple[int, int, int, int]:
        """The crop's pixels in an image of ``height`` x ``width``: (left, top, right, bottom), right and bottom
        exclusive; the side is ``round(scale * min(height, width))``, at least 1 pixel."""
        side = max(1, round(self.scale * min(height, width)))
        left = round((width - side) * (1 + self.offset_x) / 2)
        top = round((height - side) * (1 + self.offset_y) / 2)
        return left, top, left + side, top + side


def training_crops(n_images: int, crops_per_image: int, scales: Sequence[float], seed: int, *, flip: bool = True,
                   rotate: bool = True) -> tuple[tuple[CropSpec, ...], ...]:
    """The fixed training crops of every image, drawn once from ``seed``.

    For each crop, independently: a scale chosen uniformly from ``scales``; both offsets uniform in [-1, 1] (any
    position inside the image); a flip with probability 1/2 when ``flip``; 0 to 3 quarter turns, uniformly, when
    ``rotate``. The draws of image ``i`` do not depend on ``n_images``, so the crops of the first images are the same
    for any larger ``n_images``; the same seed gives the same crops, another seed others.

    Args:
        n_images: number of images, >= 1.
        crops_per_image: crops drawn per image, >= 1.
        scales: crop sides as fractions of the shorter image side, each in (0, 1], unique, at least one.
        seed: the run's seed, an int >= 0.
        flip: draw left-right mirrors (default True).
        rotate: draw quarter turns (default True; colonoscopy frames have no upright, unlike, e.g., chest X-rays).

    Returns:
        ``n_images`` tuples of ``crops_per_image`` crops each.

    Raises:
        ValueError: if a count is not an int >= 1, ``seed`` is not an int >= 0, or ``scales`` is empty, repeated
            or out of (0, 1].

    Example:
        >>> crops = training_crops(2, 3, (0.8, 1.0), seed=0)
        >>> len(crops), len(crops[0]), crops == training_crops(2, 3, (0.8, 1.0), seed=0)
        (2, 3, True)
    """
    check_int(n_images, "n_images", "training_crops", minimum=1)
    check_int(crops_per_image, "crops_per_image", "training_crops", minimum=1)
    check_int(seed, "seed", "training_crops", minimum=0)
    scale_list = [float(s) for s in scales]
    if not scale_list or len(set(scale_list)) != len(scale_list) or not all(0 < s <= 1 for s in scale_list):
        raise ConfigError(f"The 'scales' parameter of training_crops must be unique fractions of the shorter side in "
                          f"(0, 1], at least one, e.g. (0.8, 0.9, 1.0); got {tuple(scales)!r}.")
    rng = np.random.default_rng([seed, _CROPS_SEED_OFFSET])
    # One row of 5 uniforms per crop, filled image by image: a prefix of the images always gets the same draws.
    u = rng.random((n_images, crops_per_image, 5))
    scale_index = np.minimum((u[..., 0] * len(scale_list)).astype(int), len(scale_list) - 1)
    turns = np.minimum((u[..., 4] * 4).astype(int), 3) if rotate else np.zeros(u.shape[:2], dtype=int)
    return tuple(
        tuple(CropSpec(scale=scale_list[scale_index[i, c]], offset_x=float(2 * u[i, c, 1] - 1),
                       offset_y=float(2 * u[i, c, 2] - 1), flip=bool(flip and u[i, c, 3] < 0.5),
                       quarter_turns=int(turns[i, c]))
              for c in range(crops_per_image))
        for i in range(n_images)
    )


def evaluation_crops(kind: str, *, scale: float = 0.875) -> tuple[CropSpec, ...]:
    """A named, fixed set of test-time crops, the same for every image; the first is always the centre crop, so
    crop 0 alone is the single-view prediction.

    * ``"centre"``: the centre crop.
    * ``"five"``: the centre, then the four corners: top-left, top-right, bottom-left, bottom-right (offsets
      (-1, -1), (1, -1), (-1, 1), (1, 1); each corner crop touches two image edges).
    * ``"five_flips"``: the five crops, then the same five mirrored left-right (torchvision's ``TenCrop``).

    Args:
        kind: one of :data:`EVALUATION_CROP_SETS`.
        scale: side of every crop as a fraction of the shorter side, in (0, 1]. Default 0.875, ImageNet's
            224-of-256 convention; at 1 the corners of a square image coincide with its centre.

    Returns:
        1, 5 or 10 crops.

    Raises:
        ValueError: for an unknown ``kind`` (with a guess) or a ``scale`` outside (0, 1].

    Example:
        >>> [(c.offset_x, c.offset_y, c.flip) for c in evaluation_crops("five")][:3]
        [(0.0, 0.0, False), (-1.0, -1.0, False), (1.0, -1.0, False)]
    """
    if kind not in EVALUATION_CROP_SETS:
        guess = difflib.get_close_matches(str(kind), EVALUATION_CROP_SETS, n=1)
        hint = f"Did you mean {guess[0]!r}? " if guess else ""
        raise ConfigError(f"Unknown test crop set {kind!r} (the 'kind' parameter of evaluation_crops). {hint}"
                          f"Available: {', '.join(EVALUATION_CROP_SETS)}.")
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and 0 < scale <= 1):
        raise ConfigError(f"The 'scale' parameter of evaluation_crops must be a fraction of the shorter side in "
                          f"(0, 1]; got {scale!r}.")
    offsets = [(0.0, 0.0)] if kind == "centre" else [(0.0, 0.0), (-1.0, -1.0), (1.0, -1.0), (-1.0, 1.0), (1.0, 1.0)]
    flips = (False, True) if kind == "five_flips" else (False,)
    return tuple(CropSpec(float(scale), offset_x=x, offset_y=y, flip=f) for f in flips for x, y in offsets)


def apply_crops(images: torch.Tensor, specs: Sequence[Sequence[CropSpec]], out_size: int) -> torch.Tensor:
    """Cut every image's crops and resize each to ``out_size`` x ``out_size``.

    The resize is :func:`tunedepth.data.preprocess.prepare_images`'s (bilinear, antialiased when shrinking, rounded
    back to uint8); then the flip, then the quarter turns. Images that share a crop are cut together.

    Args:
        images: uint8 tensor of shape (n_images, 3, height, width); height and width may differ.
        specs: one sequence of crops per image, all of the same length ``n_crops`` (for a test set, the same
            :func:`evaluation_crops` for every image: ``[evaluation_crops("five")] * n_images``).
        out_size: side of the output crops in pixels, >= 1.

    Returns:
        uint8 tensor of shape (n_crops * n_images, 3, out_size, out_size), crop-major: row ``c * n_images + i`` is
        crop ``c`` of image ``i``.

    Raises:
        ValueError: if ``images`` is not a uint8 (n, 3, h, w) tensor, ``specs`` does not hold one equally long
            sequence of crops per image, or ``out_size`` < 1.

    Example:
        >>> x = torch.arange(16, dtype=torch.uint8).view(1, 1, 4, 4).repeat(1, 3, 1, 1)
        >>> apply_crops(x, [[CropSpec(0.5, offset_x=1.0, offset_y=-1.0)]], 2)[0, 0].tolist()  # top-right 2x2
        [[2, 3], [6, 7]]
    """
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise DataError(f"The 'images' parameter of apply_crops must be a uint8 tensor of shape (n, 3, h, w); got "
                        f"dtype {images.dtype} and shape {tuple(images.shape)}.")
    check_int(out_size, "out_size", "apply_crops", minimum=1)
    n_images, height, width = images.shape[0], int(images.shape[2]), int(images.shape[3])
    n_crops = _crops_per_image(specs, n_images)
    out = torch.empty((n_crops * n_images, 3, out_size, out_size), dtype=torch.uint8)
    for c in range(n_crops):
        groups: dict[CropSpec, list[int]] = {}
        for i in range(n_images):
            groups.setdefault(specs[i][c], []).append(i)
        for spec, rows in groups.items():
            left, top, right, bottom = spec.region(height=height, width=width)
            crop = _resize(images[rows, :, top:bottom, left:right], out_size)
            if spec.flip:
                crop = torch.flip(crop, dims=(-1,))
            if spec.quarter_turns:
                crop = torch.rot90(crop, spec.quarter_turns, dims=(-2, -1))
            out[torch.tensor(rows) + c * n_images] = crop
    return out


def _crops_per_image(specs: Sequence[Sequence[CropSpec]], n_images: int) -> int:
    if len(specs) != n_images:
        raise DataError(f"The 'specs' parameter of apply_crops must hold one sequence of crops per image "
                        f"({n_images}); got {len(specs)}. For a fixed set pass [evaluation_crops(kind)] * n_images.")
    lengths = {len(s) for s in specs}
    if len(lengths) != 1 or 0 in lengths:
        raise ConfigError(f"The 'specs' parameter of apply_crops must give every image the same number of crops, at "
                          f"least one; got lengths {sorted(lengths)}.")
    if not all(isinstance(c, CropSpec) for s in specs for c in s):
        raise ConfigError("The 'specs' parameter of apply_crops must hold CropSpec objects; build them with "
                          "training_crops or evaluation_crops.")
    return lengths.pop()


def average_over_crops(log_odds_per_crop: np.ndarray, n_images: int, n_crops: int) -> np.ndarray:
    """Each image's score averaged over its crops: the log-odds of the mean of the crops' probabilities.

    The paper averages probabilities, and so does this: the probability of a crop is ``expit(z)``, and the mean is
    computed in log space, ``logsumexp(log p) - logsumexp(log(1 - p))`` over the crops (the 1/n cancels), so
    confident images keep their order where float probabilities would round to 1. Averaging log-odds instead (a
    geometric mean of the odds) would let one very confident crop outvote the others; averaging probabilities
    bounds each crop's pull by 1/n_crops. Per-class columns are averaged column by column, so softmax probabilities
    still sum to one after averaging.

    Args:
        log_odds_per_crop: float array of shape (n_crops * n_images,) or (n_crops * n_images, n_classes),
            crop-major as :func:`apply_crops` returns the crops.
        n_images: number of images, >= 1.
        n_crops: crops per image, >= 1.

    Returns:
        float64 array of shape (n_images,) or (n_images, n_classes), following the input.

    Raises:
        ValueError: if the first axis of ``log_odds_per_crop`` is not ``n_crops * n_images`` long, it has more than
            two axes or holds NaN.

    Example:
        >>> z = np.array([0.0, 100.0, np.log(3), 200.0])  # crop 0 of images 0 and 1, then crop 1
        >>> average_over_crops(z, 2, 2).round(4).tolist()  # image 0: mean of 0.5 and 0.75 is 0.625
        [0.5108, 100.6931]
    """
    check_int(n_images, "n_images", "average_over_crops", minimum=1)
    check_int(n_crops, "n_crops", "average_over_crops", minimum=1)
    z = np.asarray(log_odds_per_crop, dtype=np.float64)
    if z.ndim not in (1, 2) or z.shape[0] != n_crops * n_images or np.isnan(z).any():
        raise DataError(f"The 'log_odds_per_crop' parameter of average_over_crops must be a float array of shape "
                        f"({n_crops * n_images},) or ({n_crops * n_images}, n_classes) without NaN, crop-major "
                        f"(n_crops={n_crops} x n_images={n_images}); got shape {z.shape}.")
    z = z.reshape((n_crops, n_images) + z.shape[1:])
    log_p, log_q = -np.logaddexp(0.0, -z), -np.logaddexp(0.0, z)
    out: np.ndarray = logsumexp(log_p, axis=0) - logsumexp(log_q, axis=0)
    return out
