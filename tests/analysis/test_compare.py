from __future__ import annotations

import math

import numpy as np
import pytest

from tunedepth.analysis import compare_regimes, score_regime
from tunedepth.errors import ConfigError, UndefinedMetricWarning
from tunedepth.evaluation import roc_auc_ci, roc_auc_delong_test, roc_auc_seeds_ci, roc_auc_seeds_test
from tunedepth.results import Arm, load_finished_study

LABELS = np.r_[np.ones(60, int), np.zeros(60, int)]


def _scores(signal: float, seed: int) -> np.ndarray:
    return signal * LABELS + np.random.default_rng(seed).normal(size=LABELS.size)


def _study(synthetic_study, seeds_a=(0,), seeds_b=(0,), signal_a=2.0, signal_b=1.0):
    runs = [("ft:conv3-fc", 2, 1.0, s, _scores(signal_a, 100 + s), _scores(signal_a, 200 + s)) for s in seeds_a]
    runs += [("ft:fc", 1, 1.0, s, _scores(signal_b, 300 + s), _scores(signal_b, 400 + s)) for s in seeds_b]
    return load_finished_study(synthetic_study(runs, val_labels=LABELS, test_labels=LABELS))


def _run(study, label, seed=0):
    return study.runs_of(study.arm_of(label), train_fraction=1.0)[seed]


def test_one_seed_score_is_delong_within_the_test_set(synthetic_study):
    study = _study(synthetic_study)
    got = score_regime(study, study.arm_of("ft:conv3-fc"), train_fraction=1.0, split="test")
    want = roc_auc_ci(LABELS, _run(study, "ft:conv3-fc").test_scores)
    assert (got.auc, got.low, got.high) == (want.auc, want.low, want.high)
    assert got.method == "delong (within test set, 1 seed)"
    assert (got.n_runs, got.n_nan, got.notes) == (1, 0, ())


def test_one_seed_score_on_validation_uses_the_validation_predictions(synthetic_study):
    study = _study(synthetic_study)
    got = score_regime(study, study.arm_of("ft:conv3-fc"), train_fraction=1.0, split="val", confidence=0.9)
    want = roc_auc_ci(LABELS, _run(study, "ft:conv3-fc").val_scores, confidence=0.9)
    assert (got.auc, got.low, got.high, got.method) == (want.auc, want.low, want.high,
                                                        "delong (within val set, 1 seed)")


def test_several_seeds_score_is_the_mean_with_cases_and_seeds_in_its_interval(synthetic_study):
    study = _study(synthetic_study, seeds_a=(0, 1, 2))
    got = score_regime(study, study.arm_of("ft:conv3-fc"), train_fraction=1.0, split="test")
    want = roc_auc_seeds_ci(LABELS, [_run(study, "ft:conv3-fc", s).test_scores for s in (0, 1, 2)])
    assert got.method == "delong + seeds (test set, 3 seeds)"
    assert (got.auc, got.low, got.high) == (want.auc, want.low, want.high)
    assert got.auc == pytest.approx(np.mean([_run(study, "ft:conv3-fc", s).test_auc for s in (0, 1, 2)]), abs=1e-15)


def test_nan_seed_is_left_out_and_counted(synthetic_study):
    runs = [("ft:fc", 1, 1.0, s, _scores(1.0, s), _scores(1.0, 10 + s)) for s in (0, 1, 2)]
    runs[1] = (*runs[1][:5], np.full(LABELS.size, np.nan))
    with pytest.warns(UndefinedMetricWarning, match="non-finite"):
        study = load_finished_study(synthetic_study(runs, val_labels=LABELS, test_labels=LABELS))
    got = score_regime(study, study.arm_of("ft:fc"), train_fraction=1.0, split="test")
    runs = study.runs_of(study.arm_of("ft:fc"), train_fraction=1.0)
    want = roc_auc_seeds_ci(LABELS, [runs[s].test_scores for s in (0, 2)])
    assert (got.n_runs, got.n_nan, got.method) == (3, 1, "delong + seeds (test set, 2 seeds)")
    assert got.auc == want.auc
    assert got.notes == ("1 of 3 runs have a NaN test AUC and are left out",)


def test_one_seed_comparison_is_paired_delong_and_antisymmetric(synthetic_study):
    study = _study(synthetic_study)
    got = compare_regimes(study, study.arm_of("ft:conv3-fc"), study.arm_of("ft:fc"), train_fraction=1.0, split="test")
    want = roc_auc_delong_test(LABELS, _run(study, "ft:conv3-fc").test_scores, _run(study, "ft:fc").test_scores)
    assert (got.auc_a, got.auc_b, got.difference, got.low, got.high, got.p_value) == (
        want.auc_a, want.auc_b, want.difference, want.low, want.high, want.p_value)
    assert got.method == "paired delong (within test set, 1 seed)" and got.n_seeds == 1
    assert got.difference > 0 and got.p_value < 0.01
    swapped = compare_regimes(study, study.arm_of("ft:fc"), study.arm_of("ft:conv3-fc"), train_fraction=1.0,
                              split="test")
    assert swapped.difference == -got.difference and swapped.p_value == pytest.approx(got.p_value, rel=1e-12)


def test_comparison_on_validation_uses_the_validation_predictions(synthetic_study):
    study = _study(synthetic_study)
    got = compare_regimes(study, study.arm_of("ft:conv3-fc"), study.arm_of("ft:fc"), train_fraction=1.0, split="val")
    want = roc_auc_delong_test(LABELS, _run(study, "ft:conv3-fc").val_scores, _run(study, "ft:fc").val_scores)
    assert (got.difference, got.p_value, got.method) == (want.difference, want.p_value,
                                                         "paired delong (within val set, 1 seed)")


def test_several_seeds_comparison_uses_cases_and_seeds_over_shared_seeds(synthetic_study):
    study = _study(synthetic_study, seeds_a=(0, 1, 2), seeds_b=(0, 1, 2, 3))
    got = compare_regimes(study, study.arm_of("ft:conv3-fc"), study.arm_of("ft:fc"), train_fraction=1.0, split="test")
    a = [_run(study, "ft:conv3-fc", s).test_scores for s in (0, 1, 2)]
    b = [_run(study, "ft:fc", s).test_scores for s in (0, 1, 2)]
    want = roc_auc_seeds_test(LABELS, a, b)
    assert got.method == "paired delong + seeds (test set, 3 seeds)" and got.n_seeds == 3
    assert (got.auc_a, got.auc_b, got.difference, got.p_value) == (want.auc_a, want.auc_b, want.difference,
                                                                   want.p_value)
    assert got.notes == ("seeds [3] were run for only one of 'ft:conv3-fc' and 'ft:fc' and are left out",)


def test_a_single_shared_seed_falls_back_to_delong_and_says_so(synthetic_study):
    study = _study(synthetic_study, seeds_a=(0, 1), seeds_b=(1, 2))
    got = compare_regimes(study, study.arm_of("ft:conv3-fc"), study.arm_of("ft:fc"), train_fraction=1.0, split="test")
    want = roc_auc_delong_test(LABELS, _run(study, "ft:conv3-fc", 1).test_scores, _run(study, "ft:fc", 1).test_scores)
    assert got.method == "paired delong (within test set, 1 seed)" and got.p_value == want.p_value
    assert "seeds [0, 2] were run for only one" in got.notes[0]


def test_identical_predictions_give_nan_p_value_with_a_note(synthetic_study):
    scores = _scores(1.0, 0)
    runs = [("ft:fc", 1, 1.0, 0, scores, scores), ("ft:conv3-fc", 2, 1.0, 0, scores, scores)]
    study = load_finished_study(synthetic_study(runs, val_labels=LABELS, test_labels=LABELS))
    got = compare_regimes(study, study.arm_of("ft:conv3-fc"), study.arm_of("ft:fc"), train_fraction=1.0, split="test")
    assert got.difference == 0 and math.isnan(got.p_value)
    assert "zero DeLong variance" in got.notes[0]


@pytest.mark.parametrize(
    ("arm", "fraction", "message"),
    [(Arm("finetune", 3), 1.0, r"'arm' parameter of .*: one of \['ft:fc', 'ft:conv3-fc'\]\. Got "
                               r"Arm\(regime='finetune', depth=3, method=None\)"),
     (Arm("finetune", 1), 0.5, r"finished run at train_fraction 0.5 in '.*': one of \[\]")],
    ids=["unknown-arm", "unknown-fraction"],
)
def test_unknown_regime_is_refused(synthetic_study, arm, fraction, message):
    study = _study(synthetic_study)
    with pytest.raises(ConfigError, match=message):
        score_regime(study, arm, train_fraction=fraction, split="test")
    with pytest.raises(ConfigError, match=message):
        compare_regimes(study, Arm("finetune", 1), arm, train_fraction=fraction, split="test")


def test_an_unknown_label_is_refused_with_the_labels(synthetic_study):
    study = _study(synthetic_study)
    with pytest.raises(ConfigError, match=r"has the label 'ft:conv2-fc'; the labels are \[.*'ft:conv3-fc'"):
        study.arm_of("ft:conv2-fc")
