"""Fakes for the source tests: synthetic MedMNIST-like files and the loopback server record.

Plain objects; the fixtures that use them are in ``conftest.py``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

TEST_FLAG = "testmnist"


@dataclass
class LoopbackServer:
    """A static file server on 127.0.0.1; ``requests`` records every requested path."""

    base_url: str
    directory: Path
    requests: list[str] = field(default_factory=list)


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> str:
    """Write ``arrays`` to ``path`` (.npz) and return the file's MD5."""
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    return hashlib.md5(path.read_bytes()).hexdigest()


def synthetic_arrays(
    n: tuple[int, int, int] = (12, 4, 6), side: int = 8, rgb: bool = False, n_classes: int = 2
) -> dict[str, np.ndarray]:
    """MedMNIST-like arrays: image i of a split is constant ``10 * i + label``; labels (n, 1)."""
    arrays = {}
    for split, count in zip(("train", "val", "test"), n, strict=True):
        labels = (np.arange(count) % n_classes).astype(np.uint8)[:, None]
        values = (10 * np.arange(count) + labels[:, 0]).astype(np.uint8)
        shape = (count, side, side, 3) if rgb else (count, side, side)
        images = np.broadcast_to(values.reshape((count,) + (1,) * (len(shape) - 1)), shape)
        arrays[f"{split}_images"] = np.ascontiguousarray(images)
        arrays[f"{split}_labels"] = labels
    return arrays


def write_image(
    path: Path, value: int | tuple[int, ...], *, size: tuple[int, int] = (6, 5)
) -> Path:
    """Write a constant image (gray for an int, RGB/RGBA for a tuple) of ``size`` (w, h)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    mode = "L" if isinstance(value, int) else {3: "RGB", 4: "RGBA"}[len(value)]
    Image.new(mode, size, value).save(path)
    return path


def truncate(path: Path, keep: float = 0.5) -> Path:
    """Cut a file to a share ``keep`` of its bytes."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path
