"""DeLong's method over several training runs (seeds) of each model, and the AUC split into per-case terms.

:mod:`tunedepth.evaluation.delong` gives the interval and the paired test of one run per model: the uncertainty of
a finite set of cases. With k runs per model (seeds), a new set of training runs would also move the result; the
functions here add that between-seed variance to DeLong's case variance of the seed-mean AUC (derived from the
same structural components). :func:`roc_auc_case_losses` writes the AUC as a mean of per-case terms (DeLong's
first-order projection), so AUC can be compared case by case like a log-loss.
"""

from __future__ import annotations

import warnings

import numpy as np
import numpy.typing as npt
from scipy.stats import norm, rankdata

from tunedepth.errors import UndefinedMetricWarning
from tunedepth.evaluation._inputs import check_confidence, check_multiclass, check_paired_scores
from tunedepth.evaluation.delong import AucInterval, PairedAucTest, _multiclass_counts_ok, _one_vs_rest

__all__ = ["roc_auc_case_losses", "roc_auc_seeds_ci", "roc_auc_seeds_test"]

_NAN = float("nan")


def _seed_components(y: np.ndarray, runs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-seed mean one-vs-rest AUCs, of shape (k,), and the seed-averaged components ``mean_s mean_p psi``, of
    shape (n_cases,), whose sum of squares is the case-sampling variance of the seed-mean AUC."""
    aucs, psis = [], []
    for s in runs:
        a, psi = _one_vs_rest(y, s)
        aucs.append(float(a.mean()))
        psis.append(psi.mean(axis=1))
    return np.asarray(aucs), np.mean(psis, axis=0)


def _check_runs(labels: npt.ArrayLike, runs: object, name: str, func: str) -> tuple[np.ndarray, list[np.ndarray]]:
    if not isinstance(runs, list | tuple) or not runs:
        raise ValueError(f"The '{name}' parameter of {func} must be a non-empty list of (n_cases, n_classes) score "
                         f"arrays, one per seed; got {type(runs).__name__}.")
    checked = [check_multiclass(labels, s, func) for s in runs]
    y = checked[0][0]
    arrays = [s for _, s in checked]
    for s in arrays[1:]:
        check_paired_scores(arrays[0], s, func)
    return y, arrays


def roc_auc_seeds_ci(labels: npt.ArrayLike, scores: list[npt.ArrayLike], *, confidence: float = 0.95) -> AucInterval:
    """The mean ROC AUC of k runs (seeds) of one model on the same cases, with an interval that counts both the
    cases and the seeds.

    ``se^2 = sum_c psi_bar(c)^2 + s^2 / k``: the first term is DeLong's case-sampling variance of the seed-mean AUC
    (the structural components averaged over seeds, as in :func:`roc_auc_ci`'s Notes), the second the between-seed
    variance of the per-seed AUCs (sample variance ``s^2``, divisor k - 1) over k: the spread a new set of training
    runs would add. With one seed this is :func:`roc_auc_ci`. Normal interval, clipped to [0, 1].

    Args:
        labels: integer class labels of shape (n_cases,).
        scores: one (n_cases, n_classes) score array per seed, for the same cases in the same order.
        confidence: level of the two-sided interval, in (0, 1).

    Returns:
        The seed-mean AUC, its interval and SE; NaN fields with an :class:`~tunedepth.errors.UndefinedMetricWarning`
        as in :func:`roc_auc_ci`.

    Example:
        >>> r = roc_auc_seeds_ci([0, 0, 1, 1], [[[.9, .1], [.6, .4], [.65, .35], [.2, .8]],
        ...                                    [[.9, .1], [.3, .7], [.35, .65], [.2, .8]]])
        >>> r.auc  # seeds: 0.75 and 0.75
        0.75
    """
    func = "roc_auc_seeds_ci"
    conf = check_confidence(confidence, func)
    y, runs = _check_runs(labels, scores, "scores", func)
    ok = _multiclass_counts_ok(y, runs[0].shape[1], func)
    if ok is None:
        return AucInterval(_NAN, _NAN, _NAN, _NAN, conf)
    aucs, psi = _seed_components(y, runs)
    auc = float(aucs.mean())
    if not ok:
        return AucInterval(auc, _NAN, _NAN, _NAN, conf)
    seed_var = float(aucs.var(ddof=1)) / aucs.size if aucs.size > 1 else 0.0
    se = float(np.sqrt(np.sum(psi**2) + seed_var))
    half = float(norm.ppf(0.5 + conf / 2)) * se
    return AucInterval(auc, max(0.0, auc - half), min(1.0, auc + half), se, conf)


def roc_auc_seeds_test(
    labels: npt.ArrayLike, scores_a: list[npt.ArrayLike], scores_b: list[npt.ArrayLike], *, confidence: float = 0.95
) -> PairedAucTest:
    """Paired comparison of two models' mean ROC AUCs over k seeds, counting both the cases and the seeds.

    Runs are paired by seed (same training subset) and all are scored on the same cases. The difference is
    ``mean_s (AUC_a,s - AUC_b,s)``; ``se^2 = sum_c (psi_bar_a(c) - psi_bar_b(c))^2 + s_d^2 / k``, DeLong's paired
    case-sampling variance of the seed-mean difference plus the between-seed variance of the per-seed differences
    (``s_d^2``, divisor k - 1) over k. Two-sided z-test. With one seed this is :func:`roc_auc_delong_test`.

    Why not the paired t-test over seeds alone: with 3 seeds it has 2 degrees of freedom and ignores that every
    seed is scored on a finite test set, so real differences of a few hundredths go undetected (issue 15: a
    BreastMNIST study's interval for one regime spanned [0.675, 0.976]). Why not DeLong on one seed: it ignores
    the training variation a new run would show. The between-seed term is estimated from k - 1 degrees of freedom
    and the test uses the normal reference, which is slightly liberal when the seed term dominates with 2-3 seeds.

    Args:
        labels: integer class labels of shape (n_cases,).
        scores_a: model a's (n_cases, n_classes) scores, one array per seed.
        scores_b: model b's, for the same seeds in the same order.
        confidence: level of the two-sided interval of the difference, in (0, 1).

    Returns:
        The seed-mean AUCs, their difference a - b with interval (clipped to [-1, 1]) and SE, z and p-value; NaN
        fields with a warning as in :func:`roc_auc_delong_test` (zero variance: z and p NaN).

    Example:
        >>> y = [0, 0, 0, 1, 1, 1]
        >>> a = [[[.9, .1], [.8, .2], [.3, .7], [.4, .6], [.2, .8], [.1, .9]]] * 2
        >>> b = [[[.9, .1], [.4, .6], [.3, .7], [.6, .4], [.2, .8], [.5, .5]]] * 2
        >>> t = roc_auc_seeds_test(y, a, b)
        >>> round(t.auc_a, 4), round(t.auc_b, 4)
        (0.8889, 0.5556)
    """
    func = "roc_auc_seeds_test"
    conf = check_confidence(confidence, func)
    y, runs_a = _check_runs(labels, scores_a, "scores_a", func)
    _, runs_b = _check_runs(labels, scores_b, "scores_b", func)
    if len(runs_a) != len(runs_b):
        raise ValueError(f"{func} pairs runs by seed: 'scores_a' and 'scores_b' must hold as many runs; got "
                         f"{len(runs_a)} and {len(runs_b)}.")
    check_paired_scores(runs_a[0], runs_b[0], func)
    ok = _multiclass_counts_ok(y, runs_a[0].shape[1], func)
    if ok is None:
        return PairedAucTest(_NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, conf)
    aucs_a, psi_a = _seed_components(y, runs_a)
    aucs_b, psi_b = _seed_components(y, runs_b)
    auc_a, auc_b = float(aucs_a.mean()), float(aucs_b.mean())
    difference = auc_a - auc_b
    if not ok:
        return PairedAucTest(auc_a, auc_b, difference, _NAN, _NAN, _NAN, _NAN, _NAN, conf)
    per_seed = aucs_a - aucs_b
    seed_var = float(per_seed.var(ddof=1)) / per_seed.size if per_seed.size > 1 else 0.0
    per_case = psi_a - psi_b
    scale = float(np.max(np.abs(psi_a)) + np.max(np.abs(psi_b)))
    case_var = float(np.sum(per_case**2)) if np.max(np.abs(per_case)) > 64 * np.finfo(float).eps * scale else 0.0
    if case_var + seed_var <= 0.0:
        warnings.warn(f"{func}: the AUC difference has zero variance (for example identical models); z and p-value "
                      "are undefined and set to NaN.", UndefinedMetricWarning, stacklevel=2)
        return PairedAucTest(auc_a, auc_b, difference, difference, difference, 0.0, _NAN, _NAN, conf)
    se = float(np.sqrt(case_var + seed_var))
    half = float(norm.ppf(0.5 + conf / 2)) * se
    z = difference / se
    return PairedAucTest(auc_a, auc_b, difference, max(-1.0, difference - half), min(1.0, difference + half), se, z,
                         float(2 * norm.sf(abs(z))), conf)


def roc_auc_case_losses(labels: npt.ArrayLike, scores: npt.ArrayLike) -> np.ndarray:
    """Per-case losses whose mean is ``1 - AUC`` (:func:`~tunedepth.evaluation.roc_auc_score`'s definition): the
    AUC split into one term per case, so that AUC can be compared case by case like log-loss (paired tests, the
    model confidence set).

    In one-vs-rest problem p with m positives, n negatives and N = m + n cases, a positive c contributes
    ``N / (2 m) * (1 - V10(c))`` and a negative ``N / (2 n) * (1 - V01(c))`` (the structural components of the
    module docstring: the share of the other class it is ranked wrongly against); the mean over cases is
    ``(1 - AUC_p) / 2 + (1 - AUC_p) / 2``. With more than two classes the terms are averaged over the K problems.
    These are the first-order (DeLong) projections: treating them as independent per-case values is the same
    approximation DeLong's variance makes, valid for many cases. A class absent from ``labels`` makes every term
    NaN (the AUC is undefined).

    Example:
        >>> roc_auc_case_losses([0, 0, 1, 1], [[.9, .1], [.6, .4], [.65, .35], [.2, .8]]).tolist()  # AUC 0.75
        [0.0, 0.5, 0.5, 0.0]
    """
    y, s = check_multiclass(labels, scores, "roc_auc_case_losses")
    positive = (y == 1)[:, None] if s.shape[1] == 2 else y[:, None] == np.arange(s.shape[1])[None, :]
    columns = s[:, 1:] if s.shape[1] == 2 else s
    n_cases = y.size
    out = np.zeros(n_cases)
    for p in range(columns.shape[1]):
        pos = positive[:, p]
        m, n = int(pos.sum()), int((~pos).sum())
        if m == 0 or n == 0:
            return np.full(n_cases, _NAN)
        x, z = columns[pos, p], columns[~pos, p]
        t_z = rankdata(np.concatenate([x, z]))
        v10 = (t_z[:m] - rankdata(x)) / n
        v01 = 1.0 - (t_z[m:] - rankdata(z)) / m
        out[pos] += n_cases / (2.0 * m) * (1.0 - v10)
        out[~pos] += n_cases / (2.0 * n) * (1.0 - v01)
    return out / columns.shape[1]
