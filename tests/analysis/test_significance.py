from __future__ import annotations

import numpy as np
import pytest

from tunedepth.analysis import SIGNIFICANCE_COLUMNS, significance_table
from tunedepth.errors import ConfigError
from tunedepth.evaluation import roc_auc_delong_test, roc_auc_seeds_test
from tunedepth.results import load_finished_study

LABELS = np.r_[np.ones(40, int), np.zeros(40, int)]
SIGNALS = {"scratch": (4, 1.2), "ft:fc": (1, 0.4), "ft:conv3-fc": (2, 1.5), "ft:conv2-fc": (3, 1.6)}


def _scores(signal: float, seed: int) -> np.ndarray:
    return signal * LABELS + np.random.default_rng(seed).normal(size=LABELS.size)


def _study(synthetic_study, seeds=(0,), fractions=(1.0, 0.5)):
    runs = []
    for f_i, fraction in enumerate(fractions):
        for r_i, (label, (depth, signal)) in enumerate(SIGNALS.items()):
            for s in seeds:
                runs.append((label, depth, fraction, s, _scores(signal, 1000 * f_i + 10 * r_i + s),
                             _scores(signal * (1 - f_i * 0.3), 5000 + 1000 * f_i + 10 * r_i + s)))
    return load_finished_study(synthetic_study(runs, val_labels=LABELS, test_labels=LABELS))


def _holm(p):
    """Holm (1979) by hand: sorted p times m, m - 1, ..., 1, made monotone, capped at 1."""
    order = np.argsort(p)
    m = len(p)
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def test_every_pair_once_per_fraction_later_regime_first(synthetic_study):
    table = significance_table(_study(synthetic_study))
    assert list(table.columns) == list(SIGNIFICANCE_COLUMNS)
    pairs = [("ft:fc", "scratch"), ("ft:conv3-fc", "scratch"), ("ft:conv3-fc", "ft:fc"),
             ("ft:conv2-fc", "scratch"), ("ft:conv2-fc", "ft:fc"), ("ft:conv2-fc", "ft:conv3-fc")]
    assert list(zip(table["label_a"], table["label_b"], strict=True)) == pairs * 2
    assert table["train_fraction"].tolist() == [1.0] * 6 + [0.5] * 6


def test_one_seed_pairs_are_paired_delong_on_the_test_cases(synthetic_study):
    study = _study(synthetic_study)
    table = significance_table(study)
    assert set(table["method"]) == {"paired delong (within test set, 1 seed)"}
    assert set(table["n_seeds"]) == {1}
    for _, row in table.iterrows():
        a = study.runs_of(study.arm_of(row["label_a"]), train_fraction=row["train_fraction"])[0]
        b = study.runs_of(study.arm_of(row["label_b"]), train_fraction=row["train_fraction"])[0]
        want = roc_auc_delong_test(LABELS, a.test_scores, b.test_scores)
        assert (row["difference"], row["low"], row["high"], row["p_value"]) == (
            want.difference, want.low, want.high, want.p_value)
        assert (row["auc_a"], row["auc_b"]) == pytest.approx((a.test_auc, b.test_auc), abs=1e-12)


def test_holm_is_applied_within_each_fraction(synthetic_study):
    table = significance_table(_study(synthetic_study))
    for fraction in (1.0, 0.5):
        rows = table[table["train_fraction"] == fraction]
        assert rows["p_holm"].to_numpy() == pytest.approx(_holm(rows["p_value"].to_numpy()), abs=1e-15)
    # the family is one fraction (6 pairs), not the whole table (12): the smallest p-value is multiplied by 6
    smallest = table.loc[table["p_value"].idxmin()]
    assert smallest["p_holm"] == pytest.approx(min(1.0, 6 * smallest["p_value"]), abs=1e-15)


def test_significant_means_holm_adjusted_p_below_alpha(synthetic_study):
    study = _study(synthetic_study)
    p_holm = significance_table(study)["p_holm"].to_numpy()
    distinct = np.unique(p_holm)
    alpha = float((distinct[1] + distinct[2]) / 2)  # between the 2nd and 3rd smallest distinct adjusted p-values
    table = significance_table(study, alpha=alpha)
    assert table["significant"].tolist() == (p_holm <= distinct[1]).tolist()
    assert table["significant"].sum() >= 2 and (~table["significant"]).sum() >= 2


def test_several_seeds_pairs_are_tested_on_cases_and_seeds(synthetic_study):
    study = _study(synthetic_study, seeds=(0, 1, 2), fractions=(1.0,))
    table = significance_table(study)
    assert set(table["method"]) == {"paired delong + seeds (test set, 3 seeds)"} and set(table["n_seeds"]) == {3}
    row = table.iloc[2]
    assert (row["label_a"], row["label_b"]) == ("ft:conv3-fc", "ft:fc")
    a = [r.test_scores for r in study.runs_of(study.arm_of("ft:conv3-fc"), train_fraction=1.0).values()]
    b = [r.test_scores for r in study.runs_of(study.arm_of("ft:fc"), train_fraction=1.0).values()]
    want = roc_auc_seeds_test(study.test_labels, a, b)
    assert (row["difference"], row["p_value"]) == (want.difference, want.p_value)


@pytest.mark.parametrize("alpha", [0, 1, 1.5, True], ids=["zero", "one", "above-one", "bool"])
def test_alpha_outside_the_unit_interval_is_refused(synthetic_study, alpha):
    study = _study(synthetic_study, fractions=(1.0,))
    with pytest.raises(ConfigError, match=r"'alpha' parameter of significance_table must be a significance level "
                                          r"in \(0, 1\)"):
        significance_table(study, alpha=alpha)
