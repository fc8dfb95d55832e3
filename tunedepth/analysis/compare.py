"""One regime's ROC AUC with its interval, and two regimes' paired comparison, in a finished study.

Which uncertainty a study can report depends on how many seeds it ran (the paper ran one; its intervals came
from the test cases only):

* **One seed**: the spread due to the finite set of cases. A regime's AUC gets DeLong's interval
  (:func:`~tunedepth.evaluation.roc_auc_ci`); two regimes are compared by DeLong's paired test on the same cases
  (:func:`~tunedepth.evaluation.roc_auc_delong_test`; DeLong, DeLong & Clarke-Pearson, Biometrics 1988).
* **Several seeds**: the spread due to the cases *and* to training (initialisation, data order, training subset).
  A regime's AUC is the mean over seeds; its interval and two regimes' paired test (runs paired by seed, since runs
  with the same seed share the training subset) add DeLong's case variance of the seed-mean AUC to the
  between-seed variance over the number of seeds (:func:`~tunedepth.evaluation.roc_auc_seeds_ci`,
  :func:`~tunedepth.evaluation.roc_auc_seeds_test`).

The ``method`` field of every result names which was used, for example "delong (within test set, 1 seed)" or
"paired t over 3 seeds".

Notes:
    * Seeds whose AUC is NaN (undefined) are left out, and so are seeds that only one of two compared regimes ran;
      each row's ``notes`` says so. When one usable seed (or seed pair) remains, the one-seed method is used.
    * Before issue 15 (2026-12) several seeds were compared by the paired t-test on the per-seed AUCs alone: with 3
      seeds it has 2 degrees of freedom and ignores the finite test set, so it missed differences of several
      hundredths (a BreastMNIST interval spanned [0.675, 0.976]). The t interval is still what the score table's
      sensitivity columns use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tunedepth.analysis._notes import collect_undefined
from tunedepth.errors import ConfigError
from tunedepth.evaluation import roc_auc_ci, roc_auc_delong_test, roc_auc_seeds_ci, roc_auc_seeds_test
from tunedepth.results import Arm, FinishedRun, FinishedStudy, Split

__all__ = ["RegimeComparison", "RegimeScore", "compare_regimes", "score_regime"]

_NAN = float("nan")


@dataclass(frozen=True)
class RegimeScore:
    """A regime's ROC AUC at one training fraction, with its confidence interval.

    Attributes:
        arm: the regime (scratch, or fine-tuning at a depth).
        label: its display label, e.g. "scratch" or "ft:conv3-fc8".
        train_fraction: the training fraction, in (0, 1].
        split: "val" or "test".
        auc: the AUC (one seed), or the mean AUC over the seeds used.
        low: lower bound of the interval.
        high: upper bound of the interval.
        method: how the interval was made, "delong (within <split> set, 1 seed)" or "delong + seeds (<split> set,
            <k> seeds)".
        n_runs: finished runs (seeds) of the regime at this fraction.
        n_nan: runs among them whose AUC is NaN (left out).
        notes: messages of undefined statistics met, empty when none.
    """

    arm: Arm
    label: str
    train_fraction: float
    split: Split
    auc: float
    low: float
    high: float
    method: str
    n_runs: int
    n_nan: int
    notes: tuple[str, ...]


@dataclass(frozen=True)
class RegimeComparison:
    """Paired comparison of regime a with regime b at one training fraction.

    Attributes:
        arm_a: regime a.
        arm_b: regime b.
        label_a: regime a's display label.
        label_b: regime b's display label.
        train_fraction: the training fraction, in (0, 1].
        split: "val" or "test", the cases the AUCs were computed on.
        auc_a: a's AUC (the mean over the seed pairs used, with several seeds).
        auc_b: b's AUC, likewise.
        difference: ``auc_a - auc_b``; positive when a scored higher.
        low: lower bound of the difference's interval.
        high: upper bound of the difference's interval.
        p_value: two-sided p-value of "equal AUCs"; NaN when undefined.
        method: "paired delong (within <split> set, 1 seed)" or "paired delong + seeds (<split> set, <k> seeds)".
        n_seeds: seed pairs used.
        notes: messages of undefined statistics met, empty when none.
    """

    arm_a: Arm
    arm_b: Arm
    label_a: str
    label_b: str
    train_fraction: float
    split: Split
    auc_a: float
    auc_b: float
    difference: float
    low: float
    high: float
    p_value: float
    method: str
    n_seeds: int
    notes: tuple[str, ...]


def _runs(study: FinishedStudy, arm: Arm, train_fraction: float, func: str) -> dict[int, FinishedRun]:
    runs = study.runs_of(arm, train_fraction=train_fraction)
    if not runs:
        there = [study.label_of(a) for a in study.arms_at(train_fraction)]
        raise ConfigError(
            f"The 'arm' parameter of {func} must name a regime with a finished run at train_fraction "
            f"{train_fraction:g} in {str(study.root)!r}: one of {there}. Got {arm}."
        )
    return runs


def score_regime(
    study: FinishedStudy, arm: Arm, *, train_fraction: float, split: Split, confidence: float = 0.95
) -> RegimeScore:
    """A regime's AUC on the validation or test cases, with DeLong's interval (one seed) or a t interval (several).

    Args:
        study: the finished study.
        arm: the regime (``study.arm_of("ft:conv3-fc8")`` finds it from a label).
        train_fraction: the training fraction; must have a finished run of ``arm``.
        split: "val" or "test".
        confidence: level of the two-sided interval, in (0, 1).

    Returns:
        The score; see the module docstring for the method and the NaN policy.

    Raises:
        ConfigError: if ``arm`` has no finished run at ``train_fraction``.

    Example:
        See ``tests/analysis/test_compare.py``; a study folder is needed.
    """
    runs = _runs(study, arm, train_fraction, "score_regime")
    usable = [run for run in runs.values() if not math.isnan(run.auc(split))]
    n_nan = len(runs) - len(usable)
    notes: list[str] = []
    if n_nan:
        notes.append(f"{n_nan} of {len(runs)} runs have a NaN {split} AUC and are left out")
    with collect_undefined(notes):
        if len(usable) >= 2:
            mean = roc_auc_seeds_ci(study.labels(split), [run.scores(split) for run in usable], confidence=confidence)
            auc, low, high = mean.auc, mean.low, mean.high
            method = f"delong + seeds ({split} set, {len(usable)} seeds)"
        elif len(usable) == 1:
            ci = roc_auc_ci(study.labels(split), usable[0].scores(split), confidence=confidence)
            auc, low, high, method = ci.auc, ci.low, ci.high, f"delong (within {split} set, 1 seed)"
        else:
            auc, low, high, method = _NAN, _NAN, _NAN, "none (no run with a defined AUC)"
    return RegimeScore(arm, study.label_of(arm), train_fraction, split, auc, low, high, method, len(runs), n_nan,
                       tuple(notes))


def compare_regimes(
    study: FinishedStudy,
    arm_a: Arm,
    arm_b: Arm,
    *,
    train_fraction: float,
    split: Split,
    confidence: float = 0.95,
) -> RegimeComparison:
    """Paired comparison of two regimes' AUCs at one training fraction, on the validation or test cases.

    With one usable seed pair, DeLong's paired test on the same cases; with several, the seed-mean difference
    tested with the case and the between-seed variance (runs paired by seed). See the module docstring.

    Args:
        study: the finished study.
        arm_a: regime a.
        arm_b: regime b.
        train_fraction: the training fraction; both regimes must have a finished run there.
        split: "val" or "test".
        confidence: level of the two-sided interval of the difference, in (0, 1).

    Returns:
        The comparison, difference = a - b. Swapping a and b negates the difference and keeps the p-value.

    Raises:
        ConfigError: if either arm has no finished run at ``train_fraction``.

    Example:
        See ``tests/analysis/test_compare.py``; a study folder is needed.
    """
    runs_a = _runs(study, arm_a, train_fraction, "compare_regimes")
    runs_b = _runs(study, arm_b, train_fraction, "compare_regimes")
    label_a, label_b = study.label_of(arm_a), study.label_of(arm_b)
    notes: list[str] = []
    shared = [seed for seed in runs_a if seed in runs_b]
    unpaired = sorted(set(runs_a) ^ set(runs_b))
    if unpaired:
        notes.append(f"seeds {unpaired} were run for only one of {label_a!r} and {label_b!r} and are left out")
    pairs = [(runs_a[s], runs_b[s]) for s in shared
             if not (math.isnan(runs_a[s].auc(split)) or math.isnan(runs_b[s].auc(split)))]
    if len(pairs) < len(shared):
        notes.append(f"{len(shared) - len(pairs)} of {len(shared)} seed pairs have a NaN {split} AUC and are left out")
    with collect_undefined(notes):
        if len(pairs) >= 2:
            t = roc_auc_seeds_test(study.labels(split), [a.scores(split) for a, _ in pairs],
                                   [b.scores(split) for _, b in pairs], confidence=confidence)
            result = (t.auc_a, t.auc_b, t.difference, t.low, t.high, t.p_value,
                      f"paired delong + seeds ({split} set, {len(pairs)} seeds)")
        elif len(pairs) == 1:
            (a, b), = pairs
            d = roc_auc_delong_test(study.labels(split), a.scores(split), b.scores(split), confidence=confidence)
            result = (d.auc_a, d.auc_b, d.difference, d.low, d.high, d.p_value,
                      f"paired delong (within {split} set, 1 seed)")
        else:
            result = (_NAN, _NAN, _NAN, _NAN, _NAN, _NAN, "none (no seed pair with defined AUCs)")
    auc_a, auc_b, difference, low, high, p_value, method = result
    return RegimeComparison(arm_a, arm_b, label_a, label_b, train_fraction, split, auc_a, auc_b, difference, low,
                            high, p_value, method, len(pairs), tuple(notes))
