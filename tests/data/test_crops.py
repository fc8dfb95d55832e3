"""Tests of tunedepth.data.crops: crop positions, crop sets fixed per seed, and crop averaging equal to the mean of
single-crop predictions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import expit

from tunedepth.data.crops import CropSpec, apply_crops, average_over_crops, evaluation_crops, training_crops


def coordinate_images(n: int, height: int, width: int) -> torch.Tensor:
    """uint8 images whose pixels tell where they are: channel 0 the row, 1 the column, 2 the image index."""
    rows = torch.arange(height).view(height, 1).expand(height, width)
    cols = torch.arange(width).view(1, width).expand(height, width)
    x = torch.stack([torch.stack([rows, cols, torch.full_like(rows, i)]) for i in range(n)])
    return x.to(torch.uint8)


def linear_model(crops: torch.Tensor) -> np.ndarray:
    """A fixed scalar log-odds per crop: a random linear function of the normalised pixels (depends on position,
    so crops of one image get different scores)."""
    w = torch.randn(crops.shape[1:], generator=torch.Generator().manual_seed(3))
    x = crops.to(torch.float64) / 255.0 - 0.5
    return (x * w.to(torch.float64)).flatten(1).sum(1).numpy() / 4.0


def test_crop_averaging_equals_the_mean_of_single_crop_predictions_one_by_one() -> None:
    images = torch.randint(0, 256, (4, 3, 24, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    crops = evaluation_crops("five_flips", scale=0.75)
    batch = apply_crops(images, [crops] * 4, 12)
    averaged = average_over_crops(linear_model(batch), 4, len(crops))
    by_hand = np.empty(4)
    for i in range(4):
        probabilities = [expit(linear_model(apply_crops(images[i:i + 1], [[c]], 12))[0]) for c in crops]
        by_hand[i] = np.mean(probabilities)
    assert np.ptp(linear_model(batch).reshape(len(crops), 4), axis=0).min() > 0.1  # the crops do disagree
    np.testing.assert_allclose(expit(averaged), by_hand, rtol=0, atol=1e-12)
    # and it is not the mean of the log-odds
    assert not np.allclose(averaged, linear_model(batch).reshape(len(crops), 4).mean(0), atol=1e-6)


def test_per_class_columns_are_averaged_like_single_columns() -> None:
    z = np.random.default_rng(0).normal(size=(6, 3)) * 3  # 3 crops x 2 images, 3 classes
    out = average_over_crops(z, 2, 3)
    assert out.shape == (2, 3)
    for k in range(3):
        np.testing.assert_allclose(out[:, k], average_over_crops(z[:, k], 2, 3), rtol=0, atol=1e-12)
    # crop-major: image 1's crops are rows 1, 3, 5
    np.testing.assert_allclose(expit(out[1, 0]), expit(z[[1, 3, 5], 0]).mean(), rtol=0, atol=1e-12)


def test_average_keeps_confident_images_apart() -> None:
    """Probabilities 1 - e^-40 and 1 - e^-50 round to 1.0 in float64; their log-odds stay ordered."""
    out = average_over_crops(np.array([40.0, 50.0, 40.0, 50.0]), 2, 2)
    np.testing.assert_allclose(out, [40.0, 50.0], rtol=0, atol=1e-9)


def test_training_crops_are_fixed_per_seed() -> None:
    a = training_crops(5, 4, (0.6, 0.8, 1.0), seed=1)
    assert a == training_crops(5, 4, (0.6, 0.8, 1.0), seed=1)
    b = training_crops(5, 4, (0.6, 0.8, 1.0), seed=2)
    assert all(x != y for x, y in zip(a, b, strict=True))
    images = coordinate_images(5, 20, 28)
    assert torch.equal(apply_crops(images, a, 8), apply_crops(images, training_crops(5, 4, (0.6, 0.8, 1.0), seed=1), 8))
    # image i's crops do not depend on how many images there are
    assert training_crops(9, 4, (0.6, 0.8, 1.0), seed=1)[:5] == a


def test_training_crops_draw_every_scale_position_flip_and_turn() -> None:
    crops = [c for per_image in training_crops(50, 8, (0.5, 1.0), seed=0) for c in per_image]
    assert {c.scale for c in crops} == {0.5, 1.0}
    assert {c.quarter_turns for c in crops} == {0, 1, 2, 3}
    assert 0.4 < np.mean([c.flip for c in crops]) < 0.6
    offsets = np.array([(c.offset_x, c.offset_y) for c in crops])
    assert offsets.min() < -0.95 and offsets.max() > 0.95 and abs(offsets.mean()) < 0.1
    plain = [c for p in training_crops(50, 8, (0.5,), seed=0, flip=False, rotate=False) for c in p]
    assert not any(c.flip or c.quarter_turns for c in plain)


@pytest.mark.parametrize(("height", "width"), [(20, 28), (28, 20), (17, 17)])
def test_crops_stay_inside_the_image_and_cut_what_they_say(height: int, width: int) -> None:
    images = coordinate_images(3, height, width)
    specs = training_crops(3, 30, (0.3, 0.7, 1.0), seed=4, flip=False, rotate=False)
    for i, per_image in enumerate(specs):
        for spec in per_image:
            left, top, right, bottom = spec.region(height=height, width=width)
            assert 0 <= left < right <= width and 0 <= top < bottom <= height
            assert right - left == bottom - top == max(1, round(spec.scale * min(height, width)))
            out = apply_crops(images[i:i + 1], [[spec]], right - left)  # no resize: the pixels themselves
            assert torch.equal(out[0], images[i, :, top:bottom, left:right])


def test_five_corners_are_where_stated_and_flips_mirror_them() -> None:
    images = coordinate_images(2, 20, 30)
    crops = evaluation_crops("five_flips", scale=0.5)  # 10 x 10 crops
    out = apply_crops(images, [crops] * 2, 10).view(10, 2, 3, 10, 10)
    expected = [images[:, :, 5:15, 10:20], images[:, :, :10, :10], images[:, :, :10, 20:],
                images[:, :, 10:, :10], images[:, :, 10:, 20:]]
    for c, region in enumerate(expected):
        assert torch.equal(out[c], region), f"crop {c}"
        assert torch.equal(out[c + 5], torch.flip(region, dims=(-1,))), f"crop {c + 5}"
    assert [len(evaluation_crops(k)) for k in ("centre", "five", "five_flips")] == [1, 5, 10]
    assert evaluation_crops("centre")[0] == evaluation_crops("five")[0] == CropSpec(0.875)


def test_flip_comes_before_the_quarter_turns() -> None:
    images = coordinate_images(1, 12, 12)
    out = apply_crops(images, [[CropSpec(1.0, flip=True, quarter_turns=1)]], 12)
    assert torch.equal(out[0], torch.rot90(torch.flip(images[0], dims=(-1,)), 1, dims=(-2, -1)))


def test_crops_are_resized_to_out_size() -> None:
    out = apply_crops(coordinate_images(2, 40, 60), [evaluation_crops("five")] * 2, 16)
    assert out.shape == (10, 3, 16, 16) and out.dtype == torch.uint8
    assert int(out[3, 2].unique().item()) == 1  # row 1 * 2 + 1: crop 1 of image 1


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: CropSpec(0.0), r"'scale' of a CropSpec must be .* \(0, 1\]; got 0.0"),
        (lambda: CropSpec(1.2), r"'scale' of a CropSpec .* got 1.2"),
        (lambda: CropSpec(0.5, offset_x=1.5), r"'offset_x' of a CropSpec must be in \[-1, 1\].*got 1.5"),
        (lambda: CropSpec(0.5, quarter_turns=4), r"'quarter_turns' parameter of CropSpec must be an int in \[0, 3\]"),
        (lambda: training_crops(0, 2, (1.0,), 0), r"'n_images' parameter of training_crops must be an int >= 1"),
        (lambda: training_crops(2, 2, (), 0), r"'scales' parameter of training_crops .* got \(\)"),
        (lambda: training_crops(2, 2, (0.5, 0.5), 0), r"'scales' parameter .* unique"),
        (lambda: training_crops(2, 2, (1.5,), 0), r"'scales' parameter .* \(0, 1\]"),
        (lambda: training_crops(2, 2, (1.0,), -1), r"'seed' parameter of training_crops must be an int >= 0"),
        (lambda: evaluation_crops("fives"), r"Unknown test crop set 'fives'.*Did you mean 'five'\?.*Available"),
        (lambda: evaluation_crops("five", scale=0), r"'scale' parameter of evaluation_crops"),
        (lambda: apply_crops(torch.zeros(1, 3, 4, 4), [[CropSpec(1.0)]], 2), r"must be a uint8 tensor .*float32"),
        (lambda: apply_crops(torch.zeros(2, 3, 4, 4, dtype=torch.uint8), [[CropSpec(1.0)]], 2),
         r"one sequence of crops per image \(2\); got 1"),
        (lambda: apply_crops(torch.zeros(2, 3, 4, 4, dtype=torch.uint8), [[CropSpec(1.0)], []], 2),
         r"same number of crops, at least one; got lengths \[0, 1\]"),
        (lambda: apply_crops(torch.zeros(1, 3, 4, 4, dtype=torch.uint8), [[CropSpec(1.0)]], 0),
         r"'out_size' parameter of apply_crops must be an int >= 1"),
        (lambda: average_over_crops(np.zeros(5), 2, 3), r"shape \(6,\) or \(6, n_classes\).*got shape \(5,\)"),
        (lambda: average_over_crops(np.array([0.0, np.nan]), 1, 2), r"without NaN"),
    ],
    ids=["scale-0", "scale-above-1", "offset", "turns", "no-images", "no-scales", "repeated-scale", "big-scale",
         "negative-seed", "unknown-set", "test-scale", "float-images", "specs-per-image", "uneven-specs", "out-size",
         "wrong-length", "nan"],
)
def test_bad_input_is_refused_with_one_line(call, match: str) -> None:
    with pytest.raises(ValueError, match=match) as info:
        call()
    assert "\n" not in str(info.value)
