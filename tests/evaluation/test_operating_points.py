from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_curve

from tunedepth.errors import UndefinedMetricWarning
from tunedepth.evaluation import (
    DEFAULT_FPR_TARGETS,
    sensitivity_at_fpr,
    sensitivity_at_fpr_ci,
    sensitivity_at_fpr_test,
    threshold_at_fpr,
)

Z95 = norm.ppf(0.975)

# Toy case, 10 negatives and 5 positives, with a tie group of two negatives and one positive at .8.
#   negatives .95 .8 .8 .6 .5 .4 .3 .2 .1 0;  positives .9 .8 .7 .55 .2
#   t = .10 and .15: 1 false positive allowed; the threshold must exceed the 2nd-highest negative (.8, a tie
#       group of two), so only .95 is a false positive and only .9 a true positive -> 1/5. The tied positive .8
#       goes with its tie group: no threshold separates it from the negatives at .8.
#   t = .20: 2 allowed, but taking the .8 group costs 3 -> still 1/5.
#   t = .30: 3 allowed; the threshold sits above the 4th-highest negative (.6): .9 .8 .7 pass -> 3/5.
#   t = .50: 5 allowed; above the 6th-highest negative (.4): .9 .8 .7 .55 pass -> 4/5.
TOY_Y = np.r_[np.zeros(10, int), np.ones(5, int)]
TOY_S = np.array([0.95, 0.8, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0, 0.9, 0.8, 0.7, 0.55, 0.2])


def test_hand_computed_toy():
    got = sensitivity_at_fpr(TOY_Y, TOY_S, fpr_targets=(0.10, 0.15, 0.20, 0.30, 0.50))
    assert got.tolist() == [0.2, 0.2, 0.2, 0.6, 0.8]


def test_default_targets_are_the_papers():
    assert DEFAULT_FPR_TARGETS == (0.10, 0.15, 0.20)
    assert sensitivity_at_fpr(TOY_Y, TOY_S).tolist() == [0.2, 0.2, 0.2]


def _reference(y: np.ndarray, s: np.ndarray, t: float) -> float:
    """Largest TPR with FPR <= t on sklearn's full ROC curve (every distinct threshold)."""
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    return float(tpr[fpr <= t + 1e-12].max())


@pytest.mark.parametrize("seed", range(4))
def test_equals_the_step_function_of_sklearns_roc_curve(seed):
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(37, int), np.zeros(100, int)]
    s = np.round(rng.random(y.size) + 0.5 * y, 1)  # heavy ties
    targets = (0.01, 0.05, 0.1, 0.15, 0.2, 0.29, 0.5, 0.99)  # 0.29 * 100 rounds to 28.999999999999996
    expected = [_reference(y, s, t) for t in targets]
    assert sensitivity_at_fpr(y, s, fpr_targets=targets).tolist() == pytest.approx(expected, abs=1e-12)


def test_target_on_the_fpr_grid_is_not_lost_to_rounding():
    # 100 negatives 0..99 and positives 0.5..99.5; 0.29 * 100 = 28.999999999999996 in floating point, yet 29 false
    # positives are allowed: the threshold sits above the 30th-highest negative (70), so 70.5 .. 99.5 pass: 30/100.
    y = np.r_[np.zeros(100, int), np.ones(100, int)]
    s = np.r_[np.arange(100.0), np.arange(100.0) + 0.5]
    assert sensitivity_at_fpr(y, s, fpr_targets=(0.29, 0.3)).tolist() == [0.30, 0.31]
    assert _reference(y, s, 0.29) == 0.30


def test_invariant_to_case_order_and_monotone_rescaling():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 80)
    s = np.round(rng.random(80) + 0.3 * y, 2)
    perm = rng.permutation(80)
    base = sensitivity_at_fpr(y, s)
    assert sensitivity_at_fpr(y[perm], s[perm]).tolist() == base.tolist()
    assert sensitivity_at_fpr(y, np.exp(4 * s) - 2).tolist() == base.tolist()
    ci = sensitivity_at_fpr_ci(y, s, n_boot=300)
    assert sensitivity_at_fpr_ci(y, np.exp(4 * s) - 2, n_boot=300) == ci


def _binomial_case(moved: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """400 negatives in [-3, -2]; 400 positives, half at 1 (above every negative) and half at -5 (below).

    At every target FPR model a's sensitivity is the share of positives at 1, so a stratified case bootstrap
    draws it from Binomial(400, 1/2) / 400. Model b equals a except that ``moved`` of the positives at 1 drop to
    -5, so the paired difference a - b is the share of resampled positives that are moved ones:
    Binomial(400, moved / 400) / 400.
    """
    rng = np.random.default_rng(11)
    y = np.r_[np.zeros(400, int), np.ones(400, int)]
    a = np.r_[rng.uniform(-3, -2, 400), np.full(200, 1.0), np.full(200, -5.0)]
    b = a.copy()
    b[400 : 400 + moved] = -5.0
    return y, a, b


def test_bootstrap_interval_matches_the_binomial_spread():
    y, a, _ = _binomial_case()
    half = Z95 * math.sqrt(0.25 / 400)  # 0.049
    for r in sensitivity_at_fpr_ci(y, a, n_boot=2000, seed=3):
        assert r.sensitivity == 0.5
        assert r.low == pytest.approx(0.5 - half, abs=0.008)
        assert r.high == pytest.approx(0.5 + half, abs=0.008)


def test_bootstrap_is_reproducible_by_seed():
    rng = np.random.default_rng(2)
    y = np.r_[np.ones(60, int), np.zeros(60, int)]
    s = rng.normal(size=120) + y
    first = sensitivity_at_fpr_ci(y, s, n_boot=400, seed=1)
    assert sensitivity_at_fpr_ci(y, s, n_boot=400, seed=1) == first
    assert [r.low for r in sensitivity_at_fpr_ci(y, s, n_boot=400, seed=2)] != [r.low for r in first]
    assert [r.sensitivity for r in first] == sensitivity_at_fpr(y, s).tolist()


def test_paired_difference_interval_and_p_value_match_the_binomial():
    y, a, b = _binomial_case(moved=20)
    sd = math.sqrt(0.05 * 0.95 / 400)
    for t in sensitivity_at_fpr_test(y, a, b, n_boot=2000, seed=4):
        assert (t.sensitivity_a, t.sensitivity_b, t.difference) == pytest.approx((0.5, 0.45, 0.05), abs=1e-12)
        assert (t.low, t.high) == pytest.approx((0.05 - Z95 * sd, 0.05 + Z95 * sd), abs=0.006)
        assert t.p_value == pytest.approx(2 / 2001)  # no resample with a difference <= 0: the smallest p-value


def test_paired_p_value_matches_the_binomial_tail():
    # Two moved positives: a resample has difference 0 with probability (1 - 2/400)^400 = 0.1347, and a
    # difference below 0 never, so p = 2 P(d* <= 0) = 0.269 (Monte Carlo sd about 0.015 with 2000 resamples).
    y, a, b = _binomial_case(moved=2)
    expected = 2 * (1 - 2 / 400) ** 400
    for t in sensitivity_at_fpr_test(y, a, b, n_boot=2000, seed=5):
        assert t.p_value == pytest.approx(expected, abs=0.05)


def test_swapping_models_negates_the_difference_and_keeps_p():
    rng = np.random.default_rng(6)
    y = np.r_[np.ones(80, int), np.zeros(80, int)]
    a = rng.normal(size=160) + 1.2 * y
    b = a + rng.normal(size=160) * 0.8
    ab = sensitivity_at_fpr_test(y, a, b, n_boot=500, seed=9)
    ba = sensitivity_at_fpr_test(y, b, a, n_boot=500, seed=9)
    for x, z in zip(ab, ba, strict=True):
        assert x.difference != 0
        assert z.difference == pytest.approx(-x.difference, abs=1e-12)
        assert (z.low, z.high) == pytest.approx((-x.high, -x.low), abs=1e-12)
        assert z.p_value == pytest.approx(x.p_value, abs=1e-12)


def test_identical_models_give_zero_difference_and_nan_p():
    rng = np.random.default_rng(7)
    y = np.r_[np.ones(30, int), np.zeros(30, int)]
    a = rng.normal(size=60) + y
    with pytest.warns(UndefinedMetricWarning, match="every bootstrap difference is the same"):
        tests = sensitivity_at_fpr_test(y, a, a.copy(), n_boot=200)
    assert [(t.difference, t.low, t.high) for t in tests] == [(0.0, 0.0, 0.0)] * 3
    assert all(math.isnan(t.p_value) for t in tests)


def test_unreachable_target_warns_and_is_nan_only_there():
    y = np.r_[np.ones(5, int), np.zeros(9, int)]  # 9 negatives: the smallest non-zero FPR is 1/9 = 0.111
    s = np.r_[np.linspace(0.5, 1, 5), np.linspace(0, 0.6, 9)]
    with pytest.warns(UndefinedMetricWarning, match=r"FPR targets \[0.1\] are unreachable with 9 negatives"):
        got = sensitivity_at_fpr(y, s)
    assert math.isnan(got[0]) and not np.isnan(got[1:]).any()
    with pytest.warns(UndefinedMetricWarning, match="unreachable"):
        ci = sensitivity_at_fpr_ci(y, s, n_boot=100)
    assert [math.isnan(r.low) for r in ci] == [True, False, False]
    with pytest.warns(UndefinedMetricWarning, match="unreachable"):
        paired = sensitivity_at_fpr_test(y, s, s[::-1], n_boot=100)
    assert [math.isnan(t.p_value) for t in paired] == [True, False, False]


@pytest.mark.parametrize(
    "call",
    [
        lambda: sensitivity_at_fpr([1, 1, 1], [0.1, 0.5, 0.9]),
        lambda: [r.sensitivity for r in sensitivity_at_fpr_ci([0, 0, 0], [0.1, 0.5, 0.9], n_boot=10)],
        lambda: [t.difference for t in sensitivity_at_fpr_test([0, 0], [0.1, 0.5], [0.2, 0.3], n_boot=10)],
    ],
    ids=["point", "interval", "paired"],
)
def test_one_class_warns_and_returns_nan(call):
    with pytest.warns(UndefinedMetricWarning, match="undefined with one class"):
        values = call()
    assert np.isnan(values).all()


def test_too_few_cases_for_a_bootstrap_give_estimates_but_nan_intervals():
    y = np.r_[1, np.zeros(20, int)]
    s = np.r_[0.9, np.linspace(0, 1, 20)]
    with pytest.warns(UndefinedMetricWarning, match="at least 2 positives and 2 negatives"):
        ci = sensitivity_at_fpr_ci(y, s, n_boot=50)
    assert [r.sensitivity for r in ci] == sensitivity_at_fpr(y, s).tolist()
    assert all(math.isnan(r.low) and math.isnan(r.high) for r in ci)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: sensitivity_at_fpr([0, 1], [0.1, 0.2], fpr_targets=(0.1, 1.0)), r"'fpr_targets' .* in \(0, 1\)"),
        (lambda: sensitivity_at_fpr([0, 1], [0.1, 0.2], fpr_targets=()), r"non-empty sequence"),
        (lambda: sensitivity_at_fpr_ci([0, 1], [0.1, 0.2], n_boot=0), r"'n_boot' .* int >= 1.* got 0"),
        (lambda: sensitivity_at_fpr_ci([0, 1], [0.1, 0.2], seed=-1), r"'seed' .* int >= 0; got -1"),
        (lambda: sensitivity_at_fpr_ci([0, 1], [0.1, 0.2], confidence=0), r"'confidence' .* Got 0"),
        (lambda: sensitivity_at_fpr_test([0, 1], [0.1, 0.2], [0.1]), r"'scores_b' must have the same shape"),
        (lambda: sensitivity_at_fpr([0, 1], [0.1]), r"sensitivity_at_fpr expects .* labels \(2,\) and scores \(1,\)"),
    ],
    ids=["target-one", "no-targets", "n-boot", "seed", "confidence", "paired-shape", "length"],
)
def test_bad_input_raises(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_seeds_interval_adds_the_case_bootstrap_and_the_seed_variance():
    from scipy.stats import norm

    from tunedepth.evaluation import sensitivity_at_fpr_seeds_ci
    from tunedepth.evaluation.operating_points import _bootstrap

    rng = np.random.default_rng(3)
    y = np.r_[np.ones(60, int), np.zeros(90, int)]
    runs = [np.r_[rng.normal(1.2, 1, 60), rng.normal(0, 1, 90)] for _ in range(3)]
    got = sensitivity_at_fpr_seeds_ci(y, runs, fpr_targets=(0.1, 0.2), n_boot=300, seed=7)
    per_seed = np.array([sensitivity_at_fpr(y, r, fpr_targets=(0.1, 0.2)) for r in runs])
    boot = np.mean(_bootstrap(y.astype(bool), runs, np.array([9, 18]), 300, 7), axis=0)
    se = np.sqrt(boot.var(axis=0, ddof=1) + per_seed.var(axis=0, ddof=1) / 3)
    for j, r in enumerate(got):
        assert r.sensitivity == pytest.approx(per_seed[:, j].mean())
        assert r.low == pytest.approx(r.sensitivity - norm.ppf(0.975) * se[j])
        assert r.high == pytest.approx(r.sensitivity + norm.ppf(0.975) * se[j])
    # identical seeds add no seed variance: the case bootstrap alone, much narrower than a t interval over 2 values
    same = sensitivity_at_fpr_seeds_ci(y, [runs[0], runs[0]], fpr_targets=(0.1,), n_boot=300, seed=7)[0]
    assert 0 < same.high - same.low < 0.4


def test_the_threshold_gives_the_sensitivity_at_fpr_and_respects_the_target():
    rng = np.random.default_rng(4)
    for _ in range(50):
        n_pos, n_neg = rng.integers(5, 40, size=2)
        labels = np.r_[np.ones(n_pos, int), np.zeros(n_neg, int)]
        scores = np.round(rng.normal(size=labels.size) + labels, 1)  # rounded: ties, which move together
        for target in (0.1, 0.2, 0.35):
            if int(target * n_neg + 1e-9) < 1:
                continue
            threshold = threshold_at_fpr(labels, scores, fpr_target=target)
            called = scores > threshold
            assert called[labels == 0].mean() <= target + 1e-12
            assert called[labels == 1].mean() == sensitivity_at_fpr(labels, scores, fpr_targets=(target,))[0]


def test_an_unreachable_target_has_no_threshold():
    with pytest.warns(UndefinedMetricWarning, match="unreachable"):
        assert np.isnan(threshold_at_fpr([1, 1, 0, 0, 0], [0.9, 0.8, 0.7, 0.2, 0.1], fpr_target=0.1))
