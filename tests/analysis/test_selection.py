"""Tests of tunedepth/analysis/selection.py and the rules built on it in recommend.py: per-case validation losses
(log-loss by hand), depths whose AUC saturates told apart by log-loss, cross-fitting on disjoint halves, old folders
without per-epoch predictions, and the sentence with the confidence set."""

from __future__ import annotations

import numpy as np
import pytest

from tunedepth.analysis import confidence_set, recommend_depths, validation_evidence
from tunedepth.analysis.recommend import _depths_text
from tunedepth.analysis.selection import _halves, resolve_cross_fit
from tunedepth.results import load_finished_study
from tunedepth.results.layout import EPOCH_PREDICTIONS, StudyLayout

DEPTHS = {"scratch": 3, "ft:fc": 1, "ft:conv2-fc": 2, "ft:conv1-fc": 3}


def _probabilities(p1: np.ndarray) -> np.ndarray:
    return np.column_stack([1.0 - p1, p1])


def test_log_loss_evidence_is_minus_log_p_of_the_label_by_hand(synthetic_study):
    labels = np.array([0, 0, 1, 1])
    a = _probabilities(np.array([0.1, 0.4, 0.8, 0.6]))
    b = _probabilities(np.array([0.3, 0.2, 0.9, 0.7]))
    runs = [("ft:fc", 1, 1.0, 0, a, a), ("ft:conv2-fc", 2, 1.0, 0, b, b)]
    study = load_finished_study(synthetic_study(runs, val_labels=labels, test_labels=labels))
    evidence = validation_evidence(study, 1.0, metric="log_loss")
    want_a = -np.log([0.9, 0.6, 0.8, 0.6])
    want_b = -np.log([0.7, 0.8, 0.9, 0.7])
    assert evidence.labels == ("ft:fc", "ft:conv2-fc") and evidence.seeds == (0,)
    np.testing.assert_allclose(evidence.losses[0], np.column_stack([want_a, want_b]), rtol=1e-6)
    assert evidence.score(study.arm_of("ft:conv2-fc")) == pytest.approx(-want_b.mean(), rel=1e-6)
    assert evidence.best == study.arm_of("ft:conv2-fc")  # mean log-loss 0.28 < 0.38
    auc = validation_evidence(study, 1.0, metric="auc")
    assert 1 - auc.losses[0].mean(axis=0) == pytest.approx([1.0, 1.0])  # both rank the four cases perfectly


def _saturated_study(synthetic_study, seeds=(0,)):
    """Both fine-tuning depths rank every validation case perfectly (AUC 1); depth 2 is confident (p about 0.95 for
    the label), depth 1 barely (about 0.6); scratch is weaker. Test is like validation."""
    labels = np.r_[np.ones(150, int), np.zeros(150, int)]
    runs = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        for label, margin in (("scratch", 0.1), ("ft:fc", 0.1), ("ft:conv2-fc", 0.45)):
            p1 = np.where(labels == 1, 0.5 + margin, 0.5 - margin) + rng.uniform(0.0, 0.04, size=labels.size)
            runs.append((label, DEPTHS[label], 1.0, seed, _probabilities(p1), _probabilities(p1)))
    runs[0] = (*runs[0][:4], _probabilities(np.full(labels.size, 0.5) + 0.01 * labels),
               _probabilities(np.random.default_rng(9).uniform(size=labels.size)))
    return load_finished_study(synthetic_study(runs, val_labels=labels, test_labels=labels))


def test_log_loss_tells_apart_depths_whose_validation_auc_saturates(synthetic_study):
    study = _saturated_study(synthetic_study)
    by_auc = validation_evidence(study, 1.0, metric="auc")
    assert {study.label_of(a) for a in confidence_set(by_auc, alpha=0.05)} == {"ft:fc", "ft:conv2-fc"}
    by_loss = validation_evidence(study, 1.0, metric="log_loss")
    assert [study.label_of(a) for a in confidence_set(by_loss, alpha=0.05)] == ["ft:conv2-fc"]
    (rec,) = recommend_depths(study, depth_rule="shallowest_in_set", depth_metric="log_loss")
    assert (rec.label, rec.confidence_set, rec.set_depths) == ("ft:conv2-fc", ("ft:conv2-fc",), (2,))
    (tied,) = recommend_depths(study, depth_rule="shallowest_in_set", depth_metric="auc")
    assert tied.label == "ft:fc" and tied.set_depths == (1, 2)  # on AUC the two cannot be told apart


def test_lookahead_on_log_loss_uses_a_paired_test_of_the_case_losses(synthetic_study):
    study = _saturated_study(synthetic_study)
    (rec,) = recommend_depths(study, depth_rule="lookahead", depth_metric="log_loss", n_boot=300)
    (step,) = rec.steps
    assert rec.label == "ft:conv2-fc" and step.moved
    assert step.comparison.method == "paired bootstrap of per-case validation log_loss (1 seed)"
    evidence = validation_evidence(study, 1.0, metric="log_loss")
    gain = evidence.losses[0, :, 0].mean() - evidence.losses[0, :, 1].mean()
    assert step.comparison.difference == pytest.approx(gain) and gain > 0 and step.comparison.p_value < 0.001


def _write_epochs(study_dir, run_id: str, val_epochs: np.ndarray) -> None:
    """Per-epoch validation log-odds of one run, as studies keep them (one learning rate)."""
    path = StudyLayout(study_dir).run_file(run_id, f"{EPOCH_PREDICTIONS}.npz")
    np.savez_compressed(path, lrs=np.array([0.01]), val_0=val_epochs, test_0=val_epochs)


def test_cross_fitting_chooses_the_epoch_and_the_depth_on_disjoint_cases(synthetic_study):
    """Epoch 0 ranks half A perfectly and half B at random; epoch 1 the other way round. Cross-fitted, the epoch
    chosen on A (epoch 0) scores B and the epoch chosen on B (epoch 1) scores A: every case is scored by an epoch
    that is random on it, so the cross-fitted AUC is near chance although each epoch looks perfect on the cases
    that chose it."""
    labels = np.r_[np.ones(100, int), np.zeros(100, int)]
    first, second = _halves(labels, 0)
    assert set(first).isdisjoint(second) and len(first) + len(second) == labels.size
    rng = np.random.default_rng(0)
    perfect = np.where(labels == 1, 3.0, -3.0)
    epochs = np.empty((2, labels.size, 2))
    for e, (good, bad) in enumerate(((first, second), (second, first))):
        z = np.empty(labels.size)
        z[good], z[bad] = perfect[good], rng.normal(size=bad.size)
        epochs[e] = np.column_stack([-z, z])
    final = _probabilities(1 / (1 + np.exp(-epochs[0, :, 1])))
    runs = [("ft:fc", 1, 1.0, 0, final, final), ("ft:conv2-fc", 2, 1.0, 0, final, final)]
    root = synthetic_study(runs, val_labels=labels, test_labels=labels)
    for run_id in ("run000", "run001"):
        _write_epochs(root, run_id, epochs)
    study = load_finished_study(root)
    fitted = validation_evidence(study, 1.0, metric="log_loss", cross_fit=True)
    assert fitted.cross_fitted and fitted.notes == ()
    expected = np.empty(labels.size)
    for chosen, scored in ((0, second), (1, first)):  # epoch 0 is perfect on the first half, so it is chosen there
        expected[scored] = np.logaddexp(0.0, -epochs[chosen, scored, 1] * np.where(labels[scored] == 1, 1, -1))
    np.testing.assert_allclose(fitted.losses[0, :, 0], expected)
    by_auc = validation_evidence(study, 1.0, metric="auc", cross_fit=True)
    assert 0.3 < 1 - by_auc.losses[0, :, 0].mean() < 0.7  # chance: no case chose the epoch that scores it
    plain = validation_evidence(study, 1.0, metric="auc")
    assert 1 - plain.losses[0, :, 0].mean() > 0.7  # the run's own epoch 0 looks good on its own half


def test_a_folder_without_per_epoch_predictions_is_not_cross_fitted_and_says_so(synthetic_study):
    study = _saturated_study(synthetic_study)
    (rec,) = recommend_depths(study, depth_rule="best", depth_metric="log_loss", cross_fit=True)
    assert rec.label == "ft:conv2-fc" and not rec.cross_fitted
    assert any(note.startswith("cross-fitting needs the per-epoch predictions") for note in rec.notes)


def test_one_seed_sentence_names_the_set_and_what_to_run(synthetic_study):
    study = _saturated_study(synthetic_study)
    (rec,) = recommend_depths(study, depth_rule="best", depth_metric="auc")
    assert rec.n_seeds == 1 and rec.set_depths == (1, 2)
    assert rec.sentence.startswith("At 100% of the data, fine-tune only fc (depths 1 and 2 are indistinguishable "
                                   "on validation): test AUC ")
    assert rec.sentence.endswith("One seed cannot single out a depth among depths 1 and 2: run 3 or more seeds to "
                                 "narrow the set.")
    c = rec.versus_scratch
    assert f"{c.difference:+.3f} [{c.low:+.3f}, {c.high:+.3f}] over scratch (p < 0.001)." in rec.sentence


def test_several_seeds_sentence_names_the_set_without_asking_for_seeds(synthetic_study):
    study = _saturated_study(synthetic_study, seeds=(0, 1, 2))
    (rec,) = recommend_depths(study, depth_rule="best", depth_metric="auc", n_boot=300)
    assert rec.n_seeds == 3 and rec.set_depths == (1, 2)
    assert "(depths 1 and 2 are indistinguishable on validation): test AUC " in rec.sentence
    assert "(mean of 3 seeds)" in rec.sentence and "One seed" not in rec.sentence
    (sure,) = recommend_depths(study, depth_rule="best", depth_metric="log_loss", n_boot=300)
    assert sure.set_depths == (2,) and "indistinguishable" not in sure.sentence


@pytest.mark.parametrize(("depths", "text"), [
    ((4, 5, 6, 7, 8), "depths 4–8"), ((2, 5, 9), "depths 2, 5 and 9"), ((3, 4), "depths 3 and 4"), ((6,), "depth 6"),
])
def test_depths_text(depths, text):
    assert _depths_text(depths) == text


def test_cross_fit_auto_cross_fits_a_fraction_with_three_seeds_and_not_one_with_one(synthetic_study):
    """The default (docs/recommendation.md: cross-fitting helped with 3 seeds and hurt with 1 on real studies)."""
    labels = np.r_[np.ones(40, int), np.zeros(40, int)]
    rng = np.random.default_rng(1)
    runs, k = [], 0
    for fraction, seeds in ((1.0, (0, 1, 2)), (0.25, (0,))):
        for label, depth in (("ft:fc", 1), ("ft:conv2-fc", 2)):
            for seed in seeds:
                z = np.where(labels == 1, 1.0, -1.0) + rng.normal(size=labels.size)
                p = _probabilities(1 / (1 + np.exp(-z)))
                runs.append((label, depth, fraction, seed, p, p))
                k += 1
    root = synthetic_study(runs, val_labels=labels, test_labels=labels)
    for i in range(k):  # every run keeps its per-epoch predictions (two epochs)
        _write_epochs(root, f"run{i:03d}", np.stack([np.column_stack([-z, z]) for z in rng.normal(size=(2, 80))]))
    study = load_finished_study(root)
    assert resolve_cross_fit("auto", study, 1.0) and not resolve_cross_fit("auto", study, 0.25)
    assert resolve_cross_fit(True, study, 0.25) and not resolve_cross_fit(False, study, 1.0)
    three, one = recommend_depths(study, n_boot=200)
    assert (three.train_fraction, three.cross_fitted) == (1.0, True)
    assert (one.train_fraction, one.cross_fitted) == (0.25, False)
