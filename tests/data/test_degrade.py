"""Tests of tunedepth.data.degrade: each degradation measurably does what it says, deterministically.

Measured on a 128 x 128 texture (Gaussian noise smoothed with sigma 1 px, std 40 grey levels around 128): the
Laplacian variance falls 84x under a defocus disc of radius 0.03 (3.8 px) and 11x under a motion blur of length 0.08
(10 px); the mildest drawn blurs (radius 0.01, length 0.03) still lower it 3.5x and 3.9x. The thresholds below sit
about half-way, so a weaker blur fails them.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from tunedepth.data.degrade import DEGRADATION_KINDS, DRAW_RANGES, degrade, draw_degradation, field_of_view
from tunedepth.errors import TunedepthError


@pytest.fixture(scope="module")
def texture() -> np.ndarray:
    noise = ndimage.gaussian_filter(np.random.default_rng(0).normal(size=(128, 128, 3)), (1, 1, 0))
    return np.clip(128 + noise / noise.std() * 40, 0, 255).astype(np.uint8)


def laplacian_variance(frame: np.ndarray) -> float:
    return float(ndimage.laplace(frame.astype(float).mean(axis=2)).var())


def directional_energy(frame: np.ndarray, angle_deg: float) -> float:
    """Mean squared derivative along ``angle_deg`` (counter-clockwise from left-right, as displayed)."""
    dy, dx = np.gradient(frame.astype(float).mean(axis=2))
    t = np.radians(angle_deg)
    return float(np.mean((np.cos(t) * dx - np.sin(t) * dy) ** 2))


def saturated_share(frame: np.ndarray) -> float:
    return float((frame.max(axis=2) == 255).mean())


MOTION = {"length_fraction": 0.08, "angle_deg": 30.0}
OVER = {"gain": 1.5, "n_highlights": 0, "highlight_radius_fraction": 0.02, "seed": 0}
BUBBLES = {"n_bubbles": 10, "min_radius_fraction": 0.03, "max_radius_fraction": 0.08, "seed": 1}


@pytest.mark.parametrize(("kind", "params", "factor"), [
    ("defocus_blur", {"radius_fraction": 0.03}, 40.0),
    ("motion_blur", MOTION, 5.0),
    ("defocus_blur", {"radius_fraction": DRAW_RANGES["defocus_blur"]["radius_fraction"][0]}, 2.0),
    ("motion_blur", {"length_fraction": DRAW_RANGES["motion_blur"]["length_fraction"][0], "angle_deg": 0.0}, 2.0),
], ids=["defocus", "motion", "mildest-defocus", "mildest-motion"])
def test_blur_lowers_the_laplacian_variance(texture, kind, params, factor) -> None:
    assert laplacian_variance(texture) / laplacian_variance(degrade(texture, kind, params)) > factor


def test_a_wider_disc_blurs_more(texture) -> None:
    values = [laplacian_variance(degrade(texture, "defocus_blur", {"radius_fraction": r})) for r in (0.01, 0.02, 0.04)]
    assert values[0] > 2 * values[1] > 4 * values[2]


@pytest.mark.parametrize("angle", [0.0, 30.0, 90.0, 135.0])
def test_motion_blur_blurs_along_its_angle_more_than_across(texture, angle) -> None:
    """Measured: the derivative energy along the blur is 0.18-0.21 of that across it (0.94-1.06 before)."""
    assert 0.8 < directional_energy(texture, angle) / directional_energy(texture, angle + 90) < 1.25
    out = degrade(texture, "motion_blur", {"length_fraction": 0.06, "angle_deg": angle})
    assert directional_energy(out, angle) / directional_energy(out, angle + 90) < 0.35


def test_over_exposure_saturates_pixels(texture) -> None:
    """Gain 1.5 takes every pixel above 170 to 255: from 0.3% to 38% of pixels saturated; highlights add
    saturated discs on their own (gain 1)."""
    assert saturated_share(texture) < 0.01
    assert saturated_share(degrade(texture, "over_exposure", OVER)) > 0.3
    highlights = {"gain": 1.0, "n_highlights": 5, "highlight_radius_fraction": 0.05, "seed": 0}
    out = degrade(texture, "over_exposure", highlights)
    assert saturated_share(out) > saturated_share(texture) + 0.005
    assert np.all(out >= texture)


def test_bubbles_only_brighten_and_draw_bright_rings(texture) -> None:
    out = degrade(texture, "bubbles", BUBBLES).astype(int)
    assert np.all(out >= texture)
    assert ((out - texture) > 20).mean() > 0.05
    # One bubble of radius 20 px on a flat grey 60 frame (seed 1 puts it whole inside the frame, centre ~(47, 31)).
    flat = np.full((100, 100, 3), 60, np.uint8)
    one = degrade(flat, "bubbles", {"n_bubbles": 1, "min_radius_fraction": 0.2, "max_radius_fraction": 0.2,
                                    "seed": 1}).astype(float).mean(axis=2)
    rows, cols = np.nonzero(one > 62)
    centre = rows.mean(), cols.mean()
    assert min(centre) > 25 and max(centre) < 75
    d = np.hypot(*(np.indices(one.shape) - np.array(centre)[:, None, None]))
    # measured: 217 on the rim, 89 (the 15% veil) at the centre, 60 beyond
    assert one[(d > 19) & (d < 21)].mean() > 180
    assert 80 < one[d < 6].mean() < 100
    assert abs(one[d > 27].mean() - 60) < 0.5


@pytest.mark.parametrize("kind", DEGRADATION_KINDS)
def test_degrade_is_deterministic_keeps_the_shape_and_leaves_the_input(texture, kind) -> None:
    params = next(d.params for s in range(100) if (d := draw_degradation(np.random.default_rng(s))).kind == kind)
    frame = texture[:, :100]  # not square
    before = frame.copy()
    a, b = degrade(frame, kind, params), degrade(frame, kind, params)
    assert a.dtype == np.uint8 and a.shape == frame.shape
    assert np.array_equal(a, b) and not np.array_equal(a, frame)
    assert np.array_equal(frame, before)


@pytest.mark.parametrize("kind", DEGRADATION_KINDS)
def test_the_black_border_stays_as_it_is(texture, kind) -> None:
    """An endoscope's black border (here 12 px, grey 10) is drawn by the video processor: no blur, glare or bubble
    changes it, while the field of view inside it changes, with no darkening from the border at its edge."""
    frame = np.full((152, 152, 3), 10, np.uint8)
    frame[12:-12, 12:-12] = texture
    frame[70:80, 70:80] = 0  # a dark lumen: inside the field of view all the same
    inside = np.zeros((152, 152), bool)
    inside[12:-12, 12:-12] = True
    assert np.array_equal(field_of_view(frame), inside)
    strong = {"motion_blur": {"length_fraction": 0.12, "angle_deg": 0.0}, "defocus_blur": {"radius_fraction": 0.04},
              "over_exposure": OVER | {"n_highlights": 40, "highlight_radius_fraction": 0.05},
              "bubbles": BUBBLES | {"n_bubbles": 60}}[kind]
    out = degrade(frame, kind, strong)
    assert np.array_equal(out[~inside], frame[~inside])
    assert not np.array_equal(out[inside], frame[inside])
    if kind.endswith("blur"):  # the content next to the border keeps its brightness
        assert abs(out[12:-12, 12].astype(float).mean() - frame[12:-12, 12:-12].astype(float).mean()) < 15


def test_draws_are_fixed_per_seed_and_cover_every_kind() -> None:
    draws = [draw_degradation(np.random.default_rng(s)) for s in range(200)]
    assert draws == [draw_degradation(np.random.default_rng(s)) for s in range(200)]
    assert len({str(d) for d in draws}) == 200
    assert {d.kind for d in draws} == set(DEGRADATION_KINDS)
    for d in draws:
        for name, (low, high) in DRAW_RANGES[d.kind].items():
            assert low <= d.params[name] <= high, (d, name)


def test_the_blobs_follow_the_seed(texture) -> None:
    a = degrade(texture, "bubbles", BUBBLES)
    assert np.array_equal(a, degrade(texture, "bubbles", dict(BUBBLES)))
    assert not np.array_equal(a, degrade(texture, "bubbles", BUBBLES | {"seed": 2}))


@pytest.mark.parametrize(("frame", "kind", "params", "match"), [
    (np.zeros((8, 8, 3)), "defocus_blur", {"radius_fraction": 0.1}, r"'frame' parameter of degrade .* float64"),
    (np.zeros((8, 8), np.uint8), "defocus_blur", {"radius_fraction": 0.1}, r"shape \(height, width, 3\).*\(8, 8\)"),
    (None, "defocus", {"radius_fraction": 0.1}, r"Unknown degradation 'defocus'.*Did you mean 'defocus_blur'\?"),
    (None, "defocus_blur", {}, r"exactly the keys \['radius_fraction'\]; got \[\] \(missing \['radius_fraction'\]"),
    (None, "defocus_blur", {"radius_fraction": 0.1, "sigma": 1.0}, r"unknown \['sigma'\]"),
    (None, "defocus_blur", {"radius_fraction": -0.1}, r"'radius_fraction' parameter of degrade \(defocus_blur\) must "
                                                       r"be a number in \[0, 0.25\]; got -0.1"),
    (None, "motion_blur", {"length_fraction": 0.1, "angle_deg": float("nan")}, r"'angle_deg' .* got nan"),
    (None, "over_exposure", OVER | {"gain": 0.5}, r"'gain' .* in \[1, 8\]; got 0.5"),
    (None, "over_exposure", OVER | {"n_highlights": 2.5}, r"'n_highlights' .* must be an int"),
    (None, "bubbles", BUBBLES | {"min_radius_fraction": 0.09}, r"'min_radius_fraction' .* <= max_radius_fraction"),
    (None, "bubbles", BUBBLES | {"seed": True}, r"'seed' .* must be an int .* got True"),
], ids=["float-frame", "grey-frame", "unknown-kind", "missing-key", "extra-key", "negative-radius", "nan-angle",
        "gain-below-1", "fractional-count", "min-above-max", "bool-seed"])
def test_bad_input_is_refused_with_one_line(frame, kind, params, match) -> None:
    with pytest.raises(ValueError, match=match) as info:
        degrade(np.zeros((8, 8, 3), np.uint8) if frame is None else frame, kind, params)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, TunedepthError)  # the command line turns it into one line and exit code 2
