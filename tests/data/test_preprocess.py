"""Tests of tunedepth.data.preprocess: channel handling, resizing, normalisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tunedepth.data import preprocess
from tunedepth.data.preprocess import normalize, prepare_images
from tunedepth.errors import DataError


def step_image(n: int = 2, side: int = 4) -> np.ndarray:
    """Gray images whose right half is white."""
    x = np.zeros((n, side, side), dtype=np.uint8)
    x[:, :, side // 2 :] = 255
    return x


def test_gray_same_size_is_copied_to_three_channels() -> None:
    x = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    out = prepare_images(x, image_size=3)
    assert out.dtype == torch.uint8 and out.shape == (2, 3, 3, 3)
    for c in range(3):
        assert out[:, c].numpy().tolist() == x.tolist()
    x[0, 0, 0] = 200
    assert out[0, 0, 0, 0].item() == 0  # the result does not alias the input


def test_gray_with_channel_axis_equals_gray() -> None:
    x = step_image()
    assert torch.equal(prepare_images(x[..., None], image_size=3), prepare_images(x, image_size=3))


def test_rgb_channel_order_kept_and_alpha_dropped() -> None:
    rgba = np.zeros((1, 2, 2, 4), dtype=np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 2], rgba[..., 3] = 10, 20, 30, 0
    out = prepare_images(rgba, image_size=2)
    assert out[0, :, 1, 1].tolist() == [10, 20, 30]
    assert torch.equal(out, prepare_images(rgba[..., :3], image_size=2))


def test_downsampling_is_antialiased() -> None:
    # Plain bilinear would sample between pixel pairs and give [0, 255]; the antialiased
    # (triangle-filter) result mixes the neighbours.
    out = prepare_images(step_image(), image_size=2)
    assert out[0, 0].tolist() == [[36, 219], [36, 219]]


def test_checkerboard_downsampling_averages() -> None:
    board = ((np.indices((16, 16)).sum(axis=0) % 2) * 255).astype(np.uint8)[None]
    out = prepare_images(board, image_size=4)
    assert out.min().item() >= 120 and out.max().item() <= 135  # aliasing would give 0 or 255


def test_upsampling_is_bilinear() -> None:
    out = prepare_images(step_image(n=1), image_size=8)
    assert out[0, 1, 3].tolist() == [0, 0, 0, 64, 191, 255, 255, 255]


@pytest.mark.parametrize("size", [1, 5, 28, 64])
def test_constant_images_stay_constant(size: int) -> None:
    x = np.full((3, 28, 28, 3), 77, dtype=np.uint8)
    assert torch.unique(prepare_images(x, image_size=size)).tolist() == [77]


def test_non_square_is_stretched() -> None:
    x = np.zeros((1, 2, 4), dtype=np.uint8)
    x[0, 1, :] = 200  # bottom row
    out = prepare_images(x, image_size=4)
    assert out.shape == (1, 3, 4, 4)
    assert out[0, 0, :, 0].tolist() == [0, 50, 150, 200]


def test_chunks_give_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    x = np.random.default_rng(0).integers(0, 256, (7, 9, 9), dtype=np.uint8)
    whole = prepare_images(x, image_size=5)
    monkeypatch.setattr(preprocess, "_CHUNK", 3)
    assert torch.equal(prepare_images(x, image_size=5), whole)


@pytest.mark.parametrize(
    ("images", "size", "match"),
    [
        pytest.param(
            np.zeros((1, 4, 4), dtype=np.float32),
            4,
            r"must be a uint8 array; got dtype float32",
            id="float",
        ),
        pytest.param(
            np.zeros((1, 4, 4, 2), dtype=np.uint8), 4, r"got \(1, 4, 4, 2\)", id="two-channels"
        ),
        pytest.param(np.zeros((4, 4), dtype=np.uint8), 4, r"got \(4, 4\)\.", id="no-batch-axis"),
        pytest.param(
            np.zeros((1, 4, 4), dtype=np.uint8),
            0,
            r"'image_size' parameter must be an int >= 1 .*; got 0\.",
            id="size-zero",
        ),
    ],
)
def test_prepare_errors(images: np.ndarray, size: int, match: str) -> None:
    with pytest.raises(DataError, match=match):
        prepare_images(images, image_size=size)


def test_normalize_values() -> None:
    x = torch.tensor([[0, 255], [51, 102], [255, 0]], dtype=torch.uint8).view(1, 3, 1, 2)
    out = normalize(x, mean=(0.5, 0.2, 0.0), std=(0.5, 0.2, 2.0))
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.flatten(), torch.tensor([-1.0, 1.0, 0.0, 1.0, 0.5, 0.0]))


@pytest.mark.parametrize(
    ("batch", "mean", "std", "match"),
    [
        pytest.param(
            torch.zeros(1, 3, 2, 2),
            (0,) * 3,
            (1,) * 3,
            r"uint8 tensor .* got dtype torch\.float32",
            id="float",
        ),
        pytest.param(
            torch.zeros(1, 3, 2, 2, dtype=torch.uint8),
            (0,) * 2,
            (1,) * 3,
            r"3 entries, one per channel; got 2 and 3",
            id="mean-len",
        ),
        pytest.param(
            torch.zeros(1, 3, 2, 2, dtype=torch.uint8),
            (0,) * 3,
            (1, 0, 1),
            r"'std' .* > 0",
            id="std-zero",
        ),
    ],
)
def test_normalize_errors(
    batch: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...], match: str
) -> None:
    with pytest.raises(DataError, match=match):
        normalize(batch, mean, std)
