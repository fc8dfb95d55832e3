"""Reading image files (PNG, JPEG, BMP, TIFF) with Pillow into model-ready uint8 tensors.

Shared by the image-folder and CSV-manifest sources. Only 8-bit images are accepted:
16-bit or float images would need a windowing choice that changes results, so they are
refused rather than silently clipped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tunedepth.data.preprocess import check_image_size, prepare_images
from tunedepth.errors import DataError

__all__ = ["IMAGE_SUFFIXES", "read_image_file", "read_image_files"]

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")

# Pillow modes and what they become: grayscale stays one channel, everything else RGB.
_GRAY_MODES = {"1": "L", "L": "L", "LA": "L"}
_RGB_MODES = {"RGB", "RGBA", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "RGBX", "RGBa", "La"}


def read_image_file(path: Path) -> np.ndarray:
    """Decode one 8-bit image file fully.

    Args:
        path: image file.

    Returns:
        uint8 array of shape (h, w) for grayscale or (h, w, 3) for colour (alpha dropped).

    Raises:
        DataError: if the file is missing, unreadable, truncated, or not 8-bit.
    """
    try:
        # verify() checks the PNG chunk checksums, so a PNG cut inside its last chunks (which
        # load() still decodes) is refused; load() catches truncation of the pixel data.
        with Image.open(path) as img:
            img.verify()
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            if mode in _GRAY_MODES:
                return np.asarray(img.convert(_GRAY_MODES[mode]), dtype=np.uint8)
            if mode in _RGB_MODES:
                return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(
            f"Image file {path} could not be read ({type(exc).__name__}: {exc}); it is missing, "
            "truncated or not an image. Replace or remove it."
        ) from exc
    raise DataError(
        f"Image file {path} has Pillow mode {mode!r}; only 8-bit grayscale or colour images are "
        "supported. Convert it to 8 bits (choosing the intensity window yourself)."
    )


def read_image_files(paths: Sequence[Path], *, image_size: int) -> torch.Tensor:
    """Read and resize many image files (of any sizes) into one uint8 tensor.

    Args:
        paths: image files, in output order.
        image_size: side of the square model input.

    Returns:
        uint8 tensor of shape (len(paths), 3, image_size, image_size).

    Raises:
        DataError: naming the first file that cannot be read.
    """
    check_image_size(image_size)
    out = torch.empty((len(paths), 3, image_size, image_size), dtype=torch.uint8)
    for i, path in enumerate(paths):
        out[i] = prepare_images(read_image_file(path)[None], image_size=image_size)[0]
    logger.debug("Read %d image files at %d px", len(paths), image_size)
    return out
