"""Train/val/test splits.

* :func:`split_indices` / :func:`split_image_set`: a seeded split of one labelled set,
  stratified by class and grouped by patient (or video) when ids are given, so that no
  patient is on two sides.
* :func:`check_no_leakage`: the check that a given split keeps every patient on one side.

Nested training fractions and class balancing are in :mod:`tunedepth.data.subsets`.

All functions are pure: the same inputs and seed give the same outputs on every platform
(NumPy's ``default_rng``, PCG64).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from tunedepth.data.dataset import DatasetSplits, ImageSet
from tunedepth.errors import DataError

__all__ = [
    "SplitIndices",
    "check_no_leakage",
    "check_split_fractions",
    "split_image_set",
    "split_indices",
]

logger = logging.getLogger(__name__)

_SPLIT_NAMES = ("train", "val", "test")


class SplitIndices(NamedTuple):
    """Row indices of the train, validation and test sides, each sorted ascending."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def _as_labels(labels: npt.ArrayLike, function: str) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1 or (y.size and not np.issubdtype(y.dtype, np.integer)):
        raise DataError(
            f"The 'labels' parameter of {function} must be a 1-D array of integer class labels; "
            f"got dtype {y.dtype} and shape {y.shape}."
        )
    return y.astype(np.int64, copy=False)


def check_split_fractions(val_fraction: float, test_fraction: float) -> None:
    """Check the fractions of a seeded split, before any data is read.

    Args:
        val_fraction: share for validation, in (0, 1).
        test_fraction: share for testing, in (0, 1).

    Raises:
        DataError: if a fraction is outside (0, 1) or they sum to 1 or more.

    Example:
        >>> check_split_fractions(0.2, 0.2)
        >>> check_split_fractions(0.5, 0.5)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        tunedepth.errors.DataError: ... must sum to < 1 ...; got 0.5 + 0.5. Lower one of them.
    """
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 < value < 1:
            raise DataError(
                f"The '{name}' parameter of the seeded split must be in (0, 1); got {value!r}."
            )
    if val_fraction + test_fraction >= 1:
        raise DataError(
            "The 'val_fraction' + 'test_fraction' parameters of the seeded split must sum to < 1 "
            f"to leave training data; got {val_fraction} + {test_fraction}. Lower one of them."
        )


def split_indices(
    labels: npt.ArrayLike,
    *,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    groups: Sequence[str] | None = None,
) -> SplitIndices:
    """Split cases into train, validation and test sides, stratified by class.

    Without ``groups``, each class is shuffled and cut on its own: class ``c`` with
    ``n_c`` cases gives ``floor(val_fraction * n_c + 0.5)`` cases to val,
    ``floor(test_fraction * n_c + 0.5)`` to test and the rest to train.

    With ``groups`` (patient or video ids), whole groups are assigned so that no group is
    on two sides. Groups are visited largest first (ties in seeded random order) and each
    goes to the side that most lacks its classes: the side ``s`` minimising
    ``sum_c g_c * (assigned[s, c] - target[s, c])``, where ``g_c`` is the group's count of
    class ``c`` and ``target[s, c]`` the side's fraction of all class-``c`` cases. This is
    the greedy step that minimises the squared deviation from the target counts; ties are
    broken at random. Fractions are therefore met up to the size of the groups.

    Args:
        labels: integer class labels of shape (n_cases,).
        val_fraction: share of the cases for validation, in (0, 1).
        test_fraction: share of the cases for testing, in (0, 1); ``val + test < 1``.
        seed: seed of the shuffles.
        groups: one group id per case, or None when cases are independent.

    Returns:
        The three sides' row indices, each sorted ascending; together a partition of
        ``range(n_cases)``.

    Raises:
        DataError: if the fractions are invalid, ``groups`` has the wrong length or empty
            ids, or a side would be empty (too few cases or groups).

    Example:
        >>> labels = [0] * 10 + [1] * 5
        >>> parts = split_indices(labels, val_fraction=0.2, test_fraction=0.2, seed=0)
        >>> [len(p) for p in parts]
        [9, 3, 3]
        >>> [int((np.asarray(labels)[p] == 1).sum()) for p in parts]
        [3, 1, 1]
    """
    y = _as_labels(labels, "split_indices")
    check_split_fractions(val_fraction, test_fraction)
    rng = np.random.default_rng(seed)
    if groups is None:
        side = _stratified_sides(y, val_fraction, test_fraction, rng)
    else:
        side = _grouped_sides(y, _group_codes(groups, len(y)), val_fraction, test_fraction, rng)
    parts = SplitIndices(*(np.flatnonzero(side == s) for s in range(3)))
    empty = [name for name, part in zip(_SPLIT_NAMES, parts, strict=True) if len(part) == 0]
    if empty:
        unit = "cases" if groups is None else f"cases in {len(set(groups))} groups"
        raise DataError(
            f"split_indices left the {' and '.join(empty)} side empty: {len(y)} {unit} are too "
            f"few for val_fraction={val_fraction} and test_fraction={test_fraction}. Add data or "
            "raise the fractions."
        )
    for name, part in zip(_SPLIT_NAMES, parts, strict=True):
        missing = sorted(set(np.unique(y).tolist()) - set(np.unique(y[part]).tolist()))
        if missing:
            logger.warning("The %s side of the split has no case of class(es) %s.", name, missing)
    return parts


def _group_codes(groups: Sequence[str], n: int) -> np.ndarray:
    if len(groups) != n:
        raise DataError(
            f"The 'groups' parameter of split_indices must have one id per case ({n}); "
            f"got {len(groups)}."
        )
    ids = [str(g) for g in groups]
    empty_rows = [i for i, g in enumerate(ids) if g.strip() == ""]
    if empty_rows:
        raise DataError(
            "The 'groups' parameter of split_indices has empty ids at rows "
            f"{_first_few(empty_rows)}; give every case a patient id."
        )
    _, codes = np.unique(np.asarray(ids, dtype=object), return_inverse=True)
    return np.asarray(codes, dtype=np.int64)


def _stratified_sides(
    y: np.ndarray, val_fraction: float, test_fraction: float, rng: np.random.Generator
) -> np.ndarray:
    side = np.zeros(len(y), dtype=np.int64)
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        n_val = math.floor(val_fraction * len(members) + 0.5)
        n_test = math.floor(test_fraction * len(members) + 0.5)
        side[members[:n_val]] = 1
        side[members[n_val : n_val + n_test]] = 2
    return side


def _grouped_sides(
    y: np.ndarray,
    codes: np.ndarray,
    val_fraction: float,
    test_fraction: float,
    rng: np.random.Generator,
) -> np.ndarray:
    _, class_index = np.unique(y, return_inverse=True)
    n_groups, n_classes = int(codes.max()) + 1, int(class_index.max()) + 1
    counts = np.zeros((n_groups, n_classes), dtype=np.float64)
    np.add.at(counts, (codes, class_index), 1.0)
    fractions = np.array([1.0 - val_fraction - test_fraction, val_fraction, test_fraction])
    target = fractions[:, None] * counts.sum(axis=0)[None, :]
    assigned = np.zeros_like(target)
    order = rng.permutation(n_groups)
    order = order[np.argsort(-counts.sum(axis=1)[order], kind="stable")]
    group_side = np.empty(n_groups, dtype=np.int64)
    for g in order:
        cost = (assigned - target) @ counts[g]
        best = np.flatnonzero(cost <= cost.min() + 1e-9)
        s = int(best[0]) if len(best) == 1 else int(rng.choice(best))
        group_side[g] = s
        assigned[s] += counts[g]
    return group_side[codes]


def split_image_set(
    images: ImageSet,
    *,
    name: str,
    class_names: Sequence[str],
    val_fraction: float,
    test_fraction: float,
    seed: int,
) -> DatasetSplits:
    """Split one ImageSet into a seeded DatasetSplits (grouped by its patient ids if it has them).

    Args:
        images: all labelled cases.
        name: data set name stored in the result.
        class_names: one name per class, index = label.
        val_fraction: share of the cases for validation, in (0, 1).
        test_fraction: share of the cases for testing, in (0, 1).
        seed: seed of the split (the study's ``split_seed``).

    Returns:
        The split, with ``split_origin="seeded"``.

    Raises:
        DataError: as :func:`split_indices`.

    Example:
        >>> import torch
        >>> full = ImageSet(torch.zeros((20, 3, 4, 4), dtype=torch.uint8), torch.arange(20) % 2)
        >>> s = split_image_set(full, name="toy", class_names=("a", "b"), val_fraction=0.2,
        ...                     test_fraction=0.2, seed=0)
        >>> len(s.train), len(s.val), len(s.test), s.split_origin
        (12, 4, 4, 'seeded')
    """
    parts = split_indices(
        images.labels.numpy(),
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        seed=seed,
        groups=images.patient_ids,
    )
    return DatasetSplits(
        name=name,
        class_names=tuple(class_names),
        train=images.subset(parts.train.tolist()),
        val=images.subset(parts.val.tolist()),
        test=images.subset(parts.test.tolist()),
        split_origin="seeded",
    )


def check_no_leakage(splits: DatasetSplits) -> None:
    """Check that no patient id is in more than one of train, val and test.

    Splits without patient ids pass (there is nothing to check). Patient ids are also the
    group ids (video, sequence, image) of detection and segmentation patches, so one check
    covers every task.

    Args:
        splits: the split to check.

    Raises:
        DataError: naming the first few leaking patient ids, their sides and how many there are.

    Example:
        >>> import torch
        >>> def part(ids):
        ...     return ImageSet(torch.zeros((len(ids), 3, 2, 2), dtype=torch.uint8),
        ...                     torch.zeros(len(ids), dtype=torch.long), tuple(ids))
        >>> ok = DatasetSplits("toy", ("a",), part(["p1"]), part(["p2"]), part(["p3"]), "official")
        >>> check_no_leakage(ok)
        >>> bad = DatasetSplits("toy", ("a",), part(["p1"]), part(["p1"]), part(["p3"]), "official")
        >>> check_no_leakage(bad)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        tunedepth.errors.DataError: Data set 'toy': 1 patient id(s) ...: 'p1' (train, val). ...
    """
    sides: dict[str, list[str]] = {}
    for side_name in _SPLIT_NAMES:
        ids = getattr(splits, side_name).patient_ids
        for pid in dict.fromkeys(ids or ()):
            sides.setdefault(pid, []).append(side_name)
    leaks = sorted(pid for pid, where in sides.items() if len(where) > 1)
    if leaks:
        shown = ", ".join(f"{pid!r} ({', '.join(sides[pid])})" for pid in leaks[:5])
        more = f", ... ({len(leaks)} in total)" if len(leaks) > 5 else ""
        fix = (
            "Put all images of a patient in one split."
            if splits.split_origin == "official"
            else "The seeded split keeps every patient (video, sequence, image) on one side, so this is "
            "a bug in tunedepth; please report it."
        )
        raise DataError(
            f"Data set {splits.name!r}: {len(leaks)} patient id(s) are in more than one of "
            f"train/val/test: {shown}{more}. {fix}"
        )


def _first_few(items: Sequence[object], k: int = 5) -> str:
    shown = ", ".join(str(i) for i in items[:k])
    return shown + (f", ... ({len(items)} in total)" if len(items) > k else "")
