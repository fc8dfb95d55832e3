"""Tests of tunedepth/evaluation/confidence_set.py (Hansen, Lunde & Nason's model confidence set) on synthetic
per-case losses with a known best model: it keeps the best at about the stated rate and drops clearly worse models
(so a set of everything fails), plus the edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from tunedepth.evaluation import model_confidence_set


def _losses(rng: np.random.Generator, shifts: list[float], n: int = 200) -> np.ndarray:
    """Per-case losses: a common case difficulty plus model noise plus each model's expected excess loss."""
    common = rng.exponential(size=(n, 1))
    return common + 0.5 * rng.normal(size=(n, len(shifts))) + np.asarray(shifts)


def test_the_set_keeps_the_best_model_at_the_stated_rate():
    """5 models, the best (index 0) and four 0.03-0.12 worse in expectation; alpha = 0.1. Over 100 draws the best
    must be in the set in at least 85 (the nominal rate is >= 90; 85 leaves room for Monte Carlo error, sd 3)."""
    rng = np.random.default_rng(1)
    kept = sum(0 in model_confidence_set(_losses(rng, [0.0, 0.03, 0.06, 0.09, 0.12]), alpha=0.1, n_boot=300,
                                         seed=k).members for k in range(100))
    assert kept >= 85, kept


def test_a_clearly_worse_model_is_dropped():
    """A model 0.4 worse in expectation (0.8 noise sd) is out of the set in at least 95 of 100 draws, while the two
    equal models stay: a procedure that returns every model fails this."""
    rng = np.random.default_rng(2)
    results = [model_confidence_set(_losses(rng, [0.0, 0.0, 0.4]), alpha=0.1, n_boot=300, seed=k) for k in range(100)]
    assert sum(2 not in r.members for r in results) >= 95
    assert sum(r.members == (0, 1) for r in results) >= 80


def test_identical_models_are_never_separated():
    losses = np.tile(np.linspace(0, 1, 50)[:, None], (1, 3))
    result = model_confidence_set(losses, n_boot=200)
    assert result.members == (0, 1, 2) and result.eliminated == () and result.p_values.tolist() == [1.0, 1.0, 1.0]


def test_elimination_order_and_p_values():
    """Expected excess losses 0, 0.6, 1.2, 1.8 on 400 cases: the worst leaves first, each MCS p-value is at least
    the one before it, the eliminated ones are below alpha and the members at or above it."""
    rng = np.random.default_rng(3)
    result = model_confidence_set(_losses(rng, [0.0, 0.6, 1.2, 1.8], n=400), alpha=0.05, n_boot=500)
    assert result.eliminated == (3, 2, 1) and result.members == (0,)
    ps = [result.p_values[i] for i in result.eliminated]
    assert ps == sorted(ps) and max(ps) < 0.05 and result.p_values[0] == 1.0


def test_a_single_model_is_its_own_set():
    result = model_confidence_set(np.arange(10.0)[:, None], n_boot=100)
    assert result.members == (0,) and result.p_values.tolist() == [1.0]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"losses": np.zeros(5)}, r"must have shape \(n_cases >= 2, n_models >= 1\) or \(n_seeds, .*; got \(5,\)"),
    ({"losses": [[0.0, np.inf], [1.0, 1.0]]}, r"must be finite; got 1 NaN or infinite"),
    ({"losses": np.zeros((4, 2)), "alpha": 1.0}, r"'alpha' parameter .* must be in \(0, 1\); got 1.0"),
    ({"losses": np.zeros((4, 2)), "n_boot": 10}, r"'n_boot' parameter .* must be an int >= 100; got 10"),
], ids=["shape", "infinite", "alpha", "n_boot"])
def test_bad_inputs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        model_confidence_set(**kwargs)


def test_with_seeds_the_set_keeps_the_best_and_drops_a_clearly_worse_model():
    """Losses per (seed, case, model): 3 seeds whose training noise shifts each model's mean loss by a seed-specific
    0.05 sd. The best stays in >= 85 of 100 draws; a model 0.4 worse is out in >= 95."""
    rng = np.random.default_rng(4)
    kept = dropped = 0
    for k in range(100):
        shifts = np.array([0.0, 0.05, 0.4])
        seeds = np.stack([_losses(rng, list(shifts + 0.05 * rng.normal(size=3))) for _ in range(3)])
        members = model_confidence_set(seeds, alpha=0.1, n_boot=300, seed=k).members
        kept += 0 in members
        dropped += 2 not in members
    assert kept >= 85 and dropped >= 95, (kept, dropped)


def test_resampling_the_seeds_widens_the_set_when_seeds_disagree():
    """Two models equal on average, but each seed favours one of them strongly: on the pooled cases alone model 1
    looks worse; resampling the seeds too keeps both."""
    rng = np.random.default_rng(5)
    base = rng.normal(size=(3, 300, 1))
    seeds = np.concatenate([base, base + np.array([[[0.3]], [[0.3]], [[-0.45]]])], axis=2)
    seeds = seeds + 0.05 * rng.normal(size=seeds.shape)
    pooled = seeds.reshape(1, -1, 2)  # the same losses with the seeds treated as more cases
    assert model_confidence_set(pooled, alpha=0.1, n_boot=500).members == (0,)
    assert model_confidence_set(seeds, alpha=0.1, n_boot=500).members == (0, 1)


def test_paired_loss_test_by_hand():
    from tunedepth.evaluation import paired_loss_test

    rng = np.random.default_rng(6)
    a = rng.normal(size=500)
    b = a + 0.1 + rng.normal(scale=0.5, size=500)
    result = paired_loss_test(a, b, n_boot=2000)
    d = a - b
    assert result.difference == pytest.approx(d.mean())
    # the bootstrap SE of a mean difference is about sd / sqrt(n)
    se = d.std(ddof=1) / np.sqrt(d.size)
    from scipy.stats import norm
    assert result.p_value == pytest.approx(2 * norm.sf(abs(d.mean()) / se), rel=0.25)
    assert result.low < d.mean() < result.high and result.high < 0
