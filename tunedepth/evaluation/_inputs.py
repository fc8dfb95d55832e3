"""Input checks shared by the evaluation statistics (DeLong, operating points, across-seed summaries).

Every message names the parameter, the calling function, what was expected, what was received and the fix.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["check_binary", "check_confidence", "check_multiclass", "check_paired_scores"]


def check_confidence(confidence: float, func: str) -> float:
    """Return ``confidence`` as a float, or raise if it is not in the open interval (0, 1)."""
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise ValueError(
            f"The 'confidence' parameter of {func} must be a float in (0, 1), for example 0.95. Got {confidence!r}."
        )
    return float(confidence)


def check_binary(labels: npt.ArrayLike, scores: npt.ArrayLike, func: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate binary labels of shape (n_cases,) in {0, 1} and finite scores of shape (n_cases,).

    Returns:
        The labels as a bool array (True = positive) and the scores as a float array.
    """
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=float)
    if y.ndim != 1 or s.ndim != 1 or y.shape != s.shape:
        raise ValueError(
            f"{func} expects 'labels' and 'scores' of the same shape (n_cases,), scores being the positive "
            f"class's score; got labels {y.shape} and scores {s.shape}. For scores of shape (n_cases, n_classes) "
            "use the roc_auc_* functions, or pass the positive column scores[:, 1]."
        )
    if y.size and not np.isin(y, (0, 1)).all():
        raise ValueError(
            f"The 'labels' parameter of {func} must hold only 0 (negative) and 1 (positive); "
            f"got values {np.unique(y)[:10].tolist()}. Encode the positive class as 1."
        )
    _check_finite(s, "scores", func)
    return y.astype(bool), s


def check_multiclass(labels: npt.ArrayLike, scores: npt.ArrayLike, func: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate integer labels of shape (n_cases,) and finite scores of shape (n_cases, n_classes >= 2)."""
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=float)
    if y.ndim != 1 or s.ndim != 2 or s.shape[0] != y.shape[0] or s.shape[1] < 2:
        raise ValueError(
            f"{func} expects 'labels' of shape (n_cases,) and 'scores' of shape (n_cases, n_classes) with "
            f"n_classes >= 2; got labels {y.shape} and scores {s.shape}. Pass the class probabilities, one "
            "column per class."
        )
    if y.size and (y.dtype.kind not in "biuf" or (y.dtype.kind == "f" and not np.array_equal(y, np.round(y)))):
        raise ValueError(f"The 'labels' parameter of {func} must hold integer class indices; got dtype {y.dtype}.")
    if y.size and (y.min() < 0 or y.max() >= s.shape[1]):
        raise ValueError(
            f"The 'labels' parameter of {func} must lie in [0, {s.shape[1] - 1}] for {s.shape[1]} score columns; "
            f"got values in [{y.min()}, {y.max()}]."
        )
    _check_finite(s, "scores", func)
    return y.astype(int), s


def check_paired_scores(scores_a: np.ndarray, scores_b: np.ndarray, func: str) -> None:
    """Raise unless the two models' scores have the same shape (the same cases, in the same order)."""
    if scores_a.shape != scores_b.shape:
        raise ValueError(
            f"{func} compares two models on the same cases: 'scores_a' and 'scores_b' must have the same shape; "
            f"got {scores_a.shape} and {scores_b.shape}."
        )


def _check_finite(values: np.ndarray, name: str, func: str) -> None:
    if not np.isfinite(values).all():
        bad = int(np.size(values) - np.isfinite(values).sum())
        raise ValueError(
            f"The '{name}' parameter of {func} must be finite; got {bad} NaN or infinite value(s). "
            "Check the model's outputs before scoring."
        )
