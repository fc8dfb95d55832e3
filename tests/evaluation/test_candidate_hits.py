"""Tests of tunedepth.evaluation.candidate_hits: the hit rule, the table constructor and their agreement."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tunedepth.evaluation import (
    candidate_hits_from_table,
    froc_curve,
    match_candidates,
    sensitivity_at_fps,
)


def _two_polyp_frame() -> np.ndarray:
    """6x6 frame: polyp 1 at rows 0-1, cols 0-1 and polyp 2 at rows 0-1, cols 2-3 (they touch at x = 2)."""
    lab = np.zeros((6, 6), int)
    lab[0:2, 0:2] = 1
    lab[0:2, 2:4] = 2
    return lab


def test_border_candidate_hits_exactly_one_polyp():
    # x = 2.0 is the first column of polyp 2, so polyp 2 is hit and polyp 1 is not; it is no false positive.
    hits = match_candidates([np.array([(2.0, 1.0)])], [np.array([.8])], [_two_polyp_frame()])
    assert hits.polyp_scores.tolist() == [-math.inf, .8]
    assert hits.fp_scores.tolist() == []
    curve = froc_curve(hits)
    assert curve.sensitivity.tolist() == [0.0, 0.5]
    assert curve.fps_per_frame.tolist() == [0.0, 0.0]
    left = match_candidates([np.array([(1.999, 1.0)])], [np.array([.8])], [_two_polyp_frame()])
    assert left.polyp_scores.tolist() == [.8, -math.inf]  # polyp 1 this time


def test_several_hits_on_one_polyp_count_once():
    lab = np.zeros((4, 4), int)
    lab[:2, :2] = 1
    lab[2:, 2:] = 2
    hits = match_candidates([np.array([(0.5, 0.5), (1.5, 1.5), (1.0, 0.0)])], [np.array([.3, .2, .1])], [lab])
    assert hits.polyp_scores.tolist() == [.3, -math.inf]  # best of the three hits; polyp 2 missed
    assert hits.all_scores.tolist() == [.3, .2, .1]
    curve = froc_curve(hits)
    assert curve.sensitivity.tolist() == [0.0, 0.5, 0.5, 0.5]
    assert curve.fps_per_frame.tolist() == [0.0, 0.0, 0.0, 0.0]


def _hand_made() -> tuple[tuple[list, list, list], tuple[list, list, list, list]]:
    """Six frames as masks plus candidate centres, and the same candidates as a table.

    F0: polyps 1 and 2 (:func:`_two_polyp_frame`); two hits on polyp 1 (.9, .6), one on polyp 2 (.8), background .7.
    F1: no polyp; background .9 and .5.
    F2: one polyp, label value 5 (it is polyp k = 1 of the frame); one hit .6.
    F3: one polyp and no candidate: missed by the candidate generator.
    F4: polyps with labels 3 and 7; polyp 7 (k = 2) hit at .3, polyp 3 missed.
    F5: no polyp, no candidate.
    """
    f2 = np.zeros((4, 4), int)
    f2[2:, 2:] = 5
    f3 = np.zeros((4, 4), int)
    f3[0, 0] = 1
    f4 = np.zeros((4, 4), int)
    f4[0, :] = 3
    f4[3, :] = 7
    labels = [_two_polyp_frame(), np.zeros((6, 6), int), f2, f3, f4, np.zeros((3, 3), int)]
    centres = [[(1.5, 1.5), (0.5, 0.5), (3.0, 1.0), (5.5, 5.5)], [(3.0, 3.0), (1.0, 1.0)], [(3.0, 3.0)], [],
               [(2.0, 3.5)], []]
    scores = [[.9, .6, .8, .7], [.9, .5], [.6], [], [.3], []]
    table = ([0, 0, 0, 0, 1, 1, 2, 4], [1, 1, 2, 0, 0, 0, 1, 2], [.9, .6, .8, .7, .9, .5, .6, .3], [2, 0, 1, 1, 2, 0])
    return (centres, scores, labels), table


def test_table_equals_masks_on_hand_made_frames():
    masks, table = _hand_made()
    from_masks = match_candidates(*masks)
    from_table = candidate_hits_from_table(*table)
    # Polyps and best scores: F0 .9 and .8, F2 .6, F3 -inf, F4 -inf and .3 -> 6 polyps; FPs .7, .9, .5; 6 frames.
    # threshold:  inf   .9   .8   .7   .6   .5   .3
    # FPs:          0    1    1    2    2    3    3
    # detected:     0    1    2    2    3    3    4
    curve_masks, curve_table = froc_curve(from_masks), froc_curve(from_table)
    assert curve_table.thresholds.tolist() == [math.inf, .9, .8, .7, .6, .5, .3]
    assert curve_table.fps_per_frame.tolist() == [k / 6 for k in (0, 1, 1, 2, 2, 3, 3)]
    assert curve_table.sensitivity.tolist() == [k / 6 for k in (0, 1, 2, 2, 3, 3, 4)]
    for got, expected in zip(curve_table, curve_masks, strict=True):
        np.testing.assert_array_equal(got, expected)
    for name in ("fp_scores", "fp_frames", "polyp_scores", "polyp_frames", "all_scores"):
        np.testing.assert_array_equal(getattr(from_table, name), getattr(from_masks, name), err_msg=name)
    assert from_table.n_frames == from_masks.n_frames == 6
    targets = (0.0, 1 / 6, 0.5)
    np.testing.assert_array_equal(
        sensitivity_at_fps(from_table, fps_targets=targets), sensitivity_at_fps(from_masks, fps_targets=targets)
    )


@pytest.mark.parametrize("seed", range(4))
def test_table_equals_masks_on_random_frames(seed):
    # The table is built from the masks by a loop over candidates, independently of match_candidates.
    rng = np.random.default_rng(seed)
    centres, scores, labels = [], [], []
    frame_index, polyp_index, flat_scores, counts = [], [], [], []
    for f in range(10):
        lab = np.zeros((8, 8), int)
        for value in rng.choice(np.arange(1, 20), size=int(rng.integers(0, 4)), replace=False):
            r, c = rng.integers(0, 6, size=2)
            lab[r : r + 3, c : c + 3] = value
        values = sorted(set(np.unique(lab).tolist()) - {0})
        k = int(rng.integers(0, 6))
        cen = rng.uniform(0, 8 - 1e-6, size=(k, 2))
        sc = np.round(rng.random(k), 1)
        for (x, y), s in zip(cen, sc, strict=True):
            value = int(lab[math.floor(y), math.floor(x)])
            frame_index.append(f)
            polyp_index.append(values.index(value) + 1 if value else 0)
            flat_scores.append(float(s))
        centres.append(cen)
        scores.append(sc)
        labels.append(lab)
        counts.append(len(values))
    assert sum(counts) > 0  # the seeds give polyps; without them froc_curve would warn
    a = froc_curve(match_candidates(centres, scores, labels))
    b = froc_curve(candidate_hits_from_table(frame_index, polyp_index, flat_scores, counts))
    for got, expected in zip(b, a, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_table_without_candidates_counts_every_polyp_as_missed():
    hits = candidate_hits_from_table([], [], [], [2, 0, 1])
    assert hits.polyp_scores.tolist() == [-math.inf] * 3
    assert hits.polyp_frames.tolist() == [0, 0, 2]
    assert (hits.fp_scores.size, hits.all_scores.size, hits.n_frames) == (0, 0, 3)
    curve = froc_curve(hits)
    assert (curve.thresholds.tolist(), curve.sensitivity.tolist()) == ([math.inf], [0.0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"centres": [[(0.5, 0.5)]], "scores": [[.1]], "label_images": []}, "match_candidates needs one entry per"),
        ({"centres": [], "scores": [], "label_images": []}, "at least one frame"),
        ({"centres": [[(0.5, 0.5)]], "scores": [[.1, .2]], "label_images": [np.zeros((2, 2), int)]},
         r"centres \(1, 2\) and scores \(2,\)"),
        ({"centres": [[(2.0, 0.5)]], "scores": [[.1]], "label_images": [np.zeros((2, 2), int)]},
         r"outside its 2x2 label image"),
        ({"centres": [[(0.5, 0.5)]], "scores": [[np.nan]], "label_images": [np.zeros((2, 2), int)]},
         "NaN or infinite"),
        ({"centres": [[(0.5, 0.5)]], "scores": [[.1]], "label_images": [np.zeros((2, 2))]},
         "'label_images' parameter of match_candidates must hold 2-D integer label images"),
    ],
    ids=["length-mismatch", "no-frames", "shape-mismatch", "centre-outside", "nan-score", "float-labels"],
)
def test_match_candidates_bad_input_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        match_candidates(**kwargs)


_F = "candidate_hits_from_table"


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (([0.0], [0], [.1], [1]), rf"'frame_index' parameter of {_F} must be a 1-D integer array.*dtype float64"),
        (([[0]], [0], [.1], [1]), r"'frame_index' parameter .* shape \(1, 1\)"),
        (([True], [0], [.1], [1]), r"'frame_index' parameter .* dtype bool"),
        (([0], [1.5], [.1], [1]), rf"'polyp_index' parameter of {_F} must be a 1-D integer array"),
        (([0], [0], [.1], [1.0]), rf"'n_polyps_per_frame' parameter of {_F} must be a 1-D integer array"),
        (([0, 0], [0], [.1, .2], [1]), rf"{_F} needs .* same shape \(n_candidates,\).*got \(2,\), \(1,\) and \(2,\)"),
        (([0], [0], [[.1]], [1]), r"got \(1,\), \(1,\) and \(1, 1\)"),
        (([], [], [], []), rf"'n_polyps_per_frame' parameter of {_F} needs one entry per .*got 0"),
        (([0], [0], [.1], [1, -1]), rf"'n_polyps_per_frame' parameter of {_F} must be >= 0; got -1 at frame 1"),
        (([-1], [0], [.1], [1, 1]), rf"'frame_index' parameter of {_F} must be in \[0, 2\).*got -1 for candidate 0"),
        (([0, 2], [0, 0], [.1, .2], [1, 1]), r"must be in \[0, 2\).*got 2 for candidate 1"),
        (([0], [0], [np.nan], [1]), rf"'scores' parameter of {_F} must be finite; got nan for candidate 0"),
        (([0], [0], [np.inf], [1]), r"must be finite; got inf"),
        (([0], [-1], [.1], [1]), rf"'polyp_index' parameter of {_F} .*candidate 0 has polyp_index -1"),
        (([0, 1], [2, 2], [.1, .2], [2, 1]), r"candidate 1 has polyp_index 2 in frame 1, which has 1 polyp"),
        (([0], [1], [.1], [0]), r"candidate 0 has polyp_index 1 in frame 0, which has 0 polyp"),
    ],
    ids=[
        "float-frame-index", "2d-frame-index", "bool-frame-index", "float-polyp-index", "float-counts",
        "length-mismatch", "2d-scores", "no-frames", "negative-count", "negative-frame", "frame-beyond-n_frames",
        "nan-score", "inf-score", "negative-polyp-index", "polyp-index-beyond-count", "polyp-in-frame-without-polyps",
    ],
)
def test_candidate_hits_from_table_bad_input_raises(args, match):
    with pytest.raises(ValueError, match=match):
        candidate_hits_from_table(*args)
