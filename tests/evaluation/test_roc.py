from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from tunedepth.errors import UndefinedMetricWarning
from tunedepth.evaluation import accuracy_score, roc_auc_score


def _pair_counting_auc(y: np.ndarray, s: np.ndarray) -> float:
    pos, neg = s[y == 1], s[y == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_binary_hand_computed_with_a_tie():
    # positives score .4 and .8; negatives .4 and .1: pairs (.4,.4)=.5, (.4,.1)=1, (.8,.4)=1, (.8,.1)=1 -> 3.5/4
    scores = np.array([[.6, .4], [.9, .1], [.6, .4], [.2, .8]])
    assert roc_auc_score([0, 0, 1, 1], scores) == 0.875


@pytest.mark.parametrize("seed", range(5))
def test_binary_equals_pair_counting(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 60)
    p1 = np.round(rng.random(60), 1)  # rounding makes ties
    assert roc_auc_score(y, np.c_[1 - p1, p1]) == pytest.approx(_pair_counting_auc(y, p1))


def test_multiclass_is_mean_one_vs_rest():
    rng = np.random.default_rng(0)
    y = np.arange(30) % 3
    s = rng.random((30, 3))
    expected = np.mean([_pair_counting_auc((y == k).astype(int), s[:, k]) for k in range(3)])
    assert roc_auc_score(y, s) == pytest.approx(expected)


def test_invariant_to_order_and_monotone_rescaling():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 40)
    p = rng.random(40)
    perm = rng.permutation(40)
    base = roc_auc_score(y, np.c_[1 - p, p])
    assert roc_auc_score(y[perm], np.c_[1 - p, p][perm]) == base
    assert roc_auc_score(y, np.c_[np.zeros(40), np.exp(3 * p)]) == base


@pytest.mark.parametrize(
    ("labels", "scores"),
    [([1, 1, 1], [[.2, .8]] * 3), ([0, 1, 1, 0], [[.2, .5, .3]] * 4)],
    ids=["binary-one-class", "multiclass-absent-class"],
)
def test_undefined_auc_warns_and_returns_nan(labels, scores):
    with pytest.warns(UndefinedMetricWarning, match="undefined"):
        assert np.isnan(roc_auc_score(labels, scores))


@pytest.mark.parametrize(
    ("labels", "scores", "message"),
    [
        ([0, 1], [[.5, .5]], r"labels \(2,\) and scores \(1, 2\)"),
        ([0, 2], [[.5, .5]] * 2, r"labels must lie in \[0, 1\]"),
    ],
    ids=["shape", "range"],
)
def test_bad_shapes_raise(labels, scores, message):
    with pytest.raises(ValueError, match=message):
        roc_auc_score(labels, scores)


def test_accuracy():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert accuracy_score([0, 1, 1, 2], [[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1]]) == 0.75
