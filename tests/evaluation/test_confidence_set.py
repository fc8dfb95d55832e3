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
