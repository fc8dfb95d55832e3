"""How deep to fine-tune, per training fraction: chosen on validation, scored on test.

Tajbakhsh et al. (IEEE TMI 2016, section V) recommend tuning layer-wise from the end backwards until performance
stops improving. Here, for each training fraction, a rule (``depth_rule``, set in the study file's ``[analysis]``
table or by ``tunedepth recommend --rule``) chooses a fine-tuning depth on the **validation** cases:

* ``"best"`` (the default): the depth of best validation score on ``depth_metric`` (mean over seeds).
* ``"shallowest_in_set"``: the shallowest depth of the confidence set (the depths not significantly worse than the
  best at ``alpha``): the cheapest depth the data cannot tell from the best.
* ``"lookahead"``: walk from depth 1; compare the current depth with **every** deeper depth, Holm-adjust those
  p-values, and go to the shallowest deeper depth that is significantly better; stop when none is.
* ``"stepwise"`` (the paper's words taken literally): go to the next depth while it is significantly better than the
  current one; stop at the first that is not.

"Significantly better" (the walks) means a positive difference with (adjusted) two-sided p < alpha, by
:func:`~tunedepth.analysis.compare_regimes` (DeLong's paired test on the validation cases with one seed, the
case-and-seed test with several) when the depths are compared on validation AUC without cross-fitting; else by a
paired bootstrap of the per-case validation losses (:mod:`tunedepth.analysis.selection`). Every rule reports the
confidence set; the sentence names it and says when one seed cannot single out a depth. The chosen depth's **test**
AUC is then reported with its interval (:func:`~tunedepth.analysis.score_regime`) with its paired test against
scratch on the test cases, when scratch was run. The test split is never looked at to choose.

Notes:
    * Why ``best`` is the default: on a panel of real studies (docs/recommendation.md, ``benchmarks/
      bench_recommend.py``) it had the least regret of every rule tried, with one seed and with three; the walks
      stop early when a step's gain is small (``stepwise`` most), and log-loss or Brier selection prefers the less
      over-confident shallow depths, which rank the test cases worse. Until 2026-12 the default was ``lookahead``;
      it stays available, with ``stepwise``, so the change can be shown.
    * The stepwise walk is a fixed-sequence procedure (hypotheses tested in an order fixed in advance, stopping at the
      first non-rejection), which keeps the family-wise error rate at alpha without adjustment (Maurer, Hothorn &
      Lehmacher 1995). Each stage of ``lookahead`` is a Holm family; the walk as a whole is not formally bounded at
      alpha. The ``validation_steps`` column lists every test a walk made, so the path can be audited. The
      comparison with scratch is one further test per fraction, not adjusted across fractions.
    * Depths the study did not run are skipped; so are depths whose every run has a NaN validation AUC (or
      non-finite predictions). Both are stated in the row's notes. When depth 1 is absent a walk starts at the
      shallowest depth present, and says so.
    * Each run's validation score is that of its selected epoch, which was chosen on the same validation cases, so
      it is optimistic (winner's curse); ``cross_fit`` removes that by choosing epochs and depths on disjoint
      halves, at the price of comparing depths on half the cases each way.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tunedepth.analysis._checks import check_alpha
from tunedepth.analysis.compare import RegimeComparison, RegimeScore, compare_regimes, score_regime
from tunedepth.analysis.selection import (
    DEPTH_METRICS,
    ValidationEvidence,
    confidence_set,
    resolve_cross_fit,
    validation_evidence,
)
from tunedepth.errors import ConfigError
from tunedepth.evaluation import holm_adjust, paired_loss_test
from tunedepth.results import Arm, FinishedStudy

__all__ = [
    "DEPTH_RULES",
    "RECOMMENDATION_COLUMNS",
    "DepthRecommendation",
    "WalkStep",
    "recommend_depths",
    "recommendation_table",
    "regime_phrase",
]

DEPTH_RULES = ("lookahead", "stepwise", "best", "shallowest_in_set")
"""The rules that choose the depth (see the module docstring)."""

RECOMMENDATION_COLUMNS = (
    "train_fraction", "label", "depth", "test_auc", "test_auc_low", "test_auc_high", "ci_method",
    "scratch_test_auc", "difference_vs_scratch", "difference_low", "difference_high", "p_vs_scratch",
    "method_vs_scratch", "beats_scratch", "depth_rule", "depth_metric", "cross_fitted", "confidence_set",
    "set_size", "n_seeds", "validation_steps", "alpha", "sentence", "note",
)


def _significantly_better(c: RegimeComparison, alpha: float, p_value: float | None = None) -> bool:
    p = c.p_value if p_value is None else p_value
    return not math.isnan(p) and p < alpha and c.difference > 0


@dataclass(frozen=True)
class WalkStep:
    """One validation comparison the walk made: a deeper depth (a) against the current one (b).

    Attributes:
        comparison: the paired comparison on the validation cases (``label_a`` is the deeper depth).
        p_adjusted: its p-value after Holm's adjustment within its stage (``lookahead``); equal to the raw p-value
            for ``stepwise``, whose stages are single tests.
        stage: the stage of the walk (0 = comparisons against the starting depth).
        moved: whether the walk went to ``comparison.label_a`` after this stage.
    """

    comparison: RegimeComparison
    p_adjusted: float
    stage: int
    moved: bool


def _percent(train_fraction: float) -> str:
    return f"{train_fraction * 100:g}%"


def _p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def regime_phrase(label: str) -> str:
    """A fine-tuning label in words, with the group range from the label's group names.

    Example:
        >>> regime_phrase("ft:conv4-fc8"), regime_phrase("ft:fc8")
        ('fine-tune conv4–fc8', 'fine-tune only fc8')
    """
    name = label.removeprefix("ft:")
    if "-" not in name:
        return f"fine-tune only {name}"
    first, last = name.rsplit("-", 1)
    return f"fine-tune {first}–{last}"


@dataclass(frozen=True)
class DepthRecommendation:
    """The recommended fine-tuning depth at one training fraction, and how it compares with scratch on test.

    Attributes:
        train_fraction: the training fraction, in (0, 1].
        label: the recommended regime's label, e.g. "ft:conv4-fc8"; None when no fine-tuning depth has a run with
            a defined validation AUC at this fraction.
        depth: the recommended depth; None with ``label``.
        steps: the validation comparisons the walk made, stage by stage, each "deeper depth (a) vs current (b)";
            the last stage is where it stopped unless the walk reached the deepest depth.
        depth_rule: the rule that chose the depth, one of :data:`DEPTH_RULES`.
        test: the recommended regime's test AUC with its interval; None with ``label``.
        versus_scratch: the recommended regime (a) vs scratch (b) on the test cases; None when scratch was not run
            at this fraction (or there is no recommendation).
        alpha: the significance level used.
        notes: what the walk skipped or could not compute, empty when nothing.
        arm: the recommended regime as a key (``label`` is its display); None with ``label``.
        confidence_set: labels of the fine-tuning depths not significantly worse than the validation-best
            (:func:`~tunedepth.evaluation.model_confidence_set`), shallowest first; empty when not computed.
        set_depths: the depths of ``confidence_set``.
        depth_metric: what the depths were compared on ("auc", "log_loss" or "brier").
        cross_fitted: whether the epoch and the depth were chosen on disjoint validation cases.
        n_seeds: seeds behind the choice (shared by every depth).
    """

    train_fraction: float
    label: str | None
    depth: int | None
    steps: tuple[WalkStep, ...]
    test: RegimeScore | None
    versus_scratch: RegimeComparison | None
    alpha: float
    notes: tuple[str, ...]
    depth_rule: str = "best"
    arm: Arm | None = None
    confidence_set: tuple[str, ...] = ()
    set_depths: tuple[int, ...] = ()
    depth_metric: str = "auc"
    cross_fitted: bool = False
    n_seeds: int = 1

    @property
    def beats_scratch(self) -> bool:
        """True when the recommended regime is significantly better than scratch on test (p < alpha)."""
        return self.versus_scratch is not None and _significantly_better(self.versus_scratch, self.alpha)

    @property
    def sentence(self) -> str:
        """The answer in one sentence, effect size first, e.g. "At 25% of the data, fine-tune block5–classifier
        (depths 4–8 are indistinguishable on validation): test AUC 0.957 [0.940, 0.970], +0.051 [+0.030, +0.070]
        over scratch (p < 0.001)."; with one seed and several depths in the set, what to run to narrow it."""
        at = f"At {_percent(self.train_fraction)} of the data"
        if self.label is None or self.test is None:
            why = self.notes[0] if self.notes else "no fine-tuning run has a defined validation AUC"
            return f"{at}: {why}; no recommendation."
        t = self.test
        if math.isnan(t.auc):
            score = "test AUC undefined"
        elif math.isnan(t.low):
            score = f"test AUC {t.auc:.3f} (interval undefined)"
        else:
            score = f"test AUC {t.auc:.3f} [{t.low:.3f}, {t.high:.3f}]"
        if t.n_runs - t.n_nan >= 2:
            score += f" (mean of {t.n_runs - t.n_nan} seeds)"
        others = len(self.set_depths) > 1
        aside = f" ({_depths_text(self.set_depths)} are indistinguishable on validation)" if others else ""
        if self.set_depths and self.depth not in self.set_depths:  # a walk can stop short of the set
            aside = (f" (not among the depths indistinguishable from the best on validation: "
                     f"{_depths_text(self.set_depths)})")
        text = f"{at}, {regime_phrase(self.label)}{aside}: {score}, {self._scratch_clause()}."
        if others and self.n_seeds == 1:
            text += (f" One seed cannot single out a depth among {_depths_text(self.set_depths)}: run 3 or more "
                     "seeds to narrow the set.")
        return text

    def _scratch_clause(self) -> str:
        c = self.versus_scratch
        if c is None:
            return "no scratch run to compare with"
        if math.isnan(c.p_value):
            return f"{c.difference:+.3f} against scratch (not testable: p undefined)"
        effect = f"{c.difference:+.3f} [{c.low:+.3f}, {c.high:+.3f}]"
        if c.p_value < self.alpha and c.difference > 0:
            return f"{effect} over scratch ({_p_text(c.p_value)})"
        if c.p_value < self.alpha:
            return f"{effect} against scratch ({_p_text(c.p_value)}): scratch is better"
        return f"{effect} against scratch, not significant ({_p_text(c.p_value)})"


def _depths_text(depths: tuple[int, ...]) -> str:
    """E.g. "depths 4–8" for a run of consecutive depths, "depths 2, 5 and 9" otherwise."""
    if len(depths) >= 3 and list(depths) == list(range(depths[0], depths[-1] + 1)):
        return f"depths {depths[0]}–{depths[-1]}"
    if len(depths) == 1:
        return f"depth {depths[0]}"
    return "depths " + ", ".join(str(d) for d in depths[:-1]) + f" and {depths[-1]}"


Compare = Callable[[Arm, Arm], RegimeComparison]


def _usable_by_auc(study: FinishedStudy, train_fraction: float, notes: list[str]) -> list[Arm]:
    """The depths the walk on validation AUC can use: those with a run of defined validation AUC."""
    depths = list(study.depth_arms_at(train_fraction))
    usable = [arm for arm in depths
              if any(not math.isnan(r.val_auc) for r in study.runs_of(arm, train_fraction=train_fraction).values())]
    if skipped := [study.label_of(arm) for arm in depths if arm not in usable]:
        notes.append(f"skipped {skipped}: every run has a NaN validation AUC")
    return usable


def _walk(study: FinishedStudy, train_fraction: float, usable: list[Arm], rule: str, alpha: float,
          compare: Compare, notes: list[str]) -> tuple[Arm | None, tuple[WalkStep, ...]]:
    if not usable:
        return None, ()
    start = usable[0].depth
    if start != 1:
        ran = any(a.depth == 1 for a in study.depth_arms_at(train_fraction))
        why = "has no defined validation AUC" if ran else "was not run"
        notes.append(f"depth 1 {why}; the walk starts at {study.label_of(usable[0])} (depth {start})")
    current, steps = usable[0], []
    for stage in range(len(usable)):
        deeper = usable[usable.index(current) + 1:]
        if rule == "stepwise":
            deeper = deeper[:1]
        if not deeper:
            break
        found = [compare(arm, current) for arm in deeper]
        adjusted = holm_adjust([c.p_value for c in found]).tolist()
        better = [c.arm_a for c, p in zip(found, adjusted, strict=True) if _significantly_better(c, alpha, p)]
        target = better[0] if better else None
        steps += [WalkStep(c, p, stage, c.arm_a == target) for c, p in zip(found, adjusted, strict=True)]
        if target is None:
            break
        current = target
    return current, tuple(steps)


def _loss_comparison(study: FinishedStudy, evidence: ValidationEvidence, confidence: float, n_boot: int,
                     seed: int) -> Compare:
    """Paired bootstrap of two depths' per-case validation losses, as a comparison of scores (higher is better:
    AUC for "auc", minus the loss otherwise)."""
    fitted = ", cross-fitted" if evidence.cross_fitted else ""
    k = len(evidence.seeds)
    method = f"paired bootstrap of per-case validation {evidence.metric} ({k} seed{'s' if k > 1 else ''}{fitted})"

    def compare(a: Arm, b: Arm) -> RegimeComparison:
        ia, ib = evidence.arms.index(a), evidence.arms.index(b)
        t = paired_loss_test(evidence.losses[:, :, ia], evidence.losses[:, :, ib], confidence=confidence,
                             n_boot=n_boot, seed=seed)
        # lower loss is better: the score difference a - b is minus the loss difference
        return RegimeComparison(a, b, study.label_of(a), study.label_of(b), evidence.train_fraction, "val",
                                evidence.score(a), evidence.score(b), -t.difference, -t.high, -t.low, t.p_value,
                                method, k, ())
    return compare


def _choose(study: FinishedStudy, train_fraction: float, evidence: ValidationEvidence, rule: str, alpha: float,
            confidence: float, n_boot: int, seed: int, set_arms: tuple[Arm, ...],
            notes: list[str]) -> tuple[Arm | None, tuple[WalkStep, ...]]:
    if rule in ("lookahead", "stepwise"):
        if evidence.metric == "auc" and not evidence.cross_fitted:
            usable = _usable_by_auc(study, train_fraction, notes)

            def compare(a: Arm, b: Arm) -> RegimeComparison:
                return compare_regimes(study, a, b, train_fraction=train_fraction, split="val", confidence=confidence)
            return _walk(study, train_fraction, usable, rule, alpha, compare, notes)
        return _walk(study, train_fraction, list(evidence.arms), rule, alpha,
                     _loss_comparison(study, evidence, confidence, n_boot, seed), notes)
    if rule == "shallowest_in_set" and set_arms:
        return set_arms[0], ()
    if rule == "shallowest_in_set" and evidence.arms:
        notes.append("the confidence set is undefined; the depth of best validation score was kept")
    return evidence.best, ()


def recommend_depths(
    study: FinishedStudy, *, alpha: float = 0.05, confidence: float = 0.95, depth_rule: str = "best",
    depth_metric: str = "auc", cross_fit: bool | str = "auto", n_boot: int = 2000, seed: int = 0,
) -> tuple[DepthRecommendation, ...]:
    """The recommended fine-tuning depth per training fraction, chosen on validation, scored on test.

    Args:
        study: the finished study.
        alpha: significance level of each step of the walk, of the confidence set and of the comparison with
            scratch, in (0, 1).
        confidence: level of the test AUC's and the difference's two-sided intervals, in (0, 1).
        depth_rule: one of :data:`DEPTH_RULES`; see the module docstring.
        depth_metric: what the depths are compared on, one of
            :data:`~tunedepth.analysis.selection.DEPTH_METRICS`.
        cross_fit: choose each run's epoch and the depth on disjoint halves of the validation cases (needs the
            per-epoch predictions runs keep; otherwise a note says so); "auto": at fractions with 3 or more seeds.
        n_boot: bootstrap resamples of the confidence set and the loss tests (>= 100).
        seed: seed of those bootstraps and of the cross-fitting halves.

    Returns:
        One recommendation per training fraction, largest fraction first.

    Raises:
        ConfigError: if alpha is not in (0, 1), or depth_rule or depth_metric is not a known value.

    Example:
        See ``tests/analysis/test_recommend.py``; a study folder is needed.
    """
    alpha = check_alpha(alpha, "recommend_depths")
    if depth_rule not in DEPTH_RULES:
        raise ConfigError(f"The 'depth_rule' parameter of recommend_depths must be one of {list(DEPTH_RULES)}; "
                          f"got {depth_rule!r}.")
    if depth_metric not in DEPTH_METRICS:
        raise ConfigError(f"The 'depth_metric' parameter of recommend_depths must be one of {list(DEPTH_METRICS)}; "
                          f"got {depth_metric!r}.")
    out = []
    for train_fraction in study.train_fractions:
        notes: list[str] = []
        if not study.depth_arms_at(train_fraction):
            notes.append("no fine-tuning run finished at this fraction")
        fit = resolve_cross_fit(cross_fit, study, train_fraction)
        evidence = validation_evidence(study, train_fraction, metric=depth_metric, cross_fit=fit, split_seed=seed)
        if depth_rule not in ("lookahead", "stepwise") or depth_metric != "auc" or fit:
            notes += evidence.notes
        set_arms = confidence_set(evidence, alpha=alpha, n_boot=n_boot, seed=seed)
        arm, steps = _choose(study, train_fraction, evidence, depth_rule, alpha, confidence, n_boot, seed, set_arms,
                             notes)
        test = versus = None
        if arm is not None:
            test = score_regime(study, arm, train_fraction=train_fraction, split="test", confidence=confidence)
            scratch = [a for a in study.arms_at(train_fraction) if a.is_scratch]
            if scratch:
                versus = compare_regimes(study, arm, scratch[0], train_fraction=train_fraction, split="test",
                                         confidence=confidence)
            else:
                notes.append("scratch was not run at this fraction")
        label = None if arm is None else study.label_of(arm)
        depth = None if arm is None else arm.depth
        out.append(DepthRecommendation(
            train_fraction, label, depth, steps, test, versus, alpha, tuple(notes), depth_rule, arm,
            confidence_set=tuple(study.label_of(a) for a in set_arms), set_depths=tuple(a.depth for a in set_arms),
            depth_metric=depth_metric, cross_fitted=evidence.cross_fitted, n_seeds=max(1, len(evidence.seeds)),
        ))
    return tuple(out)


def _steps_text(rec: DepthRecommendation) -> str:
    parts = []
    for step in rec.steps:
        c = step.comparison
        p = "p undefined" if math.isnan(c.p_value) else _p_text(c.p_value)
        if rec.depth_rule == "lookahead" and not math.isnan(step.p_adjusted):
            p += f", Holm {_p_text(step.p_adjusted).removeprefix('p ')}"
        verdict = "go" if step.moved else "stay"
        parts.append(f"[{step.stage}] {c.label_a} vs {c.label_b}: {c.difference:+.4f}, {p} ({c.method}) -> {verdict}")
    return "; ".join(parts)


def recommendation_table(recommendations: tuple[DepthRecommendation, ...]) -> pd.DataFrame:
    """The recommendations as a table, one row per training fraction, with the columns RECOMMENDATION_COLUMNS.

    ``confidence_set`` joins the labels of the depths not significantly worse than the best on validation with
    "; " (``set_size`` of them); ``validation_steps`` lists the walk's comparisons, "[stage] deeper vs current:
    difference, p (, Holm-adjusted p) (method) -> go|stay", where "go" marks the depth the walk moved to;
    ``note`` joins the recommendation's notes and those of its statistics ("" when none).

    Example:
        >>> recommendation_table(()).columns[:3].tolist()
        ['train_fraction', 'label', 'depth']
    """
    nan = float("nan")
    rows: list[dict[str, Any]] = []
    for rec in recommendations:
        t, c = rec.test, rec.versus_scratch
        notes = [*rec.notes, *(n for s in rec.steps for n in s.comparison.notes), *(t.notes if t else ()),
                 *(c.notes if c else ())]
        rows.append({
            "train_fraction": rec.train_fraction, "label": rec.label or "", "depth": rec.depth,
            "test_auc": t.auc if t else nan, "test_auc_low": t.low if t else nan,
            "test_auc_high": t.high if t else nan, "ci_method": t.method if t else "",
            "scratch_test_auc": c.auc_b if c else nan, "difference_vs_scratch": c.difference if c else nan,
            "difference_low": c.low if c else nan, "difference_high": c.high if c else nan,
            "p_vs_scratch": c.p_value if c else nan, "method_vs_scratch": c.method if c else "",
            "beats_scratch": rec.beats_scratch, "depth_rule": rec.depth_rule, "depth_metric": rec.depth_metric,
            "cross_fitted": rec.cross_fitted, "confidence_set": "; ".join(rec.confidence_set),
            "set_size": len(rec.confidence_set), "n_seeds": rec.n_seeds, "validation_steps": _steps_text(rec),
            "alpha": rec.alpha,
            "sentence": rec.sentence, "note": "; ".join(dict.fromkeys(notes)),
        })
    return pd.DataFrame(rows, columns=list(RECOMMENDATION_COLUMNS))
