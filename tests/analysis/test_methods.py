"""compare_methods (methods.csv and the method sentence) on synthetic study folders with known outcomes."""

from __future__ import annotations

import numpy as np
import pytest

from tunedepth.analysis import analyze_study, compare_methods, recommend_depths
from tunedepth.results import load_finished_study

RNG = np.random.default_rng(0)
VAL = np.repeat([0, 1], 150)
TEST = np.repeat([0, 1], 150)


def _scores(labels: np.ndarray, signal: float, seed: int) -> np.ndarray:
    return signal * labels + np.random.default_rng(seed).normal(size=labels.size)


def _runs(signals: dict[str, tuple[int, float]]) -> list:
    return [(label, depth, 1.0, 0, _scores(VAL, s, 10 + k), _scores(TEST, s, 100 + k))
            for k, (label, (depth, s)) in enumerate(signals.items())]


def test_a_method_better_on_validation_is_chosen_and_compared_with_the_papers_depth_and_full_fine_tuning(
        synthetic_study):
    root = synthetic_study(_runs({"scratch": (2, 0.0), "ft:b": (1, 1.0), "ft:a-b": (2, 1.5), "llrd": (2, 3.5),
                                  "norm_only": (2, 0.3)}), val_labels=VAL, test_labels=TEST)
    study = load_finished_study(root)
    recs = recommend_depths(study, alpha=0.05, confidence=0.95)
    assert recs[0].label == "ft:a-b"  # the depth rule looks at layer-wise depths only, not at llrd
    table, choices = compare_methods(study, recs, alpha=0.05, confidence=0.95)
    rows = table.set_index("label")
    assert list(rows.index) == ["llrd", "norm_only"]
    assert set(rows["paper_label"]) == {"ft:a-b"} and set(rows["full_label"]) == {"ft:a-b"}
    assert rows.loc["llrd", "vs_paper"] > 0.05 and rows.loc["llrd", "vs_paper_p_holm"] < 0.05
    assert rows.loc["norm_only", "vs_paper"] < -0.1 and rows.loc["norm_only", "vs_full_p_holm"] < 0.05
    # Holm over the 4 tests of the fraction: never below the raw p, and the smallest raw p is multiplied by 4
    raw = rows[["vs_paper_p", "vs_full_p"]].to_numpy().ravel()
    holm = rows[["vs_paper_p_holm", "vs_full_p_holm"]].to_numpy().ravel()
    assert (holm >= raw).all() and holm[np.argmin(raw)] == pytest.approx(min(1.0, 4 * raw.min()))
    assert rows["chosen"].tolist() == [True, False]
    assert rows.loc["llrd", "in_confidence_set"] and not rows.loc["norm_only", "in_confidence_set"]
    (choice,) = choices
    assert choice.label == "llrd" and choice.paper_label == "ft:a-b"
    assert choice.sentence.startswith("Among the tuning methods at 100% of the data, llrd scores best on validation: "
                                      "test AUC ")
    assert "against the paper's best depth ft:a-b, significant" in choice.sentence


def test_when_the_papers_depth_wins_on_validation_the_sentence_says_so(synthetic_study):
    root = synthetic_study(_runs({"scratch": (2, 0.0), "ft:b": (1, 1.0), "ft:a-b": (2, 3.0), "l2sp": (2, 0.5)}),
                           val_labels=VAL, test_labels=TEST)
    study = load_finished_study(root)
    recs = recommend_depths(study, alpha=0.05, confidence=0.95)
    _, (choice,) = compare_methods(study, recs, alpha=0.05, confidence=0.95)
    assert choice.label == "ft:a-b" and choice.versus_paper is None
    assert "the paper's layer-wise choice ft:a-b scores best on validation" in choice.sentence


def test_a_study_without_methods_has_no_methods_table_and_analysis_writes_none(synthetic_study):
    root = synthetic_study(_runs({"scratch": (2, 0.0), "ft:b": (1, 1.0), "ft:a-b": (2, 1.5)}), val_labels=VAL,
                           test_labels=TEST)
    study = load_finished_study(root)
    table, choices = compare_methods(study, recommend_depths(study, alpha=0.05, confidence=0.95), alpha=0.05,
                                     confidence=0.95)
    assert table.empty and choices == ()
    analysis = analyze_study(root)
    assert not (root / "methods.csv").exists() and "method" not in analysis.scores.columns
    assert len(analysis.sentences) == 1


def test_analysis_writes_methods_csv_and_a_method_sentence_after_each_depth_sentence(synthetic_study):
    root = synthetic_study(_runs({"scratch": (2, 0.0), "ft:b": (1, 1.0), "ft:a-b": (2, 1.5), "llrd": (2, 3.5)}),
                           val_labels=VAL, test_labels=TEST)
    analysis = analyze_study(root)
    assert (root / "methods.csv").is_file()
    lines = (root / "recommendation.txt").read_text().splitlines()
    assert len(lines) == 2 and lines[0].startswith("At 100% of the data, fine-tune") and "llrd" in lines[1]
    assert dict(zip(analysis.scores["label"], analysis.scores["method"], strict=True)) == {
        "scratch": "", "ft:b": "layerwise", "ft:a-b": "layerwise", "llrd": "llrd"}
