"""Tests of benchmarks/bench_recommend.py: regret on held-out test halves, the noise floor, verdict agreement and
the confidence set's coverage, on a synthetic panel whose best depth is known."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import write_synthetic_study

REPO = Path(__file__).resolve().parents[2]
LABELS = np.r_[np.ones(150, int), np.zeros(150, int)]
DEPTHS = {"scratch": 3, "ft:fc": 1, "ft:conv2-fc": 2, "ft:conv1-fc": 3}


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_recommend", REPO / "benchmarks" / "bench_recommend.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_recommend"] = module
    spec.loader.exec_module(module)
    return module


def _panel(root: Path, signals: dict[str, float], seeds=(0, 1, 2)) -> Path:
    """One study: validation and test alike, each regime's scores = signal x label + noise."""
    runs = []
    for i, (label, signal) in enumerate(signals.items()):
        for seed in seeds:
            rng = np.random.default_rng(100 * i + seed)
            runs.append((label, DEPTHS[label], 1.0, seed, signal * LABELS + rng.normal(size=LABELS.size),
                         signal * LABELS + rng.normal(size=LABELS.size)))
    write_synthetic_study(root / "study", runs, val_labels=LABELS, test_labels=LABELS)
    return root


def test_clear_best_depth_gives_zero_regret_to_the_default_and_positive_regret_to_wrong_rules(tmp_path, bench):
    panel = _panel(tmp_path, {"scratch": 0.5, "ft:fc": 0.8, "ft:conv2-fc": 2.5, "ft:conv1-fc": 1.2})
    rows = bench.cells(panel)
    by = {(r["rule"], r["seed_set"]): r for r in rows}
    assert {r["seeds"] for r in rows} == {1, 3}
    for seed_set in ("0", "1", "2", "0+1+2"):
        best = by[("best · auc", seed_set)]
        assert best["choice"] == "ft:conv2-fc" and best["regret"] == 0 and best["noise_floor"] == 0
        assert best["test_verdict"] == best["rule_verdict"] == 1 and best["set_has_best"]
        assert by[("always scratch", seed_set)]["regret"] > 0.1
        assert by[("always depth 1", seed_set)]["regret"] > 0.1
        assert by[("always scratch", seed_set)]["rule_verdict"] == 0  # scratch against itself: no verdict
    table = bench.summarize(rows)
    assert "| best · auc | 1 | 3 | 0.0000 |" in table and "| always scratch | 3 | 1 |" in table


def test_regret_is_scored_on_the_half_the_oracle_did_not_choose_on(tmp_path, bench):
    """Two depths of equal signal: whichever the oracle takes on one half, the rule loses nothing in expectation, and
    the noise floor (best on the held-out half minus the oracle's choice there) is never negative."""
    panel = _panel(tmp_path, {"scratch": 0.5, "ft:fc": 1.5, "ft:conv2-fc": 1.5, "ft:conv1-fc": 0.2})
    rows = bench.cells(panel)
    assert all(r["noise_floor"] >= 0 for r in rows)
    assert all(r["regret"] <= 0.05 for r in rows if r["rule"] == "best · auc")
    first, second = bench._halves(LABELS)
    assert set(first).isdisjoint(second) and len(first) + len(second) == LABELS.size
    assert LABELS[first].sum() == LABELS[second].sum()  # stratified by label


def test_regret_and_noise_floor_by_hand(tmp_path, bench):
    panel = _panel(tmp_path, {"scratch": 0.5, "ft:fc": 1.5, "ft:conv2-fc": 1.4, "ft:conv1-fc": 0.2}, seeds=(0,))
    (row,) = [r for r in bench.cells(panel) if r["rule"] == "always depth 1"]
    study = bench._load_partial(panel / "study", tmp_path / "mirror")
    halves = bench._halves(study.test_labels)
    arms = study.arms_at(1.0)
    aucs = [{a: bench._half_auc(study, a, 1.0, h) for a in arms} for h in halves]
    choice = study.arm_of("ft:fc")
    regret, floor = [], []
    for chose_on, scored_on in ((0, 1), (1, 0)):
        oracle = max(arms, key=lambda a: aucs[chose_on][a])  # chosen on one half ...
        regret.append(aucs[scored_on][oracle] - aucs[scored_on][choice])  # ... scored on the other
        floor.append(max(aucs[scored_on].values()) - aucs[scored_on][oracle])
    assert row["regret"] == pytest.approx(np.mean(regret)) and row["noise_floor"] == pytest.approx(np.mean(floor))
