"""Tests of tunedepth.evaluation.froc: a hand-computed toy case, a brute-force reference and invariances."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tunedepth.errors import UndefinedMetricWarning
from tunedepth.evaluation import (
    candidate_hits_from_table,
    frame_level_scores,
    froc_curve,
    match_candidates,
    paired_sensitivity_difference,
    sensitivity_at_fps,
    sensitivity_at_fps_ci,
)
from tunedepth.evaluation.froc_bootstrap import _bootstrap_sensitivities


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
    curve = froc_curve(match_candidates(*_toy()))
    assert curve.thresholds.tolist() == [np.inf, .9, .8, .7, .6, .5]
    assert curve.fps_per_frame.tolist() == [0, .25, .25, .5, .5, .75]
    assert curve.sensitivity.tolist() == [0, .25, .5, .5, .75, .75]


def test_toy_sensitivity_at_fps_matches_hand_computation():
    # 4 frames: 0.2 FP/frame allows floor(0.8) = 0 FPs -> only threshold inf; 0.25 allows 1 -> threshold .8;
    # 0.5 allows 2 -> threshold .6; 1.0 allows 4 -> threshold .5.
    got = sensitivity_at_fps(match_candidates(*_toy()), fps_targets=(0.0, 0.2, 0.25, 0.5, 1.0))
    assert got.tolist() == [0.0, 0.0, 0.5, 0.75, 0.75]


def test_tied_scores_enter_together():
    # One polyp hit at .5 and a false positive at .5: with 0 FPs allowed the tie group is excluded as a whole.
    lab = np.zeros((2, 4), int)
    lab[:, :2] = 1
    hits = match_candidates([np.array([(0.5, 0.5), (3.5, 0.5)])], [np.array([.5, .5])], [lab])
    curve = froc_curve(hits)
    assert curve.thresholds.tolist() == [np.inf, .5]
    assert curve.fps_per_frame.tolist() == [0.0, 1.0]
    assert sensitivity_at_fps(hits, fps_targets=(0.5, 1.0)).tolist() == [0.0, 1.0]


def test_no_candidates_gives_the_single_point_at_infinity():
    lab = np.zeros((3, 3), int)
    lab[1, 1] = 1
    curve = froc_curve(match_candidates([np.zeros((0, 2))] * 2, [np.zeros(0)] * 2, [lab, lab]))
    assert curve.thresholds.tolist() == [np.inf]
    assert curve.fps_per_frame.tolist() == [0.0]
    assert curve.sensitivity.tolist() == [0.0]
    assert sensitivity_at_fps(match_candidates([[]] * 2, [[]] * 2, [lab, lab])).tolist() == [0.0, 0.0, 0.0]


def test_no_polyps_warns_and_returns_nan():
    lab = np.zeros((3, 3), int)
    hits = match_candidates([np.array([(1.0, 1.0)])], [np.array([.4])], [lab])
    with pytest.warns(UndefinedMetricWarning, match="none of the 1 frames contains a polyp"):
        curve = froc_curve(hits)
    assert np.isnan(curve.sensitivity).all()
    assert curve.fps_per_frame.tolist() == [0.0, 1.0]
    with pytest.warns(UndefinedMetricWarning, match="undefined"):
        assert np.isnan(sensitivity_at_fps(hits)).all()
    with pytest.warns(UndefinedMetricWarning, match="undefined"):
        result = sensitivity_at_fps_ci(hits, n_boot=10)
    assert all(math.isnan(r.sensitivity) and math.isnan(r.low) for r in result)


def test_frames_without_polyps_count_in_the_denominator():
    centres, scores, labels = _toy()
    empty = np.zeros((6, 6), int)
    hits = match_candidates(centres + [np.zeros((0, 2))] * 4, scores + [np.zeros(0)] * 4, labels + [empty] * 4)
    curve = froc_curve(hits)
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
    curve = froc_curve(match_candidates(*args))
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
    np.testing.assert_allclose(sensitivity_at_fps(match_candidates(*args), fps_targets=targets), expected)


def test_invariant_to_frame_order_and_monotone_rescaling():
    centres, scores, labels = _random_frames(7, n_frames=20)
    base = froc_curve(match_candidates(centres, scores, labels))
    perm = np.random.default_rng(0).permutation(20)
    shuffled = froc_curve(
        match_candidates([centres[i] for i in perm], [scores[i] for i in perm], [labels[i] for i in perm])
    )
    np.testing.assert_array_equal(shuffled.fps_per_frame, base.fps_per_frame)
    np.testing.assert_array_equal(shuffled.sensitivity, base.sensitivity)
    rescaled = froc_curve(match_candidates(centres, [np.exp(3 * s) - 5 for s in scores], labels))
    np.testing.assert_array_equal(rescaled.fps_per_frame, base.fps_per_frame)
    np.testing.assert_array_equal(rescaled.sensitivity, base.sensitivity)
    np.testing.assert_allclose(rescaled.thresholds[1:], np.exp(3 * base.thresholds[1:]) - 5)
    targets = (0.05, 0.2, 1.0)
    np.testing.assert_array_equal(
        sensitivity_at_fps(match_candidates(centres, [np.exp(3 * s) - 5 for s in scores], labels), fps_targets=targets),
        sensitivity_at_fps(match_candidates(centres, scores, labels), fps_targets=targets),
    )


@pytest.mark.parametrize("seed", range(4))
def test_bootstrap_kernel_equals_sensitivity_on_replicated_frames(seed):
    # A resample with weight w on a frame is the data set with that frame repeated w times.
    args = _random_frames(seed, n_frames=8)
    hits = match_candidates(*args)
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
        np.testing.assert_allclose(row, sensitivity_at_fps(match_candidates(*rep), fps_targets=tuple(targets)))


def test_ci_estimate_matches_point_and_is_seeded():
    centres, scores, labels = _random_frames(3, n_frames=30)
    targets = (0.5, 1.0, 2.0)
    hits = match_candidates(centres, scores, labels)
    first = sensitivity_at_fps_ci(hits, fps_targets=targets, n_boot=300, seed=4)
    again = sensitivity_at_fps_ci(hits, fps_targets=targets, n_boot=300, seed=4)
    other = sensitivity_at_fps_ci(hits, fps_targets=targets, n_boot=300, seed=5)
    point = sensitivity_at_fps(hits, fps_targets=targets)
    assert [r.sensitivity for r in first] == point.tolist()
    assert first == again
    assert [(r.low, r.high) for r in first] != [(r.low, r.high) for r in other]
    assert all(r.low <= r.sensitivity <= r.high and r.low < r.high for r in first)


def test_ci_with_one_frame_warns_and_keeps_the_estimate():
    lab = np.zeros((2, 2), int)
    lab[0, 0] = 1
    with pytest.warns(UndefinedMetricWarning, match="at least 2 frames"):
        (r,) = sensitivity_at_fps_ci(match_candidates([[(0.5, 0.5)]], [[.3]], [lab]), fps_targets=(0.0,), n_boot=10)
    assert r.sensitivity == 1.0 and math.isnan(r.low) and math.isnan(r.high)


def test_ci_leaves_out_resamples_without_polyps_with_a_warning():
    # 1 frame with a polyp among 6: about (5/6)^6 = 33% of resamples miss it.
    lab = np.zeros((2, 2), int)
    lab[0, 0] = 1
    empty = np.zeros((2, 2), int)
    with pytest.warns(UndefinedMetricWarning, match=r"of 200 bootstrap resamples contain no polyp"):
        hits = match_candidates([[(0.5, 0.5)]] + [[]] * 5, [[.3]] + [[]] * 5, [lab] + [empty] * 5)
        (r,) = sensitivity_at_fps_ci(hits, fps_targets=(0.0,), n_boot=200)
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
        sensitivity_at_fps_ci(match_candidates([[(0.5, 0.5)]], [[.1]], [lab]), **kwargs)


@pytest.mark.parametrize("func", [froc_curve, sensitivity_at_fps, sensitivity_at_fps_ci])
def test_label_images_instead_of_hits_raise_type_error(func):
    lab = np.zeros((2, 2), int)
    with pytest.raises(TypeError, match=rf"'hits' parameter of {func.__name__} must be a CandidateHits.*got tuple"):
        func(([[(0.5, 0.5)]], [[.1]], [lab]))


def _random_table(seed: int, n_frames: int, counts: np.ndarray | None = None):
    """Random candidate table on frames with 0-2 polyps each; pass counts to reuse another table's frames."""
    rng = np.random.default_rng(seed)
    if counts is None:
        counts = rng.integers(0, 3, size=n_frames)
    frame, polyp, scores = [], [], []
    for f in range(n_frames):
        k = int(rng.integers(0, 5))
        frame += [f] * k
        polyp += rng.integers(0, counts[f] + 1, size=k).tolist()
        scores += np.round(rng.random(k), 1).tolist()  # rounding makes ties
    return candidate_hits_from_table(frame, polyp, scores, counts)


def _two_detectors(seed: int = 0, n_frames: int = 30):
    a = _random_table(seed, n_frames)
    b = _random_table(seed + 100, n_frames, counts=np.bincount(a.polyp_frames, minlength=n_frames))
    return a, b


def test_paired_identical_detectors_give_zero_difference_and_p_one():
    a, _ = _two_detectors()
    result = paired_sensitivity_difference(a, a, fps_targets=(0.1, 0.5, 2.0), n_boot=200)
    assert [(r.difference, r.low, r.high, r.p_value) for r in result] == [(0.0, 0.0, 0.0, 1.0)] * 3
    assert [r.fps_per_frame_target for r in result] == [0.1, 0.5, 2.0]


def test_paired_swap_negates_difference_and_interval_and_keeps_p():
    a, b = _two_detectors(seed=1)
    targets = (0.2, 0.5, 1.0, 2.0)
    ab = paired_sensitivity_difference(a, b, fps_targets=targets, n_boot=300, seed=3)
    ba = paired_sensitivity_difference(b, a, fps_targets=targets, n_boot=300, seed=3)
    assert any(r.difference != 0 for r in ab)  # otherwise the negation would be vacuous
    for x, y in zip(ab, ba, strict=True):
        assert (y.difference, y.p_value) == (-x.difference, x.p_value)
        assert (y.low, y.high) == pytest.approx((-x.high, -x.low), abs=1e-12)  # quantile interpolation rounding


def test_paired_clearly_better_detector_has_small_p_and_the_point_difference():
    # 40 frames with one polyp and one background candidate each. Detector a scores every polyp .9 and every
    # background candidate .2. Detector b does the same in frames 20-39 but swaps to polyp .1, background .8 in
    # frames 0-19. At 0.1 FP/frame (4 FPs) both accept .9 only: a 40/40, b 20/40. At 0.5 FP/frame (20 FPs) a still
    # accepts .9 only (.2 would add 40 FPs), b accepts .8 (20 FPs) and detects 20/40. Difference 0.5 at both. In a
    # resample with m draws from frames 0-19 (m <= 20 or not), b detects the 40 - m others and a all 40, so every
    # resampled difference m / 40 is > 0 unless m = 0 (probability 2^-40): p = 0 and the interval excludes 0.
    n = 40
    frame, polyp, counts = np.repeat(np.arange(n), 2), np.tile([1, 0], n), np.ones(n, int)
    sc_a = np.tile([.9, .2], n)
    sc_b = np.r_[np.tile([.1, .8], 20), np.tile([.9, .2], 20)]
    a = candidate_hits_from_table(frame, polyp, sc_a, counts)
    b = candidate_hits_from_table(frame, polyp, sc_b, counts)
    targets = (0.1, 0.5)
    result = paired_sensitivity_difference(a, b, fps_targets=targets, n_boot=500, seed=1)
    expected = sensitivity_at_fps(a, fps_targets=targets) - sensitivity_at_fps(b, fps_targets=targets)
    assert expected.tolist() == [0.5, 0.5]
    assert [r.difference for r in result] == expected.tolist()
    assert all(r.p_value < 0.05 and 0 < r.low <= r.difference <= r.high for r in result)
    # Both sides of the boundary: detector c differs from a in frame 0 only (polyp .1, background .8). At 0.1
    # FP/frame it detects 39/40; a resampled difference is 0 whenever frame 0 is not drawn, about
    # (39/40)^40 = 36% of resamples, so p is about 0.73.
    c = candidate_hits_from_table(frame, polyp, np.r_[[.1, .8], sc_a[2:]], counts)
    (close,) = paired_sensitivity_difference(a, c, fps_targets=(0.1,), n_boot=500, seed=1)
    assert close.difference == pytest.approx(1 / 40, abs=1e-15) and close.p_value > 0.05


def test_paired_equals_brute_force_bootstrap_on_replicated_frames():
    # Redraw the resamples (one chunk of rng.integers(0, n, (n_boot, n)) for n_boot <= 128), build each resample
    # as a data set with the drawn frames repeated, and take sensitivity_at_fps of both detectors on it.
    n, n_boot, seed = 12, 60, 7
    a, b = _two_detectors(seed=2, n_frames=n)
    targets = (0.25, 1.0)
    got = paired_sensitivity_difference(a, b, fps_targets=targets, n_boot=n_boot, seed=seed, confidence=0.8)
    draws = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    diffs = []
    for row in draws:
        rep = [_replicate(h, row) for h in (a, b)]
        if rep[0].polyp_scores.size:
            sens_a, sens_b = (sensitivity_at_fps(h, fps_targets=targets) for h in rep)
            diffs.append(sens_a - sens_b)
    d = np.array(diffs)
    assert d.shape == (n_boot, 2)  # this seed draws a polyp in every resample
    np.testing.assert_allclose([r.low for r in got], np.quantile(d, 0.1, axis=0))
    np.testing.assert_allclose([r.high for r in got], np.quantile(d, 0.9, axis=0))
    p = np.minimum(1, 2 * (1 + np.minimum((d <= 0).sum(axis=0), (d >= 0).sum(axis=0))) / (n_boot + 1))
    np.testing.assert_allclose([r.p_value for r in got], p)
    assert not np.all(p == 1) and not np.all(p == 0)


def _replicate(hits, picked):
    """The data set made of frames ``picked`` (with repeats), as a table."""
    frame, polyp, scores = [], [], []
    counts = np.bincount(hits.polyp_frames, minlength=hits.n_frames)
    for new, f in enumerate(picked):
        for s in hits.fp_scores[hits.fp_frames == f]:
            frame.append(new), polyp.append(0), scores.append(s)
        for k, s in enumerate(hits.polyp_scores[hits.polyp_frames == f], start=1):
            if np.isfinite(s):
                frame.append(new), polyp.append(k), scores.append(s)
    return candidate_hits_from_table(frame, polyp, scores, counts[picked])


def test_paired_is_seeded():
    a, b = _two_detectors(seed=4)
    first = paired_sensitivity_difference(a, b, fps_targets=(0.5, 1.0), n_boot=200, seed=9)
    again = paired_sensitivity_difference(a, b, fps_targets=(0.5, 1.0), n_boot=200, seed=9)
    other = paired_sensitivity_difference(a, b, fps_targets=(0.5, 1.0), n_boot=200, seed=10)
    assert first == again
    assert [(r.low, r.high, r.p_value) for r in first] != [(r.low, r.high, r.p_value) for r in other]


@pytest.mark.parametrize(
    ("b_counts", "match"),
    [
        ([1, 1, 1], r"'hits_a' and 'hits_b' need the same n_frames and polyp_frames; got 2 and 3 frames"),
        ([0, 2], r"'hits_a' and 'hits_b' need the same .*got 2 and 2 frames with 2 and 2 polyps"),
    ],
    ids=["different-n_frames", "different-polyp_frames"],
)
def test_paired_mismatched_frames_raise(b_counts, match):
    a = candidate_hits_from_table([0], [1], [.5], [1, 1])
    b = candidate_hits_from_table([], [], [], b_counts)
    with pytest.raises(ValueError, match=match):
        paired_sensitivity_difference(a, b)


def test_paired_undefined_cases_warn_and_return_nan():
    empty = candidate_hits_from_table([0], [0], [.5], [0, 0])
    with pytest.warns(UndefinedMetricWarning, match="none of the 2 frames contains a polyp"):
        (r,) = paired_sensitivity_difference(empty, empty, fps_targets=(1.0,), n_boot=10)
    assert all(math.isnan(v) for v in (r.difference, r.low, r.high, r.p_value))
    one = candidate_hits_from_table([0], [1], [.5], [1])
    with pytest.warns(UndefinedMetricWarning, match="at least 2 frames"):
        (r,) = paired_sensitivity_difference(one, one, fps_targets=(1.0,), n_boot=10)
    assert r.difference == 0.0 and all(math.isnan(v) for v in (r.low, r.high, r.p_value))
    # 1 frame with a polyp among 6: about a third of the resamples have none and are left out
    few = candidate_hits_from_table([0], [1], [.5], [1, 0, 0, 0, 0, 0])
    with pytest.warns(UndefinedMetricWarning, match=r"of 200 bootstrap resamples contain no polyp"):
        (r,) = paired_sensitivity_difference(few, few, fps_targets=(1.0,), n_boot=200)
    assert (r.difference, r.low, r.high, r.p_value) == (0.0, 0.0, 0.0, 1.0)
