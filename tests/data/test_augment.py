"""Tests of tunedepth.data.augment: identity at zero ranges, bounds of the draws, determinism."""

from __future__ import annotations

import math

import pytest
import torch

from tunedepth.data.augment import augment_batch
from tunedepth.errors import ConfigError, DataError

SIDE = 41


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def blob_batch(n: int) -> torch.Tensor:
    """A 3x3 bright square at the centre of each image."""
    x = torch.zeros(n, 1, SIDE, SIDE)
    c = SIDE // 2
    x[:, :, c - 1 : c + 2, c - 1 : c + 2] = 1.0
    return x


def centroids(x: torch.Tensor) -> torch.Tensor:
    """(n, 2) centre of mass (row, col) of each image."""
    grid = torch.arange(SIDE, dtype=x.dtype)
    mass = x.sum(dim=(1, 2, 3))
    rows = (x.sum(dim=(1, 3)) * grid).sum(dim=1) / mass
    cols = (x.sum(dim=(1, 2)) * grid).sum(dim=1) / mass
    return torch.stack([rows, cols], dim=1)


def test_zero_ranges_are_identity() -> None:
    x = torch.randn(4, 3, 10, 10, generator=gen(1))
    out = augment_batch(
        x, generator=gen(), flip_probability=0.0, max_shift_fraction=0.0, max_rotation_deg=0.0
    )
    torch.testing.assert_close(out, x, atol=1e-5, rtol=0)


def test_certain_flip_is_a_horizontal_mirror() -> None:
    x = torch.randn(4, 3, 10, 10, generator=gen(1))
    out = augment_batch(
        x, generator=gen(), flip_probability=1.0, max_shift_fraction=0.0, max_rotation_deg=0.0
    )
    torch.testing.assert_close(out, torch.flip(x, dims=[3]), atol=1e-5, rtol=0)


def test_flips_are_random_per_image() -> None:
    x = torch.randn(64, 1, 6, 6, generator=gen(2))
    out = augment_batch(x, generator=gen(), max_shift_fraction=0.0, max_rotation_deg=0.0)
    same = [torch.allclose(o, i, atol=1e-5) for o, i in zip(out, x, strict=True)]
    mirrored = [
        torch.allclose(o, torch.flip(i, dims=[2]), atol=1e-5) for o, i in zip(out, x, strict=True)
    ]
    assert all(
        s != m for s, m in zip(same, mirrored, strict=True)
    )  # each image is one or the other
    assert 16 < sum(mirrored) < 48


@pytest.mark.parametrize("max_shift", [0.1, 0.05])
def test_shifts_stay_within_range(max_shift: float) -> None:
    x = blob_batch(200)
    out = augment_batch(
        x, generator=gen(), flip_probability=0.0, max_shift_fraction=max_shift, max_rotation_deg=0.0
    )
    moved = (centroids(out) - centroids(x)).abs()
    limit = max_shift * SIDE
    assert moved.max().item() <= limit + 1e-3
    assert moved.max().item() > 0.9 * limit  # the range is used, not just respected
    torch.testing.assert_close(
        out.sum(dim=(1, 2, 3)), x.sum(dim=(1, 2, 3))
    )  # nothing leaves the frame


def bar_angles_deg(x: torch.Tensor) -> torch.Tensor:
    """Orientation of the bright bar in each image from second moments, in degrees."""
    grid = torch.arange(SIDE, dtype=x.dtype)
    ys, xs = torch.meshgrid(grid, grid, indexing="ij")
    w = x[:, 0]
    m = w.sum(dim=(1, 2))
    cy, cx = (w * ys).sum(dim=(1, 2)) / m, (w * xs).sum(dim=(1, 2)) / m
    dy, dx = ys - cy.view(-1, 1, 1), xs - cx.view(-1, 1, 1)
    cov_xx = (w * dx * dx).sum(dim=(1, 2)) / m
    cov_yy = (w * dy * dy).sum(dim=(1, 2)) / m
    cov_xy = (w * dx * dy).sum(dim=(1, 2)) / m
    return torch.rad2deg(0.5 * torch.atan2(2 * cov_xy, cov_xx - cov_yy))


def test_rotations_stay_within_range() -> None:
    x = torch.zeros(200, 1, SIDE, SIDE)
    x[:, :, SIDE // 2, 5:-5] = 1.0  # a horizontal bar through the centre
    out = augment_batch(
        x, generator=gen(), flip_probability=0.0, max_shift_fraction=0.0, max_rotation_deg=10.0
    )
    angles = bar_angles_deg(out).abs()
    assert bar_angles_deg(x).abs().max().item() < 1e-3
    assert angles.max().item() <= 10.0 + 0.5
    assert angles.max().item() > 8.0


def test_deterministic_for_a_seed_and_varies_across_seeds() -> None:
    x = torch.randn(8, 3, 12, 12, generator=gen(3))
    a = augment_batch(x, generator=gen(5))
    assert torch.equal(a, augment_batch(x, generator=gen(5)))
    assert not torch.allclose(a, augment_batch(x, generator=gen(6)))


def test_keeps_shape_and_dtype() -> None:
    x = torch.randn(2, 3, 7, 7, dtype=torch.float64, generator=gen(4))
    out = augment_batch(x, generator=gen())
    assert out.shape == x.shape and out.dtype == torch.float64
    assert not math.isnan(out.sum().item())


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        pytest.param(
            {"flip_probability": 1.5},
            ConfigError,
            r"'flip_probability' .* \[0, 1\]; got 1\.5",
            id="flip",
        ),
        pytest.param(
            {"max_shift_fraction": 0.5},
            ConfigError,
            r"'max_shift_fraction' .* \[0, 0\.5\); got 0\.5",
            id="shift",
        ),
        pytest.param(
            {"max_rotation_deg": -1.0},
            ConfigError,
            r"'max_rotation_deg' .* \[0, 180\]; got -1\.0",
            id="rotation",
        ),
    ],
)
def test_range_errors(kwargs: dict[str, float], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        augment_batch(torch.zeros(1, 3, 4, 4), generator=gen(), **kwargs)  # type: ignore[arg-type]


def test_uint8_batch_is_refused() -> None:
    with pytest.raises(
        DataError, match=r"float tensor .* got dtype torch\.uint8 .* Call normalize\(\) first"
    ):
        augment_batch(torch.zeros(1, 3, 4, 4, dtype=torch.uint8), generator=gen())


def test_largest_allowed_values_pass() -> None:
    out = augment_batch(
        torch.ones(2, 3, 4, 4),
        generator=gen(),
        flip_probability=1.0,
        max_shift_fraction=0.49,
        max_rotation_deg=180.0,
    )
    assert out.shape == (2, 3, 4, 4)


def test_augmented_views_are_the_same_for_a_seed_and_view_major():
    from tunedepth.data import augmented_views

    images = (torch.arange(5 * 3 * 8 * 8) % 251).to(torch.uint8).view(5, 3, 8, 8)
    a = augmented_views(images, views=3, seed=4, fill=(10.0, 20.0, 30.0))
    b = augmented_views(images, views=3, seed=4, fill=(10.0, 20.0, 30.0), batch_size=2)
    c = augmented_views(images, views=3, seed=5, fill=(10.0, 20.0, 30.0))
    assert a.shape == (15, 3, 8, 8) and a.dtype == torch.uint8
    assert torch.equal(a, b)  # the draws do not depend on the batching
    assert not torch.equal(a, c)
    first_view = augmented_views(images, views=1, seed=4, fill=(10.0, 20.0, 30.0))
    assert torch.equal(a[:5], first_view)  # view-major: rows 0..n-1 are view 0 of each image


def test_augmented_views_pad_with_the_fill_colour():
    """An image of the fill colour stays exactly that colour, whatever the shift or rotation: pixels moved in from
    outside take the fill colour too."""
    from tunedepth.data import augmented_views

    fill = (124.0, 116.0, 104.0)
    images = torch.tensor(fill, dtype=torch.float32).view(1, 3, 1, 1).expand(4, 3, 16, 16).to(torch.uint8)
    assert torch.equal(augmented_views(images, views=2, seed=0, fill=fill), images.repeat(2, 1, 1, 1))
