"""Patches around candidates: views (scales x translations x orientations), cutting with padding, orientations."""

from __future__ import annotations

import numpy as np
import pytest

from tunedepth.data.masked import PATCH_ORIENTATIONS, cut_patches, orient_patch, patch_views


def test_paper_views_are_3_scales_5_positions_8_orientations() -> None:
    v = patch_views((1.0, 1.2, 1.5), shift_fraction=0.1, orientations=8)
    assert len(v) == 3 * 5 * 8
    combos = {(float(s), tuple(np.round(d, 6)), int(o)) for s, d, o in zip(v.scales, v.shifts, v.orientations,
                                                                             strict=True)}
    assert len(combos) == 120  # all distinct
    assert sorted({tuple(np.round(d, 6)) for d in v.shifts}) == [(-0.1, 0.0), (0.0, -0.1), (0.0, 0.0), (0.0, 0.1),
                                                                 (0.1, 0.0)]


def test_no_translation_keeps_the_centre_only() -> None:
    v = patch_views((1.0, 1.5), shift_fraction=0.0, orientations=1)
    assert v.scales.tolist() == [1.0, 1.5] and not v.shifts.any() and v.orientations.tolist() == [0, 0]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"scales": (), "shift_fraction": 0.1, "orientations": 8}, "scales"),
    ({"scales": (1.0, 1.0), "shift_fraction": 0.1, "orientations": 8}, "scales"),
    ({"scales": (0.0,), "shift_fraction": 0.1, "orientations": 8}, "scales"),
    ({"scales": (1.0,), "shift_fraction": 0.5, "orientations": 8}, "shift_fraction"),
    ({"scales": (1.0,), "shift_fraction": 0.1, "orientations": 9}, "orientations"),
    ({"scales": (1.0,), "shift_fraction": 0.1, "orientations": 0}, "orientations"),
], ids=["empty-scales", "repeated-scale", "zero-scale", "shift-too-large", "orientations-9", "orientations-0"])
def test_bad_view_options_are_refused(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        patch_views(**kwargs)  # type: ignore[arg-type]


def test_the_8_orientations_are_the_distinct_symmetries_of_the_square() -> None:
    p = np.arange(9).reshape(1, 3, 3)
    outs = [orient_patch(p, k) for k in range(PATCH_ORIENTATIONS)]
    assert len({o.tobytes() for o in outs}) == 8
    # k = 1 is a quarter turn counter-clockwise (numpy rot90), k = 4 a left-right mirror
    assert outs[1][0].tolist() == [[2, 5, 8], [1, 4, 7], [0, 3, 6]]
    assert outs[4][0].tolist() == [[2, 1, 0], [5, 4, 3], [8, 7, 6]]


def test_cut_patches_scales_translates_and_pads_with_black() -> None:
    frame = np.zeros((40, 40, 3), np.uint8)
    frame[10:20, 10:20] = 200  # a bright square, exactly the box
    box = np.array([10.0, 10.0, 20.0, 20.0])
    views = patch_views((1.0, 2.0), shift_fraction=0.25, orientations=1)
    p = cut_patches(frame, box, views, size=10)
    assert p.shape == (10, 3, 10, 10) and p.dtype == np.uint8
    assert (p[0] == 200).all()  # scale 1, centre: the square fills the patch
    # scale 2 (20 px around the centre): the square covers the middle half
    assert p[5, 0, 5, 5] == 200 and p[5, 0, 0, 0] == 0
    # scale 1 shifted left by 25%: the left quarter of the patch is outside the square
    assert p[1, 0, 5, 0] == 0 and p[1, 0, 5, 9] == 200
    # a box at the frame's corner: the part outside the frame is black padding
    corner = cut_patches(np.full((10, 10, 3), 255, np.uint8), np.array([-5.0, -5.0, 5.0, 5.0]),
                         patch_views((1.0,), shift_fraction=0.0, orientations=1), size=10)
    assert corner[0, 0, 0, 0] == 0 and corner[0, 0, 9, 9] == 255


def test_cut_patches_orients_each_view() -> None:
    frame = np.zeros((20, 20, 3), np.uint8)
    frame[0:10, 0:5] = 255  # left half of the box's top-left quadrant region
    box = np.array([0.0, 0.0, 10.0, 10.0])
    views = patch_views((1.0,), shift_fraction=0.0, orientations=8)
    p = cut_patches(frame, box, views, size=10)
    for k in range(8):
        np.testing.assert_array_equal(p[k], orient_patch(p[0], k))
