"""Confidence intervals and paired tests for ROC AUC by DeLong's method.

The variance of an empirical AUC (the Mann-Whitney statistic, ties counting one half) is estimated from its
*structural components* (DeLong, DeLong & Clarke-Pearson, "Comparing the areas under two or more correlated
receiver operating characteristic curves: a nonparametric approach", Biometrics 44(3):837-845, 1988), computed
in O(n log n) from midranks (Sun & Xu, "Fast implementation of DeLong's algorithm for comparing the areas under
correlated receiver operating characteristic curves", IEEE Signal Process. Lett. 21(11):1389-1393, 2014).
With m positives X and n negatives Y, T_Z the midranks of all m + n scores, T_X those within X and T_Y those
within Y (Sun & Xu, eqs. 9-12):

* V10_i = (T_Z(X_i) - T_X(X_i)) / n, the share of negatives scored below positive i (ties 1/2);
* V01_j = 1 - (T_Z(Y_j) - T_Y(Y_j)) / m, the share of positives scored above negative j (ties 1/2);
* AUC = mean(V10) = mean(V01);
* Var(AUC) = S10 / m + S01 / n, with S10 and S01 the sample variances (divisor m - 1 and n - 1) of V10 and V01;
  for two models scored on the same cases, S10 and S01 are 2 x 2 covariance matrices, and
  Var(AUC_a - AUC_b) = Var(AUC_a) + Var(AUC_b) - 2 Cov(AUC_a, AUC_b).

Intervals use the normal approximation on the AUC scale (not the logit scale): AUC +- z * SE, clipped to [0, 1]
(a difference to [-1, 1]). The paired test is the two-sided z-test of DeLong et al. (1988), z = difference / SE.

Multi-class scores follow :func:`tunedepth.evaluation.roc_auc_score`: the unweighted mean of the K one-vs-rest
AUCs. Its variance is 1' S 1 / K^2, with S the K x K covariance matrix of the one-vs-rest AUCs, each estimated by
DeLong's method and the cross-covariances derived in :func:`roc_auc_ci`'s Notes.

Notes:
    Undefined cases warn with :class:`~tunedepth.errors.UndefinedMetricWarning` and give NaN:

    * one class only (binary), or some class absent (multi-class): every field is NaN;
    * fewer than 2 positives or 2 negatives (binary), or a class with a single case (multi-class): the AUC is
      returned but its SE, interval, z and p-value are NaN (the sample variances need two values);
    * a paired test whose difference has zero variance (for example identical models, or two models that rank
      the cases identically): the difference and its zero-width interval are returned, z and p-value are NaN.

    A single model can have a zero DeLong SE (perfect separation, AUC 1, or a constant score, AUC 0.5); the
    interval then has zero width. This is DeLong's estimate, returned without a warning; it understates the
    uncertainty of small test sets, where the bootstrap intervals of
    :mod:`tunedepth.evaluation.operating_points` or more test cases are the remedy.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import norm, rankdata

from tunedepth.errors import UndefinedMetricWarning
from tunedepth.evaluation._inputs import check_binary, check_confidence, check_multiclass, check_paired_scores

__all__ = ["AucInterval", "PairedAucTest", "auc_ci", "delong_test", "roc_auc_ci", "roc_auc_delong_test"]

_NAN = float("nan")


@dataclass(frozen=True)
class AucInterval:
    """An AUC with its DeLong standard error and confidence interval.

    Attributes:
        auc: the empirical AUC (ties count one half), in [0, 1].
        low: lower bound of the interval, ``max(0, auc - z * se)``.
        high: upper bound of the interval, ``min(1, auc + z * se)``.
        se: the DeLong standard error.
        confidence: the interval's confidence level, for example 0.95.
    """

    auc: float
    low: float
    high: float
    se: float
    confidence: float


@dataclass(frozen=True)
class PairedAucTest:
    """DeLong's paired comparison of two models' AUCs on the same cases.

    Attributes:
        auc_a: AUC of model a.
        auc_b: AUC of model b.
        difference: ``auc_a - auc_b``.
        low: lower bound of the difference's interval, ``max(-1, difference - z * se)``.
        high: upper bound of the difference's interval, ``min(1, difference + z * se)``.
        se: the DeLong standard error of the difference (paired: it accounts for the shared cases).
        z: the test statistic ``difference / se``.
        p_value: the two-sided p-value ``2 * (1 - Phi(|z|))`` of "equal AUCs".
        confidence: the interval's confidence level.
    """

    auc_a: float
    auc_b: float
    difference: float
    low: float
    high: float
    se: float
    z: float
    p_value: float
    confidence: float


def _components(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUCs and scaled, centred structural components of P binary problems on the same cases.

    Args:
        positive: bool array of shape (n_cases, P); column p marks the positives of problem p. Each problem must
            have at least 1 positive and 1 negative; with fewer than 2 of either, its components are NaN.
        scores: array of shape (n_cases, P); column p holds the scores of problem p.

    Returns:
        The AUCs, of shape (P,), and psi of shape (n_cases, P) with
        ``psi[c, p] = (V_p(c) - AUC_p) / sqrt(g (g - 1))``, where V_p(c) is V10 when case c is a positive of
        problem p and V01 when it is a negative, and g is the size of c's group (m or n) in problem p.
        Then ``psi.T @ psi`` is DeLong's covariance matrix S10 / m + S01 / n wherever both problems have the
        same positives, and ``sum_c (psi[c] @ w) ** 2`` is the variance of ``aucs @ w``.
    """
    n_cases, n_problems = scores.shape
    aucs = np.empty(n_problems)
    psi = np.empty((n_cases, n_problems))
    for p in range(n_problems):
        pos = positive[:, p]
        x, y = scores[pos, p], scores[~pos, p]
        m, n = x.size, y.size
        t_z = rankdata(np.concatenate([x, y]))  # midranks: tied scores share the mean rank
        v10 = (t_z[:m] - rankdata(x)) / n
        v01 = 1.0 - (t_z[m:] - rankdata(y)) / m
        auc = float(v10.mean())
        aucs[p] = auc
        # A single positive (or negative) has no sample variance: its components are NaN, the AUC is still exact.
        psi[pos, p] = (v10 - auc) / np.sqrt(m * (m - 1.0)) if m > 1 else _NAN
        psi[~pos, p] = (v01 - auc) / np.sqrt(n * (n - 1.0)) if n > 1 else _NAN
    return aucs, psi


def _auc_interval(aucs: np.ndarray, psi: np.ndarray, confidence: float) -> AucInterval:
    weights = np.full(aucs.size, 1.0 / aucs.size)
    auc = float(aucs @ weights)
    se = float(np.sqrt(np.sum((psi @ weights) ** 2)))
    half = float(norm.ppf(0.5 + confidence / 2)) * se
    return AucInterval(auc, max(0.0, auc - half), min(1.0, auc + half), se, confidence)


def _paired_test(
    aucs_a: np.ndarray, psi_a: np.ndarray, aucs_b: np.ndarray, psi_b: np.ndarray, confidence: float, func: str
) -> PairedAucTest:
    weights = np.full(aucs_a.size, 1.0 / aucs_a.size)
    auc_a, auc_b = float(aucs_a @ weights), float(aucs_b @ weights)
    difference = auc_a - auc_b
    per_case = (psi_a - psi_b) @ weights
    # Identical rankings give exactly zero components; the tolerance only absorbs the rounding of the centring.
    scale = float(np.max(np.abs(psi_a @ weights)) + np.max(np.abs(psi_b @ weights)))
    if not np.max(np.abs(per_case)) > 64 * np.finfo(float).eps * scale:
        warnings.warn(
            f"{func}: the AUC difference has zero DeLong variance (for example identical models, or models that "
            "rank every case alike); z and p-value are undefined and set to NaN.",
            UndefinedMetricWarning,
            stacklevel=3,
        )
        return PairedAucTest(auc_a, auc_b, difference, difference, difference, 0.0, _NAN, _NAN, confidence)
    se = float(np.sqrt(np.sum(per_case**2)))
    half = float(norm.ppf(0.5 + confidence / 2)) * se
    z = difference / se
    p_value = float(2 * norm.sf(abs(z)))
    return PairedAucTest(
        auc_a, auc_b, difference, max(-1.0, difference - half), min(1.0, difference + half), se, z, p_value, confidence
    )


def _binary_counts_ok(y: np.ndarray, func: str) -> bool | None:
    """None when the AUC is undefined (one class), False when only its variance is, True when both are defined."""
    m, n = int(y.sum()), int(y.size - y.sum())
    if m == 0 or n == 0:
        warnings.warn(
            f"{func}: ROC AUC is undefined with one class in labels ({m} positives, {n} negatives); returning NaN.",
            UndefinedMetricWarning,
            stacklevel=3,
        )
        return None
    if m < 2 or n < 2:
        warnings.warn(
            f"{func}: the DeLong variance is undefined with fewer than 2 positives or 2 negatives ({m} positives, "
            f"{n} negatives); the AUC is returned, its SE, interval, z and p-value are NaN.",
            UndefinedMetricWarning,
            stacklevel=3,
        )
        return False
    return True


def auc_ci(labels: npt.ArrayLike, scores: npt.ArrayLike, *, confidence: float = 0.95) -> AucInterval:
    """Binary ROC AUC with DeLong's standard error and a normal-approximation confidence interval.

    See the module docstring for the definition (DeLong et al. 1988; Sun & Xu 2014) and the undefined cases.

    Args:
        labels: binary labels of shape (n_cases,), 1 for positive and 0 for negative.
        scores: the positive class's score of shape (n_cases,); higher means more likely positive.
        confidence: level of the two-sided interval, in (0, 1).

    Returns:
        The AUC, its interval on the AUC scale (clipped to [0, 1]) and its SE. NaN fields, with an
        :class:`~tunedepth.errors.UndefinedMetricWarning`, where undefined.

    Raises:
        ValueError: if the shapes differ, labels are not 0/1, scores are not finite or confidence is not in (0, 1).

    Example:
        >>> r = auc_ci([1, 1, 1, 0, 0, 0], [.9, .6, .4, .7, .4, .2])
        >>> round(r.auc, 4), round(r.se, 4), round(r.low, 4), r.high
        (0.7222, 0.2485, 0.2353, 1.0)
    """
    func = "auc_ci"
    conf = check_confidence(confidence, func)
    y, s = check_binary(labels, scores, func)
    ok = _binary_counts_ok(y, func)
    if ok is None:
        return AucInterval(_NAN, _NAN, _NAN, _NAN, conf)
    aucs, psi = _components(y[:, None], s[:, None])
    if not ok:
        return AucInterval(float(aucs[0]), _NAN, _NAN, _NAN, conf)
    return _auc_interval(aucs, psi, conf)


def delong_test(
    labels: npt.ArrayLike, scores_a: npt.ArrayLike, scores_b: npt.ArrayLike, *, confidence: float = 0.95
) -> PairedAucTest:
    """DeLong's paired test of two models' binary ROC AUCs on the same cases.

    Args:
        labels: binary labels of shape (n_cases,), 1 for positive and 0 for negative.
        scores_a: model a's positive-class score of shape (n_cases,).
        scores_b: model b's positive-class score of shape (n_cases,), for the same cases in the same order.
        confidence: level of the two-sided interval of the difference, in (0, 1).

    Returns:
        Both AUCs, the difference a - b with its interval and SE, z and the two-sided p-value. Swapping a and b
        negates the difference and z and keeps the p-value.

    Raises:
        ValueError: if the shapes differ, labels are not 0/1, scores are not finite or confidence is not in (0, 1).

    Example:
        >>> t = delong_test([1, 1, 1, 0, 0, 0], [.9, .6, .4, .7, .4, .2], [.8, .5, .3, .4, .6, .1])
        >>> round(t.difference, 4), round(t.z, 4), round(t.p_value, 4)
        (0.0556, 0.2236, 0.8231)
    """
    func = "delong_test"
    conf = check_confidence(confidence, func)
    y, s_a = check_binary(labels, scores_a, func)
    check_paired_scores(s_a, np.asarray(scores_b, dtype=float), func)
    _, s_b = check_binary(labels, scores_b, func)
    ok = _binary_counts_ok(y, func)
    if ok is None:
        return PairedAucTest(_NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, conf)
    aucs_a, psi_a = _components(y[:, None], s_a[:, None])
    aucs_b, psi_b = _components(y[:, None], s_b[:, None])
    if not ok:
        auc_a, auc_b = float(aucs_a[0]), float(aucs_b[0])
        return PairedAucTest(auc_a, auc_b, auc_a - auc_b, _NAN, _NAN, _NAN, _NAN, _NAN, conf)
    return _paired_test(aucs_a, psi_a, aucs_b, psi_b, conf, func)


def _multiclass_counts_ok(y: np.ndarray, n_classes: int, func: str) -> bool | None:
    """None when the mean one-vs-rest AUC is undefined, False when only its variance is, True when both are."""
    counts = np.bincount(y, minlength=n_classes)
    if (counts == 0).any():
        warnings.warn(
            f"{func}: one-vs-rest ROC AUC is undefined for classes {np.flatnonzero(counts == 0).tolist()} absent "
            "from labels; returning NaN.",
            UndefinedMetricWarning,
            stacklevel=3,
        )
        return None
    if (counts < 2).any():
        warnings.warn(
            f"{func}: the DeLong variance is undefined for classes {np.flatnonzero(counts < 2).tolist()} with a "
            "single case; the AUC is returned, its SE, interval, z and p-value are NaN.",
            UndefinedMetricWarning,
            stacklevel=3,
        )
        return False
    return True


def _one_vs_rest(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if s.shape[1] == 2:  # binary: the positive column only, as roc_auc_score does
        return _components((y == 1)[:, None], s[:, 1:])
    return _components(y[:, None] == np.arange(s.shape[1])[None, :], s)


def roc_auc_ci(labels: npt.ArrayLike, scores: npt.ArrayLike, *, confidence: float = 0.95) -> AucInterval:
    """ROC AUC as :func:`~tunedepth.evaluation.roc_auc_score` defines it, with a DeLong confidence interval.

    Binary scores (two columns) give the AUC of column 1 and exactly :func:`auc_ci`'s interval; more columns give
    the unweighted mean of the one-vs-rest AUCs (MedMNIST's definition) with the variance derived in the Notes.
    Callers need not special-case binary tasks.

    Args:
        labels: integer class labels of shape (n_cases,), in [0, n_classes).
        scores: class scores or probabilities of shape (n_cases, n_classes), n_classes >= 2.
        confidence: level of the two-sided interval, in (0, 1).

    Returns:
        The AUC (equal to ``roc_auc_score(labels, scores)``), its interval on the AUC scale clipped to [0, 1],
        and its SE. NaN fields, with an :class:`~tunedepth.errors.UndefinedMetricWarning`, when a class is absent
        (every field) or has a single case (SE and interval).

    Raises:
        ValueError: if the shapes disagree, labels are out of range, scores are not finite or confidence is not in
            (0, 1).

    Example:
        >>> r = roc_auc_ci([0, 0, 1, 1, 2, 2], [[.8, .1, .1], [.4, .5, .1], [.3, .6, .1],
        ...                                    [.2, .3, .5], [.1, .2, .7], [.5, .1, .4]])
        >>> round(r.auc, 4), round(r.se, 4)
        (0.875, 0.1311)

    Notes:
        Variance of the mean of K one-vs-rest AUCs (K >= 3). Problem k has positives P_k (class k, m_k cases)
        and negatives N_k (every other class, n_k cases), and structural components V10_k (on P_k) and V01_k
        (on N_k) as in the module docstring. DeLong's variance of AUC_k is the variance of its first-order
        projection, a sum with one term per case: (V10_k(c) - AUC_k) / m_k for c in P_k and
        (V01_k(c) - AUC_k) / n_k for c in N_k. The K problems score the same cases, so, with the cases
        independent draws of (label, scores), the covariance of two projections is the sum over cases of the
        products of their terms:

            Cov(AUC_k, AUC_l) = sum_c psi_k(c) psi_l(c),
            psi_k(c) = (V_k(c) - AUC_k) / sqrt(g (g - 1)),

        with V_k(c) = V10_k(c) and g = m_k if c is in class k, else V_k(c) = V01_k(c) and g = n_k. The divisor
        g (g - 1) in place of g^2 makes the diagonal exactly DeLong's unbiased S10 / m_k + S01 / n_k for problem k
        (each one-vs-rest AUC keeps its binary DeLong variance). Case c is a positive in exactly one problem (its
        own class) and a negative in the K - 1 others, which is how the problems' different positive sets enter.
        Then Var(mean AUC) = 1' S 1 / K^2 = sum_c (mean_k psi_k(c))^2. With K = 2 and probabilities summing to
        one, this reduces to binary DeLong. Class counts are treated as random (as each one-vs-rest DeLong
        variance already does, its negatives pooling several classes), so the estimate matches an unstratified
        case bootstrap (checked by a slow test), not one stratified by class, which would hold the class mix fixed
        and give a slightly smaller variance. This multi-class extension is our derivation, not a published
        formula; MedMNIST reports no interval.
    """
    func = "roc_auc_ci"
    conf = check_confidence(confidence, func)
    y, s = check_multiclass(labels, scores, func)
    ok = _multiclass_counts_ok(y, s.shape[1], func)
    if ok is None:
        return AucInterval(_NAN, _NAN, _NAN, _NAN, conf)
    aucs, psi = _one_vs_rest(y, s)
    if not ok:
        return AucInterval(float(aucs.mean()), _NAN, _NAN, _NAN, conf)
    return _auc_interval(aucs, psi, conf)


def roc_auc_delong_test(
    labels: npt.ArrayLike, scores_a: npt.ArrayLike, scores_b: npt.ArrayLike, *, confidence: float = 0.95
) -> PairedAucTest:
    """Paired DeLong test of two models' ROC AUCs (:func:`~tunedepth.evaluation.roc_auc_score`'s definition).

    Binary scores (two columns) give exactly :func:`delong_test` on column 1; more columns compare the mean
    one-vs-rest AUCs, with the variance of the difference ``sum_c (mean_k (psi_a,k(c) - psi_b,k(c)))^2`` from the
    covariances derived in :func:`roc_auc_ci`'s Notes.

    Args:
        labels: integer class labels of shape (n_cases,), in [0, n_classes).
        scores_a: model a's class scores of shape (n_cases, n_classes).
        scores_b: model b's class scores of shape (n_cases, n_classes), for the same cases in the same order.
        confidence: level of the two-sided interval of the difference, in (0, 1).

    Returns:
        Both AUCs, the difference a - b with its interval (clipped to [-1, 1]) and SE, z and the two-sided
        p-value; NaN fields with an :class:`~tunedepth.errors.UndefinedMetricWarning` as in :func:`roc_auc_ci`,
        and z and p-value NaN when the difference has zero variance.

    Raises:
        ValueError: if the shapes disagree, labels are out of range, scores are not finite or confidence is not in
            (0, 1).

    Example:
        >>> t = roc_auc_delong_test([0, 1, 1, 0, 1], [[.9, .1], [.4, .6], [.3, .7], [.6, .4], [.2, .8]],
        ...                         [[.7, .3], [.6, .4], [.4, .6], [.5, .5], [.8, .2]])
        >>> round(t.auc_a, 4), round(t.auc_b, 4), round(t.p_value, 4)
        (1.0, 0.5, 0.1336)
    """
    func = "roc_auc_delong_test"
    conf = check_confidence(confidence, func)
    y, s_a = check_multiclass(labels, scores_a, func)
    check_paired_scores(s_a, np.asarray(scores_b, dtype=float), func)
    _, s_b = check_multiclass(labels, scores_b, func)
    ok = _multiclass_counts_ok(y, s_a.shape[1], func)
    if ok is None:
        return PairedAucTest(_NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, conf)
    aucs_a, psi_a = _one_vs_rest(y, s_a)
    aucs_b, psi_b = _one_vs_rest(y, s_b)
    if not ok:
        auc_a, auc_b = float(aucs_a.mean()), float(aucs_b.mean())
        return PairedAucTest(auc_a, auc_b, auc_a - auc_b, _NAN, _NAN, _NAN, _NAN, _NAN, conf)
    return _paired_test(aucs_a, psi_a, aucs_b, psi_b, conf, func)

