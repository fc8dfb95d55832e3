"""Probabilistic quality of a run's predictions: log-loss, Brier loss and calibration (expected calibration error and
the reliability curve behind it).

AUC only ranks cases; users who act on probabilities (a threshold, a risk) need them to be right. These statistics
take the per-class log-odds a study stores (``log(p_k / (1 - p_k))``, float64; see
:func:`tunedepth.training.predict_log_odds`), so that confident predictions keep their precision: the probability
of class k is ``expit(log_odds_k)`` (for a softmax network these are the softmax probabilities).

References:
    * Log-loss: the mean negative log-likelihood of the labels (cross-entropy).
    * Brier, "Verification of forecasts expressed in terms of probability", Monthly Weather Review 78(1), 1950: the
      mean squared difference of the probabilities and the one-hot labels.
    * Guo, Pleiss, Sun & Weinberger, "On calibration of modern neural networks", ICML 2017: the top-label expected
      calibration error over equal-width confidence bins and the reliability diagram.

Notes:
    * Binary Brier loss is ``mean((p_1 - y)^2)`` (scikit-learn's ``brier_score_loss``); with more classes it is the
      multi-category ``mean(sum_k (p_k - y_k)^2)``, which for two classes is twice the binary one.
    * The calibration error is top-label: each case's confidence is its largest class probability and it is correct
      when that class is the label. Bins are ``(0, 1/B], (1/B, 2/B], ...``; with two classes every confidence is at
      least 0.5, so the lower half of the bins stays empty. Empty bins do not count.
    * With zero cases every statistic is undefined: a warning, and NaN.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import expit

from tunedepth.errors import UndefinedMetricWarning
from tunedepth.evaluation._inputs import check_multiclass

__all__ = [
    "ReliabilityCurve", "brier_loss", "case_losses", "expected_calibration_error", "log_loss", "reliability_curve",
]


def _inputs(labels: npt.ArrayLike, log_odds: npt.ArrayLike, func: str) -> tuple[np.ndarray, np.ndarray] | None:
    y, z = check_multiclass(labels, log_odds, func)
    if y.size == 0:
        warnings.warn(f"{func} is undefined for zero cases; returning NaN.", UndefinedMetricWarning, stacklevel=3)
        return None
    return y, z


def log_loss(labels: npt.ArrayLike, log_odds: npt.ArrayLike) -> float:
    """Mean negative log-probability of the label, ``mean(-log p_label)`` with ``p = expit(log_odds)``.

    Computed as ``log(1 + exp(-log_odds_label))`` (``numpy.logaddexp``), exact for any finite log-odds. Lower is
    better; 0 for certain, correct predictions.

    Args:
        labels: integer class labels of shape (n_cases,).
        log_odds: per-class log-odds of shape (n_cases, n_classes).

    Example:
        >>> round(log_loss([1, 0], [[0.0, 0.0], [2.0, -2.0]]), 4)  # (log 2 + log(1 + e^-2)) / 2 = 0.41004
        0.41
    """
    checked = _inputs(labels, log_odds, "log_loss")
    if checked is None:
        return float("nan")
    return float(np.mean(_log_loss_terms(*checked)))


def brier_loss(labels: npt.ArrayLike, log_odds: npt.ArrayLike) -> float:
    """Brier loss: ``mean((p_1 - y)^2)`` for two classes, ``mean(sum_k (p_k - [y = k])^2)`` for more (see Notes of
    the module). Lower is better; 0 for certain, correct predictions.

    Args:
        labels: integer class labels of shape (n_cases,).
        log_odds: per-class log-odds of shape (n_cases, n_classes).

    Example:
        >>> brier_loss([1, 0], [[0.0, 0.0], [0.0, 0.0]])  # p_1 = 0.5 for both cases
        0.25
    """
    checked = _inputs(labels, log_odds, "brier_loss")
    if checked is None:
        return float("nan")
    return float(np.mean(_brier_terms(*checked)))


def _log_loss_terms(y: np.ndarray, z: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, -z[np.arange(y.size), y])


def _brier_terms(y: np.ndarray, z: np.ndarray) -> np.ndarray:
    p = expit(z)
    if z.shape[1] == 2:
        return (p[:, 1] - y) ** 2
    return np.sum((p - np.eye(z.shape[1])[y]) ** 2, axis=1)


def case_losses(labels: npt.ArrayLike, log_odds: npt.ArrayLike, *, metric: str) -> np.ndarray:
    """Each case's term of :func:`log_loss` (``metric="log_loss"``) or :func:`brier_loss` (``"brier"``), of shape
    (n_cases,): their mean is the metric. For comparing models case by case (paired tests, a model confidence set).

    Raises:
        ValueError: for another ``metric``, or malformed inputs.

    Example:
        >>> case_losses([1, 0], [[0.0, 0.0], [0.0, 0.0]], metric="brier").tolist()
        [0.25, 0.25]
    """
    terms = {"log_loss": _log_loss_terms, "brier": _brier_terms}
    if metric not in terms:
        raise ValueError(f"The 'metric' parameter of case_losses must be one of {list(terms)}; got {metric!r}.")
    y, z = check_multiclass(labels, log_odds, "case_losses")
    return terms[metric](y, z)


@dataclass(frozen=True)
class ReliabilityCurve:
    """Top-label confidence against accuracy, per equal-width confidence bin (the reliability diagram).

    Attributes:
        bin_edges: the ``n_bins + 1`` edges, from 0 to 1.
        confidence: mean confidence of the cases in each bin, of shape (n_bins,); NaN for an empty bin.
        accuracy: share of correct cases in each bin, likewise.
        counts: cases per bin.
    """

    bin_edges: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    counts: np.ndarray

    @property
    def expected_calibration_error(self) -> float:
        """``sum_b (n_b / n) |accuracy_b - confidence_b|`` over the non-empty bins."""
        used = self.counts > 0
        weights = self.counts[used] / self.counts.sum()
        return float(np.sum(weights * np.abs(self.accuracy[used] - self.confidence[used])))


def reliability_curve(labels: npt.ArrayLike, log_odds: npt.ArrayLike, *, n_bins: int = 15) -> ReliabilityCurve:
    """The reliability diagram's points: per equal-width bin of top-label confidence, its mean and the accuracy.

    Args:
        labels: integer class labels of shape (n_cases,).
        log_odds: per-class log-odds of shape (n_cases, n_classes).
        n_bins: number of bins over (0, 1], >= 1. Default 15 (Guo et al.).

    Raises:
        ValueError: if ``n_bins`` < 1, or the inputs are malformed.

    Example:
        >>> curve = reliability_curve([1, 1, 0, 0], [[-1.0, 1.0], [-1.0, 1.0], [-3.0, 3.0], [2.0, -2.0]], n_bins=4)
        >>> curve.counts.tolist()  # confidences 0.731, 0.731, 0.953, 0.881
        [0, 0, 2, 2]
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"The 'n_bins' parameter of reliability_curve must be an int >= 1; got {n_bins!r}.")
    y, z = check_multiclass(labels, log_odds, "reliability_curve")
    p = expit(z)
    confidence = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # bin b holds (edges[b], edges[b + 1]]; a confidence of exactly 0 cannot occur (p_k > 0 for finite log-odds)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    counts = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, weights=confidence, minlength=n_bins) / counts
        accuracy = np.bincount(which, weights=correct, minlength=n_bins) / counts
    return ReliabilityCurve(edges, mean_conf, accuracy, counts)


def expected_calibration_error(labels: npt.ArrayLike, log_odds: npt.ArrayLike, *, n_bins: int = 15) -> float:
    """Top-label expected calibration error (Guo et al. 2017) over ``n_bins`` equal-width confidence bins.

    Lower is better; 0 when, in every bin, the share of correct cases equals their mean confidence.

    Example:
        >>> # bin (0.5, 0.75]: two cases at confidence 0.731, both right; bin (0.75, 1]: confidences 0.953 (wrong) and
        >>> # 0.881 (right), mean 0.917, accuracy 0.5. ECE = 0.5 * (1 - 0.731) + 0.5 * (0.917 - 0.5) = 0.343
        >>> round(expected_calibration_error([1, 1, 0, 1], [[-1.0, 1.0], [-1.0, 1.0], [-3.0, 3.0], [-2.0, 2.0]],
        ...                                  n_bins=4), 4)
        0.3428
    """
    checked = _inputs(labels, log_odds, "expected_calibration_error")
    if checked is None:
        return float("nan")
    return reliability_curve(checked[0], checked[1], n_bins=n_bins).expected_calibration_error
