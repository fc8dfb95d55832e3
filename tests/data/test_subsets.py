"""Tests of tunedepth.data.subsets: nested subsets, balancing."""

from __future__ import annotations

import numpy as np
import pytest

from tunedepth.data.subsets import balance_indices, class_weights, train_subset_indices
from tunedepth.errors import DataError

FRACTIONS = (0.1, 0.25, 0.5, 1.0)


# --- train_subset_indices -----------------------------------------------------------------

LABELS = np.array([0] * 30 + [1] * 10 + [2] * 3)


@pytest.mark.parametrize("seed", range(5))
def test_subsets_are_nested(seed: int) -> None:
    subsets = [set(train_subset_indices(LABELS, f, seed=seed).tolist()) for f in FRACTIONS]
    for small, large in zip(subsets, subsets[1:], strict=False):
        assert small < large  # strictly inside


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [
        # max(1, ceil(fraction * n_c)) for n_c = 30, 10, 3.
        (0.1, [3, 1, 1]),
        (0.25, [8, 3, 1]),
        (0.5, [15, 5, 2]),
        (0.7, [21, 7, 3]),
        (1e-6, [1, 1, 1]),
        (1.0, [30, 10, 3]),
    ],
)
def test_subsets_are_stratified(fraction: float, expected: list[int]) -> None:
    subset = train_subset_indices(LABELS, fraction, seed=0)
    assert np.bincount(LABELS[subset]).tolist() == expected
    assert len(set(subset.tolist())) == len(subset)


def test_full_fraction_returns_all_indices() -> None:
    assert train_subset_indices(LABELS, 1.0, seed=5).tolist() == list(range(len(LABELS)))


def test_subsets_deterministic_and_seed_dependent() -> None:
    a = train_subset_indices(LABELS, 0.25, seed=1)
    assert np.array_equal(a, train_subset_indices(LABELS, 0.25, seed=1))
    assert not np.array_equal(a, train_subset_indices(LABELS, 0.25, seed=2))


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.0000001, 2, float("nan")])
def test_bad_train_fraction(fraction: float) -> None:
    with pytest.raises(DataError, match=r"'train_fraction' .* must be in \(0, 1\]"):
        train_subset_indices(LABELS, fraction, seed=0)


def test_float_products_are_not_rounded_up() -> None:
    labels = np.array([0] * 100 + [1] * 20)
    # 0.55 * 100 is 55.00000000000001 in floating point: 55 cases, not 56.
    assert 0.55 * 100 > 55
    assert np.bincount(labels[train_subset_indices(labels, 0.55, seed=0)]).tolist() == [55, 11]
    # Truly above a whole number still rounds up: 0.5501 * 100 = 55.01 -> 56 cases.
    assert np.bincount(labels[train_subset_indices(labels, 0.5501, seed=0)]).tolist() == [56, 12]


# --- balance_indices and class_weights -----------------------------------------------------


def test_downsample_to_minority() -> None:
    labels = np.array([0] * 12 + [1] * 5 + [2] * 8)
    subset = np.arange(2, 25)  # class 0 has 10 cases in the subset
    kept = balance_indices(labels, subset, policy="downsample", seed=0)
    assert np.bincount(labels[kept]).tolist() == [5, 5, 5]
    assert set(kept.tolist()) <= set(subset.tolist())
    assert set(np.flatnonzero(labels == 1).tolist()) <= set(kept.tolist())  # minority kept whole
    assert np.array_equal(kept, balance_indices(labels, subset, policy="downsample", seed=0))
    assert not np.array_equal(kept, balance_indices(labels, subset, policy="downsample", seed=1))


def test_balance_none_keeps_everything() -> None:
    labels = np.array([0, 0, 0, 1])
    assert balance_indices(labels, [3, 1, 0, 2], policy="none", seed=0).tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("policy", "indices", "match"),
    [
        pytest.param(
            "weighted_loss",
            [0],
            r"got 'weighted_loss'\. For 'weighted_loss', keep all cases",
            id="weighted",
        ),
        pytest.param(
            "upsample", [0], r"must be 'none' or 'downsample'; got 'upsample'\.$", id="unknown"
        ),
        pytest.param(
            "none", [0, 4], r"'indices' .* in \[0, 4\); got values from 0 to 4", id="out-of-range"
        ),
    ],
)
def test_balance_errors(policy: str, indices: list[int], match: str) -> None:
    with pytest.raises(DataError, match=match):
        balance_indices([0, 0, 1, 1], indices, policy=policy, seed=0)  # type: ignore[arg-type]


def test_class_weights_inverse_frequency() -> None:
    labels = np.array([0] * 6 + [1] * 2 + [2] * 4)
    weights = class_weights(labels, 3)
    np.testing.assert_allclose(weights, [12 / 18, 12 / 6, 12 / 12])
    assert weights[labels].mean() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        pytest.param([0, 0, 2], r"class\(es\) \[1\] have none among 3 labels", id="absent-class"),
        pytest.param(
            [0, 1, 3], r"'labels' .* in \[0, 3\); got values from 0 to 3", id="out-of-range"
        ),
    ],
)
def test_class_weights_errors(labels: list[int], match: str) -> None:
    with pytest.raises(DataError, match=match):
        class_weights(labels, 3)
