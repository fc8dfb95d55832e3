from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from tunedepth.errors import UndefinedMetricWarning
from tunedepth.evaluation import holm_adjust, seed_mean_ci, seed_paired_test


def test_holm_hand_example():
    # sorted: .005 (x4 = .02), .01 (x3 = .03), .03 (x2 = .06), .04 (x1 = .04, raised to the running max .06)
    assert holm_adjust([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02], abs=1e-15)


def test_holm_caps_at_one_and_keeps_ties_equal():
    # .4 x3 = 1.2 -> 1; .4 x2 = .8 -> running max 1; .9 x1 -> 1
    assert holm_adjust([0.4, 0.9, 0.4]).tolist() == [1.0, 1.0, 1.0]
    assert holm_adjust([0.01, 0.01, 0.5]).tolist() == pytest.approx([0.03, 0.03, 0.5], abs=1e-15)


def test_holm_leaves_nan_out_of_the_family():
    # m = 3 finite p-values, not 5: .005 x3 = .015, .01 x2 = .02, .04 x1 = .04
    got = holm_adjust([0.01, np.nan, 0.04, np.nan, 0.005])
    assert np.isnan(got[[1, 3]]).all()
    assert got[[0, 2, 4]] == pytest.approx([0.02, 0.04, 0.015], abs=1e-15)


def test_holm_keeps_the_shape_and_treats_all_entries_as_one_family():
    p = np.array([[0.01, 0.04], [0.03, 0.005]])
    got = holm_adjust(p)
    assert got.shape == (2, 2)
    assert got.ravel() == pytest.approx(holm_adjust(p.ravel()), abs=1e-15)


def test_holm_matches_the_rejections_of_holms_procedure():
    # Holm (1979): reject H_(1..j) while p_(j) <= alpha / (m - j + 1); adjusted <= alpha must say the same.
    rng = np.random.default_rng(0)
    for _ in range(50):
        p = rng.random(8) * rng.random()
        order = np.argsort(p)
        for alpha in (0.01, 0.05, 0.1, 0.25):
            rejected = np.zeros(8, bool)
            for j, i in enumerate(order):
                if p[i] > alpha / (8 - j):
                    break
                rejected[i] = True
            assert ((holm_adjust(p) <= alpha) == rejected).all()


@pytest.mark.parametrize("p", [[0.2, 1.5], [-0.1], [np.inf]], ids=["above-one", "negative", "infinite"])
def test_holm_rejects_values_outside_the_unit_interval(p):
    with pytest.raises(ValueError, match=r"'p_values' parameter of holm_adjust must hold p-values in \[0, 1\]"):
        holm_adjust(p)


def test_holm_empty_and_all_nan():
    assert holm_adjust([]).shape == (0,)
    assert np.isnan(holm_adjust([np.nan, np.nan])).all()


def test_seed_mean_ci_by_hand():
    # mean .85, sd .05, se .05 / sqrt(3); t_{.975, 2} = 4.302653 -> half-width 0.124209
    r = seed_mean_ci([0.80, 0.85, 0.90])
    se = 0.05 / math.sqrt(3)
    assert (r.mean, r.se, r.n) == (pytest.approx(0.85, abs=1e-15), pytest.approx(se, abs=1e-15), 3)
    assert sps.t.ppf(0.975, 2) == pytest.approx(4.302653, abs=1e-6)
    assert (r.low, r.high) == pytest.approx((0.85 - 4.302653 * se, 0.85 + 4.302653 * se), abs=1e-6)


def test_seed_mean_ci_agrees_with_scipy_interval():
    v = np.random.default_rng(1).normal(0.8, 0.03, 7)
    r = seed_mean_ci(v, confidence=0.9)
    low, high = sps.t.interval(0.9, 6, loc=v.mean(), scale=sps.sem(v))
    assert (r.low, r.high) == pytest.approx((low, high), abs=1e-12)


def test_seed_mean_ci_one_seed_warns_and_keeps_the_mean():
    with pytest.warns(UndefinedMetricWarning, match="at least 2 seeds, got 1"):
        r = seed_mean_ci([0.91])
    assert r.mean == 0.91 and r.n == 1
    assert math.isnan(r.low) and math.isnan(r.high) and math.isnan(r.se)


def test_seed_mean_ci_leaves_nan_seeds_out():
    with pytest.warns(UndefinedMetricWarning, match="1 of 4 seed values are NaN"):
        r = seed_mean_ci([0.80, np.nan, 0.85, 0.90])
    assert r == seed_mean_ci([0.80, 0.85, 0.90])


def test_seed_mean_ci_no_usable_seed():
    with pytest.warns(UndefinedMetricWarning) as record:
        r = seed_mean_ci([np.nan])
    assert {str(w.message).split(":")[0] for w in record} == {"seed_mean_ci"}
    assert math.isnan(r.mean) and r.n == 0


def test_seed_paired_test_agrees_with_scipy_ttest_rel():
    rng = np.random.default_rng(2)
    a = rng.normal(0.85, 0.02, 5)
    b = a - 0.01 + rng.normal(0, 0.01, 5)
    r = seed_paired_test(a, b)
    ref = sps.ttest_rel(a, b)
    assert (r.t, r.p_value) == pytest.approx((ref.statistic, ref.pvalue), abs=1e-12)
    d = a - b
    half = sps.t.ppf(0.975, 4) * d.std(ddof=1) / math.sqrt(5)
    assert (r.difference, r.low, r.high) == pytest.approx((d.mean(), d.mean() - half, d.mean() + half), abs=1e-12)
    assert (r.mean_a, r.mean_b, r.n) == (pytest.approx(a.mean()), pytest.approx(b.mean()), 5)


def test_seed_paired_test_swap_negates_t_and_keeps_p():
    a, b = [0.90, 0.92, 0.95, 0.91], [0.85, 0.90, 0.91, 0.92]
    ab, ba = seed_paired_test(a, b), seed_paired_test(b, a)
    assert ba.t == pytest.approx(-ab.t) and ba.difference == pytest.approx(-ab.difference)
    assert ba.p_value == pytest.approx(ab.p_value)
    assert (ba.low, ba.high) == pytest.approx((-ab.high, -ab.low))


def test_seed_paired_test_drops_pairs_with_a_nan():
    with pytest.warns(UndefinedMetricWarning, match="2 of 5 seed values are NaN"):
        r = seed_paired_test([0.9, np.nan, 0.92, 0.95, 0.8], [0.85, 0.9, 0.90, 0.91, np.nan])
    assert r == seed_paired_test([0.9, 0.92, 0.95], [0.85, 0.90, 0.91])


def test_seed_paired_test_one_pair_warns_and_keeps_the_difference():
    with pytest.warns(UndefinedMetricWarning, match="at least 2 seed pairs, got 1"):
        r = seed_paired_test([0.9], [0.8])
    assert r.difference == pytest.approx(0.1) and r.n == 1
    assert math.isnan(r.t) and math.isnan(r.p_value) and math.isnan(r.low)


@pytest.mark.parametrize(
    ("a", "b"),
    [([0.9, 0.8, 0.7], [0.9, 0.8, 0.7]), ([0.9, 0.8, 0.7], [0.8, 0.7, 0.6])],
    ids=["identical", "constant-difference"],
)
def test_seed_paired_test_zero_spread_gives_nan_p(a, b):
    with pytest.warns(UndefinedMetricWarning, match="every seed gives the same difference"):
        r = seed_paired_test(a, b)
    expected = float(np.mean(np.subtract(a, b)))
    assert (r.difference, r.low, r.high, r.se) == pytest.approx((expected, expected, expected, 0.0), abs=1e-12)
    assert math.isnan(r.t) and math.isnan(r.p_value)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: seed_mean_ci([[0.8, 0.9]]), r"'values' parameter of seed_mean_ci must be a 1-D .* shape \(1, 2\)"),
        (lambda: seed_mean_ci([0.8, np.inf]), r"with infinite values"),
        (lambda: seed_mean_ci([0.8, 0.9], confidence=1.0), r"'confidence' parameter of seed_mean_ci"),
        (lambda: seed_paired_test([0.8, 0.9], [0.8]), r"'values_b' must have the same shape .* \(2,\) and \(1,\)"),
    ],
    ids=["2d", "infinite", "confidence", "paired-length"],
)
def test_bad_input_raises(call, message):
    with pytest.raises(ValueError, match=message):
        call()
