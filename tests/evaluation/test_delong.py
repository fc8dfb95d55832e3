from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import norm

from tunedepth.errors import UndefinedMetricWarning
from tunedepth.evaluation import (
    auc_ci,
    delong_test,
    roc_auc_ci,
    roc_auc_delong_test,
    roc_auc_score,
)
from tunedepth.evaluation.delong import _components

Z95 = norm.ppf(0.975)


def _pair_counting_auc(y: np.ndarray, s: np.ndarray) -> float:
    pos, neg = s[y == 1], s[y == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def _brute_components(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """V10 for positives, V01 for negatives, by counting pairs (no ranks)."""
    pos, neg = s[y == 1], s[y == 0]
    v = np.empty(len(s))
    for c in range(len(s)):
        if y[c] == 1:
            v[c] = np.mean([1.0 if s[c] > n else 0.5 if s[c] == n else 0.0 for n in neg])
        else:
            v[c] = np.mean([1.0 if p > s[c] else 0.5 if p == s[c] else 0.0 for p in pos])
    return v


def _random_binary(seed: int, n: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[:2], y[2:4] = 1, 0  # at least 2 of each class
    a = np.round(rng.random(n) + 0.4 * y, 1)  # rounding makes ties
    b = np.round(rng.random(n) + 0.2 * y + 0.3 * (a > 0.7), 1)  # correlated with a
    return y, a, b


def _random_multiclass(seed: int, n: int = 90, k: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    rng.shuffle(y)
    logits_a = rng.normal(size=(n, k)) + 1.0 * np.eye(k)[y]
    logits_b = logits_a + rng.normal(size=(n, k))
    soft = lambda z: np.round(np.exp(z) / np.exp(z).sum(axis=1, keepdims=True), 2)  # noqa: E731
    return y, soft(logits_a), soft(logits_b)


# Toy case, 3 positives and 3 negatives; model a scores positives (.9, .6, .4) and negatives (.7, .4, .2).
#   V10 (share of negatives below each positive, ties 1/2): .9 -> 3/3 = 1; .6 -> 2/3; .4 -> (1 + .5)/3 = 1/2
#   V01 (share of positives above each negative):           .7 -> 1/3;     .4 -> (2 + .5)/3 = 5/6; .2 -> 1
#   AUC = mean V10 = (1 + 2/3 + 1/2)/3 = 13/18 = mean V01 = (1/3 + 5/6 + 1)/3 = 13/18
#   S10 = var(1, 2/3, 1/2; ddof 1): deviations (5, -1, -4)/18 -> (25 + 1 + 16)/324/2 = 7/108
#   S01 = var(1/3, 5/6, 1):         deviations (-7, 2, 5)/18  -> (49 + 4 + 25)/324/2 = 13/108
#   Var = S10/3 + S01/3 = 20/324 = 5/81; SE = sqrt(5)/9 = 0.24845
# Model b on the same cases: positives (.8, .5, .3), negatives (.4, .6, .1).
#   V10_b = (1, 2/3, 1/3); V01_b = (2/3, 1/3, 1); AUC_b = 2/3 = 12/18
#   D10 = V10_a - V10_b = (0, 0, 1/6);  var: deviations (-1, -1, 2)/18 -> 6/324/2 = 1/108
#   D01 = V01_a - V01_b = (-1/3, 1/2, 0); var: deviations (-7, 8, -1)/18 -> 114/324/2 = 19/108
#   Var(diff) = (1/108)/3 + (19/108)/3 = 5/81; diff = 1/18; z = (1/18)/(sqrt(5)/9) = 1/(2 sqrt(5)) = 0.22361
TOY_Y = np.array([1, 1, 1, 0, 0, 0])
TOY_A = np.array([0.9, 0.6, 0.4, 0.7, 0.4, 0.2])
TOY_B = np.array([0.8, 0.5, 0.3, 0.4, 0.6, 0.1])


def test_hand_computed_toy_interval():
    r = auc_ci(TOY_Y, TOY_A)
    se = math.sqrt(5 / 81)
    assert r.auc == pytest.approx(13 / 18, abs=1e-12)
    assert r.se == pytest.approx(se, abs=1e-12)
    assert r.low == pytest.approx(13 / 18 - Z95 * se, abs=1e-12)
    assert r.high == 1.0  # 13/18 + 0.487 clipped to 1
    assert r.confidence == 0.95


def test_hand_computed_toy_interval_other_confidence():
    r = auc_ci(TOY_Y, TOY_A, confidence=0.5)
    half = norm.ppf(0.75) * math.sqrt(5 / 81)
    assert (r.low, r.high) == pytest.approx((13 / 18 - half, 13 / 18 + half), abs=1e-12)


def test_hand_computed_toy_paired_test():
    t = delong_test(TOY_Y, TOY_A, TOY_B)
    z = 1 / (2 * math.sqrt(5))
    assert (t.auc_a, t.auc_b, t.difference) == pytest.approx((13 / 18, 2 / 3, 1 / 18), abs=1e-12)
    assert t.se == pytest.approx(math.sqrt(5 / 81), abs=1e-12)
    assert t.z == pytest.approx(z, abs=1e-12)
    assert t.p_value == pytest.approx(2 * (1 - norm.cdf(z)), abs=1e-12)
    assert (t.low, t.high) == pytest.approx((1 / 18 - Z95 * t.se, 1 / 18 + Z95 * t.se), abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_auc_equals_pair_counting(seed):
    y, a, b = _random_binary(seed)
    assert auc_ci(y, a).auc == pytest.approx(_pair_counting_auc(y, a), abs=1e-12)
    t = delong_test(y, a, b)
    assert (t.auc_a, t.auc_b) == pytest.approx((_pair_counting_auc(y, a), _pair_counting_auc(y, b)), abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_multiclass_auc_equals_roc_auc_score(seed):
    y, a, b = _random_multiclass(seed)
    expected = np.mean([_pair_counting_auc((y == k).astype(int), a[:, k]) for k in range(3)])
    assert roc_auc_ci(y, a).auc == pytest.approx(expected, abs=1e-12)
    assert roc_auc_ci(y, a).auc == pytest.approx(roc_auc_score(y, a), abs=1e-12)
    assert roc_auc_delong_test(y, a, b).auc_b == pytest.approx(roc_auc_score(y, b), abs=1e-12)


def test_two_column_scores_are_the_binary_case():
    y, a, b = _random_binary(0)
    two_a, two_b = np.c_[1 - a, a], np.c_[np.zeros_like(b), b]  # only column 1 matters
    assert roc_auc_ci(y, two_a) == auc_ci(y, a)
    assert roc_auc_delong_test(y, two_a, two_b) == delong_test(y, a, b)


@pytest.mark.parametrize("seed", range(3))
def test_agrees_with_pauc_oracle(seed):
    import pauc  # test-only oracle (pyproject's dev extra), an independent DeLong implementation

    y, a, b = _random_binary(seed, n=80)
    roc_a = pauc.ROC(y, a, direction="<")
    roc_b = pauc.ROC(y, b, direction="<")
    assert auc_ci(y, a).se == pytest.approx(math.sqrt(pauc.var(roc_a)), rel=1e-10)
    ours = delong_test(y, a, b)
    theirs = pauc.compare(roc_a, roc_b, method="delong")
    assert ours.z == pytest.approx(theirs.stat, rel=1e-10)
    assert ours.p_value == pytest.approx(theirs.p_value, rel=1e-8)
    assert ours.difference == pytest.approx(theirs.estimate, abs=1e-12)


def test_swapping_models_negates_z_and_keeps_p():
    for y, a, b, test in (
        (*_random_binary(1), delong_test),
        (*_random_multiclass(1), roc_auc_delong_test),
    ):
        ab, ba = test(y, a, b), test(y, b, a)
        assert ab.z != 0
        assert ba.z == pytest.approx(-ab.z, abs=1e-12)
        assert ba.difference == pytest.approx(-ab.difference, abs=1e-12)
        assert ba.p_value == pytest.approx(ab.p_value, abs=1e-12)
        assert (ba.low, ba.high) == pytest.approx((-ab.high, -ab.low), abs=1e-12)


def test_invariant_to_case_order_and_monotone_rescaling():
    y, a, b = _random_binary(2)
    perm = np.random.default_rng(0).permutation(y.size)
    base = delong_test(y, a, b)
    shuffled = delong_test(y[perm], a[perm], b[perm])
    rescaled = delong_test(y, np.exp(3 * a) - 7, np.arctan(b))
    for other in (shuffled, rescaled):
        assert (other.difference, other.se, other.z) == pytest.approx((base.difference, base.se, base.z), abs=1e-12)
    ym, am, bm = _random_multiclass(2)
    perm = np.random.default_rng(1).permutation(ym.size)
    base_m = roc_auc_ci(ym, am)
    for other_m in (roc_auc_ci(ym[perm], am[perm]), roc_auc_ci(ym, 5 * am**3 + 1)):
        assert (other_m.auc, other_m.se) == pytest.approx((base_m.auc, base_m.se), abs=1e-12)


def test_multiclass_variance_matches_brute_force_covariance():
    # The K x K covariance of the one-vs-rest AUCs, from pair-counted components (roc_auc_ci's Notes):
    # Cov(AUC_k, AUC_l) = sum_c psi_k(c) psi_l(c), psi_k(c) = (V_k(c) - AUC_k) / sqrt(g (g - 1)).
    y, a, _ = _random_multiclass(3, n=45)
    k_classes = a.shape[1]
    psi = np.empty((y.size, k_classes))
    for k in range(k_classes):
        yk = (y == k).astype(int)
        v = _brute_components(yk, a[:, k])
        auc = _pair_counting_auc(yk, a[:, k])
        g = np.where(yk == 1, yk.sum(), (1 - yk).sum())
        psi[:, k] = (v - auc) / np.sqrt(g * (g - 1.0))
    cov = psi.T @ psi
    for k in range(k_classes):  # the diagonal is each one-vs-rest problem's binary DeLong variance
        assert cov[k, k] == pytest.approx(auc_ci((y == k).astype(int), a[:, k]).se ** 2, rel=1e-10)
    assert cov[0, 1] != 0  # the problems share cases, so they covary
    expected_var = np.ones(k_classes) @ cov @ np.ones(k_classes) / k_classes**2
    assert roc_auc_ci(y, a).se == pytest.approx(math.sqrt(expected_var), rel=1e-10)


def test_multiclass_with_uninformative_columns_is_a_third_of_binary():
    # Constant columns 0 and 2 give AUC 1/2 with zero components, so mean AUC = (1/2 + AUC_1 + 1/2)/3, SE = SE_1/3.
    y, a, b = _random_multiclass(4)
    a[:, [0, 2]] = 0.3
    b[:, [0, 2]] = 0.7
    binary = auc_ci((y == 1).astype(int), a[:, 1])
    r = roc_auc_ci(y, a)
    assert r.auc == pytest.approx((1 + binary.auc) / 3, abs=1e-12)
    assert r.se == pytest.approx(binary.se / 3, rel=1e-12)
    paired = roc_auc_delong_test(y, a, b)
    assert paired.se == pytest.approx(delong_test((y == 1).astype(int), a[:, 1], b[:, 1]).se / 3, rel=1e-12)


def test_multiclass_formula_with_two_classes_reduces_to_binary_delong():
    y, a, _ = _random_binary(5)
    probs = np.c_[1 - a, a]
    aucs, psi = _components(y[:, None] == np.arange(2)[None, :], probs)
    assert aucs == pytest.approx([auc_ci(y, a).auc] * 2, abs=1e-12)
    assert math.sqrt(np.sum(psi.mean(axis=1) ** 2)) == pytest.approx(auc_ci(y, a).se, rel=1e-12)


def test_perfect_separation_gives_zero_width_interval_without_warning():
    r = auc_ci([0, 0, 0, 1, 1, 1], [0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    assert (r.auc, r.low, r.high, r.se) == (1.0, 1.0, 1.0, 0.0)


def _nan_fields(result: object, names: tuple[str, ...]) -> list[bool]:
    return [math.isnan(getattr(result, name)) for name in names]


@pytest.mark.parametrize(
    ("call", "defined", "undefined"),
    [
        (lambda: auc_ci([1, 1, 1], [0.2, 0.5, 0.9]), (), ("auc", "low", "high", "se")),
        (lambda: delong_test([0, 0], [0.2, 0.5], [0.1, 0.3]), (), ("auc_a", "difference", "z", "p_value")),
        (lambda: roc_auc_ci([0, 1, 1, 0], [[0.2, 0.5, 0.3]] * 4), (), ("auc", "se")),
        (lambda: auc_ci([1, 0, 0, 0], [0.9, 0.5, 0.1, 0.95]), ("auc",), ("low", "high", "se")),
        (
            lambda: delong_test([1, 1, 1, 0], [0.9, 0.5, 0.1, 0.3], [0.2, 0.5, 0.1, 0.6]),
            ("auc_a", "auc_b", "difference"),
            ("low", "high", "se", "z", "p_value"),
        ),
        (lambda: roc_auc_ci([0, 0, 1, 1, 2], np.eye(3)[[0, 1, 1, 2, 2]] + 0.1), ("auc",), ("low", "high", "se")),
    ],
    ids=["one-class", "one-class-paired", "multiclass-absent-class", "one-negative", "one-negative-paired",
         "multiclass-singleton-class"],
)
def test_undefined_cases_warn_and_return_nan(call, defined, undefined):
    with pytest.warns(UndefinedMetricWarning, match="undefined"):
        result = call()
    assert _nan_fields(result, undefined) == [True] * len(undefined)
    assert _nan_fields(result, defined) == [False] * len(defined)


def test_one_negative_still_gives_the_exact_auc():
    with pytest.warns(UndefinedMetricWarning, match="fewer than 2 positives or 2 negatives"):
        r = auc_ci([1, 0, 1, 1], [0.9, 0.5, 0.1, 0.5])
    assert r.auc == pytest.approx(0.5)  # .9 > .5 (1), .1 < .5 (0), .5 = .5 (1/2): 1.5 / 3


@pytest.mark.parametrize(
    "scores_b",
    [lambda a: a.copy(), lambda a: np.exp(2 * a) + 3],
    ids=["identical", "same-ranking"],
)
def test_identical_models_give_zero_difference_and_nan_p(scores_b):
    y, a, _ = _random_binary(6)
    with pytest.warns(UndefinedMetricWarning, match="zero DeLong variance"):
        t = delong_test(y, a, scores_b(a))
    assert (t.difference, t.low, t.high, t.se) == (0.0, 0.0, 0.0, 0.0)
    assert math.isnan(t.z) and math.isnan(t.p_value)


def test_identical_multiclass_models_give_nan_p():
    y, a, _ = _random_multiclass(6)
    with pytest.warns(UndefinedMetricWarning, match="zero DeLong variance"):
        t = roc_auc_delong_test(y, a, a)
    assert t.difference == 0.0 and math.isnan(t.p_value)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: auc_ci([0, 1, 1], [0.1, 0.2]), r"auc_ci expects .* got labels \(3,\) and scores \(2,\)"),
        (lambda: auc_ci([0, 1], [[0.9, 0.1], [0.2, 0.8]]), r"scores\[:, 1\]"),
        (lambda: auc_ci([0, 2, 1], [0.1, 0.2, 0.3]), r"'labels' parameter of auc_ci must hold only 0 .* \[0, 1, 2\]"),
        (lambda: auc_ci([0, 1, 1], [0.1, np.nan, 0.3]), r"'scores' parameter of auc_ci must be finite; got 1 NaN"),
        (lambda: auc_ci([0, 1], [0.1, 0.2], confidence=95), r"'confidence' parameter of auc_ci .* Got 95"),
        (lambda: delong_test([0, 1], [0.1, 0.2], [0.1, 0.2, 0.3]), r"'scores_b' must have the same shape"),
        (lambda: roc_auc_ci([0, 3], [[0.5, 0.5]] * 2), r"roc_auc_ci must lie in \[0, 1\] .* got values in \[0, 3\]"),
        (lambda: roc_auc_ci([0, 1], [0.5, 0.5]), r"roc_auc_ci expects .* scores \(2,\)"),
        (lambda: roc_auc_ci(["a", "b"], [[0.5, 0.5]] * 2), r"integer class indices; got dtype <U1"),
        (lambda: roc_auc_delong_test([0, 1], [[0.5, 0.5]] * 2, [[0.5, 0.5, 0.0]] * 2), r"same shape"),
    ],
    ids=["length", "2d-to-binary", "labels-not-binary", "nan-score", "confidence", "paired-shape",
         "multiclass-label-range", "1d-to-multiclass", "string-labels", "multiclass-paired-shape"],
)
def test_bad_input_raises(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def _broadcast_auc(y: np.ndarray, s: np.ndarray) -> float:
    """Pair-counting AUC, vectorised (the bootstrap calls it thousands of times)."""
    pos, neg = s[y == 1], s[y == 0]
    return float(np.mean((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])))


def _mean_ovr_auc(y: np.ndarray, s: np.ndarray) -> float:
    return float(np.mean([_broadcast_auc((y == k).astype(int), s[:, k]) for k in range(s.shape[1])]))


def _bootstrap_se(y: np.ndarray, statistic, n_boot: int, stratified: bool, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(y == k) for k in np.unique(y)]
    values = []
    while len(values) < n_boot:
        if stratified:
            idx = np.concatenate([rng.choice(g, g.size) for g in groups])
        else:
            idx = rng.integers(0, y.size, y.size)
            if np.unique(y[idx]).size < len(groups):
                continue
        values.append(statistic(idx))
    return float(np.std(values, ddof=1))


@pytest.mark.slow
def test_delong_se_matches_a_large_bootstrap():
    # Binary: DeLong conditions on the class counts, like a bootstrap stratified by class.
    rng = np.random.default_rng(7)
    y = np.r_[np.ones(120, int), np.zeros(180, int)]
    a = rng.normal(size=y.size) + 1.0 * y
    b = a + rng.normal(size=y.size) + 0.3 * y
    se_boot = _bootstrap_se(y, lambda i: _broadcast_auc(y[i], a[i]), 2000, stratified=True)
    assert auc_ci(y, a).se == pytest.approx(se_boot, rel=0.10)
    se_diff_boot = _bootstrap_se(y, lambda i: _broadcast_auc(y[i], a[i]) - _broadcast_auc(y[i], b[i]), 2000, True)
    assert delong_test(y, a, b).se == pytest.approx(se_diff_boot, rel=0.10)
    # Multi-class: the one-vs-rest covariance treats class counts as random, like an unstratified case bootstrap.
    ym, am, bm = _random_multiclass(8, n=240, k=4)
    se_boot_m = _bootstrap_se(ym, lambda i: _mean_ovr_auc(ym[i], am[i]), 2000, stratified=False)
    assert roc_auc_ci(ym, am).se == pytest.approx(se_boot_m, rel=0.10)
    se_diff_m = _bootstrap_se(ym, lambda i: _mean_ovr_auc(ym[i], am[i]) - _mean_ovr_auc(ym[i], bm[i]), 2000, False)
    assert roc_auc_delong_test(ym, am, bm).se == pytest.approx(se_diff_m, rel=0.10)


# ---- several seeds: the seed-mean AUC with case and seed variance; per-case AUC terms -------------------------------

def _seed_runs(n_seeds: int, signal: float, seed: int, labels: np.ndarray) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.column_stack([np.zeros(labels.size), signal * labels + rng.normal(size=labels.size)])
            for _ in range(n_seeds)]


def test_seeds_interval_of_one_seed_is_delong():
    from tunedepth.evaluation import roc_auc_seeds_ci

    y = np.r_[np.ones(40, int), np.zeros(50, int)]
    (run,) = _seed_runs(1, 1.0, 0, y)
    assert roc_auc_seeds_ci(y, [run]) == roc_auc_ci(y, run)


def test_seeds_interval_adds_the_between_seed_variance_to_the_case_variance_by_hand():
    from tunedepth.evaluation import roc_auc_seeds_ci

    y = np.r_[np.ones(40, int), np.zeros(50, int)]
    runs = _seed_runs(3, 1.0, 1, y)
    got = roc_auc_seeds_ci(y, runs)
    aucs = np.array([roc_auc_score(y, r) for r in runs])
    # the case variance of the mean: DeLong's covariance matrix of the 3 runs' AUCs, averaged (S10/m + S01/n)
    pos, neg = y == 1, y == 0
    v10 = np.array([[np.mean((r[i, 1] > r[neg, 1]) + 0.5 * (r[i, 1] == r[neg, 1])) for i in np.flatnonzero(pos)]
                    for r in runs])
    v01 = np.array([[np.mean((r[pos, 1] > r[j, 1]) + 0.5 * (r[pos, 1] == r[j, 1])) for j in np.flatnonzero(neg)]
                    for r in runs])
    case_var = np.cov(v10).sum() / 9 / pos.sum() + np.cov(v01).sum() / 9 / neg.sum()
    seed_var = aucs.var(ddof=1) / 3
    assert got.auc == pytest.approx(aucs.mean())
    assert got.se == pytest.approx(np.sqrt(case_var + seed_var), rel=1e-10)
    assert got.se > roc_auc_ci(y, runs[0]).se / np.sqrt(3)  # more than the cases of one run over sqrt(k)


def test_seeds_test_of_one_seed_is_paired_delong_and_identical_seeds_add_nothing():
    from tunedepth.evaluation import roc_auc_seeds_test

    y = np.r_[np.ones(40, int), np.zeros(50, int)]
    (a,), (b,) = _seed_runs(1, 1.5, 2, y), _seed_runs(1, 0.5, 3, y)
    one = roc_auc_seeds_test(y, [a], [b])
    want = roc_auc_delong_test(y, a, b)
    assert (one.difference, one.se, one.p_value) == pytest.approx((want.difference, want.se, want.p_value))
    same = roc_auc_seeds_test(y, [a, a, a], [b, b, b])  # no spread between seeds: the case variance alone
    assert (same.difference, same.se) == pytest.approx((want.difference, want.se))


def test_seeds_test_rejects_at_about_alpha_under_the_null():
    """Two models of the same signal, 3 seeds each, 200 cases: over 200 draws the test rejects at 5% in 2-12% of
    them (binomial sd 1.5%; the paired t over 3 seeds rejects in about 5% as well but has far less power)."""
    from tunedepth.evaluation import roc_auc_seeds_test

    y = np.r_[np.ones(100, int), np.zeros(100, int)]
    rejected = 0
    for k in range(200):
        a, b = _seed_runs(3, 1.0, 10 * k, y), _seed_runs(3, 1.0, 10 * k + 5, y)
        rejected += roc_auc_seeds_test(y, a, b).p_value < 0.05
    assert 4 <= rejected <= 24, rejected


def test_seeds_test_refuses_unpaired_runs():
    from tunedepth.evaluation import roc_auc_seeds_test

    y = np.r_[np.ones(5, int), np.zeros(5, int)]
    runs = _seed_runs(2, 1.0, 0, y)
    with pytest.raises(ValueError, match=r"pairs runs by seed: 'scores_a' and 'scores_b' must hold as many runs; "
                                         r"got 2 and 1"):
        roc_auc_seeds_test(y, runs, runs[:1])


@pytest.mark.parametrize("n_classes", [2, 3])
def test_case_losses_average_to_one_minus_the_auc(n_classes):
    from tunedepth.evaluation import roc_auc_case_losses

    rng = np.random.default_rng(n_classes)
    y = rng.integers(0, n_classes, size=120)
    scores = rng.normal(size=(120, n_classes)) + np.eye(n_classes)[y]
    terms = roc_auc_case_losses(y, scores)
    assert terms.shape == (120,) and (terms >= 0).all()
    assert terms.mean() == pytest.approx(1 - roc_auc_score(y, scores), abs=1e-12)
