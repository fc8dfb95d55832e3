from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from tunedepth.errors import UndefinedMetricWarning
from tunedepth.evaluation import (
    ClosedContour,
    dice_score,
    extract_closed_boundary,
    extract_layered_boundaries,
    extract_layered_boundary,
    layered_boundary_error,
    mean_boundary_error,
)

NAN = float("nan")


def _ridge(height, rows, width_px=1.5):
    """Gaussian ridge of peak 1 centred on rows[x] in each column x, of shape (height, len(rows))."""
    rr = np.arange(height, dtype=float)[:, None]
    return np.exp(-0.5 * ((rr - np.asarray(rows, dtype=float)[None, :]) / width_px) ** 2)


def _sinusoid(width=120):
    x = np.arange(width)
    return 24 + 6 * np.sin(2 * np.pi * x / 60)


def _ring(shape, centre, radius, width_px=1.0):
    """Gaussian ring of peak 1 at ``radius`` from ``centre``, and the true disc (distance <= radius)."""
    rr, cc = np.indices(shape)
    distance = np.hypot(rr - centre[0], cc - centre[1])
    return np.exp(-0.5 * ((distance - radius) / width_px) ** 2), distance <= radius


def _radii(contour, centre):
    return np.hypot(*(contour.points - np.asarray(centre)).T)


# --- extract_layered_boundary --------------------------------------------------------------------------------------


def test_layered_hand_case_gives_exact_argmax_rows():
    conf = np.array(
        [
            [0.1, 0.5, NAN, 0.0, 0.3],
            [0.7, 0.5, NAN, 0.0, NAN],
            [0.2, 0.1, NAN, 0.0, 0.9],
        ]
    )
    # Column 1 ties (0.5, 0.5): the topmost row wins. Column 2 is outside the ROI, column 3 has no evidence.
    np.testing.assert_array_equal(extract_layered_boundary(conf, smoothing=0), [1.0, 0.0, NAN, NAN, 2.0])
    keep = np.array([True, False, True, True, True])
    np.testing.assert_array_equal(extract_layered_boundary(conf, smoothing=0, columns=keep), [1.0, NAN, NAN, NAN, 2.0])


def test_layered_sinusoid_within_half_pixel_and_smoothing_beats_raw_argmax():
    truth = _sinusoid()
    conf = _ridge(48, truth) + 0.3 * np.random.default_rng(0).random((48, truth.size))
    raw = layered_boundary_error(extract_layered_boundary(conf, smoothing=0), truth).value
    smoothed = layered_boundary_error(extract_layered_boundary(conf, smoothing=2), truth).value
    assert smoothed < 0.5
    assert smoothed < 0.75 * raw


def test_layered_smoothing_is_silverman_kernel_with_bandwidth_in_columns():
    # Rows 0 everywhere except a 10-row jump in column 100. Away from the ends the spline with lam = h**4 acts as
    # Silverman's kernel K(u) = exp(-|u|/sqrt 2) sin(|u|/sqrt 2 + pi/4) / 2 at scale h, so the smoothed row there is
    # 10 * K(0) / h = 10 / (2 sqrt(2) h) = 0.70711 for h = 5, and 10 * K(1) / h one bandwidth away.
    conf = np.zeros((20, 201))
    conf[0, :] = 1.0
    conf[0, 100], conf[10, 100] = 0.0, 1.0
    rows = extract_layered_boundary(conf, smoothing=5)
    k1 = 0.5 * math.exp(-1 / math.sqrt(2)) * math.sin(1 / math.sqrt(2) + math.pi / 4)
    assert rows[100] == pytest.approx(10 / (2 * math.sqrt(2) * 5), abs=1e-4)
    assert rows[95] == pytest.approx(10 * k1 / 5, abs=1e-4)
    assert rows[105] == pytest.approx(rows[95], abs=1e-9)


def test_layered_smoothing_keeps_straight_lines():
    conf = np.eye(30)  # the argmax row of column x is x: a line, which the spline's penalty leaves alone
    np.testing.assert_allclose(extract_layered_boundary(conf, smoothing=4), np.arange(30.0), atol=1e-8)


def test_layered_nan_outside_roi():
    truth = _sinusoid()
    conf = _ridge(48, truth) + 0.3 * np.random.default_rng(1).random((48, truth.size))
    conf[:, :10] = np.nan  # columns outside the ROI
    conf[:8, :] = np.nan  # rows above the ROI
    conf[40:, 60:] = 5.0  # bright clutter...
    conf[40:, 60:] = np.nan  # ...that the ROI excludes
    rows = extract_layered_boundary(conf, smoothing=2)
    assert np.isnan(rows[:10]).all() and not np.isnan(rows[10:]).any()
    assert layered_boundary_error(rows, truth).value < 0.5


@pytest.mark.parametrize("fill", [0.0, NAN], ids=["all-zero", "all-nan"])
def test_layered_without_evidence_warns_and_returns_nan(fill):
    with pytest.warns(UndefinedMetricWarning, match="the boundary is undefined, as no column"):
        rows = extract_layered_boundary(np.full((6, 7), fill), smoothing=3)
    assert rows.shape == (7,) and np.isnan(rows).all()


# --- extract_layered_boundaries ------------------------------------------------------------------------------------


def test_layered_pair_searches_lower_boundary_below_upper():
    maps = np.zeros((3, 40, 60))
    maps[1] = _ridge(40, np.full(60, 15.0))
    maps[2] = 0.6 * _ridge(40, np.full(60, 25.0))
    maps[2, 4:7, 20:31] = 1.0  # clutter above the lumen-intima boundary, brighter than the true interface
    alone = extract_layered_boundary(maps[2], smoothing=0)
    assert (alone[20:31] < 15).all()  # on its own, the argmax would cross the upper boundary
    for smoothing in (0, 3):
        upper, lower = extract_layered_boundaries(maps, smoothing=smoothing)
        np.testing.assert_allclose(upper, 15.0, atol=1e-6)
        np.testing.assert_allclose(lower, 25.0, atol=1e-6)


def test_layered_pair_clips_smoothed_lower_boundary_at_upper():
    # Lower interface one row below the upper in columns 25-74 and far below elsewhere: the smoothing spline
    # undershoots at the two steps and, unclipped, would rise above row 20.
    lower_rows = np.where((np.arange(100) >= 25) & (np.arange(100) < 75), 21.0, 60.0)
    maps = np.stack([np.zeros((64, 100)), _ridge(64, np.full(100, 20.0)), _ridge(64, lower_rows)])
    alone = extract_layered_boundary(maps[2], smoothing=5)
    assert alone.min() < 19.8
    upper, lower = extract_layered_boundaries(maps, smoothing=5)
    np.testing.assert_allclose(upper, 20.0, atol=1e-6)
    assert (lower >= upper).all()
    assert (lower == upper).sum() >= 10
    # The raw rows all lie below the upper boundary, so the search changes nothing here; only the clip acts.
    np.testing.assert_allclose(lower, np.where(alone < upper, upper, alone), atol=1e-9)


def test_layered_pair_without_upper_boundary_searches_whole_column():
    maps = np.zeros((3, 5, 4))
    maps[1, 3, 2:] = 1.0  # no lumen-intima evidence in columns 0 and 1
    maps[2, 1, :] = 0.9
    maps[2, 4, :] = 0.2
    upper, lower = extract_layered_boundaries(maps, smoothing=0)
    np.testing.assert_array_equal(upper, [NAN, NAN, 3.0, 3.0])
    np.testing.assert_array_equal(lower, [1.0, 1.0, 4.0, 4.0])


def test_layered_pair_warns_for_the_missing_boundary_only():
    maps = np.zeros((3, 6, 8))
    maps[2, 4, :] = 1.0
    with pytest.warns(UndefinedMetricWarning, match="the lumen-intima boundary is undefined"):
        upper, lower = extract_layered_boundaries(maps, smoothing=1)
    assert np.isnan(upper).all()
    np.testing.assert_allclose(lower, 4.0, atol=1e-6)


# --- extract_closed_boundary and ClosedContour ---------------------------------------------------------------------


@pytest.mark.parametrize("noise", [0.0, 0.2], ids=["clean", "noisy"])
def test_closed_circle_radius_and_filled_disc(noise):
    centre = (24.3, 25.7)
    conf, disc = _ring((50, 50), centre, 10.0)
    conf = conf + noise * np.random.default_rng(1).random(conf.shape)
    contour = extract_closed_boundary(conf, smoothing=2)
    assert contour.points.shape == (360, 2)
    assert np.abs(_radii(contour, centre) - 10.0).mean() < 0.5
    filled = contour.filled(conf.shape)
    assert dice_score(filled, disc) > 0.95
    assert mean_boundary_error(filled, disc).value < 0.5


def test_closed_smoothing_reduces_radius_error_on_noisy_ring():
    centre = (24.3, 25.7)
    conf, _ = _ring((50, 50), centre, 10.0)
    conf = conf + 0.2 * np.random.default_rng(1).random(conf.shape)
    raw = np.abs(_radii(extract_closed_boundary(conf, smoothing=0), centre) - 10).mean()
    smoothed = np.abs(_radii(extract_closed_boundary(conf, smoothing=3), centre) - 10).mean()
    assert smoothed < 0.75 * raw


def test_closed_ellipse():
    # Along any ray from the centre the normalised radius rho is proportional to the distance, so a ridge in rho
    # peaks exactly on the ellipse rho = 1.
    rr, cc = np.indices((48, 56)) - np.array([23.6, 27.2])[:, None, None]
    angle = math.radians(30)
    u, v = cc * math.cos(angle) + rr * math.sin(angle), -cc * math.sin(angle) + rr * math.cos(angle)
    rho = np.hypot(u / 14, v / 8)
    contour = extract_closed_boundary(np.exp(-0.5 * ((rho - 1) / 0.1) ** 2), smoothing=1)
    filled = contour.filled(rho.shape)
    assert dice_score(filled, rho <= 1) > 0.95
    assert mean_boundary_error(filled, rho <= 1).value < 0.5


def _ring_with_distractors(shape=(64, 64), centre=(32.0, 32.0), radius=12.0):
    """A ring of peak 1 at ``radius``, plus four brighter blobs (peak 2) at radius 25 on the rays at 0, 90, 180
    and 270 degrees: bright tissue that a ray-wise maximum jumps to."""
    conf, disc = _ring(shape, centre, radius)
    rr, cc = np.indices(shape)
    for angle in (0, 90, 180, 270):
        r0 = centre[0] + 25 * math.sin(math.radians(angle))
        c0 = centre[1] + 25 * math.cos(math.radians(angle))
        conf = conf + 2 * np.exp(-0.5 * (np.hypot(rr - r0, cc - c0) / 1.5) ** 2)
    return conf, disc


def test_closed_ray_maximum_jumps_to_distractors_and_the_bounded_path_does_not():
    conf, disc = _ring_with_distractors()
    raw = extract_closed_boundary(conf, centre=(32.0, 32.0), n_rays=180, smoothing=0)
    bounded = extract_closed_boundary(conf, centre=(32.0, 32.0), n_rays=180, smoothing=0, max_step_px=1.0)
    assert _radii(raw, (32.0, 32.0)).max() > 23  # the rays through the blobs jump out to radius ~25
    np.testing.assert_allclose(_radii(bounded, (32.0, 32.0)), 12.0, atol=0.26)  # within one radial step
    assert mean_boundary_error(bounded.filled(conf.shape), disc).value < 0.6
    assert dice_score(bounded.filled(conf.shape), disc) > dice_score(raw.filled(conf.shape), disc)


def test_closed_bounded_path_equals_the_ray_maximum_on_a_clean_ring():
    conf, _ = _ring((48, 48), (23.5, 24.0), 10.0)
    raw = extract_closed_boundary(conf, centre=(23.5, 24.0), n_rays=90, smoothing=0)
    bounded = extract_closed_boundary(conf, centre=(23.5, 24.0), n_rays=90, smoothing=0, max_step_px=1.0)
    np.testing.assert_allclose(bounded.points, raw.points)


def test_closed_bounded_path_follows_an_ellipse_and_bridges_rays_without_evidence():
    rr, cc = np.indices((48, 56)) - np.array([23.6, 27.2])[:, None, None]
    rho = np.hypot(cc / 16, rr / 8)
    conf = np.exp(-0.5 * ((rho - 1) / 0.1) ** 2)
    conf[:, 40:] = np.where(np.abs(rr[:, 40:]) < 4, 0.0, conf[:, 40:])  # a gap on the rays to the right
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "rays meet no positive confidence" warning: neighbours bridge them
        contour = extract_closed_boundary(conf, centre=(23.6, 27.2), n_rays=180, smoothing=1, max_step_px=1.0)
    filled = contour.filled(rho.shape)
    assert dice_score(filled, rho <= 1) > 0.95
    assert mean_boundary_error(filled, rho <= 1).value < 0.7


def test_closed_centre_defaults_to_confidence_weighted_centroid():
    centre = (12.5, 40.2)  # far from the image's middle (19.5, 29.5), which lies outside the ring
    conf, disc = _ring((40, 60), centre, 10.0)
    contour = extract_closed_boundary(conf, smoothing=2)
    np.testing.assert_allclose(contour.centre, centre, atol=1e-3)
    assert dice_score(contour.filled(conf.shape), disc) > 0.95


def test_closed_given_centre_off_the_middle():
    centre = (24.3, 25.7)
    conf, disc = _ring((50, 50), centre, 10.0)
    contour = extract_closed_boundary(conf, centre=(28.0, 22.0), smoothing=1)
    assert contour.centre == (28.0, 22.0)
    assert dice_score(contour.filled(conf.shape), disc) > 0.95


def test_closed_nan_outside_roi():
    centre = (24.3, 25.7)
    conf, disc = _ring((50, 50), centre, 10.0)
    reference = extract_closed_boundary(conf, smoothing=2)
    rr, cc = np.indices(conf.shape)
    masked = np.where(np.hypot(rr - 25, cc - 25) <= 17, conf, np.nan)
    np.testing.assert_allclose(extract_closed_boundary(masked, smoothing=2).points, reference.points, atol=1e-3)


def test_closed_rays_outside_roi_are_interpolated_with_a_warning():
    centre = (24.3, 25.7)
    conf, disc = _ring((50, 50), centre, 10.0)
    conf[conf < 1e-3] = 0.0  # a Gaussian's tails are positive everywhere: cut them so that hidden rays see none
    rr, cc = np.indices(conf.shape)
    conf[np.abs(np.arctan2(rr - centre[0], cc - centre[1])) < math.radians(30)] = np.nan  # a 60-degree sector
    with pytest.warns(UserWarning, match=r"\d+ of 360 rays meet no positive confidence"):
        contour = extract_closed_boundary(conf, centre=centre, smoothing=2)
    assert np.abs(_radii(contour, centre) - 10.0).mean() < 0.5
    assert dice_score(contour.filled(conf.shape), disc) > 0.95


def test_closed_hand_case_on_four_rays():
    conf = np.zeros((9, 9))
    conf[4, 7] = conf[6, 4] = conf[4, 0] = conf[3, 4] = 1.0
    contour = extract_closed_boundary(conf, centre=(4, 4), n_rays=4, smoothing=0)
    np.testing.assert_allclose(contour.points, [[4, 7], [6, 4], [4, 0], [3, 4]], atol=1e-9)
    # The kite (4,7)-(6,4)-(4,0)-(3,4), edge pixels included, counted row by row.
    expected = np.zeros((9, 9), bool)
    expected[3, 4] = True
    expected[4, 0:8] = True
    expected[5, 2:6] = True
    expected[6, 4] = True
    np.testing.assert_array_equal(contour.filled((9, 9)), expected)


@pytest.mark.parametrize("fill", [0.0, NAN], ids=["all-zero", "all-nan"])
def test_closed_without_evidence_warns_and_returns_nan_contour(fill):
    _, disc = _ring((20, 20), (10, 10), 5.0)
    with pytest.warns(UndefinedMetricWarning, match="no positive confidence"):
        contour = extract_closed_boundary(np.full((20, 20), fill), n_rays=8, smoothing=1)
    assert contour.points.shape == (8, 2) and np.isnan(contour.points).all()
    assert not contour.filled((20, 20)).any()
    assert dice_score(contour.filled((20, 20)), disc) == 0.0


def test_closed_warns_when_no_ray_meets_the_evidence():
    conf = np.zeros((20, 20))
    conf[0, 19] = 1.0  # a corner that no axis-aligned ray from (10, 10) passes near
    with pytest.warns(UndefinedMetricWarning, match="none of the 4 rays"):
        contour = extract_closed_boundary(conf, centre=(10, 10), n_rays=4, smoothing=0)
    assert np.isnan(contour.points).all() and contour.centre == (10.0, 10.0)


def test_closed_contour_points_are_a_read_only_copy():
    points = np.array([[0.0, 0.0], [0.0, 2.0], [2.0, 0.0]])
    contour = ClosedContour(points, (0.5, 0.5))
    points[0, 0] = 9.0
    assert contour.points[0, 0] == 0.0
    with pytest.raises(ValueError, match="read-only"):
        contour.points[0, 0] = 1.0


# --- parameter errors ----------------------------------------------------------------------------------------------

_MAP = np.ones((6, 8))
_ERRORS = {
    "layered-smoothing-negative": (
        lambda: extract_layered_boundary(_MAP, smoothing=-1.0),
        r"'smoothing' parameter of extract_layered_boundary must be a finite number >= 0; got -1.0",
    ),
    "layered-smoothing-nan": (lambda: extract_layered_boundary(_MAP, smoothing=NAN), r"got nan"),
    "layered-smoothing-bool": (lambda: extract_layered_boundary(_MAP, smoothing=True), r"got True"),
    "layered-map-3d": (
        lambda: extract_layered_boundary(np.ones((2, 6, 8)), smoothing=0),
        r"shape \(height, width\); got shape \(2, 6, 8\)",
    ),
    "layered-map-negative": (
        lambda: extract_layered_boundary(-_MAP, smoothing=0),
        r"non-negative finite confidences.*0 infinite and 48 negative value\(s\)",
    ),
    "layered-map-inf": (
        lambda: extract_layered_boundary(np.full((6, 8), np.inf), smoothing=0),
        r"48 infinite and 0 negative",
    ),
    "layered-columns-shape": (
        lambda: extract_layered_boundary(_MAP, smoothing=0, columns=np.ones(7, bool)),
        r"'columns' parameter .* shape \(width,\) = \(8,\); got dtype bool and shape \(7,\)",
    ),
    "layered-columns-int": (
        lambda: extract_layered_boundary(_MAP, smoothing=0, columns=np.ones(8, int)),
        r"bool mask .* got dtype int64",
    ),
    "layered-too-few-columns": (
        lambda: extract_layered_boundary(np.ones((6, 4)), smoothing=1),
        r"evidence in only 4 column\(s\); the smoothing spline needs at least 5. Pass smoothing=0",
    ),
    "pair-two-classes": (
        lambda: extract_layered_boundaries(np.ones((2, 6, 8)), smoothing=0),
        r"shape \(3, height, width\).*got shape \(2, 6, 8\)",
    ),
    "pair-negative-class-2": (
        lambda: extract_layered_boundaries(np.stack([_MAP, _MAP, -_MAP]), smoothing=0),
        r"'confidence_maps\[2\]' parameter of extract_layered_boundaries must hold non-negative",
    ),
    "closed-n-rays-2": (
        lambda: extract_closed_boundary(_MAP, n_rays=2, smoothing=0),
        r"'n_rays' parameter of extract_closed_boundary must be an int >= 3.*got 2",
    ),
    "closed-n-rays-float": (lambda: extract_closed_boundary(_MAP, n_rays=36.0, smoothing=0), r"int >= 3.*got 36.0"),
    "closed-smoothing-negative": (
        lambda: extract_closed_boundary(_MAP, smoothing=-0.5),
        r"'smoothing' parameter of extract_closed_boundary must be a finite number >= 0",
    ),
    "closed-radial-step-0": (
        lambda: extract_closed_boundary(_MAP, smoothing=0, radial_step=0),
        r"'radial_step' parameter .* in \(0, 1\] pixels.*got 0.0",
    ),
    "closed-radial-step-2": (lambda: extract_closed_boundary(_MAP, smoothing=0, radial_step=2), r"got 2.0"),
    "closed-max-step-below-radial-step": (
        lambda: extract_closed_boundary(_MAP, smoothing=0, max_step_px=0.1),
        r"'max_step_px' parameter of extract_closed_boundary must be at least radial_step \(0.25 px\), or None .* "
        r"got 0.1",
    ),
    "closed-max-step-negative": (
        lambda: extract_closed_boundary(_MAP, smoothing=0, max_step_px=-1.0),
        r"'max_step_px' parameter of extract_closed_boundary must be a finite number >= 0",
    ),
    "closed-centre-outside": (
        lambda: extract_closed_boundary(_MAP, centre=(6.0, 2.0), smoothing=0),
        r"'centre' parameter .* rows in \[0, 5\] and columns in \[0, 7\]; got \(6.0, 2.0\)",
    ),
    "closed-centre-length-3": (
        lambda: extract_closed_boundary(_MAP, centre=(1.0, 2.0, 3.0), smoothing=0),
        r"must be a \(row, col\) inside",
    ),
    "closed-centre-nan": (lambda: extract_closed_boundary(_MAP, centre=(NAN, 2.0), smoothing=0), r"got \(nan, 2.0\)"),
    "contour-points-shape": (
        lambda: ClosedContour(np.zeros((2, 2)), (0.0, 0.0)),
        r"'points' parameter of ClosedContour must have shape \(n_rays, 2\) with n_rays >= 3, .* got shape \(2, 2\)",
    ),
    "contour-filled-1d": (
        lambda: ClosedContour(np.zeros((3, 2)), (0.0, 0.0)).filled((8,)),
        r"'shape' parameter of ClosedContour.filled must be two positive ints .* got \(8,\)",
    ),
    "contour-filled-zero": (lambda: ClosedContour(np.zeros((3, 2)), (0.0, 0.0)).filled((0, 5)), r"got \(0, 5\)"),
    "contour-filled-float": (
        lambda: ClosedContour(np.zeros((3, 2)), (0.0, 0.0)).filled((8.0, 8)),
        r"got \(8.0, 8\)",
    ),
}


@pytest.mark.parametrize(("call", "match"), list(_ERRORS.values()), ids=list(_ERRORS))
def test_parameter_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
