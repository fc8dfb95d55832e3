"""Tests of tunedepth.data.sources.image_folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tunedepth.data.sources.image_folder import load_image_folder
from tunedepth.errors import DataError

from ._fakes import truncate, write_image

SPLIT = {"val_fraction": 0.2, "test_fraction": 0.2, "split_seed": 0}


def make_folder(root: Path, per_class: dict[str, int]) -> Path:
    """Class c (sorted position k) image i is gray, value 100 * k + i, of varying sizes."""
    for k, (name, count) in enumerate(sorted(per_class.items())):
        for i in range(count):
            suffix = (".png", ".jpg", ".bmp", ".tif", ".PNG")[i % 5]
            # JPEG is lossy: gray constants survive exactly, but keep them in range.
            write_image(root / name / f"img{i:03d}{suffix}", 100 * k + i, size=(6 + i, 5 + i % 3))
    return root


def test_reads_classes_and_splits_stratified(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "xray", {"normal": 10, "pneumonia": 15})
    (root / "normal" / "README.txt").write_text("not an image")
    (root / ".hidden").mkdir()
    splits = load_image_folder(root, image_size=8, **SPLIT)
    assert splits.name == "xray"
    assert splits.class_names == ("normal", "pneumonia")
    assert splits.split_origin == "seeded"
    per_side = [
        np.bincount(s.labels.numpy(), minlength=2).tolist()
        for s in (splits.train, splits.val, splits.test)
    ]
    # round(0.2 * 10) = 2 and round(0.2 * 15) = 3 per side; the rest trains.
    assert per_side == [[6, 9], [2, 3], [2, 3]]
    assert splits.train.images.shape == (15, 3, 8, 8)
    # Every image still carries its own label: value // 100 is the class.
    for part in (splits.train, splits.val, splits.test):
        values = part.images[:, 0, 4, 4].long()
        assert torch.equal(values // 100, part.labels)
        assert torch.equal(part.images[:, 0], part.images[:, 2])  # gray -> 3 equal channels
    assert splits.train.patient_ids is None


def test_split_is_deterministic_per_seed(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "d", {"a": 10, "b": 10})
    first = load_image_folder(root, image_size=8, **SPLIT)
    again = load_image_folder(root, image_size=8, **SPLIT)
    other = load_image_folder(root, image_size=8, **{**SPLIT, "split_seed": 1})
    assert torch.equal(first.test.images, again.test.images)
    assert not torch.equal(first.test.images, other.test.images)


def test_rgb_and_rgba_images(tmp_path: Path) -> None:
    write_image(tmp_path / "d" / "a" / "x.png", (10, 20, 30))
    write_image(tmp_path / "d" / "a" / "y.png", (40, 50, 60, 7))
    for i in range(3):
        write_image(tmp_path / "d" / "b" / f"{i}.png", (1, 2, 3))
        write_image(tmp_path / "d" / "a" / f"z{i}.png", (1, 2, 3))
    splits = load_image_folder(
        tmp_path / "d", image_size=4, val_fraction=0.1, test_fraction=0.1, split_seed=0
    )
    colours = {
        tuple(img[:, 0, 0].tolist())
        for part in (splits.train, splits.val, splits.test)
        for img in part.images
    }
    assert colours == {(10, 20, 30), (40, 50, 60), (1, 2, 3)}


def test_truncated_png_names_the_file(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "d", {"a": 5, "b": 5})
    bad = write_image(root / "b" / "broken.png", 7, size=(40, 40))
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40), dtype=np.uint8)).save(bad)
    truncate(bad)
    with pytest.raises(
        DataError, match=r"Image file .*b/broken\.png could not be read .*truncated"
    ):
        load_image_folder(root, image_size=8, **SPLIT)


def test_sixteen_bit_image_is_refused(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "d", {"a": 5, "b": 5})
    Image.fromarray(np.full((4, 4), 1000, dtype=np.uint16)).save(root / "a" / "deep.png")
    with pytest.raises(DataError, match=r"deep\.png has Pillow mode 'I;16'.*8-bit"):
        load_image_folder(root, image_size=8, **SPLIT)


@pytest.mark.parametrize(
    ("classes", "match"),
    [
        pytest.param(
            {"only": 5}, r"at least 2 class sub-folders; found 1 \(only\)", id="one-class"
        ),
        pytest.param({}, r"at least 2 class sub-folders; found 0 \(none\)", id="no-class"),
    ],
)
def test_too_few_classes(tmp_path: Path, classes: dict[str, int], match: str) -> None:
    root = make_folder(tmp_path / "d", classes)
    root.mkdir(exist_ok=True)
    with pytest.raises(DataError, match=match):
        load_image_folder(root, image_size=8, **SPLIT)


def test_empty_class_folder(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "d", {"a": 5})
    (root / "b").mkdir()
    (root / "b" / "notes.txt").write_text("x")
    with pytest.raises(DataError, match=r"Class folder .*/b has no image file"):
        load_image_folder(root, image_size=8, **SPLIT)


def test_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"'path' of the image_folder source .* is not a folder"):
        load_image_folder(tmp_path / "missing", image_size=8, **SPLIT)


def test_bad_fractions_fail_before_reading(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"'val_fraction' \+ 'test_fraction' .* got 0.5 \+ 0.5"):
        load_image_folder(
            tmp_path / "missing", image_size=8, val_fraction=0.5, test_fraction=0.5, split_seed=0
        )


@pytest.mark.parametrize("size", [0, -3])
def test_bad_image_size_fails_before_reading(tmp_path: Path, size: int) -> None:
    with pytest.raises(
        DataError, match=rf"'image_size' parameter must be an int >= 1 .*; got {size}\."
    ):
        load_image_folder(tmp_path / "missing", image_size=size, **SPLIT)
