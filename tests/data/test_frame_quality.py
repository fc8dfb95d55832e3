"""Tests of tunedepth.data.frame_quality: each frame used once, clean or degraded, fixed per seed."""

from __future__ import annotations

import numpy as np
import pytest

from tunedepth.data.degrade import degrade
from tunedepth.data.frame_quality import assign_frame_quality, degrade_frames


def frames(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    return [rng.integers(0, 256, (120 + i % 3, 160, 3), dtype=np.uint8) for i in range(n)]


def test_each_frame_is_either_clean_or_degraded_never_both() -> None:
    q = assign_frame_quality(40, non_informative_fraction=0.3, seed=0)
    assert q.labels.tolist().count(1) == 12 and q.labels.tolist().count(0) == 28
    assert [d is not None for d in q.degradations] == (q.labels == 1).tolist()
    inputs = frames(40)
    out = degrade_frames(inputs, q)
    assert len(out) == 40
    for i, (frame, label) in enumerate(zip(out, q.labels, strict=True)):
        if label == 0:
            assert frame is inputs[i]
        else:
            d = q.degradations[i]
            assert d is not None and np.array_equal(frame, degrade(inputs[i], d.kind, d.params))
            assert not np.array_equal(frame, inputs[i]) and frame.shape == inputs[i].shape


def test_the_assignment_is_fixed_per_seed() -> None:
    a = assign_frame_quality(50, non_informative_fraction=0.5, seed=3)
    b = assign_frame_quality(50, non_informative_fraction=0.5, seed=3)
    assert np.array_equal(a.labels, b.labels) and a.degradations == b.degradations
    c = assign_frame_quality(50, non_informative_fraction=0.5, seed=4)
    assert not np.array_equal(a.labels, c.labels)
    assert {d.kind for d in a.degradations if d is not None} == {"motion_blur", "defocus_blur", "over_exposure",
                                                                 "bubbles"}


def test_a_frame_keeps_its_degradation_whatever_the_fraction() -> None:
    """Frame i's draw depends on the seed and i only: frames degraded at two fractions are degraded alike."""
    low = assign_frame_quality(30, non_informative_fraction=0.2, seed=1)
    high = assign_frame_quality(30, non_informative_fraction=0.6, seed=1)
    both = np.flatnonzero((low.labels == 1) & (high.labels == 1))
    assert both.size == 6  # the permutation is shared: the 20% are among the 60%
    assert all(low.degradations[i] == high.degradations[i] for i in both)


@pytest.mark.parametrize(("call", "match"), [
    (lambda: assign_frame_quality(1, non_informative_fraction=0.5, seed=0), r"'n_frames' .* int >= 2; got 1"),
    (lambda: assign_frame_quality(10, non_informative_fraction=0.0, seed=0),
     r"'non_informative_fraction' .* leave both classes non-empty for 10 frames; got 0.0"),
    (lambda: assign_frame_quality(10, non_informative_fraction=0.99, seed=0), r"got 0.99"),
    (lambda: assign_frame_quality(10, non_informative_fraction=float("nan"), seed=0), r"got nan"),
    (lambda: assign_frame_quality(10, non_informative_fraction=0.5, seed=-1), r"'seed' .* int >= 0"),
    (lambda: degrade_frames(frames(3), assign_frame_quality(4, non_informative_fraction=0.5, seed=0)),
     r"one frame per assigned frame \(4\); got 3"),
    (lambda: degrade_frames([np.zeros((40, 40, 3), np.uint8)] * 4, assign_frame_quality(4, non_informative_fraction=0.5,
                                                                                        seed=0)),
     r"Frame \d of degrade_frames \(shape \(40, 40, 3\)\) is unchanged by its degradation .* flat or too small"),
], ids=["one-frame", "zero-fraction", "all-degraded", "nan-fraction", "negative-seed", "count-mismatch", "flat-frame"])
def test_bad_input_is_refused_with_one_line(call, match) -> None:
    with pytest.raises(ValueError, match=match) as info:
        call()
    assert "\n" not in str(info.value)
