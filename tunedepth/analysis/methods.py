"""The tuning methods of a study (``grid.methods``) against the paper's scheme: ``methods.csv`` and one sentence per
training fraction.

Per fraction, every run of a method other than ``layerwise`` (a surgical group, LP-FT at a depth, LLRD, ...) is an
arm, scored on test and compared, paired on the test cases (DeLong; with several seeds DeLong + seeds, as every
comparison of the study), with two references of the paper's scheme:

* **the paper's best depth** — the layer-wise depth the study's depth rule recommends on validation at that
  fraction (:func:`~tunedepth.analysis.recommend_depths`);
* **full fine-tuning** — the layer-wise run at the deepest depth, every group trained, when it was run.

The p-values of one fraction (every method against both references) form one family and are Holm-adjusted.

The **method recommendation** is chosen on validation like the depth: among the paper's best depth and every method
arm, the one of best validation score (the study's ``depth_metric``, cross-fitted when ``cross_fit``), with the
confidence set of arms not significantly worse (:func:`~tunedepth.analysis.confidence_set`). Test only scores it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tunedepth.analysis.compare import RegimeComparison, RegimeScore, compare_regimes, score_regime
from tunedepth.analysis.recommend import DepthRecommendation
from tunedepth.analysis.selection import confidence_set, resolve_cross_fit, validation_evidence
from tunedepth.evaluation import holm_adjust
from tunedepth.results import Arm, FinishedStudy

__all__ = ["METHOD_COLUMNS", "MethodChoice", "compare_methods"]

METHOD_COLUMNS = (
    "train_fraction", "label", "method", "depth", "n_runs", "val_auc", "test_auc", "test_auc_low", "test_auc_high",
    "paper_label", "vs_paper", "vs_paper_low", "vs_paper_high", "vs_paper_p", "vs_paper_p_holm",
    "full_label", "vs_full", "vs_full_low", "vs_full_high", "vs_full_p", "vs_full_p_holm",
    "in_confidence_set", "chosen", "note",
)
"""Columns of ``methods.csv``: one row per (fraction, method arm); ``vs_*`` are test-AUC differences (method −
reference) with their interval and raw and Holm-adjusted p-values."""


@dataclass(frozen=True)
class MethodChoice:
    """The tuning method chosen on validation at one training fraction.

    Attributes:
        train_fraction: the fraction.
        label: the chosen arm's label (a method arm, or the paper's best depth); None when nothing could be chosen.
        paper_label: the label of the paper's best depth (the depth rule's choice); None when it has none.
        test: the chosen arm's test AUC and interval.
        versus_paper: the chosen arm against the paper's best depth on test (None when it is that depth).
        confidence_set: labels of the arms not significantly worse than the best on validation.
        n_seeds: seeds behind the choice.
        alpha: level of the tests and of the set.
        notes: why something is missing, empty when nothing is.
    """

    train_fraction: float
    label: str | None
    paper_label: str | None
    test: RegimeScore | None
    versus_paper: RegimeComparison | None
    confidence_set: tuple[str, ...]
    n_seeds: int
    alpha: float
    notes: tuple[str, ...] = ()

    @property
    def sentence(self) -> str:
        """E.g. "Among the tuning methods at 100% of the data, llrd scores best on validation: test AUC 0.921
        [0.880, 0.962], +0.012 [-0.010, +0.034] against the paper's best depth ft:block3-classifier, not
        significant (p = 0.281)."."""
        at = f"Among the tuning methods at {self.train_fraction * 100:g}% of the data"
        if self.label is None or self.test is None:
            why = self.notes[0] if self.notes else "no arm has a usable validation score"
            return f"{at}: {why}; no method recommendation."
        t = self.test
        score = "test AUC undefined" if math.isnan(t.auc) else (
            f"test AUC {t.auc:.3f}" + ("" if math.isnan(t.low) else f" [{t.low:.3f}, {t.high:.3f}]"))
        if self.label == self.paper_label:
            text = f"{at}, the paper's layer-wise choice {self.label} scores best on validation: {score}"
        else:
            text = f"{at}, {self.label} scores best on validation: {score}, {self._paper_clause()}"
        others = [label for label in self.confidence_set if label != self.label]
        if others:
            text += f" ({', '.join(others)} {'is' if len(others) == 1 else 'are'} indistinguishable from it on " \
                    "validation)"
        text += "."
        if others and self.n_seeds == 1:
            text += " One seed cannot single out a method: run 3 or more seeds to narrow the set."
        return text

    def _paper_clause(self) -> str:
        c = self.versus_paper
        if c is None or self.paper_label is None:
            return "no paper's depth to compare with"
        reference = f"the paper's best depth {self.paper_label}"
        if math.isnan(c.p_value):
            return f"{c.difference:+.3f} against {reference} (not testable: p undefined)"
        effect = f"{c.difference:+.3f} [{c.low:+.3f}, {c.high:+.3f}] against {reference}"
        p = "p < 0.001" if c.p_value < 0.001 else f"p = {c.p_value:.3f}"
        verdict = "significant" if c.p_value < self.alpha else "not significant"
        return f"{effect}, {verdict} ({p})"


def _full_arm(study: FinishedStudy, train_fraction: float) -> Arm | None:
    """The layer-wise arm that trains every group, when it ran at this fraction."""
    arms = study.arms_at(train_fraction)
    n_groups = max(a.depth for a in arms)
    full = Arm("finetune", n_groups)
    return full if full in arms else None


def _comparison_cells(c: RegimeComparison | None) -> dict[str, float]:
    if c is None:
        return {"": math.nan, "_low": math.nan, "_high": math.nan, "_p": math.nan}
    return {"": c.difference, "_low": c.low, "_high": c.high, "_p": c.p_value}


def compare_methods(study: FinishedStudy, recommendations: tuple[DepthRecommendation, ...], *, alpha: float,
                    confidence: float, depth_metric: str = "auc", cross_fit: bool | str = "auto", n_boot: int = 2000,
                    seed: int = 0) -> tuple[pd.DataFrame, tuple[MethodChoice, ...]]:
    """``methods.csv`` and the method recommendation per fraction (see the module docstring).

    Args:
        study: the finished study.
        recommendations: its depth recommendations (:func:`~tunedepth.analysis.recommend_depths`), one per fraction.
        alpha: level of the tests (after Holm) and of the confidence set.
        confidence: level of every interval.
        depth_metric: what arms are compared on for the choice (as the depth rule).
        cross_fit: choose epochs and arms on disjoint validation halves ("auto": with 3 or more seeds).
        n_boot: bootstrap resamples of the confidence set.
        seed: its seed (and the halves').

    Returns:
        The table (columns :data:`METHOD_COLUMNS`; empty when the study has no tuning method beyond the paper's)
        and one :class:`MethodChoice` per fraction with a method arm, largest fraction first.
    """
    rows: list[dict[str, object]] = []
    choices: list[MethodChoice] = []
    by_fraction = {rec.train_fraction: rec for rec in recommendations}
    for train_fraction in study.train_fractions:
        methods = [a for a in study.arms_at(train_fraction) if a.method is not None]
        if not methods:
            continue
        rec = by_fraction.get(train_fraction)
        paper = rec.arm if rec is not None else None
        full = _full_arm(study, train_fraction)
        evidence = validation_evidence(study, train_fraction, metric=depth_metric,
                                       cross_fit=resolve_cross_fit(cross_fit, study, train_fraction),
                                       split_seed=seed, arms=([paper] if paper is not None else []) + methods)
        members = set(confidence_set(evidence, alpha=alpha, n_boot=n_boot, seed=seed))
        best = evidence.best
        start = len(rows)
        for arm in methods:
            test = score_regime(study, arm, train_fraction=train_fraction, split="test", confidence=confidence)
            versus = {name: None if ref is None else compare_regimes(
                study, arm, ref, train_fraction=train_fraction, split="test", confidence=confidence)
                for name, ref in (("paper", paper), ("full", full))}
            runs = study.runs_of(arm, train_fraction=train_fraction).values()
            val = [r.val_auc for r in runs if not math.isnan(r.val_auc)]
            notes = [*test.notes, *(n for c in versus.values() if c is not None for n in c.notes)]
            rows.append({
                "train_fraction": train_fraction, "label": study.label_of(arm), "method": arm.method,
                "depth": arm.depth, "n_runs": test.n_runs, "val_auc": float(np.mean(val)) if val else math.nan,
                "test_auc": test.auc, "test_auc_low": test.low, "test_auc_high": test.high,
                "paper_label": "" if paper is None else study.label_of(paper),
                **{f"vs_paper{k}": v for k, v in _comparison_cells(versus["paper"]).items()},
                "full_label": "" if full is None else study.label_of(full),
                **{f"vs_full{k}": v for k, v in _comparison_cells(versus["full"]).items()},
                "in_confidence_set": arm in members, "chosen": arm == best, "note": "; ".join(notes),
            })
        family = [rows[i][f"vs_{ref}_p"] for i in range(start, len(rows)) for ref in ("paper", "full")]
        adjusted = holm_adjust(np.asarray(family, dtype=float))
        for k, i in enumerate(range(start, len(rows))):
            rows[i]["vs_paper_p_holm"], rows[i]["vs_full_p_holm"] = float(adjusted[2 * k]), float(adjusted[2 * k + 1])
        choices.append(_choice(study, train_fraction, best, paper, members, evidence.seeds, alpha, confidence,
                               evidence.notes))
    table = pd.DataFrame(rows, columns=list(METHOD_COLUMNS))
    return table, tuple(choices)


def _choice(study: FinishedStudy, train_fraction: float, best: Arm | None, paper: Arm | None, members: set[Arm],
            seeds: tuple[int, ...], alpha: float, confidence: float, notes: tuple[str, ...]) -> MethodChoice:
    paper_label = None if paper is None else study.label_of(paper)
    if best is None:
        return MethodChoice(train_fraction, None, paper_label, None, None, (), max(1, len(seeds)), alpha, notes)
    test = score_regime(study, best, train_fraction=train_fraction, split="test", confidence=confidence)
    versus = None if paper is None or best == paper else compare_regimes(
        study, best, paper, train_fraction=train_fraction, split="test", confidence=confidence)
    ordered = tuple(study.label_of(a) for a in sorted(members, key=Arm.sort_key))
    return MethodChoice(train_fraction, study.label_of(best), paper_label, test, versus, ordered,
                        max(1, len(seeds)), alpha, notes)
