"""Turn decoded image arrays into model-ready tensors: 3 channels, square side, then normalised.

Loaders call :func:`prepare_images` once, when a data set is read, and keep the uint8
result in memory (see :class:`tunedepth.data.dataset.ImageSet`); the training loop calls
:func:`normalize` per batch. Both functions are pure.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from tunedepth.errors import DataError

__all__ = ["check_image_size", "normalize", "prepare_images"]

logger = logging.getLogger(__name__)

# Images are resized this many at a time so that upsampling a whole split (e.g. 4708
# images from 28 to 224 px) never holds the full float32 copy in memory.
_CHUNK = 512


def check_image_size(image_size: int) -> None:
    """Check the side of the model input before any data is read.

    Args:
        image_size: side of the square model input in pixels.

    Raises:
        DataError: if ``image_size`` is not an int >= 1.

    Example:
        >>> check_image_size(28)
        >>> check_image_size(0)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        tunedepth.errors.DataError: The 'image_size' parameter must be an int >= 1 ...; got 0.
    """
    if not isinstance(image_size, int) or isinstance(image_size, bool) or image_size < 1:
        raise DataError(
            "The 'image_size' parameter must be an int >= 1 (the side of the model input in "
            f"pixels); got {image_size!r}."
        )


def prepare_images(images: np.ndarray, *, image_size: int) -> torch.Tensor:
    """Convert a batch of uint8 images to a uint8 tensor of shape (n, 3, image_size, image_size).

    Grayscale images are repeated to 3 channels; the alpha channel of RGBA images is
    dropped. Images are resized to a square of side ``image_size`` with bilinear
    interpolation (``align_corners=False``), antialiased when an axis shrinks, computed in
    float32 and rounded to the nearest integer. Non-square images are stretched, not
    cropped. An image already of side ``image_size`` is returned unchanged.

    Args:
        images: uint8 array of shape (n, h, w) or (n, h, w, 1) (grayscale),
            (n, h, w, 3) (RGB) or (n, h, w, 4) (RGBA).
        image_size: side of the square output in pixels, >= 1.

    Returns:
        uint8 tensor of shape (n, 3, image_size, image_size).

    Raises:
        DataError: if ``images`` is not uint8, has another shape, or ``image_size`` < 1.

    Example:
        >>> import numpy as np
        >>> gray = np.zeros((2, 4, 4), dtype=np.uint8)
        >>> gray[:, :, 2:] = 255
        >>> out = prepare_images(gray, image_size=2)
        >>> out.shape, out.dtype
        (torch.Size([2, 3, 2, 2]), torch.uint8)
        >>> out[0, 0].tolist()
        [[36, 219], [36, 219]]
        >>> prepare_images(gray, image_size=8)[0, 2, 0].tolist()
        [0, 0, 0, 64, 191, 255, 255, 255]
    """
    check_image_size(image_size)
    arr = np.asarray(images)
    if arr.dtype != np.uint8:
        raise DataError(
            "The 'images' parameter of prepare_images must be a uint8 array; "
            f"got dtype {arr.dtype} (shape {arr.shape}). Convert or rescale the images to 8 bits "
            "first."
        )
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[-1] not in (1, 3, 4):
        raise DataError(
            "The 'images' parameter of prepare_images must have shape (n, h, w), (n, h, w, 1), "
            f"(n, h, w, 3) or (n, h, w, 4); got {arr.shape}."
        )
    if arr.shape[-1] == 4:
        arr = arr[..., :3]
    arr = np.ascontiguousarray(arr)
    if not arr.flags.writeable:
        # torch cannot wrap read-only memory (e.g. np.asarray of a PIL image) without a warning.
        arr = arr.copy()
    x = torch.from_numpy(arr).permute(0, 3, 1, 2)
    n, channels, height, width = x.shape
    if (height, width) != (image_size, image_size):
        x = _resize(x, image_size)
    if channels == 1:
        x = x.repeat(1, 3, 1, 1)
    return x.contiguous()


def _resize(x: torch.Tensor, image_size: int) -> torch.Tensor:
    """Bilinear resize of a uint8 (n, c, h, w) tensor, in float32 chunks."""
    height, width = x.shape[-2:]
    antialias = height > image_size or width > image_size
    out = torch.empty((x.shape[0], x.shape[1], image_size, image_size), dtype=torch.uint8)
    for start in range(0, x.shape[0], _CHUNK):
        chunk = x[start : start + _CHUNK].to(torch.float32)
        resized = F.interpolate(
            chunk,
            size=(image_size, image_size),
            mode="bilinear",
            align_corners=False,
            antialias=antialias,
        )
        out[start : start + _CHUNK] = resized.round_().clamp_(0, 255).to(torch.uint8)
    return out


def normalize(batch: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Scale a uint8 batch to [0, 1] and standardise each channel: ``(x / 255 - mean) / std``.

    Args:
        batch: uint8 tensor of shape (n, 3, s, s), as held by an ImageSet.
        mean: one mean per channel, on the [0, 1] scale (e.g. ImageNet's 0.485, 0.456, 0.406).
        std: one standard deviation per channel, on the [0, 1] scale, each > 0.

    Returns:
        float32 tensor of shape (n, 3, s, s), on the device of ``batch``.

    Raises:
        DataError: if ``batch`` is not a uint8 (n, c, h, w) tensor, or ``mean``/``std`` do not
            have one positive-std entry per channel.

    Example:
        >>> x = torch.tensor([0, 51, 255], dtype=torch.uint8).view(1, 3, 1, 1)
        >>> normalize(x, mean=(0.0, 0.2, 0.5), std=(1.0, 0.5, 0.5)).flatten().tolist()
        [0.0, 0.0, 1.0]
    """
    if batch.dtype != torch.uint8 or batch.ndim != 4:
        raise DataError(
            "The 'batch' parameter of normalize must be a uint8 tensor of shape (n, c, h, w); "
            f"got dtype {batch.dtype} and shape {tuple(batch.shape)}."
        )
    channels = batch.shape[1]
    if len(mean) != channels or len(std) != channels:
        raise DataError(
            f"The 'mean' and 'std' parameters of normalize must have {channels} entries, one per "
            f"channel; got {len(mean)} and {len(std)}."
        )
    if any(s <= 0 for s in std):
        raise DataError(
            f"The 'std' parameter of normalize must be > 0 for every channel; got {list(std)}."
        )
    m = torch.tensor(mean, dtype=torch.float32, device=batch.device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32, device=batch.device).view(1, -1, 1, 1)
    return (batch.to(torch.float32) / 255.0 - m) / s
