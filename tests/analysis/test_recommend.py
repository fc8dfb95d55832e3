from __future__ import annotations

import numpy as np
import pytest

from tunedepth.analysis import RECOMMENDATION_COLUMNS, recommend_depths, recommendation_table, regime_phrase
from tunedepth.errors import ConfigError, UndefinedMetricWarning
from tunedepth.evaluation import holm_adjust, roc_auc_ci, roc_auc_delong_test, roc_auc_seeds_ci, roc_auc_seeds_test
from tunedepth.results import load_finished_study

LABELS = np.r_[np.ones(100, int), np.zeros(100, int)]
DEPTHS = {"scratch": 4, "ft:fc": 1, "ft:conv3-fc": 2, "ft:conv2-fc": 3, "ft:conv1-fc": 4}
# On validation: depth 2 is far better than depth 1; depth 3 is not better than depth 2; depth 4 is better again.
# The stepwise walk stops at depth 2 (depth 3 is not significantly better); the lookahead walk reaches depth 4.
VAL = {"scratch": 1.0, "ft:fc": 0.5, "ft:conv3-fc": 2.0, "ft:conv2-fc": 1.9, "ft:conv1-fc": 3.0}
TEST = {"scratch": 1.0, "ft:fc": 0.5, "ft:conv3-fc": 2.0, "ft:conv2-fc": 1.9, "ft:conv1-fc": 3.0}


def _scores(signal: float, seed: int) -> np.ndarray:
    return signal * LABELS + np.random.default_rng(seed).normal(size=LABELS.size)


def _runs(val=VAL, test=TEST, seeds=(0,), fraction=1.0):
    runs = []
    for i, label in enumerate(val):
        for s in seeds:
            runs.append((label, DEPTHS[label], fraction, s, _scores(val[label], 100 * i + s),
                         _scores(test[label], 1000 + 100 * i + s)))
    return runs


def _study(synthetic_study, runs):
    return load_finished_study(synthetic_study(runs, val_labels=LABELS, test_labels=LABELS))


def _run(study, label, seed=0, fraction=1.0):
    return study.runs_of(study.arm_of(label), train_fraction=fraction)[seed]


def _pairs(rec):
    return [(s.comparison.label_a, s.comparison.label_b) for s in rec.steps]


def test_stepwise_walk_goes_deeper_while_the_next_depth_is_significantly_better_on_validation(synthetic_study):
    study = _study(synthetic_study, _runs())
    (rec,) = recommend_depths(study, depth_rule="stepwise")
    assert (rec.label, rec.depth, rec.depth_rule) == ("ft:conv3-fc", 2, "stepwise")
    assert [(s.stage, s.moved) for s in rec.steps] == [(0, True), (1, False)]
    assert all(s.p_adjusted == s.comparison.p_value for s in rec.steps)  # one test per stage: nothing to adjust
    step1, step2 = (s.comparison for s in rec.steps)
    assert (step1.label_a, step1.label_b, step1.split) == ("ft:conv3-fc", "ft:fc", "val")
    assert (step2.label_a, step2.label_b, step2.split) == ("ft:conv2-fc", "ft:conv3-fc", "val")
    want1 = roc_auc_delong_test(LABELS, _run(study, "ft:conv3-fc").val_scores, _run(study, "ft:fc").val_scores)
    want2 = roc_auc_delong_test(LABELS, _run(study, "ft:conv2-fc").val_scores, _run(study, "ft:conv3-fc").val_scores)
    assert (step1.difference, step1.p_value) == (want1.difference, want1.p_value)
    assert (step2.difference, step2.p_value) == (want2.difference, want2.p_value)
    assert want1.difference > 0 and want1.p_value < 0.001  # clearly better: go deeper
    assert want2.p_value > 0.05  # not significantly better: stop, although depth 4 would be better again
    assert rec.notes == ()


def test_lookahead_walk_compares_every_deeper_depth_with_holm_and_moves_to_the_shallowest_better(synthetic_study):
    study = _study(synthetic_study, _runs())
    (rec,) = recommend_depths(study, depth_rule="lookahead")
    assert (rec.label, rec.depth, rec.depth_rule) == ("ft:conv1-fc", 4, "lookahead")
    assert _pairs(rec) == [("ft:conv3-fc", "ft:fc"), ("ft:conv2-fc", "ft:fc"), ("ft:conv1-fc", "ft:fc"),
                           ("ft:conv2-fc", "ft:conv3-fc"), ("ft:conv1-fc", "ft:conv3-fc")]
    assert [(s.stage, s.moved) for s in rec.steps] == [(0, True), (0, False), (0, False), (1, False), (1, True)]
    val = {label: _run(study, label).val_scores for label in DEPTHS}
    stage1 = [roc_auc_delong_test(LABELS, val[a], val["ft:conv3-fc"]).p_value for a in ("ft:conv2-fc", "ft:conv1-fc")]
    assert [s.p_adjusted for s in rec.steps[3:]] == holm_adjust(stage1).tolist()
    assert rec.steps[4].p_adjusted == pytest.approx(2 * min(stage1)) and rec.steps[4].p_adjusted < 0.05
    table = recommendation_table((rec,))
    assert table.loc[0, "depth_rule"] == "lookahead"
    assert "[1] ft:conv1-fc vs ft:conv3-fc: +" in table.loc[0, "validation_steps"]
    assert table.loc[0, "validation_steps"].endswith("-> go")


def test_lookahead_stops_where_no_deeper_depth_is_significantly_better_after_holm(synthetic_study):
    study = _study(synthetic_study, _runs())
    stage1 = [s for s in recommend_depths(study, depth_rule="lookahead")[0].steps if s.stage == 1]
    # At an alpha just below the stage-1 Holm-adjusted p-value of depth 4, the walk stays at depth 2, although the
    # raw p-value is below that alpha: Holm's correction is what decides.
    alpha = stage1[1].p_adjusted * 0.99
    assert stage1[1].comparison.p_value < alpha
    rec = recommend_depths(study, alpha=alpha, depth_rule="lookahead")[0]
    assert rec.label == "ft:conv3-fc" and not any(s.moved for s in rec.steps if s.stage == 1)


def test_unknown_depth_rule_is_refused(synthetic_study):
    study = _study(synthetic_study, _runs())
    with pytest.raises(ConfigError, match=r"'depth_rule' parameter of recommend_depths must be one of \['lookahead', "
                                          r"'stepwise', 'best', 'shallowest_in_set'\]; got 'greedy'"):
        recommend_depths(study, depth_rule="greedy")


def test_test_score_and_scratch_comparison_of_the_chosen_depth(synthetic_study):
    study = _study(synthetic_study, _runs())
    (rec,) = recommend_depths(study, depth_rule="stepwise")
    chosen, scratch = _run(study, "ft:conv3-fc"), _run(study, "scratch")
    ci = roc_auc_ci(LABELS, chosen.test_scores)
    versus = roc_auc_delong_test(LABELS, chosen.test_scores, scratch.test_scores)
    assert rec.test is not None and rec.versus_scratch is not None
    assert (rec.test.auc, rec.test.low, rec.test.high, rec.test.split) == (ci.auc, ci.low, ci.high, "test")
    assert (rec.versus_scratch.label_b, rec.versus_scratch.p_value) == ("scratch", versus.p_value)
    assert versus.difference > 0 and versus.p_value < 0.001 and rec.beats_scratch
    assert rec.sentence.startswith("At 100% of the data, fine-tune conv3–fc")
    effect = f"{versus.difference:+.3f} [{versus.low:+.3f}, {versus.high:+.3f}] over scratch (p < 0.001)."
    assert f": test AUC {ci.auc:.3f} [{ci.low:.3f}, {ci.high:.3f}], {effect}" in rec.sentence


def test_the_choice_never_looks_at_test_data(synthetic_study):
    # On test the ranking is reversed (depth 1 best, depth 2 worst); the walk must still follow validation.
    test = {"scratch": 1.0, "ft:fc": 3.0, "ft:conv3-fc": 0.3, "ft:conv2-fc": 1.0, "ft:conv1-fc": 0.5}
    study = _study(synthetic_study, _runs(test=test))
    (rec,) = recommend_depths(study, depth_rule="stepwise")
    assert rec.label == "ft:conv3-fc"
    chosen = _run(study, "ft:conv3-fc")
    assert rec.test is not None and rec.test.auc == roc_auc_ci(LABELS, chosen.test_scores).auc
    assert rec.versus_scratch is not None and rec.versus_scratch.difference < 0
    p = rec.versus_scratch.p_value
    assert p < 0.05 and not rec.beats_scratch
    assert f"against scratch ({'p < 0.001' if p < 0.001 else f'p = {p:.3f}'}): scratch is better." in rec.sentence


def test_alpha_is_the_boundary_of_each_step(synthetic_study):
    study = _study(synthetic_study, _runs())
    p1 = recommend_depths(study, depth_rule="stepwise")[0].steps[0].comparison.p_value
    assert recommend_depths(study, alpha=p1 * 1.01, depth_rule="stepwise")[0].label == "ft:conv3-fc"
    stopped = recommend_depths(study, alpha=p1, depth_rule="stepwise")[0]
    assert stopped.label == "ft:fc" and len(stopped.steps) == 1


def test_several_seeds_walk_with_tests_on_cases_and_seeds(synthetic_study):
    study = _study(synthetic_study, _runs(seeds=(0, 1, 2)))
    (rec,) = recommend_depths(study, depth_rule="stepwise")
    assert rec.label == "ft:conv3-fc"
    assert [s.comparison.method for s in rec.steps] == ["paired delong + seeds (val set, 3 seeds)"] * 2
    val = {label: [_run(study, label, s).val_scores for s in (0, 1, 2)] for label in ("ft:fc", "ft:conv3-fc")}
    assert rec.steps[0].comparison.p_value == roc_auc_seeds_test(LABELS, val["ft:conv3-fc"], val["ft:fc"]).p_value
    test = roc_auc_seeds_ci(LABELS, [_run(study, "ft:conv3-fc", s).test_scores for s in (0, 1, 2)])
    assert rec.test is not None and rec.test.method == "delong + seeds (test set, 3 seeds)"
    assert (rec.test.auc, rec.test.low, rec.test.high) == (test.auc, test.low, test.high)
    assert rec.versus_scratch is not None and rec.versus_scratch.method == "paired delong + seeds (test set, 3 seeds)"
    assert f"test AUC {test.auc:.3f} [{test.low:.3f}, {test.high:.3f}] (mean of 3 seeds)" in rec.sentence
    assert rec.n_seeds == 3 and "One seed" not in rec.sentence


def test_absent_depths_are_skipped_and_the_walk_starts_at_the_shallowest(synthetic_study):
    runs = [r for r in _runs(fraction=0.25) if r[0] in ("scratch", "ft:conv3-fc", "ft:conv1-fc")]
    (rec,) = recommend_depths(_study(synthetic_study, runs), depth_rule="stepwise")
    assert _pairs(rec) == [("ft:conv1-fc", "ft:conv3-fc")]
    assert rec.label == "ft:conv1-fc"  # depth 4 (val signal 3.0) beats depth 2 (2.0); depth 3 was not run
    assert rec.notes == ("depth 1 was not run; the walk starts at ft:conv3-fc (depth 2)",)
    assert rec.sentence.startswith("At 25% of the data, fine-tune conv1–fc")


def test_depth_with_nan_validation_auc_is_skipped(synthetic_study):
    runs = _runs()
    runs[2] = (*runs[2][:4], np.full(LABELS.size, np.nan), runs[2][5])  # ft:conv3-fc
    with pytest.warns(UndefinedMetricWarning, match="Run 'run002' has 200 val case"):
        study = _study(synthetic_study, runs)
    (rec,) = recommend_depths(study, depth_rule="stepwise")
    assert _pairs(rec) == [("ft:conv2-fc", "ft:fc"), ("ft:conv1-fc", "ft:conv2-fc")]
    assert rec.label == "ft:conv1-fc"  # val signals 0.5 -> 1.9 -> 3.0, each step significant
    assert rec.notes == ("skipped ['ft:conv3-fc']: every run has a NaN validation AUC",)


def test_scratch_absent_is_said(synthetic_study):
    runs = [r for r in _runs() if r[0] != "scratch"]
    (rec,) = recommend_depths(_study(synthetic_study, runs), depth_rule="stepwise")
    assert rec.label == "ft:conv3-fc" and rec.versus_scratch is None and not rec.beats_scratch
    assert rec.notes == ("scratch was not run at this fraction",)
    assert rec.sentence.endswith(", no scratch run to compare with.")


def test_not_significantly_different_from_scratch(synthetic_study):
    test = {**TEST, "scratch": 2.0}
    (rec,) = recommend_depths(_study(synthetic_study, _runs(test=test)), depth_rule="stepwise")
    assert rec.versus_scratch is not None and rec.versus_scratch.p_value > 0.05
    assert f"against scratch, not significant (p = {rec.versus_scratch.p_value:.3f})." in rec.sentence


def test_no_fine_tuning_depth_gives_no_recommendation(synthetic_study):
    runs = [r for r in _runs() if r[0] == "scratch"]
    (rec,) = recommend_depths(_study(synthetic_study, runs))
    assert (rec.label, rec.depth, rec.test, rec.steps) == (None, None, None, ())
    assert rec.notes == ("no fine-tuning run finished at this fraction",)
    assert rec.sentence == "At 100% of the data: no fine-tuning run finished at this fraction; no recommendation."


def test_one_recommendation_per_fraction_largest_first(synthetic_study):
    runs = _runs(fraction=1.0) + _runs(fraction=0.05)
    recs = recommend_depths(_study(synthetic_study, runs))
    assert [r.train_fraction for r in recs] == [1.0, 0.05]
    assert recs[1].sentence.startswith("At 5% of the data, ")


def test_recommendation_table(synthetic_study):
    study = _study(synthetic_study, _runs())
    recs = recommend_depths(study, depth_rule="stepwise")
    table = recommendation_table(recs)
    assert list(table.columns) == list(RECOMMENDATION_COLUMNS) and len(table) == 1
    row = table.iloc[0]
    rec = recs[0]
    assert (row["label"], row["depth"], row["beats_scratch"], row["alpha"]) == ("ft:conv3-fc", 2, True, 0.05)
    assert rec.test is not None and rec.versus_scratch is not None
    assert (row["test_auc"], row["ci_method"]) == (rec.test.auc, "delong (within test set, 1 seed)")
    assert (row["p_vs_scratch"], row["scratch_test_auc"]) == (rec.versus_scratch.p_value, rec.versus_scratch.auc_b)
    assert row["sentence"] == rec.sentence and row["note"] == ""
    assert row["depth_rule"] == "stepwise"
    d1, d2 = (s.comparison for s in rec.steps)
    assert row["validation_steps"] == (
        f"[0] ft:conv3-fc vs ft:fc: {d1.difference:+.4f}, p < 0.001 (paired delong (within val set, 1 seed)) -> go; "
        f"[1] ft:conv2-fc vs ft:conv3-fc: {d2.difference:+.4f}, p = {d2.p_value:.3f} (paired delong (within val "
        "set, 1 seed)) -> stay")


def test_bad_alpha_is_refused(synthetic_study):
    study = _study(synthetic_study, _runs())
    with pytest.raises(ConfigError, match=r"'alpha' parameter of recommend_depths .* Got 0.0"):
        recommend_depths(study, alpha=0.0)


def test_regime_phrase():
    assert regime_phrase("ft:conv4-fc8") == "fine-tune conv4–fc8"
    assert regime_phrase("ft:fc8") == "fine-tune only fc8"
    assert regime_phrase("ft:head_conv-classifier") == "fine-tune head_conv–classifier"


def test_the_default_rule_takes_the_depth_of_best_validation_auc_which_is_in_its_confidence_set(synthetic_study):
    study = _study(synthetic_study, _runs())
    (rec,) = recommend_depths(study)
    val = {label: _run(study, label).val_auc for label in DEPTHS if label != "scratch"}
    assert rec.depth_rule == "best" and rec.label == max(val, key=val.get) == "ft:conv1-fc"
    assert rec.steps == () and rec.label in rec.confidence_set


def test_a_walk_that_stops_outside_the_confidence_set_says_so(synthetic_study):
    study = _study(synthetic_study, _runs())
    (rec,) = recommend_depths(study, depth_rule="stepwise")  # stops at depth 2; depth 4 is clearly better
    assert rec.depth == 2 and 2 not in rec.set_depths and rec.set_depths
    assert "(not among the depths indistinguishable from the best on validation: depth" in rec.sentence
