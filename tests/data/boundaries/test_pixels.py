"""Tests of tunedepth.data.boundaries.pixels: closed contours and the stratified pixel sample."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tunedepth.data.boundaries import closed_boundary, sample_boundary_pixels

# --- closed boundaries ---------------------------------------------------------------------------------------------


def test_closed_boundary_of_a_square_is_its_16_pixel_ring():
    mask = np.zeros((7, 7), bool)
    mask[1:6, 1:6] = True
    ring = mask.copy()
    ring[2:5, 2:5] = False  # the 3x3 interior: every pixel has its 4 neighbours in the square
    contour = closed_boundary(mask)
    assert contour.dtype == np.bool_ and int(contour.sum()) == 16
    assert np.array_equal(contour, ring)


def test_closed_boundary_counts_the_image_border_as_outside():
    assert int(closed_boundary(np.ones((5, 5), bool)).sum()) == 16
    single = np.zeros((3, 3), bool)
    single[1, 1] = True
    assert np.array_equal(closed_boundary(single), single)


def test_closed_boundary_erodes_with_a_cross_and_outlines_holes():
    plus = np.zeros((5, 5), bool)
    plus[2, 1:4] = plus[1:4, 2] = True  # the centre's 4-neighbours are all inside; its diagonals are not
    contour = closed_boundary(plus)
    assert int(contour.sum()) == 4 and not contour[2, 2]
    holed = np.zeros((7, 7), bool)
    holed[1:6, 1:6] = True
    holed[3, 3] = False
    contour = closed_boundary(holed)
    # the 16 outer pixels, plus the 4 pixels 4-adjacent to the hole (the hole's diagonal neighbours are interior)
    assert int(contour.sum()) == 20
    assert contour[2, 3] and contour[3, 2] and contour[4, 3] and contour[3, 4] and not contour[2, 2]


@pytest.mark.parametrize(
    ("mask", "match"),
    [
        (np.ones((3, 3), np.uint8), r"'mask' parameter of closed_boundary must be a 2-D bool array; got dtype uint8"),
        (np.ones((3, 3, 1), bool), r"must be a 2-D bool array; got dtype bool and shape \(3, 3, 1\)"),
        (np.zeros((3, 4), bool), r"'mask' parameter of closed_boundary has no True pixel \(shape \(3, 4\)\)"),
    ],
    ids=["uint8", "3-d", "empty"],
)
def test_closed_boundary_rejects_bad_masks(mask, match):
    with pytest.raises(ValueError, match=match):
        closed_boundary(mask)


# --- stratified pixel sample ---------------------------------------------------------------------------------------


def _two_class_labels() -> np.ndarray:
    labels = np.zeros((20, 30), np.int32)
    labels[5, :] = 1  # 30 px of class 1
    labels[15, 10:15] = 2  # 5 px of class 2
    return labels


def _distance_to_boundary(labels: np.ndarray) -> np.ndarray:
    """Brute-force Euclidean distance of every pixel to the nearest boundary pixel (independent of scipy)."""
    boundary = np.argwhere(labels > 0)
    grid = np.indices(labels.shape).reshape(2, -1).T
    d2 = ((grid[:, None, :] - boundary[None, :, :]) ** 2).sum(axis=2).min(axis=1)
    return np.sqrt(d2).reshape(labels.shape)


def test_sample_boundary_pixels_draws_each_class_and_the_background():
    labels = _two_class_labels()
    rows, cols, classes = sample_boundary_pixels(labels, n_per_class=10, near_fraction=0.4, near_distance_px=2,
                                                 seed=0)
    # class 1 has 30 px (10 drawn), class 2 only 5 (all drawn), background 10; grouped by label
    assert classes.tolist() == [0] * 10 + [1] * 10 + [2] * 5
    assert np.array_equal(labels[rows, cols], classes)
    assert len(set(zip(rows.tolist(), cols.tolist(), strict=True))) == 25  # no pixel twice
    assert sorted(cols[classes == 2].tolist()) == [10, 11, 12, 13, 14]
    hard = _distance_to_boundary(labels)[rows[:4], cols[:4]]  # round(0.4 * 10) = 4 hard background pixels first
    assert np.all(hard <= 2)


def test_sample_boundary_pixels_is_fixed_by_the_seed():
    labels = _two_class_labels()
    kwargs = {"n_per_class": 10, "near_fraction": 0.5, "near_distance_px": 3}
    first = sample_boundary_pixels(labels, seed=7, **kwargs)
    again = sample_boundary_pixels(labels, seed=7, **kwargs)
    other = sample_boundary_pixels(labels, seed=8, **kwargs)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(np.stack(first[:2]), np.stack(other[:2]))


def test_sample_boundary_pixels_hard_background_is_exactly_the_near_pixels():
    labels = _two_class_labels()
    distance = _distance_to_boundary(labels)
    # n_per_class larger than the hard pool: every hard pixel is drawn, and no pixel farther than 2 px
    # (sqrt(5) = 2.24 px, diagonally two rows and one column away, is out; exactly 2 px is in)
    rows, cols, classes = sample_boundary_pixels(labels, n_per_class=500, near_fraction=1.0, near_distance_px=2,
                                                 seed=1)
    drawn = {(r, c) for r, c, k in zip(rows.tolist(), cols.tolist(), classes.tolist(), strict=True) if k == 0}
    near = {(int(r), int(c)) for r, c in np.argwhere((labels == 0) & (distance <= 2))}
    # class 1: rows 3, 4, 6, 7 in all 30 columns; class 2 (row 15, columns 10..14): rows 13, 14, 16, 17 in its
    # columns, rows 14 and 16 in columns 9 and 15, row 15 in columns 8, 9, 15, 16
    assert drawn == near and len(near) == 4 * 30 + (4 * 5 + 4 + 4)
    assert (3, 10) in drawn and (13, 9) not in drawn  # distance 2 in, sqrt(5) out
    # near_fraction 0: no background pixel is drawn for being near, so a small sample is mostly far
    rows, cols, classes = sample_boundary_pixels(labels, n_per_class=50, near_fraction=0.0, near_distance_px=2,
                                                 seed=1)
    assert int((distance[rows[classes == 0], cols[classes == 0]] <= 2).sum()) < 25


def test_sample_boundary_pixels_respects_the_roi():
    labels = _two_class_labels()
    roi = np.zeros(labels.shape, bool)
    roi[:10, :20] = True  # holds 20 px of class 1, none of class 2
    distance = _distance_to_boundary(labels)
    rows, cols, classes = sample_boundary_pixels(labels, n_per_class=200, near_fraction=0.5, near_distance_px=1,
                                                 roi=roi, seed=3)
    assert roi[rows, cols].all()
    assert int((classes == 1).sum()) == 20 and int((classes == 2).sum()) == 0
    background = classes == 0
    hard = (distance[rows[background], cols[background]] <= 1).sum()
    assert int(hard) == 2 * 20  # rows 4 and 6 in columns 0..19: the whole hard pool inside the roi
    assert int(background.sum()) == 40 + 100  # the hard pool (short of 100) is not refilled; 100 from the rest
    # the distance counts boundary pixels outside the roi: row 4 is hard although row 5 is not in the roi
    top = np.zeros(labels.shape, bool)
    top[:5] = True
    rows, cols, classes = sample_boundary_pixels(labels, n_per_class=30, near_fraction=1.0, near_distance_px=1,
                                                 roi=top, seed=3)
    assert classes.tolist() == [0] * 30 and rows.tolist() == [4] * 30


def test_sample_boundary_pixels_takes_a_closed_boundary():
    mask = np.zeros((9, 9), bool)
    mask[2:7, 2:7] = True
    rows, cols, classes = sample_boundary_pixels(closed_boundary(mask), n_per_class=16, near_fraction=0.25,
                                                 near_distance_px=1, seed=0)
    assert classes.tolist() == [0] * 16 + [1] * 16
    contour = closed_boundary(mask)
    assert contour[rows[16:], cols[16:]].all() and not contour[rows[:16], cols[:16]].any()
    assert np.all(_distance_to_boundary(contour.astype(int))[rows[:4], cols[:4]] <= 1)  # round(0.25 * 16) = 4 hard


@pytest.mark.parametrize(
    ("labels", "kwargs", "match"),
    [
        (np.zeros((4, 4), float), {}, r"'label_image' parameter of sample_boundary_pixels must be a 2-D bool or int"),
        (np.ones((2, 4, 4), int), {}, r"must be a 2-D bool or int array .*shape \(2, 4, 4\)"),
        (np.full((4, 4), -1), {}, r"'label_image' parameter .* has negative labels \(min -1\)"),
        (np.zeros((4, 4), int), {}, r"'label_image' parameter .* has no boundary pixel \(all 0, shape \(4, 4\)\)"),
        (None, {"roi": np.ones((4, 5), bool)}, r"'roi' parameter of sample_boundary_pixels must be a bool mask of the "
                                               r"label image's shape \(4, 4\).*shape \(4, 5\)\. Crop or pad"),
        (None, {"roi": np.ones((4, 4), np.uint8)}, r"'roi' parameter .* got dtype uint8"),
        (None, {"roi": np.zeros((4, 4), bool)}, r"'roi' parameter of sample_boundary_pixels selects no pixel"),
        (None, {"n_per_class": 0}, r"'n_per_class' parameter of sample_boundary_pixels must be an int >= 1; got 0"),
        (None, {"n_per_class": True}, r"'n_per_class' parameter .* got True"),
        (None, {"near_distance_px": 0}, r"'near_distance_px' parameter .* must be an int >= 1; got 0"),
        (None, {"seed": -1}, r"'seed' parameter .* must be an int >= 0; got -1"),
        (None, {"seed": 1.5}, r"'seed' parameter .* got 1\.5"),
        (None, {"near_fraction": 1.5}, r"'near_fraction' parameter .* must be a number in \[0, 1\]; got 1\.5"),
        (None, {"near_fraction": math.nan}, r"'near_fraction' parameter .* got nan"),
    ],
    ids=["float-labels", "3-d-labels", "negative-label", "no-boundary", "roi-shape", "roi-dtype", "roi-empty",
         "zero-n", "bool-n", "zero-distance", "negative-seed", "float-seed", "fraction-above-1", "fraction-nan"],
)
def test_sample_boundary_pixels_rejects_bad_input(labels, kwargs, match):
    if labels is None:
        labels = np.zeros((4, 4), int)
        labels[1, :] = 1
    args = {"n_per_class": 3, "near_fraction": 0.5, "near_distance_px": 1, "seed": 0} | kwargs
    with pytest.raises(ValueError, match=match):
        sample_boundary_pixels(labels, **args)
