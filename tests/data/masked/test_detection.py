"""Detection data: candidates labelled by the polyp their centre hits, stratified training patches, evaluation
patches in candidate-major order."""

from __future__ import annotations

import numpy as np
import pytest

from tunedepth.data.masked import PolypFrames, evaluation_patches, find_candidates, patch_views, training_patches
from tunedepth.errors import DataError


def _frames(n: int = 4, *, polyp: bool = True) -> PolypFrames:
    """Pale frames with a dark-red disc (the polyp) at a different place in each."""
    images, masks = [], []
    yy, xx = np.mgrid[:60, :80]
    for i in range(n):
        image = np.full((60, 80, 3), (200, 160, 150), np.uint8)
        disc = (yy - 20 - 5 * i) ** 2 + (xx - 25 - 8 * i) ** 2 < 10 ** 2
        if polyp:
            image[disc] = (150, 40, 50)
        images.append(image)
        masks.append(disc if polyp else np.zeros_like(disc))
    ids = tuple(f"f{i}" for i in range(n))
    return PolypFrames("toy", tuple(images), tuple(masks), ids, ids)


def test_candidates_are_labelled_by_the_polyp_under_their_centre() -> None:
    frames = _frames()
    cands = find_candidates(frames, max_candidates=5, min_area_px=10)
    assert cands.n_polyps.tolist() == [1, 1, 1, 1]
    for c in range(len(cands)):
        f = int(cands.frame_index[c])
        x = (cands.boxes[c, 0] + cands.boxes[c, 2]) / 2
        y = (cands.boxes[c, 1] + cands.boxes[c, 3]) / 2
        assert cands.polyp_index[c] == int(frames.masks[f][int(y), int(x)])
    # the generator's best candidate sits on each disc
    first = np.r_[0, np.flatnonzero(np.diff(cands.frame_index)) + 1]
    assert cands.labels[first].tolist() == [1, 1, 1, 1]
    assert cands.recall == 1.0 and 0 < cands.labels.mean() < 1


def test_polyps_without_a_candidate_lower_the_recall() -> None:
    frames = _frames(2)
    cands = find_candidates(frames, max_candidates=5, min_area_px=10)
    keep = cands.frame_index == 0  # pretend frame 1's candidates were never proposed
    from dataclasses import replace
    cut = replace(cands, frame_index=cands.frame_index[keep], boxes=cands.boxes[keep],
                  polyp_index=cands.polyp_index[keep])
    assert cut.recall == 0.5


def test_training_patches_are_stratified_fixed_by_seed_and_cut_at_their_view() -> None:
    frames = _frames()
    cands = find_candidates(frames, max_candidates=6, min_area_px=10)
    views = patch_views((1.0, 1.5), shift_fraction=0.1, orientations=8)
    a = training_patches(cands, views, n_patches=40, size=16, seed=3)
    b = training_patches(cands, views, n_patches=40, size=16, seed=3)
    c = training_patches(cands, views, n_patches=40, size=16, seed=4)
    assert len(a.images) == 40 and int(a.images.labels.sum()) == 20
    assert np.array_equal(a.candidate, b.candidate) and bool((a.images.images == b.images.images).all())
    assert not bool((a.images.images == c.images.images).all())
    assert np.array_equal(a.images.labels.numpy(), cands.labels[a.candidate])
    assert a.images.patient_ids is not None and a.images.patient_ids[0].startswith("toy/f")


def test_training_patches_take_every_pair_when_a_class_is_short() -> None:
    cands = find_candidates(_frames(1), max_candidates=3, min_area_px=10)
    views = patch_views((1.0,), shift_fraction=0.0, orientations=1)
    out = training_patches(cands, views, n_patches=1000, size=8, seed=0)
    assert len(out.images) == len(cands)  # one view each: every (candidate, view) pair once


def test_training_patches_need_both_classes() -> None:
    cands = find_candidates(_frames(2, polyp=False), max_candidates=3, min_area_px=10)
    with pytest.raises(DataError, match="no positive"):
        training_patches(cands, patch_views((1.0,), shift_fraction=0.0, orientations=1), n_patches=10, size=8,
                         seed=0)


def test_evaluation_patches_are_candidate_major() -> None:
    frames = _frames(2)
    cands = find_candidates(frames, max_candidates=3, min_area_px=10)
    views = patch_views((1.0, 1.2), shift_fraction=0.1, orientations=2)
    out = evaluation_patches(cands, views, size=8)
    assert len(out.images) == len(cands) * len(views)
    assert out.candidate.tolist() == np.repeat(np.arange(len(cands)), len(views)).tolist()
    assert out.images.labels.tolist() == np.repeat(cands.labels, len(views)).tolist()


def test_polyp_share_is_the_share_of_the_box_on_a_polyp() -> None:
    frames = _frames(1)
    cands = find_candidates(frames, max_candidates=8, min_area_px=10)
    assert cands.polyp_share is not None and cands.polyp_share.shape == (len(cands),)
    mask = frames.masks[0]
    for c in range(len(cands)):
        x0, y0, x1, y1 = (int(round(v)) for v in cands.boxes[c])
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, mask.shape[1]), min(y1, mask.shape[0])
        want = mask[y0:y1, x0:x1].mean() if x1 > x0 and y1 > y0 else 0.0
        assert cands.polyp_share[c] == pytest.approx(want)
    assert (cands.polyp_share[cands.labels == 1] > 0).all()


def _near_and_far_negatives():
    frames = _frames(4)
    cands = find_candidates(frames, max_candidates=12, min_area_px=10)
    near = (cands.labels == 0) & (cands.polyp_share > 0)
    assert near.any() and ((cands.labels == 0) & ~near).any()
    return cands, near


def test_hard_negative_mining_draws_its_share_from_near_polyp_negatives_deterministically_per_seed() -> None:
    cands, near = _near_and_far_negatives()
    views = patch_views((1.0, 1.5), shift_fraction=0.1, orientations=8)
    plain = training_patches(cands, views, n_patches=60, size=8, seed=3)
    a = training_patches(cands, views, n_patches=60, size=8, seed=3, hard_negatives=0.8)
    b = training_patches(cands, views, n_patches=60, size=8, seed=3, hard_negatives=0.8)
    c = training_patches(cands, views, n_patches=60, size=8, seed=4, hard_negatives=0.8)
    assert np.array_equal(a.candidate, b.candidate) and bool((a.images.images == b.images.images).all())
    assert not bool((a.images.images == c.images.images).all())
    negatives = a.candidate[a.images.labels.numpy() == 0]
    assert negatives.size == 30 and int(near[negatives].sum()) >= 24  # 80% of 30 drawn from the near ones
    assert near[plain.candidate[plain.images.labels.numpy() == 0]].sum() < 24
    # the positive half is the plain draw's
    assert np.array_equal(a.candidate[a.images.labels.numpy() == 1], plain.candidate[plain.images.labels.numpy() == 1])
    # (candidate, view) pairs are drawn without replacement, hard ones first, also when the hard pool runs out
    from tunedepth.data.masked.detection import _draw_with_hard_share

    hard = np.array([True, False, False, True, False])
    flat = _draw_with_hard_share(np.random.default_rng(0), hard, 3, take=12, n_hard=10)
    assert np.unique(flat).size == 12 and hard[flat[:6] // 3].all()  # only 6 hard pairs exist


def test_hard_negatives_zero_is_the_draw_from_before_the_option() -> None:
    cands, _ = _near_and_far_negatives()
    views = patch_views((1.0,), shift_fraction=0.1, orientations=2)
    a = training_patches(cands, views, n_patches=40, size=8, seed=5)
    b = training_patches(cands, views, n_patches=40, size=8, seed=5, hard_negatives=0.0)
    assert np.array_equal(a.candidate, b.candidate) and bool((a.images.images == b.images.images).all())
    with pytest.raises(ValueError, match="hard_negatives"):
        training_patches(cands, views, n_patches=40, size=8, seed=5, hard_negatives=1.5)
