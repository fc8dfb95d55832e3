"""Tests of tunedepth.data.masked.candidates: the classical candidate generator and candidate recall."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tunedepth.data.masked import (
    Candidates,
    PolypFrames,
    candidate_recall,
    generate_candidates,
    load_kvasir_seg,
)
from tunedepth.errors import UndefinedMetricWarning


def _disc_frame() -> tuple[np.ndarray, np.ndarray]:
    """A 150x200 endoscope-like frame: black border, pale mucosa, one reddish disc (radius 18) at (x, y) = (60, 90)."""
    yy, xx = np.mgrid[:150, :200]
    frame = np.zeros((150, 200, 3), np.uint8)
    inside_view = (yy - 75) ** 2 / 70**2 + (xx - 100) ** 2 / 95**2 < 1
    frame[inside_view] = (205, 165, 150)
    disc = (yy - 90) ** 2 + (xx - 60) ** 2 < 18**2
    frame[disc] = (150, 45, 55)
    return frame, disc


def test_best_candidate_is_on_the_polyp():
    frame, disc = _disc_frame()
    c = generate_candidates(frame, max_candidates=5)
    x, y = c.centres[0]
    assert disc[math.floor(y), math.floor(x)]
    assert c.scores[0] > c.scores[1]


def test_candidates_are_bounded_sorted_suppressed_and_deterministic():
    frame, _ = _disc_frame()
    rng = np.random.default_rng(0)
    noisy = np.clip(frame + rng.normal(0, 8, frame.shape), 0, 255).astype(np.uint8)
    c = generate_candidates(noisy, max_candidates=12, nms_iou=0.2)
    assert len(c) == 12
    assert (np.diff(c.scores) <= 0).all()
    assert (c.boxes[:, 0] >= 0).all() and (c.boxes[:, 2] <= 200).all()
    assert (c.boxes[:, 1] >= 0).all() and (c.boxes[:, 3] <= 150).all()
    b = c.boxes
    for i in range(len(b)):
        for j in range(i):
            iw = max(0.0, min(b[i, 2], b[j, 2]) - max(b[i, 0], b[j, 0]))
            ih = max(0.0, min(b[i, 3], b[j, 3]) - max(b[i, 1], b[j, 1]))
            inter = iw * ih
            union = (b[i, 2] - b[i, 0]) * (b[i, 3] - b[i, 1]) + (b[j, 2] - b[j, 0]) * (b[j, 3] - b[j, 1]) - inter
            assert inter / union <= 0.2 + 1e-12
    again = generate_candidates(noisy, max_candidates=12, nms_iou=0.2)
    np.testing.assert_array_equal(again.boxes, c.boxes)
    np.testing.assert_array_equal(again.scores, c.scores)


def test_dark_pixels_are_outside_the_field_of_view():
    frame, _ = _disc_frame()
    c = generate_candidates(frame, max_candidates=50)
    # every window holds at least 90% field-of-view pixels, so no centre falls on the black corners
    x, y = np.floor(c.centres).astype(int).T
    assert frame[y, x].max(axis=1).min() > 0
    assert len(generate_candidates(np.zeros((60, 80, 3), np.uint8))) == 0


def test_box_coordinates_follow_the_original_frame_size():
    frame, disc = _disc_frame()
    big = np.repeat(np.repeat(frame, 3, axis=0), 3, axis=1)  # 450x600, same content
    small_c = generate_candidates(frame, max_candidates=3)
    big_c = generate_candidates(big, max_candidates=3)
    np.testing.assert_allclose(big_c.boxes, small_c.boxes * 3, atol=3.5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_candidates": 0}, "max_candidates"),
        ({"work_size_px": 8}, "work_size_px"),
        ({"window_fractions": (0.0,)}, "window_fractions"),
        ({"window_fractions": ()}, "window_fractions"),
        ({"nms_iou": 1.5}, "nms_iou"),
        ({"min_brightness": 1.0}, "min_brightness"),
    ],
    ids=["max-candidates", "work-size", "zero-fraction", "no-fraction", "iou", "brightness"],
)
def test_generate_candidates_rejects_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        generate_candidates(np.zeros((20, 20, 3), np.uint8), **kwargs)


def test_generate_candidates_rejects_grey_images():
    with pytest.raises(ValueError, match=r"uint8 array of shape \(height, width, 3\)"):
        generate_candidates(np.zeros((20, 20), np.uint8))


def _frames() -> PolypFrames:
    """Two 10x10 frames. Frame a: polyp 1 at rows 0-4, cols 0-4 (25 px), polyp 2 at rows 6-9, cols 6-9 (16 px),
    and a 2-px speck at (0, 9). Frame b: polyp at rows 2-7, cols 2-7 (36 px)."""
    a = np.zeros((10, 10), bool)
    a[0:5, 0:5] = True
    a[6:10, 6:10] = True
    a[0, 8:10] = True
    b = np.zeros((10, 10), bool)
    b[2:8, 2:8] = True
    img = np.zeros((10, 10, 3), np.uint8)
    return PolypFrames("toy", (img, img), (a, b), ("a", "b"), ("a", "b"))


def test_candidate_recall_hand_computed():
    # frame a: two centres on polyp 1 (count once), one on background, none on polyp 2; frame b: one centre on it.
    # polyps with >= 10 px: 3 (the speck is noise) -> 2 hit of 3. Candidates: 3 and 1 -> 2 per frame, max 3.
    cands = [
        Candidates(np.array([[0, 0, 4, 4], [1, 1, 5, 5], [4, 6, 6, 8]], float), np.array([.9, .8, .7])),
        Candidates(np.array([[3, 3, 7, 7]], float), np.array([.5])),
    ]
    r = candidate_recall(_frames(), cands, min_area_px=10)
    assert r.recall == pytest.approx(2 / 3)
    assert (r.n_polyps, r.n_hit, r.candidates_per_frame, r.max_candidates_per_frame) == (3, 2, 2.0, 3)
    # with min_area_px=1 the speck is a polyp too: 2 of 4
    assert candidate_recall(_frames(), cands, min_area_px=1).recall == 0.5


def test_candidate_recall_without_polyps_warns():
    img = np.zeros((4, 4, 3), np.uint8)
    frames = PolypFrames("toy", (img,), (np.zeros((4, 4), bool),), ("x",), ("x",))
    with pytest.warns(UndefinedMetricWarning, match="none of the 1 frames has a polyp"):
        r = candidate_recall(frames, [Candidates(np.zeros((0, 4)), np.zeros(0))])
    assert math.isnan(r.recall) and r.n_polyps == 0 and r.candidates_per_frame == 0.0


def test_candidate_recall_rejects_bad_input():
    empty = Candidates(np.zeros((0, 4)), np.zeros(0))
    with pytest.raises(ValueError, match="one Candidates per frame; got 1 for 2 frames"):
        candidate_recall(_frames(), [empty])
    outside = Candidates(np.array([[8.0, 8.0, 14.0, 14.0]]), np.array([1.0]))
    with pytest.raises(ValueError, match="frame 'a' has 1 candidate centre"):
        candidate_recall(_frames(), [outside, empty])
    with pytest.raises(ValueError, match=r"boxes of shape \(n_candidates, 4\)"):
        Candidates(np.zeros((2, 3)), np.zeros(2))


def _grid_recall(frames: PolypFrames, side: int) -> float:
    boxes = []
    for image in frames.images:
        h, w = image.shape[:2]
        xs, ys = np.meshgrid((np.arange(side) + 0.5) * w / side, (np.arange(side) + 0.5) * h / side)
        centres = np.c_[xs.ravel(), ys.ravel()]
        boxes.append(Candidates(np.c_[centres, centres + 1e-9], np.zeros(len(centres))))
    return candidate_recall(frames, boxes).recall


# Measured on all 1000 Kvasir-SEG images with the defaults (2026-11-25): 1037 of 1063 polyps hit (recall 0.9755),
# 48.4 candidates per frame on average, 50 at most. Recall of the first k candidates: k=1 0.382, 5 0.743,
# 10 0.874, 16 0.917, 20 0.934, 30 0.956, 40 0.973, 50 0.976. Regular grids: 3x3 0.726, 4x4 0.837, 5x5 0.903,
# 7x7 (49 centres) 0.964.
KVASIR_MEASURED = {"n_polyps": 1063, "n_hit": 1037}


@pytest.mark.slow
def test_real_kvasir_seg_recall(data_dir):
    """Candidate recall on all 1000 Kvasir-SEG images (about 80 s).

    Measured with the defaults (max_candidates 50, work_size_px 192, nms_iou 0.1, min_area_px 50): recall 0.9755
    (1037 of 1063 polyps) at 48.4 candidates per frame (see ``KVASIR_MEASURED``). A regular 7x7 grid of 49 centres
    already reaches 0.964 on Kvasir-SEG, whose polyps are large, so the test also checks that the ranking matters:
    the first 16 candidates (0.917) beat a 4x4 grid (0.837).
    """
    frames = load_kvasir_seg(data_dir / "kvasir-seg")
    cands = [generate_candidates(image) for image in frames.images]
    r = candidate_recall(frames, cands)
    assert r.max_candidates_per_frame <= 50
    assert r.recall >= 0.95  # the goal
    first16 = [Candidates(c.boxes[:16], c.scores[:16]) for c in cands]
    assert candidate_recall(frames, first16).recall > _grid_recall(frames, 4)
    assert (r.n_polyps, r.n_hit) == (KVASIR_MEASURED["n_polyps"], KVASIR_MEASURED["n_hit"])
