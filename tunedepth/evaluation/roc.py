"""ROC AUC and accuracy for image classification, as MedMNIST defines them.

Binary: the AUC of the positive class's score (column 1). Multi-class (and ordinal):
the unweighted mean over classes of the one-vs-rest AUC (MedMNIST ``evaluator.getAUC``;
Yang et al., Sci. Data 2023). Ties count one half (Mann-Whitney statistic), as in
scikit-learn's ``roc_auc_score``, which computes each one-vs-rest AUC here.

Notes:
    Undefined cases warn with :class:`~tunedepth.errors.UndefinedMetricWarning` and return
    NaN: a binary AUC with one class present; a multi-class AUC where some class is absent
    from ``labels`` (MedMNIST would average over fewer classes; we refuse to, because the
    mean would silently change meaning).
"""

from __future__ import annotations

import warnings

import numpy as np
import numpy.typing as npt
from sklearn.metrics import roc_auc_score as _sk_roc_auc

from tunedepth.errors import UndefinedMetricWarning

__all__ = ["accuracy_score", "roc_auc_score"]


def _check(labels: npt.ArrayLike, scores: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=float)
    if y.ndim != 1 or s.ndim != 2 or s.shape[0] != y.shape[0] or s.shape[1] < 2:
        raise ValueError(
            "labels must have shape (n_cases,) and scores shape (n_cases, n_classes) with n_classes >= 2; "
            f"got labels {y.shape} and scores {s.shape}."
        )
    if y.size and (y.min() < 0 or y.max() >= s.shape[1]):
        raise ValueError(f"labels must lie in [0, {s.shape[1] - 1}]; got values in [{y.min()}, {y.max()}].")
    return y.astype(int), s


def roc_auc_score(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    """ROC AUC of class scores against integer labels (MedMNIST's definition).

    Args:
        labels: integer class labels of shape (n_cases,).
        scores: class scores or probabilities of shape (n_cases, n_classes).

    Returns:
        The AUC in [0, 1], or NaN (with a warning) when undefined.

    Raises:
        ValueError: if the shapes disagree or labels are out of range.

    Example:
        >>> roc_auc_score([0, 0, 1, 1], [[.9, .1], [.6, .4], [.65, .35], [.2, .8]])
        0.75
        >>> round(roc_auc_score([0, 1, 2], [[.8, .1, .1], [.1, .8, .1], [.1, .1, .8]]), 3)
        1.0
    """
    y, s = _check(labels, scores)
    n_classes = s.shape[1]
    present = np.unique(y)
    if n_classes == 2:
        if present.size < 2:
            warnings.warn("ROC AUC is undefined with one class in labels; returning NaN.",
                          UndefinedMetricWarning, stacklevel=2)
            return float("nan")
        return float(_sk_roc_auc(y, s[:, 1]))
    if present.size < n_classes:
        missing = sorted(set(range(n_classes)) - set(present.tolist()))
        warnings.warn(f"One-vs-rest ROC AUC is undefined for classes {missing} absent from labels; "
                      "returning NaN.", UndefinedMetricWarning, stacklevel=2)
        return float("nan")
    return float(np.mean([_sk_roc_auc(y == k, s[:, k]) for k in range(n_classes)]))


def accuracy_score(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    """Share of cases whose arg-max score is the label.

    Example:
        >>> accuracy_score([0, 1, 1], [[.9, .1], [.6, .4], [.2, .8]])
        0.6666666666666666
    """
    y, s = _check(labels, scores)
    if y.size == 0:
        warnings.warn("Accuracy is undefined for zero cases; returning NaN.", UndefinedMetricWarning, stacklevel=2)
        return float("nan")
    return float(np.mean(s.argmax(axis=1) == y))
