"""Layered annotation folders: images/ plus one JSON per image; groups from the annotations; bad images refused
or skipped with the file named."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tunedepth.data import load_layered
from tunedepth.errors import DataError


def _folder(root: Path, n: int = 3) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    for i in range(n):
        Image.fromarray(np.full((10, 12), 100, np.uint8)).save(root / "images" / f"im{i}.png")
        doc = {"image": f"im{i}.png", "pixel_spacing_um": None, "group": f"p{i // 2}",
               "boundaries": {"lumen_intima": [[0, 2], [11, 3]], "media_adventitia": [[0, 6], [11, 7]]}}
        (root / "annotations" / f"im{i}.json").write_text(json.dumps(doc))
    return root


def test_reads_images_as_three_channels_with_groups_from_the_annotations(tmp_path: Path) -> None:
    frames = load_layered(_folder(tmp_path / "d"))
    assert frames.frame_ids == ("im0", "im1", "im2") and frames.group_ids == ("p0", "p0", "p1")
    assert frames.images[0].shape == (10, 12, 3)
    assert frames.boundaries[0].lumen_intima[0] == 2.0 and frames.boundaries[0].media_adventitia[11] == 7.0


def test_group_defaults_to_the_image(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d")
    note = root / "annotations" / "im1.json"
    doc = json.loads(note.read_text())
    del doc["group"]
    note.write_text(json.dumps(doc))
    assert load_layered(root).group_ids == ("p0", "im1", "p1")


@pytest.mark.parametrize(("breakage", "match"), [
    ("missing-annotation", r"im1\.png has no annotation: expected .*im1\.json"),
    ("crossing", r"im1\.json: key 'boundaries\.lumen_intima' must lie above"),
    ("bad-group", r"im1\.json: key 'group' must be a non-empty string"),
], ids=["missing-annotation", "crossing", "bad-group"])
def test_a_bad_image_is_refused_or_skipped(tmp_path: Path, breakage: str, match: str) -> None:
    root = _folder(tmp_path / "d")
    note = root / "annotations" / "im1.json"
    if breakage == "missing-annotation":
        note.unlink()
    else:
        doc = json.loads(note.read_text())
        if breakage == "crossing":
            doc["boundaries"]["lumen_intima"] = [[0, 8], [11, 9]]
        else:
            doc["group"] = ""
        note.write_text(json.dumps(doc))
    with pytest.raises(DataError, match=match):
        load_layered(root)
    frames = load_layered(root, skip_bad_frames=True)
    assert frames.frame_ids == ("im0", "im2")
    assert [s.path.name for s in frames.skipped] == ["im1.png"]


def test_missing_folders_are_named(tmp_path: Path) -> None:
    (tmp_path / "d" / "images").mkdir(parents=True)
    with pytest.raises(DataError, match="has no annotations/ sub-folder"):
        load_layered(tmp_path / "d")
