from __future__ import annotations

import math

import numpy as np
import pytest

from tunedepth.errors import UndefinedMetricWarning
from tunedepth.evaluation import (
    BoundaryDistance,
    dice_score,
    hausdorff95_boundary_error,
    iou_score,
    layered_boundary_error,
    mean_boundary_error,
)

BOUNDARY_FUNCS = [mean_boundary_error, hausdorff95_boundary_error]
BOUNDARY_IDS = ["mean", "hd95"]
MASK_FUNCS = [mean_boundary_error, hausdorff95_boundary_error, dice_score, iou_score]
MASK_IDS = ["mean", "hd95", "dice", "iou"]


def _square(shape, rows, cols):
    mask = np.zeros(shape, bool)
    mask[rows[0] : rows[1] + 1, cols[0] : cols[1] + 1] = True
    return mask


def _blob(rng, shape=(20, 24)):
    """Union of 1-3 random disks and rectangles, some touching the image edge."""
    mask = np.zeros(shape, bool)
    rr, cc = np.indices(shape)
    for _ in range(rng.integers(1, 4)):
        r, c = rng.integers(0, shape[0]), rng.integers(0, shape[1])
        if rng.random() < 0.5:
            mask |= (rr - r) ** 2 + (cc - c) ** 2 <= rng.integers(2, 7) ** 2
        else:
            mask[r : r + rng.integers(1, 8), c : c + rng.integers(1, 8)] = True
    return mask


def _brute_force_distances(pred, ref, spacing):
    """Boundary = mask pixels with a 4-neighbour outside the mask or the image; all pairwise distances."""

    def edge_points(mask):
        padded = np.pad(mask, 1)
        inside = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
        return np.argwhere(mask & ~inside).astype(float) * spacing

    a, b = edge_points(pred), edge_points(ref)
    pairwise = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    return np.concatenate([pairwise.min(axis=1), pairwise.min(axis=0)])


# --- BoundaryDistance ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("distance", "text"),
    [(BoundaryDistance(12.5, "um"), "12.5 µm"), (BoundaryDistance(3.2, "px"), "3.2 px"),
     (BoundaryDistance(math.sqrt(2), "px"), "1.414 px"), (BoundaryDistance(float("nan"), "um"), "nan µm")],
    ids=["um", "px", "four-significant-digits", "nan"],
)
def test_boundary_distance_writes_the_unit_with_the_number(distance, text):
    assert str(distance) == text


def test_boundary_distance_rejects_an_unknown_unit():
    with pytest.raises(ValueError, match=r"'unit' parameter of BoundaryDistance must be 'um' or 'px'; got 'mm'"):
        BoundaryDistance(1.0, "mm")  # type: ignore[arg-type]


# --- closed boundaries: hand-computed cases ------------------------------------------------------------------------


def test_concentric_squares():
    # outer: rows/cols 2..9 (8x8), boundary = its ring, 28 px; inner: rows/cols 3..8 (6x6), ring of 20 px.
    # inner ring -> outer ring: every pixel has an outer-ring pixel straight above/below/beside it: 20 x 1.
    # outer ring -> inner ring: 24 edge pixels at 1; the 4 corners (2,2) etc. are diagonal to (3,3): 4 x sqrt(2).
    # ASD = (20 + 24 + 4 sqrt 2) / 48. HD95: pooled sorted = 44 ones then 4 x sqrt 2; position 0.95 * 47 = 44.65
    # lies between items 44 and 45, both sqrt 2.
    outer = _square((12, 12), (2, 9), (2, 9))
    inner = _square((12, 12), (3, 8), (3, 8))
    assert mean_boundary_error(inner, outer) == BoundaryDistance(pytest.approx((44 + 4 * math.sqrt(2)) / 48), "px")
    assert hausdorff95_boundary_error(inner, outer).value == pytest.approx(math.sqrt(2))


def test_square_shifted_by_two_columns():
    # A: rows 5..14, cols 5..14; B: the same shifted to cols 7..16. Each ring has 36 px. A -> B:
    #   left column col 5 (10 px): B's left column is 2 away                       -> 10 x 2
    #   top row cols 6..14 (9 px): col 6 is 1 from (5,7); cols 7..14 lie on B's top row -> 1 x 1, 8 x 0
    #   bottom row: the same                                                       -> 1 x 1, 8 x 0
    #   right column col 14 rows 6..13 (8 px): min(row - 5, 14 - row, 2) = 1,2,2,2,2,2,2,1 -> 6 x 2, 2 x 1
    # sum 36 over 36 px; B -> A is the mirror image. ASD = 72 / 72 = 1 px.
    # Pooled: 32 zeros, 8 ones, 32 twos; HD95 position 0.95 * 71 = 67.45 falls in the twos -> 2 px.
    a = _square((20, 24), (5, 14), (5, 14))
    b = _square((20, 24), (5, 14), (7, 16))
    assert mean_boundary_error(a, b) == BoundaryDistance(1.0, "px")
    assert hausdorff95_boundary_error(a, b) == BoundaryDistance(2.0, "px")


def test_one_far_pixel_moves_the_mean_but_not_hausdorff95():
    # ref: rows/cols 5..14 (ring of 36 px); pred: the same plus the isolated pixel (25, 25), its own boundary.
    # Distances: 36 + 36 zeros, and (25,25) -> corner (14,14) = 11 sqrt 2. ASD = 11 sqrt 2 / 73.
    # HD95 position 0.95 * 72 = 68.4 falls in the zeros -> 0; the plain Hausdorff distance would be 11 sqrt 2.
    ref = _square((30, 30), (5, 14), (5, 14))
    pred = ref.copy()
    pred[25, 25] = True
    assert mean_boundary_error(pred, ref).value == pytest.approx(11 * math.sqrt(2) / 73)
    assert hausdorff95_boundary_error(pred, ref).value == 0.0


def test_the_image_edge_closes_a_region_that_touches_it():
    # pred fills the whole 4x4 image: its boundary is the outer ring (12 px), not empty. ref: the 2x2 centre, all
    # 4 px on its boundary. ref -> ring: 4 x 1. ring -> ref: 8 edge px at 1, 4 corners at sqrt 2.
    # ASD = (12 + 4 sqrt 2) / 16; HD95 position 0.95 * 15 = 14.25 falls in the sqrt 2 values.
    pred = np.ones((4, 4), bool)
    ref = _square((4, 4), (1, 2), (1, 2))
    assert mean_boundary_error(pred, ref).value == pytest.approx((12 + 4 * math.sqrt(2)) / 16)
    assert hausdorff95_boundary_error(pred, ref).value == pytest.approx(math.sqrt(2))


@pytest.mark.parametrize("func", BOUNDARY_FUNCS, ids=BOUNDARY_IDS)
def test_identical_regions_are_zero_apart(func):
    mask = _blob(np.random.default_rng(3))
    assert func(mask, mask) == BoundaryDistance(0.0, "px")
    assert func(mask, mask, pixel_spacing_um=60.0) == BoundaryDistance(0.0, "um")


@pytest.mark.parametrize("func", BOUNDARY_FUNCS, ids=BOUNDARY_IDS)
def test_accepts_zero_one_integer_masks(func):
    a = _square((20, 24), (5, 14), (5, 14))
    b = _square((20, 24), (5, 14), (7, 16))
    assert func(a.astype(np.uint8), b.astype(float)) == func(a, b)


# --- closed boundaries: brute force and invariances ----------------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
def test_boundary_errors_match_brute_force_pairwise_distances(seed):
    rng = np.random.default_rng(seed)
    pred, ref = _blob(rng), _blob(rng)
    spacing = float(rng.uniform(0.5, 80.0))
    expected = _brute_force_distances(pred, ref, spacing)
    mean = mean_boundary_error(pred, ref, pixel_spacing_um=spacing)
    hd95 = hausdorff95_boundary_error(pred, ref, pixel_spacing_um=spacing)
    assert mean == BoundaryDistance(pytest.approx(expected.mean(), rel=1e-12), "um")
    assert hd95 == BoundaryDistance(pytest.approx(np.percentile(expected, 95), rel=1e-12), "um")


@pytest.mark.parametrize("func", BOUNDARY_FUNCS, ids=BOUNDARY_IDS)
@pytest.mark.parametrize("seed", range(4))
def test_micrometres_are_pixels_times_spacing(func, seed):
    rng = np.random.default_rng(seed)
    pred, ref = _blob(rng), _blob(rng)
    px = func(pred, ref)
    um = func(pred, ref, pixel_spacing_um=62.5)
    assert (px.unit, um.unit) == ("px", "um")
    assert um.value == pytest.approx(px.value * 62.5, rel=1e-12)
    assert px.value > 0


@pytest.mark.parametrize("func", BOUNDARY_FUNCS, ids=BOUNDARY_IDS)
@pytest.mark.parametrize("seed", range(4))
def test_boundary_errors_are_symmetric(func, seed):
    rng = np.random.default_rng(seed)
    pred, ref = _blob(rng), _blob(rng)
    assert func(pred, ref) == func(ref, pred)


@pytest.mark.parametrize("func", BOUNDARY_FUNCS, ids=BOUNDARY_IDS)
@pytest.mark.parametrize(
    "move",
    [lambda m: np.pad(m, ((3, 0), (0, 5))), lambda m: m.T, lambda m: m[::-1], lambda m: m[:, ::-1]],
    ids=["translate", "transpose", "flip-rows", "flip-columns"],
)
def test_moving_both_masks_together_keeps_the_distance(func, move):
    rng = np.random.default_rng(11)
    pred, ref = _blob(rng), _blob(rng)
    assert func(move(pred), move(ref)).value == pytest.approx(func(pred, ref).value, rel=1e-12)


# --- layered open boundaries ---------------------------------------------------------------------------------------


def test_layered_hand_case():
    # shared columns 0, 1, 4 (column 2 lacks the prediction, 3 the reference): |10 - 11| + |12 - 12| + |7.5 - 5|
    # = 3.5 over 3 columns. Times 60 µm per pixel: 70 µm.
    pred_y = [10.0, 12.0, np.nan, 15.0, 7.5]
    ref_y = [11.0, 12.0, 13.0, np.nan, 5.0]
    assert layered_boundary_error(pred_y, ref_y) == BoundaryDistance(pytest.approx(3.5 / 3), "px")
    assert layered_boundary_error(pred_y, ref_y, pixel_spacing_um=60.0) == BoundaryDistance(pytest.approx(70.0), "um")


@pytest.mark.parametrize("seed", range(4))
def test_layered_matches_a_column_loop_and_is_symmetric_and_shift_invariant(seed):
    rng = np.random.default_rng(seed)
    pred_y, ref_y = rng.uniform(0, 100, 40), rng.uniform(0, 100, 40)
    pred_y[rng.random(40) < 0.3] = np.nan
    ref_y[rng.random(40) < 0.3] = np.nan
    diffs = [abs(p - r) for p, r in zip(pred_y, ref_y, strict=True) if not (math.isnan(p) or math.isnan(r))]
    expected = sum(diffs) / len(diffs) * 50.0
    got = layered_boundary_error(pred_y, ref_y, pixel_spacing_um=50.0)
    assert got == BoundaryDistance(pytest.approx(expected, rel=1e-12), "um")
    assert layered_boundary_error(ref_y, pred_y, pixel_spacing_um=50.0).value == pytest.approx(got.value, rel=1e-12)
    # moving both boundaries down by 7 rows, or reordering the columns together, changes nothing
    assert layered_boundary_error(pred_y + 7, ref_y + 7, pixel_spacing_um=50.0).value == pytest.approx(got.value)
    order = rng.permutation(40)
    assert layered_boundary_error(pred_y[order], ref_y[order], pixel_spacing_um=50.0).value == pytest.approx(got.value)


# --- Dice and IoU --------------------------------------------------------------------------------------------------


def test_dice_and_iou_of_two_overlapping_rectangles():
    # pred: rows 0..3, cols 0..4 -> 20 px; ref: rows 2..5, cols 2..7 -> 24 px; overlap rows 2..3, cols 2..4 -> 6 px.
    # Dice = 2 * 6 / (20 + 24) = 3/11; IoU = 6 / (20 + 24 - 6) = 3/19.
    pred = _square((8, 10), (0, 3), (0, 4))
    ref = _square((8, 10), (2, 5), (2, 7))
    assert dice_score(pred, ref) == pytest.approx(3 / 11, abs=1e-15)
    assert iou_score(pred, ref) == pytest.approx(3 / 19, abs=1e-15)


@pytest.mark.parametrize(
    ("pred", "ref", "expected"),
    [(np.eye(4, dtype=bool), np.eye(4, dtype=bool), 1.0), (np.eye(4, dtype=bool), ~np.eye(4, dtype=bool), 0.0),
     (np.eye(4, dtype=bool), np.zeros((4, 4), bool), 0.0), (np.zeros((4, 4), bool), np.eye(4, dtype=bool), 0.0)],
    ids=["identical", "disjoint", "empty-ref", "empty-pred"],
)
@pytest.mark.parametrize("func", [dice_score, iou_score], ids=["dice", "iou"])
def test_overlap_bounds(func, pred, ref, expected):
    assert func(pred, ref) == expected


@pytest.mark.parametrize("seed", range(6))
def test_dice_and_iou_match_pixel_counting_and_each_other(seed):
    rng = np.random.default_rng(seed)
    pred, ref = _blob(rng), _blob(rng)
    both = sum(1 for p, r in zip(pred.ravel().tolist(), ref.ravel().tolist(), strict=True) if p and r)
    either = sum(1 for p, r in zip(pred.ravel().tolist(), ref.ravel().tolist(), strict=True) if p or r)
    dice = dice_score(pred, ref)
    assert dice == pytest.approx(2 * both / (pred.sum() + ref.sum()), abs=1e-15)
    assert iou_score(pred, ref) == pytest.approx(both / either, abs=1e-15)
    assert iou_score(pred, ref) == pytest.approx(dice / (2 - dice), abs=1e-12)
    assert dice_score(ref, pred) == dice
    assert dice_score(pred.T[::-1], ref.T[::-1]) == dice


# --- undefined cases -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("func", BOUNDARY_FUNCS, ids=BOUNDARY_IDS)
@pytest.mark.parametrize(
    ("pred_empty", "ref_empty", "message"),
    [(True, False, r"'pred_mask' is empty"), (False, True, r"'ref_mask' is empty"),
     (True, True, r"'pred_mask' and 'ref_mask' are empty")],
    ids=["pred-empty", "ref-empty", "both-empty"],
)
def test_boundary_error_of_an_empty_region_warns_and_is_nan(func, pred_empty, ref_empty, message):
    square = _square((8, 8), (2, 5), (2, 5))
    pred = np.zeros_like(square) if pred_empty else square
    ref = np.zeros_like(square) if ref_empty else square
    with pytest.warns(UndefinedMetricWarning, match=rf"{func.__name__} is undefined when a region is empty: {message}"):
        got = func(pred, ref, pixel_spacing_um=60.0)
    assert math.isnan(got.value) and got.unit == "um"


@pytest.mark.parametrize("func", [dice_score, iou_score], ids=["dice", "iou"])
def test_overlap_of_two_empty_masks_warns_and_is_nan(func):
    empty = np.zeros((4, 4), bool)
    with pytest.warns(UndefinedMetricWarning, match=rf"{func.__name__} is undefined when both 'pred_mask' and"):
        assert math.isnan(func(empty, empty))


def test_layered_without_a_shared_column_warns_and_is_nan():
    with pytest.warns(UndefinedMetricWarning, match=r"'pred_y' has 1 and 'ref_y' 2 of 3 columns, none shared"):
        got = layered_boundary_error([1.0, np.nan, np.nan], [np.nan, 2.0, 3.0])
    assert math.isnan(got.value) and got.unit == "px"


# --- bad input -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("func", MASK_FUNCS, ids=MASK_IDS)
@pytest.mark.parametrize(
    ("pred", "ref", "message"),
    [
        (np.ones((4, 4)), np.ones((4, 5)), r"must have the same shape; got \(4, 4\) and \(4, 5\)"),
        (np.ones((1, 4, 4)), np.ones((4, 4)), r"'pred_mask' parameter of \w+ must be a 2-D mask .* \(1, 4, 4\)"),
        (np.ones((4, 4)), np.ones(4), r"'ref_mask' parameter of \w+ must be a 2-D mask .* got shape \(4,\)"),
        (np.full((4, 4), 255), np.ones((4, 4)), r"'pred_mask' parameter of \w+ must be a binary mask .* got \[255\]"),
        (np.ones((4, 4)), np.full((4, 4), 0.5), r"'ref_mask' .* must be a binary mask .* got \[0.5\]. Threshold"),
        (np.full((4, 4), "a"), np.ones((4, 4)), r"'pred_mask' .* must be a binary mask .* got <U1"),
    ],
    ids=["shapes-differ", "3-d", "1-d", "0-255", "probabilities", "strings"],
)
def test_bad_masks_raise(func, pred, ref, message):
    with pytest.raises(ValueError, match=message):
        func(pred, ref)


@pytest.mark.parametrize("func", [*BOUNDARY_FUNCS, layered_boundary_error], ids=[*BOUNDARY_IDS, "layered"])
@pytest.mark.parametrize(
    "spacing",
    [0.0, -60.0, float("nan"), float("inf"), True, "60"],
    ids=["zero", "negative", "nan", "inf", "bool", "str"],
)
def test_bad_pixel_spacing_raises_naming_the_parameter(func, spacing):
    data = ([1.0, 2.0], [1.0, 2.0]) if func is layered_boundary_error else (np.eye(3), np.eye(3))
    with pytest.raises(
        ValueError, match=rf"'pixel_spacing_um' parameter of {func.__name__} must be a positive finite number"
    ):
        func(*data, pixel_spacing_um=spacing)


@pytest.mark.parametrize(
    ("pred_y", "ref_y", "message"),
    [
        ([1.0, 2.0], [1.0, 2.0, 3.0], r"must have the same shape \(n_columns,\); got \(2,\) and \(3,\)"),
        ([[1.0, 2.0]], [[1.0, 2.0]], r"'pred_y' parameter of layered_boundary_error must have shape \(n_columns,\)"),
        ([1.0, 2.0], [np.inf, 2.0], r"'ref_y' parameter of layered_boundary_error must hold finite rows.* 1 infinite"),
    ],
    ids=["shapes-differ", "2-d", "infinite"],
)
def test_bad_layered_boundaries_raise(pred_y, ref_y, message):
    with pytest.raises(ValueError, match=message):
        layered_boundary_error(pred_y, ref_y)
