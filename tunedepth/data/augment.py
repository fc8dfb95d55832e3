"""Augmentation of training images: horizontal flips, small shifts and rotations, online (a new draw for every
batch, :func:`augment_batch`) or as fixed views drawn once per seed (:func:`augmented_views`), which a frozen-feature
cache can serve like the original images.

Every random draw comes from an explicit ``torch.Generator``, so a batch augmented twice
with generators seeded alike gives identical results, on CPU and on GPU (the random
parameters are drawn on the CPU and only the warp runs on the batch's device).
"""

from __future__ import annotations

import logging
import math
from typing import Literal

import torch
import torch.nn.functional as F

from tunedepth.errors import ConfigError, DataError

__all__ = ["augment_batch", "augmented_views"]

# Offset of the seed of fixed views from the run's seed, so that their draws are not the shuffling generator's.
_VIEWS_SEED_OFFSET = 104_729

logger = logging.getLogger(__name__)


def augment_batch(
    images: torch.Tensor,
    *,
    generator: torch.Generator,
    flip_probability: float = 0.5,
    max_shift_fraction: float = 0.1,
    max_rotation_deg: float = 10.0,
    padding_mode: Literal["zeros", "border", "reflection"] = "zeros",
) -> torch.Tensor:
    """Randomly flip, shift and rotate each image of a float batch.

    Each image gets its own draws: a horizontal flip with probability ``flip_probability``;
    a shift along x and along y, each uniform in ``[-max_shift_fraction, max_shift_fraction]``
    times the side; a rotation about the centre uniform in
    ``[-max_rotation_deg, max_rotation_deg]``. The warp is one bilinear resampling
    (``grid_sample``, ``align_corners=False``), so with all three ranges at 0 the batch is
    returned unchanged.

    Args:
        images: float tensor of shape (n, c, h, w), e.g. a normalised batch.
        generator: CPU generator that drives every random draw.
        flip_probability: probability of a horizontal flip, in [0, 1]. Default 0.5.
        max_shift_fraction: largest shift as a fraction of the side, in [0, 0.5). Default 0.1.
        max_rotation_deg: largest rotation in degrees, in [0, 180]. Default 10.
        padding_mode: value of pixels moved in from outside the image: "zeros" (on a
            normalised batch, the normalisation mean), "border" or "reflection". Default "zeros".

    Returns:
        float tensor of the shape, dtype and device of ``images``.

    Raises:
        DataError: if ``images`` is not a floating-point (n, c, h, w) tensor.
        ConfigError: if a range is outside its allowed interval or ``generator`` is not on the CPU.

    Example:
        >>> x = torch.arange(4.0).view(1, 1, 2, 2)
        >>> g = torch.Generator().manual_seed(0)
        >>> augment_batch(x, generator=g, flip_probability=1.0, max_shift_fraction=0.0,
        ...               max_rotation_deg=0.0).flatten().tolist()
        [1.0, 0.0, 3.0, 2.0]
    """
    if not torch.is_floating_point(images) or images.ndim != 4:
        raise DataError(
            "The 'images' parameter of augment_batch must be a float tensor of shape (n, c, h, w); "
            f"got dtype {images.dtype} and shape {tuple(images.shape)}. Call normalize() first."
        )
    _check_range("flip_probability", flip_probability, 0.0, 1.0, upper_open=False)
    _check_range("max_shift_fraction", max_shift_fraction, 0.0, 0.5, upper_open=True)
    _check_range("max_rotation_deg", max_rotation_deg, 0.0, 180.0, upper_open=False)
    if generator.device.type != "cpu":
        raise ConfigError(
            "The 'generator' parameter of augment_batch must be a CPU torch.Generator; "
            f"got one on {generator.device}. Create it with torch.Generator() (no device)."
        )
    theta = _draw(images.shape[0], generator, flip_probability, max_shift_fraction, max_rotation_deg)
    return _warp(images, theta, padding_mode)


def _draw(n: int, generator: torch.Generator, flip_probability: float, max_shift_fraction: float,
          max_rotation_deg: float) -> torch.Tensor:
    """The random transformations of ``n`` images, as sampling matrices (n, 2, 3)."""
    flips = torch.rand(n, generator=generator) < flip_probability
    angles = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(max_rotation_deg)
    shifts = (torch.rand((n, 2), generator=generator) * 2 - 1) * max_shift_fraction
    return _affine_matrices(flips, angles, shifts)


def _warp(images: torch.Tensor, theta: torch.Tensor, padding_mode: str) -> torch.Tensor:
    theta = theta.to(device=images.device, dtype=images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)


def _affine_matrices(
    flips: torch.Tensor, angles: torch.Tensor, shifts: torch.Tensor
) -> torch.Tensor:
    """Sampling matrices (n, 2, 3) for ``affine_grid``: output coords -> input coords.

    ``affine_grid`` works in coordinates normalised to [-1, 1], so a shift of a fraction
    ``f`` of the side is ``2 f``; moving content by ``+d`` means sampling at ``x - d``.
    The flip is applied after the rotation and shift in output space.
    """
    cos, sin = torch.cos(angles), torch.sin(angles)
    sign = torch.where(flips, -1.0, 1.0)
    theta = torch.zeros((angles.shape[0], 2, 3), dtype=torch.float32)
    # Sample point p_in = R^T (F p_out - 2 d), with F = diag(sign, 1) the flip and R the rotation.
    theta[:, 0, 0] = cos * sign
    theta[:, 0, 1] = sin
    theta[:, 1, 0] = -sin * sign
    theta[:, 1, 1] = cos
    tx, ty = -2 * shifts[:, 0], -2 * shifts[:, 1]
    theta[:, 0, 2] = cos * tx + sin * ty
    theta[:, 1, 2] = -sin * tx + cos * ty
    return theta


def _check_range(name: str, value: float, low: float, high: float, *, upper_open: bool) -> None:
    above = value >= high if upper_open else value > high
    if not math.isfinite(value) or value < low or above:
        bracket = ")" if upper_open else "]"
        raise ConfigError(
            f"The '{name}' parameter of augment_batch must be in [{low:g}, {high:g}{bracket}; "
            f"got {value!r}."
        )


def augmented_views(images: torch.Tensor, *, views: int, seed: int, fill: tuple[float, float, float],
                    batch_size: int = 512) -> torch.Tensor:
    """``views`` augmented copies of every image, drawn once from ``seed``: the random transformations of
    :func:`augment_batch` (default ranges), applied to uint8 images.

    Pixels moved in from outside an image take the colour ``fill`` (0-255 per channel; pass the network's
    normalisation mean x 255, which is what online augmentation of a normalised batch pads with). The result is
    rounded back to uint8, so the views can be cached and served like images.

    Args:
        images: uint8 tensor of shape (n, 3, h, w).
        views: copies per image, >= 1.
        seed: the run's seed; the same seed gives the same views.
        fill: the padding colour, per channel, in [0, 255].
        batch_size: images warped at once (memory only; the result does not depend on it).

    Returns:
        uint8 tensor of shape (views * n, 3, h, w), view-major: row ``v * n + i`` is view ``v`` of image ``i``.

    Raises:
        DataError: if ``images`` is not a uint8 (n, 3, h, w) tensor.
        ConfigError: if ``views`` < 1.

    Example:
        >>> x = torch.zeros((2, 3, 4, 4), dtype=torch.uint8)
        >>> augmented_views(x, views=3, seed=0, fill=(0.0, 0.0, 0.0)).shape
        torch.Size([6, 3, 4, 4])
    """
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise DataError(f"The 'images' parameter of augmented_views must be a uint8 tensor of shape (n, 3, h, w); got "
                        f"dtype {images.dtype} and shape {tuple(images.shape)}.")
    if views < 1:
        raise ConfigError(f"The 'views' parameter of augmented_views must be >= 1; got {views}.")
    generator = torch.Generator().manual_seed(seed + _VIEWS_SEED_OFFSET)
    shift = torch.tensor(fill, dtype=torch.float32).view(1, 3, 1, 1)
    n = images.shape[0]
    out = []
    for _ in range(views):
        theta = _draw(n, generator, 0.5, 0.1, 10.0)  # augment_batch's defaults, drawn for every image at once
        for start in range(0, n, batch_size):
            x = images[start:start + batch_size].float() - shift  # padding with 0 pads with ``fill``
            y = _warp(x, theta[start:start + batch_size], "zeros") + shift
            out.append(y.round_().clamp_(0, 255).to(torch.uint8))
    return torch.cat(out)
