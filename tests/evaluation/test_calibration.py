"""Tests of tunedepth/evaluation/calibration.py: hand-computed cases, independent references (scikit-learn, a
direct loop), invariances, and the NaN policy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import expit, logit
from sklearn.metrics import brier_score_loss
from sklearn.metrics import log_loss as sk_log_loss

from tunedepth.errors import UndefinedMetricWarning
from tunedepth.evaluation import (
    brier_loss,
    expected_calibration_error,
    log_loss,
    reliability_curve,
)

RNG = np.random.default_rng(0)


def _binary(n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    y = RNG.integers(0, 2, n)
    z1 = RNG.normal(size=n) * 3 + (y - 0.5) * 2
    return y, np.c_[-z1, z1]  # binary log-odds: class 0 is the negative of class 1


def _softmax_log_odds(n: int = 150, k: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = RNG.integers(0, k, n)
    logits = RNG.normal(size=(n, k)) * 2 + np.eye(k)[y] * 1.5
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return y, logit(p), p


def test_hand_computed_binary_case():
    """Cases: p_1 = 0.5 (label 1), 0.8 (label 1), 0.1 (label 0), 0.9 (label 0).
    log-loss = (log 2 - log 0.8 - log 0.9 - log 0.1) / 4 = (0.6931 + 0.2231 + 0.1054 + 2.3026) / 4 = 0.8311;
    Brier = (0.25 + 0.04 + 0.01 + 0.81) / 4 = 0.2775."""
    p1 = np.array([0.5, 0.8, 0.1, 0.9])
    z = np.c_[-logit(p1), logit(p1)]
    y = [1, 1, 0, 0]
    assert log_loss(y, z) == pytest.approx((math.log(2) - math.log(0.8) - math.log(0.9) - math.log(0.1)) / 4)
    assert brier_loss(y, z) == pytest.approx(0.2775)


def test_ece_hand_computed_with_bins_and_an_empty_bin():
    """Confidences 0.6 (right), 0.6 (wrong), 0.95 (right), 4 bins: (0.5, 0.75] holds 2 cases, confidence 0.6,
    accuracy 0.5; (0.75, 1] holds 1, confidence 0.95, accuracy 1; the two lower bins are empty and do not count.
    ECE = 2/3 * 0.1 + 1/3 * 0.05 = 0.08333."""
    p1 = np.array([0.6, 0.6, 0.95])
    z = np.c_[-logit(p1), logit(p1)]
    y = [1, 0, 1]
    curve = reliability_curve(y, z, n_bins=4)
    assert curve.counts.tolist() == [0, 0, 2, 1]
    assert np.isnan(curve.accuracy[:2]).all()
    assert curve.confidence[2:] == pytest.approx([0.6, 0.95]) and curve.accuracy[2:].tolist() == [0.5, 1.0]
    assert expected_calibration_error(y, z, n_bins=4) == pytest.approx(2 / 3 * 0.1 + 1 / 3 * 0.05)


def test_binary_losses_equal_scikit_learn():
    y, z = _binary()
    assert log_loss(y, z) == pytest.approx(sk_log_loss(y, expit(z[:, 1])), rel=1e-12)
    assert brier_loss(y, z) == pytest.approx(brier_score_loss(y, expit(z[:, 1])), rel=1e-12)


def test_multiclass_losses_equal_a_direct_computation():
    y, z, p = _softmax_log_odds()
    assert log_loss(y, z) == pytest.approx(sk_log_loss(y, p, labels=range(4)), rel=1e-10)
    assert brier_loss(y, z) == pytest.approx(np.mean([sum((p[i, k] - (y[i] == k)) ** 2 for k in range(4))
                                                      for i in range(len(y))]), rel=1e-10)


def test_ece_equals_a_case_by_case_loop():
    y, z, p = _softmax_log_odds(300, 3)
    bins: dict[int, list[tuple[float, float]]] = {}
    for i in range(len(y)):
        conf = p[i].max()
        b = min(14, math.ceil(conf * 15) - 1)
        bins.setdefault(b, []).append((conf, float(p[i].argmax() == y[i])))
    want = sum(len(v) / len(y) * abs(np.mean([c for _, c in v]) - np.mean([f for f, _ in v])) for v in bins.values())
    assert expected_calibration_error(y, z) == pytest.approx(want, rel=1e-10)


def test_perfect_and_certain_predictions_have_zero_loss_and_error():
    z = np.array([[-50.0, 50.0], [50.0, -50.0]])
    assert log_loss([1, 0], z) == pytest.approx(0.0, abs=1e-20)
    assert brier_loss([1, 0], z) == pytest.approx(0.0, abs=1e-40)
    assert expected_calibration_error([1, 0], z) == pytest.approx(0.0, abs=1e-12)


def test_confident_log_odds_keep_their_precision():
    """A log-odds of 60 (p = 1 - 9e-27) on the wrong class: its loss is 60, not the infinity of log(0)."""
    assert log_loss([0], [[-60.0, 60.0]]) == pytest.approx(60.0)


@pytest.mark.parametrize("statistic", [log_loss, brier_loss, expected_calibration_error])
def test_invariant_to_the_order_of_cases(statistic):
    y, z = _binary()
    order = RNG.permutation(len(y))
    assert statistic(y[order], z[order]) == pytest.approx(statistic(y, z), rel=1e-12)


def test_overconfidence_raises_the_calibration_error_but_not_the_auc_order():
    y, z = _binary(500)
    assert expected_calibration_error(y, 4 * z) > expected_calibration_error(y, z)


@pytest.mark.parametrize("statistic", [log_loss, brier_loss, expected_calibration_error])
def test_zero_cases_warn_and_return_nan(statistic):
    with pytest.warns(UndefinedMetricWarning, match="undefined for zero cases"):
        assert math.isnan(statistic(np.zeros(0, dtype=int), np.zeros((0, 2))))


@pytest.mark.parametrize(("labels", "log_odds", "message"), [
    ([0, 1], [[0.0, 0.0]], r"labels' of shape \(n_cases,\) and 'scores' of shape"),
    ([0, 2], [[0.0, 0.0], [0.0, 0.0]], r"must lie in \[0, 1\]"),
    ([0, 1], [[0.0, np.nan], [0.0, 0.0]], r"must be finite"),
], ids=["shapes", "label-out-of-range", "nan"])
def test_bad_inputs_are_refused(labels, log_odds, message):
    with pytest.raises(ValueError, match=message):
        log_loss(labels, log_odds)


def test_bad_bin_count_is_refused():
    with pytest.raises(ValueError, match=r"'n_bins' parameter of reliability_curve must be an int >= 1; got 0"):
        reliability_curve([0, 1], [[0.0, 0.0], [0.0, 0.0]], n_bins=0)
