"""Tests of tunedepth.data.splits: seeded splits and the leakage check."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tunedepth.data.dataset import DatasetSplits, ImageSet
from tunedepth.data.splits import check_no_leakage, split_image_set, split_indices
from tunedepth.errors import DataError


def image_set(labels: list[int], ids: list[str] | None = None) -> ImageSet:
    """Image i is constant value i % 256, so rows can be traced after a split."""
    n = len(labels)
    images = (torch.arange(n) % 256).to(torch.uint8).view(n, 1, 1, 1).expand(n, 3, 2, 2)
    return ImageSet(
        images.contiguous(),
        torch.tensor(labels, dtype=torch.int64),
        None if ids is None else tuple(ids),
    )


# --- split_indices ------------------------------------------------------------------------


def test_stratified_split_exact_counts() -> None:
    labels = np.array([0] * 50 + [1] * 30)
    parts = split_indices(labels, val_fraction=0.2, test_fraction=0.2, seed=3)
    assert [np.bincount(labels[p], minlength=2).tolist() for p in parts] == [
        [30, 18],
        [10, 6],
        [10, 6],
    ]
    everything = np.concatenate(parts)
    assert sorted(everything.tolist()) == list(range(80))  # a partition: disjoint and complete
    assert all(np.all(np.diff(p) > 0) for p in parts)  # each side sorted


def test_split_rounds_half_up_per_class() -> None:
    # 0.25 * 6 = 1.5 -> 2 cases; 0.25 * 2 = 0.5 -> 1 case; 0.1 * 4 = 0.4 -> 0 cases.
    labels = np.array([0] * 6 + [1] * 2 + [2] * 4)
    parts = split_indices(labels, val_fraction=0.25, test_fraction=0.1, seed=0)
    assert np.bincount(labels[parts.val], minlength=3).tolist() == [2, 1, 1]
    assert np.bincount(labels[parts.test], minlength=3).tolist() == [1, 0, 0]


def test_split_deterministic_and_seed_dependent() -> None:
    labels = np.arange(100) % 3
    a = split_indices(labels, val_fraction=0.2, test_fraction=0.1, seed=7)
    b = split_indices(labels, val_fraction=0.2, test_fraction=0.1, seed=7)
    c = split_indices(labels, val_fraction=0.2, test_fraction=0.1, seed=8)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a.test, c.test)


def random_patients(seed: int, n_patients: int = 60) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(1000 + seed)
    labels: list[int] = []
    ids: list[str] = []
    for p in range(n_patients):
        k = int(rng.integers(1, 6))
        main = int(rng.integers(0, 3))
        # Most of a patient's images share a class, some do not.
        labels += [main if rng.random() < 0.8 else int(rng.integers(0, 3)) for _ in range(k)]
        ids += [f"patient-{p}"] * k
    return np.array(labels), ids


@pytest.mark.parametrize("seed", range(8))
def test_grouped_split_never_puts_a_patient_on_two_sides(seed: int) -> None:
    labels, ids = random_patients(seed)
    parts = split_indices(labels, val_fraction=0.2, test_fraction=0.2, seed=seed, groups=ids)
    sides = [{ids[i] for i in p} for p in parts]
    assert (
        sides[0].isdisjoint(sides[1])
        and sides[0].isdisjoint(sides[2])
        and sides[1].isdisjoint(sides[2])
    )
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(labels)))
    # Fractions are met up to the group sizes (at most 5 images per patient).
    n = len(labels)
    assert abs(len(parts.val) - 0.2 * n) <= 5 and abs(len(parts.test) - 0.2 * n) <= 5
    # ... and each class keeps roughly its share on each side.
    for c in range(3):
        share = np.mean(labels == c)
        assert abs(np.mean(labels[parts.train] == c) - share) < 0.1


def test_grouped_split_deterministic_and_seed_dependent() -> None:
    labels, ids = random_patients(0)
    a = split_indices(labels, val_fraction=0.2, test_fraction=0.2, seed=1, groups=ids)
    b = split_indices(labels, val_fraction=0.2, test_fraction=0.2, seed=1, groups=ids)
    c = split_indices(labels, val_fraction=0.2, test_fraction=0.2, seed=2, groups=ids)
    assert np.array_equal(a.test, b.test) and np.array_equal(a.val, b.val)
    assert not np.array_equal(a.test, c.test)


def test_split_image_set_keeps_rows_and_ids() -> None:
    labels, ids = random_patients(3, n_patients=30)
    full = image_set(labels.tolist(), ids)
    splits = split_image_set(
        full, name="toy", class_names=("a", "b", "c"), val_fraction=0.2, test_fraction=0.2, seed=0
    )
    assert splits.split_origin == "seeded" and splits.class_names == ("a", "b", "c")
    for part in (splits.train, splits.val, splits.test):
        rows = part.images[:, 0, 0, 0].long()
        assert torch.equal(part.labels, full.labels[rows])
        assert part.patient_ids == tuple(ids[int(r)] for r in rows)
    check_no_leakage(splits)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param(
            {"val_fraction": 0.0},
            r"'val_fraction' parameter .* in \(0, 1\); got 0\.0",
            id="val-zero",
        ),
        pytest.param(
            {"test_fraction": 1.0},
            r"'test_fraction' parameter .* in \(0, 1\); got 1\.0",
            id="test-one",
        ),
        pytest.param({"val_fraction": 0.5, "test_fraction": 0.5}, r"must sum to < 1", id="sum-one"),
        pytest.param(
            {"groups": ["a", "b"]}, r"'groups' .* one id per case \(10\); got 2", id="groups-length"
        ),
        pytest.param({"groups": ["a", ""] + ["b"] * 8}, r"empty ids at rows 1;", id="groups-empty"),
    ],
)
def test_split_errors(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"val_fraction": 0.2, "test_fraction": 0.2, "seed": 0, **kwargs}
    with pytest.raises(DataError, match=match):
        split_indices(np.arange(10) % 2, **args)  # type: ignore[arg-type]


def test_split_with_too_few_cases() -> None:
    with pytest.raises(DataError, match=r"left the val and test side empty: 4 cases are too few"):
        split_indices([0, 0, 1, 1], val_fraction=0.1, test_fraction=0.1, seed=0)
    # One more case per class reaches the rounding boundary (0.1 * 5 = 0.5 -> 1 case).
    parts = split_indices([0] * 5 + [1] * 5, val_fraction=0.1, test_fraction=0.1, seed=0)
    assert [len(p) for p in parts] == [6, 2, 2]


# --- check_no_leakage ---------------------------------------------------------------------


def splits_with_ids(train: list[str], val: list[str], test: list[str]) -> DatasetSplits:
    return DatasetSplits(
        "toy",
        ("a",),
        image_set([0] * len(train), train),
        image_set([0] * len(val), val),
        image_set([0] * len(test), test),
        "official",
    )


def test_no_leakage_passes_clean_and_idless_splits() -> None:
    check_no_leakage(splits_with_ids(["p1", "p1", "p2"], ["p3"], ["p4", "p5"]))
    check_no_leakage(
        DatasetSplits("toy", ("a",), image_set([0]), image_set([0]), image_set([0]), "seeded")
    )


def test_leakage_names_the_patient() -> None:
    with pytest.raises(
        DataError, match=r"Data set 'toy': 1 patient id\(s\) .*: 'p7' \(train, test\)\. Put all"
    ):
        check_no_leakage(splits_with_ids(["p1", "p7"], ["p3"], ["p7", "p4"]))


def test_leakage_lists_first_few_and_count() -> None:
    ids = [f"p{i}" for i in range(7)]
    with pytest.raises(
        DataError, match=r"7 patient id\(s\) .*'p4' \(train, val, test\), \.\.\. \(7 in total\)\."
    ) as err:
        check_no_leakage(splits_with_ids(ids, ids, ids))
    assert "'p5'" not in str(err.value)
