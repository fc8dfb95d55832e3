from __future__ import annotations

import math

import numpy as np
import pytest

from tunedepth.analysis import score_table, sensitivity_column
from tunedepth.evaluation import roc_auc_ci, seed_mean_ci, sensitivity_at_fpr, sensitivity_at_fpr_ci
from tunedepth.results import load_finished_study

LABELS = np.r_[np.ones(50, int), np.zeros(50, int)]
SENS = ["sens_at_fpr10", "sens_at_fpr10_low", "sens_at_fpr10_high", "sens_at_fpr15", "sens_at_fpr15_low",
        "sens_at_fpr15_high", "sens_at_fpr20", "sens_at_fpr20_low", "sens_at_fpr20_high"]
BASE = ["train_fraction", "label", "regime", "depth", "n_runs", "n_nan", "val_auc", "test_auc", "test_auc_low",
        "test_auc_high", "ci_method"]


def _scores(signal: float, seed: int, labels=LABELS) -> np.ndarray:
    return signal * labels + np.random.default_rng(seed).normal(size=labels.size)


def _runs(seeds=(0,)):
    runs = []
    for fraction in (0.25, 1.0):
        for s in seeds:
            runs += [
                ("ft:conv3-fc", 2, fraction, s, _scores(2.0, 10 + s), _scores(2.0, 20 + s)),
                ("ft:fc", 1, fraction, s, _scores(1.0, 30 + s), _scores(1.0, 40 + s)),
                ("scratch", 4, fraction, s, _scores(1.5, 50 + s), _scores(1.5, 60 + s)),
            ]
    return runs


def test_sensitivity_column_names():
    assert [sensitivity_column(t) for t in (0.1, 0.15, 0.2, 0.05)] == [
        "sens_at_fpr10", "sens_at_fpr15", "sens_at_fpr20", "sens_at_fpr5"]


def test_one_seed_rows_use_delong_and_a_seeded_bootstrap(synthetic_study):
    study = load_finished_study(synthetic_study(_runs(), val_labels=LABELS, test_labels=LABELS))
    table = score_table(study, n_boot=300, bootstrap_seed=7)
    assert list(table.columns) == BASE + SENS + ["note"]
    assert list(zip(table["train_fraction"], table["label"], strict=True)) == [
        (1.0, "scratch"), (1.0, "ft:fc"), (1.0, "ft:conv3-fc"),
        (0.25, "scratch"), (0.25, "ft:fc"), (0.25, "ft:conv3-fc")]
    assert table["regime"].tolist()[:3] == ["scratch", "finetune", "finetune"]
    assert table["depth"].tolist()[:3] == [4, 1, 2]
    assert set(table["ci_method"]) == {"delong (within test set, 1 seed)"}
    row = table.iloc[2]
    run = study.runs_of(study.arm_of("ft:conv3-fc"), train_fraction=1.0)[0]
    ci = roc_auc_ci(LABELS, run.test_scores)
    assert (row["test_auc"], row["test_auc_low"], row["test_auc_high"]) == (ci.auc, ci.low, ci.high)
    assert row["val_auc"] == run.val_auc
    sens = sensitivity_at_fpr_ci(LABELS, run.test_scores[:, 1], n_boot=300, seed=7)
    assert [row[c] for c in SENS] == [v for s in sens for v in (s.sensitivity, s.low, s.high)]
    assert (row["n_runs"], row["n_nan"], row["note"]) == (1, 0, "")
    other_seed = score_table(study, n_boot=300, bootstrap_seed=8).iloc[2]
    assert other_seed["sens_at_fpr10"] == row["sens_at_fpr10"]
    assert [other_seed[c] for c in SENS[1:3]] != [row[c] for c in SENS[1:3]]


def test_several_seed_rows_use_the_mean_and_t_interval(synthetic_study):
    study = load_finished_study(synthetic_study(_runs(seeds=(0, 1, 2)), val_labels=LABELS, test_labels=LABELS))
    table = score_table(study, fpr_targets=(0.2,))
    assert list(table.columns) == BASE + SENS[6:] + ["note"]
    assert set(table["ci_method"]) == {"t over 3 seeds"}
    row = table.iloc[1]
    assert row["label"] == "ft:fc" and row["n_runs"] == 3
    runs = list(study.runs_of(study.arm_of("ft:fc"), train_fraction=1.0).values())
    auc = seed_mean_ci([r.test_auc for r in runs])
    assert (row["test_auc"], row["test_auc_low"], row["test_auc_high"]) == pytest.approx(
        (auc.mean, auc.low, auc.high), abs=1e-15)
    assert row["val_auc"] == pytest.approx(np.mean([r.val_auc for r in runs]), abs=1e-15)
    sens = seed_mean_ci([sensitivity_at_fpr(LABELS, r.test_scores[:, 1], fpr_targets=(0.2,))[0] for r in runs])
    assert sens.high > 1  # the t interval is clipped to the range of a sensitivity
    assert (row["sens_at_fpr20"], row["sens_at_fpr20_low"], row["sens_at_fpr20_high"]) == pytest.approx(
        (sens.mean, sens.low, 1.0), abs=1e-15)


def test_multiclass_study_has_no_operating_point_columns(synthetic_study):
    labels = np.arange(60) % 3

    def probs(seed):
        logits = np.eye(3)[labels] * 2 + np.random.default_rng(seed).normal(size=(60, 3))
        return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)

    runs = [("ft:fc", 1, 1.0, 0, probs(1), probs(2)), ("scratch", 4, 1.0, 0, probs(3), probs(4))]
    study = load_finished_study(synthetic_study(runs, val_labels=labels, test_labels=labels))
    table = score_table(study)
    assert list(table.columns) == BASE + ["note"]
    ci = roc_auc_ci(labels, study.runs_of(study.arm_of("ft:fc"), train_fraction=1.0)[0].test_scores)
    assert table.set_index("label").loc["ft:fc", "test_auc"] == ci.auc


def test_undefined_operating_points_are_noted_not_raised(synthetic_study):
    labels = np.r_[np.ones(6, int), np.zeros(6, int)]  # 6 negatives: 10% and 15% FPR are unreachable
    runs = [("ft:fc", 1, 1.0, 0, _scores(1.0, 1, labels), _scores(1.0, 2, labels))]
    study = load_finished_study(synthetic_study(runs, val_labels=labels, test_labels=labels))
    row = score_table(study, n_boot=100).iloc[0]
    assert math.isnan(row["sens_at_fpr10"]) and math.isnan(row["sens_at_fpr15"])
    assert not math.isnan(row["sens_at_fpr20"])
    assert "FPR targets [0.1, 0.15] are unreachable with 6 negatives" in row["note"]
