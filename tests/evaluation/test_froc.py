"""Tests of tunedepth.evaluation.froc: a hand-computed toy case, a brute-force reference and invariances."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tunedepth.errors import UndefinedMetricWarning
from tunedepth.evaluation import (
    frame_level_scores,
    froc_curve,
    sensitivity_at_fps,
    sensitivity_at_fps_ci,
)
from tunedepth.evaluation.froc import _as_frame_inputs, _bootstrap_sensitivities


def _toy() -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Four 6x6 frames with hand-placed polyps and candidates.

    Frame A: polyp 1 at rows 0-1, cols 0-1 and polyp 2 at rows 0-1, cols 2-3 (they touch at x = 2).
        Candidates: (2.0, 1.0) .8 lies on the border, floor(x) = 2 -> polyp 2; (0.5, 0.5) .6 and (1.5, 1.5) .9
        both hit polyp 1 (it counts once, at its best score .9); (5.5, 5.5) .7 is a false positive.
    Frame B: no polyp; (3, 3) .9 and (1, 1) .5 are false positives.
    Frame C: polyp 5 at rows 3-5, cols 3-5; (4, 4) .6 hits it (ties with A's .6).
    Frame D: polyp 1 at pixel (0, 0), no candidate: never detected.

    Polyps and their best scores: A1 .9, A2 .8, C5 .6, D1 none -> 4 polyps. False positives: .9, .7, .5. 4 frames.
    threshold:  inf   .9   .8   .7   .6   .5
    FPs:          0    1    1    2    2    3   -> fps_per_frame 0, .25, .25, .5, .5, .75
    detected:     0    1    2    2    3    3   -> sensitivity   0, .25, .5, .5, .75, .75
    """
    a = np.zeros((6, 6), int)
    a[0:2, 0:2] = 1
    a[0:2, 2:4] = 2
    b = np.zeros((6, 6), int)
    c = np.zeros((6, 6), int)
    c[3:6, 3:6] = 5
    d = np.zeros((6, 6), int)
    d[0, 0] = 1
    centres = [np.array([(2.0, 1.0), (0.5, 0.5), (1.5, 1.5), (5.5, 5.5)]), np.array([(3.0, 3.0), (1.0, 1.0)]),
               np.array([(4.0, 4.0)]), np.zeros((0, 2))]
    scores = [np.array([.8, .6, .9, .7]), np.array([.9, .5]), np.array([.6]), np.zeros(0)]
    return centres, scores, [a, b, c, d]


def test_toy_curve_matches_hand_computation():
    curve = froc_curve(*_toy())
    assert curve.thresholds.tolist() == [np.inf, .9, .8, .7, .6, .5]
    assert curve.fps_per_frame.tolist() == [0, .25, .25, .5, .5, .75]
    assert curve.sensitivity.tolist() == [0, .25, .5, .5, .75, .75]


def test_toy_sensitivity_at_fps_matches_hand_computation():
    # 4 frames: 0.2 FP/frame allows floor(0.8) = 0 FPs -> only threshold inf; 0.25 allows 1 -> threshold .8;
    # 0.5 allows 2 -> threshold .6; 1.0 allows 4 -> threshold .5.
    got = sensitivity_at_fps(*_toy(), fps_targets=(0.0, 0.2, 0.25, 0.5, 1.0))
    assert got.tolist() == [0.0, 0.0, 0.5, 0.75, 0.75]


def test_border_candidate_hits_exactly_one_polyp():
    # Only the border candidate of frame A: x = 2.0 is the first column of polyp 2, so polyp 2 is detected and
    # polyp 1 is not; it is no false positive.
    centres, _, labels = _toy()
    curve = froc_curve([np.array([(2.0, 1.0)])], [np.array([.8])], [labels[0]])
    assert curve.sensitivity.tolist() == [0.0, 0.5]
    assert curve.fps_per_frame.tolist() == [0.0, 0.0]
    curve_left = froc_curve([np.array([(1.999, 1.0)])], [np.array([.8])], [labels[0]])
    assert curve_left.sensitivity.tolist() == [0.0, 0.5]  # polyp 1 this time; still one of two


def test_several_hits_on_one_polyp_count_once():
    lab = np.zeros((4, 4), int)
    lab[:2, :2] = 1
    lab[2:, 2:] = 2
    curve = froc_curve([np.array([(0.5, 0.5), (1.5, 1.5), (1.0, 0.0)])], [np.array([.3, .2, .1])], [lab])
    assert curve.sensitivity.tolist() == [0.0, 0.5, 0.5, 0.5]
    assert curve.fps_per_frame.tolist() == [0.0, 0.0, 0.0, 0.0]


def test_tied_scores_enter_together():
    # One polyp hit at .5 and a false positive at .5: with 0 FPs allowed the tie group is excluded as a whole.
    lab = np.zeros((2, 4), int)
    lab[:, :2] = 1
    args = ([np.array([(0.5, 0.5), (3.5, 0.5)])], [np.array([.5, .5])], [lab])
    curve = froc_curve(*args)
    assert curve.thresholds.tolist() == [np.inf, .5]
    assert curve.fps_per_frame.tolist() == [0.0, 1.0]
    assert sensitivity_at_fps(*args, fps_targets=(0.5, 1.0)).tolist() == [0.0, 1.0]


def test_no_candidates_gives_the_single_point_at_infinity():
    lab = np.zeros((3, 3), int)
    lab[1, 1] = 1
    curve = froc_curve([np.zeros((0, 2))] * 2, [np.zeros(0)] * 2, [lab, lab])
    assert curve.thresholds.tolist() == [np.inf]
    assert curve.fps_per_frame.tolist() == [0.0]
    assert curve.sensitivity.tolist() == [0.0]
    assert sensitivity_at_fps([[]] * 2, [[]] * 2, [lab, lab]).tolist() == [0.0, 0.0, 0.0]


def test_no_polyps_warns_and_returns_nan():
    lab = np.zeros((3, 3), int)
    args = ([np.array([(1.0, 1.0)])], [np.array([.4])], [lab])
    with pytest.warns(UndefinedMetricWarning, match="none of the 1 frames contains a polyp"):
        curve = froc_curve(*args)
    assert np.isnan(curve.sensitivity).all()
    assert curve.fps_per_frame.tolist() == [0.0, 1.0]
    with pytest.warns(UndefinedMetricWarning, match="undefined"):
        assert np.isnan(sensitivity_at_fps(*args)).all()
    with pytest.warns(UndefinedMetricWarning, match="undefined"):
        result = sensitivity_at_fps_ci(*args, n_boot=10)
    assert all(math.isnan(r.sensitivity) and math.isnan(r.low) for r in result)


def test_frames_without_polyps_count_in_the_denominator():
    centres, scores, labels = _toy()
    empty = np.zeros((6, 6), int)
    curve = froc_curve(centres + [np.zeros((0, 2))] * 4, scores + [np.zeros(0)] * 4, labels + [empty] * 4)
    assert curve.fps_per_frame.tolist() == [0, .125, .125, .25, .25, .375]  # 8 frames instead of 4
    assert curve.sensitivity.tolist() == [0, .25, .5, .5, .75, .75]


def _brute_force(centres, scores, labels):
    """Count directly at every threshold: loop frames, candidates and polyps."""
    all_scores = sorted({float(s) for frame in scores for s in frame}, reverse=True)
    fps, sens = [], []
    n_polyps = sum(len(set(np.unique(lab).tolist()) - {0}) for lab in labels)
    for t in [math.inf, *all_scores]:
        fp = 0
        detected = set()
        for f, (cen, sc, lab) in enumerate(zip(centres, scores, labels, strict=True)):
            for (x, y), s in zip(cen, sc, strict=True):
                if s < t:
                    continue
                value = int(lab[math.floor(y), math.floor(x)])
                if value == 0:
                    fp += 1
                else:
                    detected.add((f, value))
        fps.append(fp / len(labels))
        sens.append(len(detected) / n_polyps)
    return np.array(fps), np.array(sens), np.array([math.inf, *all_scores])


def _random_frames(seed: int, n_frames: int = 12):
    rng = np.random.default_rng(seed)
    centres, scores, labels = [], [], []
    for _ in range(n_frames):
        h, w = rng.integers(5, 12, size=2)
        lab = np.zeros((h, w), int)
        for value in range(1, int(rng.integers(0, 4)) + 1):
            r, c = rng.integers(0, h - 2), rng.integers(0, w - 2)
            lab[r : r + rng.integers(1, 4), c : c + rng.integers(1, 4)] = value
        k = int(rng.integers(0, 6))
        centres.append(np.c_[rng.uniform(0, w - 1e-6, k), rng.uniform(0, h - 1e-6, k)])
        scores.append(np.round(rng.random(k), 1))  # rounding makes ties
        labels.append(lab)
    if not any((lab != 0).any() for lab in labels):
        labels[0][0, 0] = 1
    return centres, scores, labels


@pytest.mark.parametrize("seed", range(6))
def test_curve_equals_brute_force(seed):
    args = _random_frames(seed)
    curve = froc_curve(*args)
    fps, sens, thresholds = _brute_force(*args)
    np.testing.assert_array_equal(curve.thresholds, thresholds)
    np.testing.assert_allclose(curve.fps_per_frame, fps)
    np.testing.assert_allclose(curve.sensitivity, sens)


@pytest.mark.parametrize("seed", range(6))
def test_sensitivity_at_fps_equals_brute_force_step_rule(seed):
    args = _random_frames(seed)
    fps, sens, _ = _brute_force(*args)
    targets = (0.0, 0.05, 0.1, 0.25, 0.5, 1.0, 3.0)
    expected = [max(s for f, s in zip(fps, sens, strict=True) if f <= t + 1e-12) for t in targets]
    np.testing.assert_allclose(sensitivity_at_fps(*args, fps_targets=targets), expected)


def test_invariant_to_frame_order_and_monotone_rescaling():
    centres, scores, labels = _random_frames(7, n_frames=20)
    base = froc_curve(centres, scores, labels)
    perm = np.random.default_rng(0).permutation(20)
    shuffled = froc_curve([centres[i] for i in perm], [scores[i] for i in perm], [labels[i] for i in perm])
    np.testing.assert_array_equal(shuffled.fps_per_frame, base.fps_per_frame)
    np.testing.assert_array_equal(shuffled.sensitivity, base.sensitivity)
    rescaled = froc_curve(centres, [np.exp(3 * s) - 5 for s in scores], labels)
    np.testing.assert_array_equal(rescaled.fps_per_frame, base.fps_per_frame)
    np.testing.assert_array_equal(rescaled.sensitivity, base.sensitivity)
    np.testing.assert_allclose(rescaled.thresholds[1:], np.exp(3 * base.thresholds[1:]) - 5)
    targets = (0.05, 0.2, 1.0)
    np.testing.assert_array_equal(
        sensitivity_at_fps(centres, [np.exp(3 * s) - 5 for s in scores], labels, fps_targets=targets),
        sensitivity_at_fps(centres, scores, labels, fps_targets=targets),
    )


@pytest.mark.parametrize("seed", range(4))
def test_bootstrap_kernel_equals_sensitivity_on_replicated_frames(seed):
    # A resample with weight w on a frame is the data set with that frame repeated w times.
    args = _random_frames(seed, n_frames=8)
    hits = _as_frame_inputs(*args, "test")
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(8, np.full(8, 1 / 8), size=5).astype(float)
    targets = np.array([0.0, 0.125, 0.25, 0.5, 1.0])
    got = _bootstrap_sensitivities(hits, np.floor(targets * 8 + 1e-9), weights)
    for row, w in zip(got, weights, strict=True):
        picked = [i for i in range(8) for _ in range(int(w[i]))]
        rep = [[a[i] for i in picked] for a in args]
        if not any((lab != 0).any() for lab in rep[2]):
            assert np.isnan(row).all()
            continue
        np.testing.assert_allclose(row, sensitivity_at_fps(*rep, fps_targets=tuple(targets)))


def test_ci_estimate_matches_point_and_is_seeded():
    centres, scores, labels = _random_frames(3, n_frames=30)
    targets = (0.5, 1.0, 2.0)
    first = sensitivity_at_fps_ci(centres, scores, labels, fps_targets=targets, n_boot=300, seed=4)
    again = sensitivity_at_fps_ci(centres, scores, labels, fps_targets=targets, n_boot=300, seed=4)
    other = sensitivity_at_fps_ci(centres, scores, labels, fps_targets=targets, n_boot=300, seed=5)
    point = sensitivity_at_fps(centres, scores, labels, fps_targets=targets)
    assert [r.sensitivity for r in first] == point.tolist()
    assert first == again
    assert [(r.low, r.high) for r in first] != [(r.low, r.high) for r in other]
    assert all(r.low <= r.sensitivity <= r.high and r.low < r.high for r in first)


def test_ci_with_one_frame_warns_and_keeps_the_estimate():
    lab = np.zeros((2, 2), int)
    lab[0, 0] = 1
    with pytest.warns(UndefinedMetricWarning, match="at least 2 frames"):
        (r,) = sensitivity_at_fps_ci([[(0.5, 0.5)]], [[.3]], [lab], fps_targets=(0.0,), n_boot=10)
    assert r.sensitivity == 1.0 and math.isnan(r.low) and math.isnan(r.high)


def test_ci_leaves_out_resamples_without_polyps_with_a_warning():
    # 1 frame with a polyp among 6: about (5/6)^6 = 33% of resamples miss it.
    lab = np.zeros((2, 2), int)
    lab[0, 0] = 1
    empty = np.zeros((2, 2), int)
    with pytest.warns(UndefinedMetricWarning, match=r"of 200 bootstrap resamples contain no polyp"):
        (r,) = sensitivity_at_fps_ci([[(0.5, 0.5)]] + [[]] * 5, [[.3]] + [[]] * 5, [lab] + [empty] * 5,
                                     fps_targets=(0.0,), n_boot=200)
    assert (r.sensitivity, r.low, r.high) == (1.0, 1.0, 1.0)


def test_frame_level_scores():
    yes = np.zeros((3, 3), int)
    yes[1, 1] = 2
    no = np.zeros((3, 3), int)
    r = frame_level_scores([[.2, .9], [], [.4, .1], []], [yes, yes, no, no])
    assert r.labels.tolist() == [1, 1, 0, 0]
    assert r.scores.tolist() == [.9, -0.9, .4, -0.9]  # empty frames: lowest score .1 minus 1
    assert frame_level_scores([[], []], [yes, no]).scores.tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"centres": [[(0.5, 0.5)]], "scores": [[.1]], "label_images": []}, "one entry per frame"),
        ({"centres": [], "scores": [], "label_images": []}, "at least one frame"),
        ({"centres": [[(0.5, 0.5)]], "scores": [[.1, .2]], "label_images": [np.zeros((2, 2), int)]},
         r"centres \(1, 2\) and scores \(2,\)"),
        ({"centres": [[(2.0, 0.5)]], "scores": [[.1]], "label_images": [np.zeros((2, 2), int)]},
         r"outside its 2x2 label image"),
        ({"centres": [[(0.5, 0.5)]], "scores": [[np.nan]], "label_images": [np.zeros((2, 2), int)]},
         "NaN or infinite"),
        ({"centres": [[(0.5, 0.5)]], "scores": [[.1]], "label_images": [np.zeros((2, 2))]},
         "2-D integer label images"),
    ],
    ids=["length-mismatch", "no-frames", "shape-mismatch", "centre-outside", "nan-score", "float-labels"],
)
def test_bad_input_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        froc_curve(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fps_targets": (-0.1,)}, "fps_targets"),
        ({"fps_targets": ()}, "fps_targets"),
        ({"confidence": 1.0}, "confidence"),
        ({"n_boot": 0}, "n_boot"),
        ({"seed": -1}, "seed"),
    ],
    ids=["negative-target", "no-target", "confidence", "n_boot", "seed"],
)
def test_bad_options_raise(kwargs, match):
    lab = np.zeros((2, 2), int)
    with pytest.raises(ValueError, match=match):
        sensitivity_at_fps_ci([[(0.5, 0.5)]], [[.1]], [lab], **kwargs)
