"""Tests of tunedepth.data.sources.csv_manifest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tunedepth.data.sources.csv_manifest import load_csv_manifest
from tunedepth.errors import DataError

from ._fakes import truncate, write_image

SPLIT = {"val_fraction": 0.2, "test_fraction": 0.2, "split_seed": 0}


def write_manifest(folder: Path, header: str, rows: list[str]) -> Path:
    path = folder / "manifest.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def patient_rows(folder: Path, n_patients: int = 20, per_patient: int = 3) -> list[str]:
    """Patient p's images are gray value p; the label alternates by patient."""
    rows = []
    for p in range(n_patients):
        label = "benign" if p % 2 else "malignant"
        for j in range(per_patient):
            write_image(folder / "img" / f"p{p}_{j}.png", p)
            rows.append(f"img/p{p}_{j}.png,{label},P{p:02d}")
    return rows


def test_names_labels_relative_and_absolute_paths(tmp_path: Path) -> None:
    rows = []
    for i in range(10):
        path = write_image(tmp_path / "imgs" / f"{i}.png", 10 * i)
        shown = str(path) if i % 2 else f"imgs/{i}.png"  # absolute and relative paths
        rows.append(f"{shown},{'cat' if i < 4 else 'dog'}")
    splits = load_csv_manifest(write_manifest(tmp_path, "path,label", rows), image_size=4, **SPLIT)
    assert splits.name == "manifest"
    assert splits.class_names == ("cat", "dog")
    assert splits.split_origin == "seeded"
    counts = [
        np.bincount(s.labels.numpy(), minlength=2).tolist()
        for s in (splits.train, splits.val, splits.test)
    ]
    assert counts == [[2, 4], [1, 1], [1, 1]]
    for part in (splits.train, splits.val, splits.test):
        values = part.images[:, 0, 0, 0].long()
        assert torch.equal((values >= 40).long(), part.labels)  # images 0-3 are cats


def test_integer_labels(tmp_path: Path) -> None:
    rows = [f"{write_image(tmp_path / f'{i}.png', i)},{i % 3}" for i in range(15)]
    splits = load_csv_manifest(write_manifest(tmp_path, "path,label", rows), image_size=4, **SPLIT)
    assert splits.class_names == ("0", "1", "2")
    for part in (splits.train, splits.val, splits.test):
        assert torch.equal(part.images[:, 0, 0, 0].long() % 3, part.labels)


def test_integer_labels_with_a_gap(tmp_path: Path) -> None:
    rows = [f"{write_image(tmp_path / f'{i}.png', i)},{(0, 2)[i % 2]}" for i in range(6)]
    with pytest.raises(
        DataError, match=r"numbers? the classes 0 to 2 without gaps; class\(es\) \[1\] never occur"
    ):
        load_csv_manifest(write_manifest(tmp_path, "path,label", rows), image_size=4, **SPLIT)


@pytest.mark.parametrize("seed", range(6))
def test_patients_never_on_two_sides(tmp_path: Path, seed: int) -> None:
    manifest = write_manifest(tmp_path, "path,label,patient_id", patient_rows(tmp_path))
    splits = load_csv_manifest(
        manifest, image_size=4, val_fraction=0.2, test_fraction=0.2, split_seed=seed
    )
    sides = [set(s.patient_ids or ()) for s in (splits.train, splits.val, splits.test)]
    assert (
        sides[0].isdisjoint(sides[1])
        and sides[0].isdisjoint(sides[2])
        and sides[1].isdisjoint(sides[2])
    )
    assert len(sides[0] | sides[1] | sides[2]) == 20
    assert [len(s) for s in sides] == [12, 4, 4]
    # The kept ids still belong to their images: patient Pk's image is gray value k.
    for part in (splits.train, splits.val, splits.test):
        assert [int(pid[1:]) for pid in part.patient_ids or ()] == part.images[:, 0, 0, 0].tolist()


def test_empty_patient_ids_name_the_lines(tmp_path: Path) -> None:
    rows = patient_rows(tmp_path, n_patients=3)
    rows[1] = rows[1].rsplit(",", 1)[0] + ","
    rows[4] = rows[4].rsplit(",", 1)[0] + ",  "
    with pytest.raises(DataError, match=r"column 'patient_id' is empty at line\(s\) 3, 6;"):
        load_csv_manifest(
            write_manifest(tmp_path, "path,label,patient_id", rows), image_size=4, **SPLIT
        )


def given_split_rows(tmp_path: Path, sides: list[str]) -> list[str]:
    return [
        f"{write_image(tmp_path / f'{i}.png', i)},{'ab'[i % 2]},P{i},{side}"
        for i, side in enumerate(sides)
    ]


def test_split_column_is_the_split(tmp_path: Path) -> None:
    sides = ["train"] * 6 + ["val"] * 2 + ["test"] * 3
    manifest = write_manifest(
        tmp_path, "path,label,patient_id,split", given_split_rows(tmp_path, sides)
    )
    splits = load_csv_manifest(manifest, image_size=4, **SPLIT)
    assert splits.split_origin == "official"
    assert splits.test.images[:, 0, 0, 0].tolist() == [8, 9, 10]
    assert splits.val.patient_ids == ("P6", "P7")
    assert splits.test.labels.tolist() == [0, 1, 0]


def test_patient_on_two_sides_of_given_split(tmp_path: Path) -> None:
    sides = ["train"] * 6 + ["val"] * 2 + ["test"] * 3
    rows = given_split_rows(tmp_path, sides)
    rows[9] = rows[9].replace(",P9,", ",P2,")
    manifest = write_manifest(tmp_path, "path,label,patient_id,split", rows)
    with pytest.raises(
        DataError,
        match=r"1 patient id\(s\) are in more than one of train/val/test: 'P2' \(train, test\)",
    ):
        load_csv_manifest(manifest, image_size=4, **SPLIT)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        pytest.param(
            {3: "Test"},
            r"must be train, val or test; got \['Test'\] at line\(s\) 5\.",
            id="bad-value",
        ),
        pytest.param({8: "train", 9: "train", 10: "train"}, r"has no test row", id="no-test"),
    ],
)
def test_bad_split_column(tmp_path: Path, change: dict[int, str], match: str) -> None:
    sides = ["train"] * 6 + ["val"] * 2 + ["test"] * 3
    for i, value in change.items():
        sides[i] = value
    manifest = write_manifest(
        tmp_path, "path,label,patient_id,split", given_split_rows(tmp_path, sides)
    )
    with pytest.raises(DataError, match=match):
        load_csv_manifest(manifest, image_size=4, **SPLIT)


@pytest.mark.parametrize(
    ("header", "match"),
    [
        pytest.param(
            "path,patient_id", r"lacks the column\(s\) label; required: path, label", id="no-label"
        ),
        pytest.param(
            "file,class", r"lacks the column\(s\) path, label;.*found: file, class", id="neither"
        ),
    ],
)
def test_missing_columns(tmp_path: Path, header: str, match: str) -> None:
    with pytest.raises(DataError, match=match):
        load_csv_manifest(write_manifest(tmp_path, header, ["a.png,x"]), image_size=4, **SPLIT)


def test_missing_image_file(tmp_path: Path) -> None:
    rows = [f"{write_image(tmp_path / f'{i}.png', i)},a" for i in range(4)] + ["nope/5.png,b"]
    with pytest.raises(
        DataError, match=r"1 image file\(s\) do not exist, e\.g\. .*nope/5\.png \(line\(s\) 6\)"
    ):
        load_csv_manifest(write_manifest(tmp_path, "path,label", rows), image_size=4, **SPLIT)


def test_truncated_image(tmp_path: Path) -> None:
    rows = [f"{write_image(tmp_path / f'{i}.png', i)},{'ab'[i % 2]}" for i in range(10)]
    bad = tmp_path / "noise.png"
    from PIL import Image

    Image.fromarray(np.random.default_rng(1).integers(0, 255, (30, 30, 3), dtype=np.uint8)).save(
        bad
    )
    truncate(bad, 0.6)
    rows.append(f"{bad},a")
    with pytest.raises(DataError, match=r"Image file .*noise\.png could not be read"):
        load_csv_manifest(write_manifest(tmp_path, "path,label", rows), image_size=4, **SPLIT)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        pytest.param("path,label\n", r"has a header but no rows", id="header-only"),
        pytest.param("", r"could not be read", id="empty-file"),
        pytest.param(
            "path,label\nx.png,\n", r"column 'label' is empty at line\(s\) 2;", id="empty-label"
        ),
    ],
)
def test_malformed_csv(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "m.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=match):
        load_csv_manifest(path, image_size=4, **SPLIT)


def test_csv_not_found(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"must be a CSV file; .*nothere\.csv does not exist"):
        load_csv_manifest(tmp_path / "nothere.csv", image_size=4, **SPLIT)


def test_bad_image_size_fails_before_reading(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"'image_size' parameter must be an int >= 1 .*; got -1\."):
        load_csv_manifest(tmp_path / "nothere.csv", image_size=-1, **SPLIT)
