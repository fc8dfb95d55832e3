from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tunedepth.analysis import score_table, sensitivity_column
from tunedepth.evaluation import (
    brier_loss,
    roc_auc_ci,
    roc_auc_seeds_ci,
    seed_mean_ci,
    sensitivity_at_fpr,
    sensitivity_at_fpr_ci,
    sensitivity_at_fpr_seeds_ci,
)
from tunedepth.results import StudyLayout, load_finished_study

LABELS = np.r_[np.ones(50, int), np.zeros(50, int)]
SENS = ["sens_at_fpr10", "sens_at_fpr10_low", "sens_at_fpr10_high", "sens_at_fpr15", "sens_at_fpr15_low",
        "sens_at_fpr15_high", "sens_at_fpr20", "sens_at_fpr20_low", "sens_at_fpr20_high"]
BASE = ["train_fraction", "label", "regime", "depth", "n_runs", "n_nan", "val_auc", "test_auc", "test_auc_low",
        "test_auc_high", "ci_method"]
CALIBRATION = ["test_log_loss", "test_brier", "test_ece"]
OLD_FOLDER_NOTE = ("calibration from stored probabilities clipped to [6e-08, 1 - 6e-08] (a study written before "
                   "log-odds were stored)")


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
    assert list(table.columns) == BASE + SENS + CALIBRATION + ["note"]
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
    assert (row["n_runs"], row["n_nan"]) == (1, 0)
    assert row["note"] == OLD_FOLDER_NOTE  # synthetic studies store probabilities, as old folders did
    other_seed = score_table(study, n_boot=300, bootstrap_seed=8).iloc[2]
    assert other_seed["sens_at_fpr10"] == row["sens_at_fpr10"]
    assert [other_seed[c] for c in SENS[1:3]] != [row[c] for c in SENS[1:3]]


def test_several_seed_rows_count_cases_and_seeds_for_the_auc_and_the_sensitivities(synthetic_study):
    study = load_finished_study(synthetic_study(_runs(seeds=(0, 1, 2)), val_labels=LABELS, test_labels=LABELS))
    table = score_table(study, fpr_targets=(0.2,))
    assert list(table.columns) == BASE + SENS[6:] + CALIBRATION + ["note"]
    assert set(table["ci_method"]) == {"delong + seeds (test set, 3 seeds)"}
    row = table.iloc[1]
    assert row["label"] == "ft:fc" and row["n_runs"] == 3
    runs = list(study.runs_of(study.arm_of("ft:fc"), train_fraction=1.0).values())
    auc = roc_auc_seeds_ci(LABELS, [r.test_scores for r in runs])
    assert auc.auc == pytest.approx(np.mean([r.test_auc for r in runs]), abs=1e-15)
    assert (row["test_auc"], row["test_auc_low"], row["test_auc_high"]) == pytest.approx(
        (auc.auc, auc.low, auc.high), abs=1e-15)
    assert row["val_auc"] == pytest.approx(np.mean([r.val_auc for r in runs]), abs=1e-15)
    sens = sensitivity_at_fpr_seeds_ci(LABELS, [r.test_scores[:, 1] for r in runs], fpr_targets=(0.2,))[0]
    t_interval = seed_mean_ci([sensitivity_at_fpr(LABELS, r.test_scores[:, 1], fpr_targets=(0.2,))[0] for r in runs])
    assert sens.high - sens.low < t_interval.high - t_interval.low  # not a t interval on 3 values
    assert (row["sens_at_fpr20"], row["sens_at_fpr20_low"], row["sens_at_fpr20_high"]) == pytest.approx(
        (sens.sensitivity, sens.low, sens.high), abs=1e-15)
    briers = [brier_loss(LABELS, r.log_odds("test")) for r in runs]
    assert len(set(briers)) == 3 and row["test_brier"] == pytest.approx(np.mean(briers), abs=1e-15)


def test_multiclass_study_has_no_operating_point_columns(synthetic_study):
    labels = np.arange(60) % 3

    def probs(seed):
        logits = np.eye(3)[labels] * 2 + np.random.default_rng(seed).normal(size=(60, 3))
        return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)

    runs = [("ft:fc", 1, 1.0, 0, probs(1), probs(2)), ("scratch", 4, 1.0, 0, probs(3), probs(4))]
    study = load_finished_study(synthetic_study(runs, val_labels=labels, test_labels=labels))
    table = score_table(study)
    assert list(table.columns) == BASE + CALIBRATION + ["note"]
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


def _to_log_odds(root, run_id: str) -> None:
    """Rewrite a synthetic run's predictions (written as prob_k) as a current study writes them (log_odds_k)."""
    for split in ("val", "test"):
        path = StudyLayout(root).predictions_file(run_id, split)
        frame = pd.read_csv(path)
        probs = frame[["prob_0", "prob_1"]].to_numpy()
        frame = frame[["index", "label"]].assign(log_odds_0=np.log(probs[:, 0] / probs[:, 1]),
                                                 log_odds_1=np.log(probs[:, 1] / probs[:, 0]))
        frame.to_csv(path, index=False, float_format="%.17g")


def _hand_calibration(labels: np.ndarray, log_odds: np.ndarray, n_bins: int = 15) -> tuple[float, float, float]:
    """Log-loss, binary Brier loss and top-label ECE written out from their definitions, case by case."""
    p = 1.0 / (1.0 + np.exp(-log_odds))
    log_loss = -np.mean([np.log(p[i, y]) for i, y in enumerate(labels)])
    brier = np.mean([(p[i, 1] - y) ** 2 for i, y in enumerate(labels)])
    ece = 0.0
    for b in range(n_bins):  # bin b holds confidences in (b / n_bins, (b + 1) / n_bins]
        cases = [i for i in range(len(labels)) if b / n_bins < p[i].max() <= (b + 1) / n_bins]
        if cases:
            confidence = np.mean([p[i].max() for i in cases])
            accuracy = np.mean([p[i].argmax() == labels[i] for i in cases])
            ece += len(cases) / len(labels) * abs(accuracy - confidence)
    return float(log_loss), float(brier), float(ece)


def test_calibration_columns_match_a_hand_computation_from_the_stored_log_odds(synthetic_study):
    root = synthetic_study(_runs(), val_labels=LABELS, test_labels=LABELS)
    for run_id in load_finished_study(root).results["run_id"]:
        _to_log_odds(root, run_id)
    study = load_finished_study(root)
    run = study.runs_of(study.arm_of("ft:conv3-fc"), train_fraction=1.0)[0]
    assert run.score_kind == "log_odds"
    stored = pd.read_csv(StudyLayout(root).predictions_file(run.run_id, "test"))
    want = _hand_calibration(stored["label"].to_numpy(), stored[["log_odds_0", "log_odds_1"]].to_numpy())
    row = score_table(study, n_boot=100).set_index(["train_fraction", "label"]).loc[(1.0, "ft:conv3-fc")]
    assert (row["test_log_loss"], row["test_brier"], row["test_ece"]) == pytest.approx(want, rel=1e-12)
    assert row["note"] == ""
    # these cases' ECE is the same with 5, 10 or 15 bins (every bin over-confident); with 4 it differs
    four = score_table(study, n_boot=100, ece_bins=4).set_index(["train_fraction", "label"]).loc[(1.0, "ft:conv3-fc")]
    assert four["test_ece"] == pytest.approx(_hand_calibration(stored["label"].to_numpy(),
                                             stored[["log_odds_0", "log_odds_1"]].to_numpy(), n_bins=4)[2], rel=1e-12)
    assert four["test_ece"] != pytest.approx(row["test_ece"], rel=0.01)
    with pytest.raises(ValueError, match=r"'ece_bins' parameter of score_table must be an int >= 1; got 0"):
        score_table(study, ece_bins=0)


def test_calibration_of_an_old_folder_uses_its_probabilities_clipped_with_a_note(synthetic_study):
    labels = np.array([1, 0, 1, 0])
    # prob_k columns, as studies stored before log-odds; case 0 is a certain miss (p_1 stored as exactly 0)
    probs = np.array([[1.0, 0.0], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    study = load_finished_study(synthetic_study([("ft:fc", 1, 1.0, 0, probs, probs)], val_labels=labels,
                                                test_labels=labels))
    assert study.runs[0].score_kind == "probability"
    row = score_table(study, fpr_targets=(0.5,), n_boot=100).iloc[0]
    # -log of each true class's probability, the certain miss's 0 clipped to 2**-24: -log(2**-24) = 24 log 2
    assert row["test_log_loss"] == pytest.approx((24 * np.log(2) - np.log(0.8) - np.log(0.7) - np.log(0.6)) / 4)
    assert row["test_brier"] == pytest.approx((1.0 + 0.2**2 + 0.3**2 + 0.4**2) / 4)
    # 15 bins: confidences 1.0 (wrong) and 0.8 (right) and 0.7 (right) and 0.6 (right), one per bin
    assert row["test_ece"] == pytest.approx((1.0 + 0.2 + 0.3 + 0.4) / 4)
    assert row["note"] == OLD_FOLDER_NOTE
