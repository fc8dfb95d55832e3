"""tunedepth.data.volumes: spacing-aware sections, the vessel axis and the tube phantoms (issue 16, part 2).

Stated operating point of the axis tests: tube contrast 1.0 over background 0, Gaussian noise sd 0.25 (SNR 4),
radius 4 mm, Hessian scale sigma 2.5 mm; the angle error must stay under 5 degrees.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tunedepth.data.volumes import (
    MIN_TUBULARITY,
    FillingDefect,
    ball_phantom,
    cross_section,
    estimate_vessel_axis,
    hessian_at,
    longitudinal_section,
    orthogonal_views,
    perpendicular_basis,
    sample_plane,
    tube_phantom,
)

CONTRAST, NOISE_SD, RADIUS_MM, SIGMA_MM = 1.0, 0.25, 4.0, 2.5
MAX_ANGLE_DEG = 5.0


def _angle_deg(a: np.ndarray, b: tuple[float, float, float]) -> float:
    """Angle between two axes (a direction and its opposite are the same axis)."""
    return math.degrees(math.acos(min(1.0, abs(float(np.dot(a, b))))))


def _shape_for(spacing: tuple[float, float, float], extent_mm: float) -> tuple[int, int, int]:
    return tuple(int(round(extent_mm / s)) for s in spacing)  # type: ignore[return-value]


# --- The vessel axis ------------------------------------------------------------------------------------------------

DIRECTIONS = {"x": (0, 0, 1), "z": (1, 0, 0), "yx-diagonal": (0, 1, 1), "oblique": (1, 2, 3),
              "oblique-2": (3, -1, 2)}
SPACINGS = {"isotropic": (1.0, 1.0, 1.0), "thick-slices": (2.0, 0.7, 0.7), "all-different": (1.5, 1.0, 0.6)}


@pytest.mark.parametrize("spacing", SPACINGS.values(), ids=SPACINGS.keys())
@pytest.mark.parametrize("direction", DIRECTIONS.values(), ids=DIRECTIONS.keys())
def test_the_vessel_axis_is_recovered_on_straight_tubes(direction, spacing):
    for seed in (0, 1):
        tube = tube_phantom(_shape_for(spacing, 32.0), spacing=spacing, direction=direction, radius=RADIUS_MM,
                            contrast=CONTRAST, noise_sd=NOISE_SD, seed=seed)
        found = estimate_vessel_axis(tube.volume, spacing, tube.point, sigma=SIGMA_MM)
        assert found.is_tubular and found.tubularity > 0.7
        assert _angle_deg(found.axis, tube.direction) < MAX_ANGLE_DEG
        assert np.linalg.norm(found.axis) == pytest.approx(1.0)


def test_the_axis_is_found_off_the_centre_of_the_tube_and_volume():
    spacing = (2.0, 0.7, 0.7)
    tube = tube_phantom(_shape_for(spacing, 40.0), spacing=spacing, direction=(1, 2, 3), radius=RADIUS_MM,
                        contrast=CONTRAST, noise_sd=NOISE_SD, seed=3, point=(12.0, 25.0, 30.0))
    step = np.asarray(tube.direction) * 6.0 / np.asarray(spacing)  # 6 mm along the axis, then 1.5 mm across it
    across = perpendicular_basis(tube.direction)[0] * 1.5 / np.asarray(spacing)
    found = estimate_vessel_axis(tube.volume, spacing, tuple(np.asarray(tube.point) + step + across), sigma=SIGMA_MM)
    assert found.is_tubular and _angle_deg(found.axis, tube.direction) < MAX_ANGLE_DEG


def test_a_ball_has_no_axis_and_falls_back():
    ball = ball_phantom((32, 32, 32), spacing=(1, 1, 1), radius=RADIUS_MM, contrast=CONTRAST, noise_sd=NOISE_SD,
                        seed=0)
    tube = tube_phantom((32, 32, 32), spacing=(1, 1, 1), direction=(1, 2, 3), radius=RADIUS_MM, contrast=CONTRAST,
                        noise_sd=NOISE_SD, seed=0)
    at_ball = estimate_vessel_axis(ball, (1, 1, 1), (15.5, 15.5, 15.5), sigma=SIGMA_MM)
    at_tube = estimate_vessel_axis(tube.volume, (1, 1, 1), tube.point, sigma=SIGMA_MM)
    assert not at_ball.is_tubular and at_ball.tubularity < 0.3  # theory: 0.117 for a perfect ball
    assert at_tube.is_tubular and at_tube.tubularity > MIN_TUBULARITY
    assert all(value < 0 for value in at_ball.eigenvalues)  # bright and round: curved down every way


def test_empty_and_plate_volumes_fall_back():
    empty = estimate_vessel_axis(np.zeros((16, 16, 16)), (1, 1, 1), (8, 8, 8), sigma=2.0)
    assert (empty.is_tubular, empty.tubularity, empty.strength) == (False, 0.0, 0.0)
    plate = np.zeros((24, 24, 24))
    plate[10:14] = 1.0  # a bright slab normal to z: one strong curvature only
    found = estimate_vessel_axis(plate, (1, 1, 1), (11.5, 12, 12), sigma=2.0)
    assert not found.is_tubular and found.tubularity < 0.05


def test_min_strength_refuses_tube_like_noise_and_keeps_tubes():
    noise = np.random.default_rng(0).normal(0.0, NOISE_SD, (40, 40, 40))
    points = [tuple(p) for p in np.random.default_rng(1).uniform(10, 30, (60, 3))]
    shape_only = [estimate_vessel_axis(noise, (1, 1, 1), p, sigma=SIGMA_MM).is_tubular for p in points]
    assert any(shape_only)  # noise alone can look tubular in shape: why the strength threshold exists
    strict = [estimate_vessel_axis(noise, (1, 1, 1), p, sigma=SIGMA_MM, min_strength=0.1).is_tubular for p in points]
    assert not any(strict)
    tube = tube_phantom((32, 32, 32), spacing=(1, 1, 1), direction=(0, 1, 1), radius=RADIUS_MM, contrast=CONTRAST,
                        noise_sd=NOISE_SD, seed=0)
    assert estimate_vessel_axis(tube.volume, (1, 1, 1), tube.point, sigma=SIGMA_MM, min_strength=0.1).is_tubular


def test_the_hessian_is_in_physical_units_on_anisotropic_voxels():
    spacing = (2.0, 0.5, 1.25)
    a = np.array([[1.0, 0.3, -0.2], [0.3, -2.0, 0.5], [-0.2, 0.5, 0.7]])
    grid = np.stack(np.meshgrid(*[np.arange(n) * s for n, s in zip((20, 60, 30), spacing, strict=True)],
                                indexing="ij"), axis=-1) - np.array([19.0, 15.0, 18.0])
    f = np.einsum("...i,ij,...j->...", grid, a, grid)
    h = hessian_at(f, spacing, (9.5, 30.0, 14.4), sigma=2.0)
    np.testing.assert_allclose(h, 2 * a, rtol=0.01, atol=0.01)  # the sampled kernels are off by < 1%


# --- Sections of a tube ---------------------------------------------------------------------------------------------

SECTION_SPACING = (1.6, 0.8, 0.8)
SECTION_RADIUS_MM, SECTION_STEP_MM, SECTION_SIZE = 5.0, 0.4, 41


@pytest.fixture(scope="module")
def oblique_tube():
    return tube_phantom(_shape_for(SECTION_SPACING, 48.0), spacing=SECTION_SPACING, direction=(1, 2, 3),
                        radius=SECTION_RADIUS_MM, contrast=1.0, noise_sd=0.0, seed=0)


@pytest.mark.parametrize("angle_deg", [0.0, 37.0])
def test_a_cross_section_of_a_straight_tube_is_a_centred_disc(oblique_tube, angle_deg):
    image = cross_section(oblique_tube.volume, oblique_tube.spacing, oblique_tube.point, oblique_tube.direction,
                          size=SECTION_SIZE, step=SECTION_STEP_MM, angle_deg=angle_deg)
    inside = image > 0.5
    area_mm2 = inside.sum() * SECTION_STEP_MM**2
    assert area_mm2 == pytest.approx(math.pi * SECTION_RADIUS_MM**2, rel=0.05)
    rows, cols = np.nonzero(inside)
    centre = (SECTION_SIZE - 1) / 2
    assert abs(rows.mean() - centre) < 0.5 and abs(cols.mean() - centre) < 0.5
    moments = np.linalg.eigvalsh(np.cov(np.stack([rows, cols])))
    assert moments[0] / moments[1] > 0.97  # round, not the ellipse an oblique cut or ignored spacing gives


def test_a_longitudinal_section_of_a_straight_tube_is_a_band_of_constant_width(oblique_tube):
    image = longitudinal_section(oblique_tube.volume, oblique_tube.spacing, oblique_tube.point,
                                 oblique_tube.direction, size=SECTION_SIZE, step=SECTION_STEP_MM, angle_deg=20.0)
    inside = image > 0.5
    widths_mm = inside.sum(axis=1) * SECTION_STEP_MM  # rows run along the axis: each row crosses the band once
    np.testing.assert_allclose(widths_mm, 2 * SECTION_RADIUS_MM, atol=2 * SECTION_STEP_MM)
    centre = (SECTION_SIZE - 1) / 2
    middles = np.array([np.nonzero(row)[0].mean() for row in inside])
    np.testing.assert_allclose(middles, centre, atol=0.5)


# --- Spacing-aware sampling against a hand-made volume ---------------------------------------------------------------

GRADIENT, OFFSET = np.array([0.7, -1.3, 2.1]), 5.0  # f(p) = GRADIENT . p + OFFSET, p in mm (z, y, x)


def _ramp(shape: tuple[int, int, int], spacing: tuple[float, float, float]) -> np.ndarray:
    axes = [np.arange(n) * s for n, s in zip(shape, spacing, strict=True)]
    z, y, x = np.meshgrid(*axes, indexing="ij")
    return GRADIENT[0] * z + GRADIENT[1] * y + GRADIENT[2] * x + OFFSET


def _expected_plane(center_mm: np.ndarray, u: np.ndarray, v: np.ndarray, size: int, step: float) -> np.ndarray:
    offsets = (np.arange(size) - (size - 1) / 2) * step
    points = center_mm + offsets[:, None, None] * u + offsets[None, :, None] * v
    return points @ GRADIENT + OFFSET


@pytest.mark.parametrize("size", [9, 4], ids=["odd-size", "even-size"])  # even: the centre falls between pixels
def test_sampling_a_linear_ramp_is_exact_and_independent_of_the_spacing(size):
    center_mm = np.array([9.0, 9.5, 8.7])
    u, v = perpendicular_basis(np.array([1.0, 2.0, 3.0]) / math.sqrt(14.0))
    expected = _expected_plane(center_mm, u, v, size, 1.1)
    for spacing in [(1.0, 1.0, 1.0), (2.0, 0.5, 1.25)]:
        volume = _ramp(_shape_for(spacing, 19.0), spacing)
        center = tuple(center_mm / np.asarray(spacing))  # the same physical point, other voxel indices
        sampled = sample_plane(volume, spacing, center, u, v, size=size, step=1.1)
        np.testing.assert_allclose(sampled, expected, atol=1e-9)  # trilinear is exact on a linear f


def test_pixels_outside_the_volume_take_the_fill_value():
    spacing = (1.0, 1.0, 1.0)
    volume = _ramp((12, 12, 12), spacing)
    z, y = np.eye(3)[0], np.eye(3)[1]
    image = sample_plane(volume, spacing, (0.0, 6.0, 6.0), z, y, size=5, step=1.0, fill_value=-1000.0)
    np.testing.assert_array_equal(image[:2], -1000.0)  # rows 0, 1 are at z = -2, -1: outside
    np.testing.assert_allclose(image[2:], _expected_plane(np.array([0.0, 6.0, 6.0]), z, y, 5, 1.0)[2:], atol=1e-9)
    assert sample_plane(volume, spacing, (0.0, 6.0, 6.0), z, y, size=5, step=1.0)[0, 0] == 0.0  # default fill


def test_a_slab_is_the_maximum_over_parallel_sections_one_smallest_voxel_apart():
    spacing = (2.0, 0.5, 1.0)  # smallest voxel 0.5 mm: sections 0.5 mm apart along u x v
    volume = np.zeros((9, 21, 9))
    volume[4, 13, 4] = 1.0  # 1.5 mm (3 voxels) off the section through y = 10, normal to y
    z, x = np.eye(3)[0], np.eye(3)[2]  # z x x = -y: the slab extends along y both ways
    args = dict(size=3, step=2.0)
    thin = sample_plane(volume, spacing, (4.0, 10.0, 4.0), z, x, **args)
    assert thin.max() == 0.0
    np.testing.assert_array_equal(sample_plane(volume, spacing, (4.0, 10.0, 4.0), z, x, slab=2.9, **args), thin)
    thick = sample_plane(volume, spacing, (4.0, 10.0, 4.0), z, x, slab=3.0, **args)  # reaches 1.5 mm each way
    assert thick[1, 1] == 1.0 and thick.sum() == 1.0
    np.testing.assert_array_equal(sample_plane(volume, spacing, (4.0, 16.0, 4.0), z, x, slab=3.0, **args), thick)
    ramp = _ramp((10, 20, 20), spacing)  # on a linear ramp the slab's maximum is its far section
    slab = sample_plane(ramp, spacing, (4.0, 9.0, 9.0), z, x, slab=2.0, **args)
    far = sample_plane(ramp, spacing, (4.0, 9.0 + 2.0, 9.0), z, x, **args)
    near = sample_plane(ramp, spacing, (4.0, 9.0 - 2.0, 9.0), z, x, **args)
    np.testing.assert_allclose(slab, np.maximum(far, near), atol=1e-9)


def test_orthogonal_views_are_the_axial_coronal_and_sagittal_planes():
    spacing = (2.0, 1.0, 0.5)
    volume = _ramp((10, 20, 40), spacing)
    center = (4.0, 9.0, 21.0)
    views = orthogonal_views(volume, spacing, center, size=5, step=1.0)
    center_mm = np.asarray(center) * np.asarray(spacing)
    e = np.eye(3)
    for view, (u, v) in zip(views, [(e[1], e[2]), (e[0], e[2]), (e[0], e[1])], strict=True):
        np.testing.assert_allclose(view, _expected_plane(center_mm, u, v, 5, 1.0), atol=1e-9)


def test_the_perpendicular_basis_is_right_handed_and_orthonormal():
    axis = np.array([3.0, -1.0, 2.0]) / math.sqrt(14.0)
    e1, e2 = perpendicular_basis(axis)
    np.testing.assert_allclose(np.stack([e1, e2, axis]) @ np.stack([e1, e2, axis]).T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(np.cross(e1, e2), axis, atol=1e-12)


# --- Phantoms -------------------------------------------------------------------------------------------------------

def test_phantoms_are_seeded_and_deterministic():
    args = dict(spacing=(1.0, 1.0, 1.0), direction=(0, 1, 1), radius=3.0, contrast=1.0, noise_sd=0.3)
    first = tube_phantom((12, 12, 12), seed=4, **args).volume
    np.testing.assert_array_equal(first, tube_phantom((12, 12, 12), seed=4, **args).volume)
    assert not np.array_equal(first, tube_phantom((12, 12, 12), seed=5, **args).volume)


def test_a_filling_defect_darkens_the_lumen_only_where_it_is():
    defect = FillingDefect(center=(10.0, 13.0, 6.0), radius=2.5, contrast=0.2)  # 3 mm off the axis, near the wall
    tube = tube_phantom((21, 21, 21), spacing=(1, 1, 1), direction=(0, 0, 1), radius=4.0, contrast=1.0,
                        noise_sd=0.0, seed=0, defects=(defect,))
    assert tube.volume[10, 13, 6] == pytest.approx(0.2)  # the defect's centre
    assert tube.volume[10, 13, 16] == pytest.approx(1.0)  # the lumen 10 voxels further along
    assert tube.volume[10, 15, 6] == 0.0  # in the ball but 5 mm off the axis, out of the tube: background
    assert tube.defects == (defect,)


# --- Bad input ------------------------------------------------------------------------------------------------------

VOLUME = np.zeros((8, 9, 10))
X, Y = (0.0, 0.0, 1.0), (0.0, 1.0, 0.0)
BAD_SAMPLES = {
    "centre-outside": (dict(center=(4.0, 4.0, 12.5)), r"'center' .*shape \(8, 9, 10\).*\(4, 4, 12\.5\)"),
    "centre-negative": (dict(center=(-0.5, 4.0, 4.0)), r"'center' .*shape \(8, 9, 10\).*\(-0\.5, 4, 4\)"),
    "u-not-unit": (dict(u=(0.0, 0.0, 2.0)), r"'u' .*unit vector.*norm 2"),
    "v-not-unit": (dict(v=(0.0, 0.6, 0.6)), r"'v' .*unit vector.*norm 0\.848"),
    "not-orthogonal": (dict(v=(0.0, math.sqrt(0.5), math.sqrt(0.5))), r"'u' and 'v' .*orthogonal.*0\.707"),
    "zero-spacing": (dict(spacing=(1.0, 0.0, 1.0)), r"'spacing' .*> 0.*\(1, 0, 1\)"),
    "two-spacings": (dict(spacing=(1.0, 1.0)), r"'spacing' .*\(sz, sy, sx\)"),
    "volume-2d": (dict(volume=np.zeros((4, 4))), r"'volume' .*\(Z, Y, X\).*\(4, 4\)"),
    "size-zero": (dict(size=0), r"'size' .*>= 1; got 0"),
    "step-zero": (dict(step=0.0), r"'step' .*> 0; got 0\.0"),
    "slab-negative": (dict(slab=-1.0), r"'slab' .*>= 0.*got -1\.0"),
    "slab-nan": (dict(slab=float("nan")), r"'slab' .*>= 0.*got nan"),
}


def test_a_centre_on_the_last_voxel_is_inside_and_just_beyond_it_is_not():
    args = dict(spacing=(1.0, 1.0, 1.0), u=X, v=Y, size=1, step=1.0)
    ramp = np.arange(8 * 9 * 10, dtype=float).reshape(8, 9, 10)
    assert sample_plane(ramp, center=(7.0, 8.0, 9.0), **args)[0, 0] == 719.0
    with pytest.raises(ValueError, match=r"'center' .*\(7\.01, 8, 9\)"):
        sample_plane(ramp, center=(7.01, 8.0, 9.0), **args)


@pytest.mark.parametrize(("change", "message"), BAD_SAMPLES.values(), ids=BAD_SAMPLES.keys())
def test_bad_input_to_sample_plane_raises_naming_the_parameter(change, message):
    args = dict(volume=VOLUME, spacing=(1.0, 1.0, 1.0), center=(4.0, 4.0, 4.0), u=X, v=Y, size=5, step=1.0) | change
    with pytest.raises(ValueError, match=message) as error:
        sample_plane(**args)
    assert "sample_plane" in str(error.value) and "\n" not in str(error.value)


BAD_OTHERS = {
    "cross-axis-not-unit": (lambda: cross_section(VOLUME, (1, 1, 1), (4, 4, 4), (1, 1, 0), size=3, step=1.0),
                            r"'axis' parameter of cross_section .*norm 1\.41"),
    "longitudinal-outside": (lambda: longitudinal_section(VOLUME, (1, 1, 1), (9, 4, 4), X, size=3, step=1.0),
                             r"'center' .*sample_plane.*shape \(8, 9, 10\).*\(9, 4, 4\)"),
    "axis-centre-outside": (lambda: estimate_vessel_axis(VOLUME, (1, 1, 1), (4, 40, 4), sigma=1.0),
                            r"'center' parameter of hessian_at .*shape \(8, 9, 10\).*\(4, 40, 4\)"),
    "axis-sigma-zero": (lambda: estimate_vessel_axis(VOLUME, (1, 1, 1), (4, 4, 4), sigma=0.0), r"'sigma' .*> 0"),
    "axis-zero-spacing": (lambda: estimate_vessel_axis(VOLUME, (0, 1, 1), (4, 4, 4), sigma=1.0), r"'spacing' .*> 0"),
    "axis-threshold": (lambda: estimate_vessel_axis(VOLUME, (1, 1, 1), (4, 4, 4), sigma=1.0, min_tubularity=2),
                       r"'min_tubularity' .*\[0, 1\]; got 2"),
    "defect-outside-tube": (lambda: tube_phantom((9, 9, 9), spacing=(1, 1, 1), direction=X, radius=2.0, contrast=1.0,
                                                 noise_sd=0.0, seed=0,
                                                 defects=(FillingDefect((4.0, 8.0, 4.0), 1.0, 0.0),)),
                            r"'defects\[0\]\.center' .*inside the tube .*within 2.*4 away"),
    "phantom-zero-direction": (lambda: tube_phantom((9, 9, 9), spacing=(1, 1, 1), direction=(0, 0, 0), radius=2.0,
                                                    contrast=1.0, noise_sd=0.0, seed=0), r"'direction' .*non-zero"),
}


@pytest.mark.parametrize(("call", "message"), BAD_OTHERS.values(), ids=BAD_OTHERS.keys())
def test_bad_input_to_the_other_functions_raises_naming_the_parameter(call, message):
    with pytest.raises(ValueError, match=message):
        call()
