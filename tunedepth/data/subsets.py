"""Nested training fractions and class balancing.

* :func:`train_subset_indices`: nested, stratified training subsets (10% of the training
  split is inside 25%, inside 50%, inside 100%, for one seed), as in the paper's
  training-set-size experiments.
* :func:`balance_indices` and :func:`class_weights`: the two ways of handling class
  imbalance on a training subset (random downsampling, the paper's choice; or a weighted loss).

All functions are pure: the same inputs and seed give the same outputs on every platform
(NumPy's ``default_rng``, PCG64).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import numpy.typing as npt

from tunedepth.data.splits import _as_labels
from tunedepth.errors import DataError

__all__ = [
    "balance_indices",
    "class_weights",
    "train_subset_indices",
]

# fraction * n_c is computed in floating point: 0.55 * 100 = 55.00000000000001 must keep 55 cases,
# not 56.
_CEIL_TOLERANCE = 1e-9


def train_subset_indices(labels: npt.ArrayLike, train_fraction: float, *, seed: int) -> np.ndarray:
    """Indices of a stratified training subset; subsets of one seed are nested across fractions.

    Each class ``c`` (in increasing label order) is shuffled once with the seed, the same
    way for every train_fraction, and its first ``max(1, ceil(train_fraction * n_c))`` cases are kept.
    So for one seed the 10% subset is inside the 25% subset, inside 50%, inside 100%.

    Args:
        labels: integer class labels of the training split, shape (n_cases,).
        train_fraction: the share of the training split to keep, in (0, 1]; 1.0 keeps every case.
        seed: the run's seed.

    Returns:
        Sorted int64 row indices into ``labels``.

    Raises:
        DataError: if ``train_fraction`` is not in (0, 1] or ``labels`` is not a 1-D integer array.

    Example:
        >>> labels = np.array([0] * 30 + [1] * 10)
        >>> small = train_subset_indices(labels, 0.1, seed=0)
        >>> np.bincount(labels[small]).tolist()
        [3, 1]
        >>> bool(np.isin(small, train_subset_indices(labels, 0.5, seed=0)).all())
        True
    """
    if not (isinstance(train_fraction, int | float) and 0 < train_fraction <= 1):
        raise DataError(
            "The 'train_fraction' parameter of train_subset_indices must be in "
            f"(0, 1]; got {train_fraction!r}. Use e.g. 0.1, 0.25, 0.5 or 1.0."
        )
    y = _as_labels(labels, "train_subset_indices")
    if train_fraction == 1:
        return np.arange(len(y), dtype=np.int64)
    rng = np.random.default_rng(seed)
    kept = []
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        n_keep = max(1, math.ceil(train_fraction * len(members) - _CEIL_TOLERANCE))
        kept.append(members[:n_keep])
    return np.sort(np.concatenate(kept)).astype(np.int64) if kept else np.zeros(0, dtype=np.int64)


def balance_indices(
    labels: npt.ArrayLike,
    indices: npt.ArrayLike,
    *,
    policy: Literal["none", "downsample"],
    seed: int,
) -> np.ndarray:
    """Balance the classes among ``labels[indices]``.

    ``"downsample"`` keeps, for every class present, a seeded random choice of as many
    cases as the smallest present class has (the paper's choice). ``"none"`` keeps all.
    The ``weighted_loss`` balance is not a selection: keep all cases and pass
    :func:`class_weights` to the loss.

    Args:
        labels: integer class labels of the whole split, shape (n_cases,).
        indices: rows of the subset to balance, e.g. from :func:`train_subset_indices`.
        policy: "none" or "downsample".
        seed: seed of the random choice.

    Returns:
        Sorted int64 row indices into ``labels``, a subset of ``indices``.

    Raises:
        DataError: if ``policy`` is unknown or ``indices`` are out of range.

    Example:
        >>> labels = np.array([0, 0, 0, 0, 1, 1])
        >>> kept = balance_indices(labels, np.arange(6), policy="downsample", seed=0)
        >>> np.bincount(labels[kept]).tolist()
        [2, 2]
        >>> balance_indices(labels, [5, 0], policy="none", seed=0).tolist()
        [0, 5]
    """
    y = _as_labels(labels, "balance_indices")
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if idx.size and (idx.min() < 0 or idx.max() >= len(y)):
        raise DataError(
            f"The 'indices' parameter of balance_indices must be rows in [0, {len(y)}); "
            f"got values from {idx.min()} to {idx.max()}."
        )
    if policy == "none":
        return np.sort(idx)
    if policy != "downsample":
        hint = ""
        if policy == "weighted_loss":
            hint = " For 'weighted_loss', keep all cases and use class_weights()."
        raise DataError(
            "The 'policy' parameter of balance_indices must be 'none' or 'downsample'; "
            f"got {policy!r}.{hint}"
        )
    rng = np.random.default_rng(seed)
    sub = y[idx]
    present = np.unique(sub)
    if present.size == 0:
        return idx
    n_min = min(int((sub == c).sum()) for c in present)
    kept = [rng.choice(idx[sub == c], size=n_min, replace=False) for c in present]
    return np.sort(np.concatenate(kept))


def class_weights(labels: npt.ArrayLike, n_classes: int) -> np.ndarray:
    """Inverse-frequency class weights for a weighted loss: ``n / (n_classes * n_c)``.

    The weights average to 1 over the cases (scikit-learn's "balanced" weights), so the
    loss keeps its scale. Use ``torch.as_tensor(w, dtype=torch.float32)`` as the
    ``weight`` of ``CrossEntropyLoss``.

    Args:
        labels: integer class labels of the training subset, shape (n_cases,).
        n_classes: number of classes; labels must be in [0, n_classes).

    Returns:
        float64 array of shape (n_classes,).

    Raises:
        DataError: if a label is out of range or a class has no case (its weight is undefined).

    Example:
        >>> class_weights(np.array([0, 0, 0, 1]), 2).tolist()
        [0.6666666666666666, 2.0]
    """
    y = _as_labels(labels, "class_weights")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise DataError(
            f"The 'labels' parameter of class_weights must be in [0, {n_classes}); "
            f"got values from {y.min()} to {y.max()}."
        )
    counts = np.bincount(y, minlength=n_classes)
    absent = np.flatnonzero(counts == 0).tolist()
    if absent:
        raise DataError(
            f"class_weights needs at least one case of every class; class(es) {absent} have none "
            f"among {len(y)} labels. Use a larger train_fraction or balance='none'."
        )
    return len(y) / (n_classes * counts.astype(np.float64))
