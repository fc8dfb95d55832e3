"""Tests of tunedepth.data.boundaries.layered: the annotation format and its label image, and annotation folders
(images/ plus one JSON per image; groups from the annotations; bad images refused or skipped with the file named)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tunedepth.data.boundaries import LayeredBoundaries, layered_label_image, load_layered, read_layered_annotation
from tunedepth.errors import DataError

# --- layered annotations -------------------------------------------------------------------------------------------

SHAPE = (10, 8)  # height, width


def _doc(**changes: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "image": "frame.png",
        "pixel_spacing_um": 60.0,
        "boundaries": {"lumen_intima": [[1, 2], [3, 3], [6, 3.5]], "media_adventitia": [[0, 6], [7, 8]]},
    }
    doc.update(changes)
    return doc


def _write(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "frame.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_read_layered_annotation_interpolates_rows_per_column(tmp_path):
    b = read_layered_annotation(_write(tmp_path, _doc()), image_shape=SHAPE)
    assert b.image == "frame.png" and b.pixel_spacing_um == 60.0 and b.width == 8
    nan = math.nan
    expected_li = [nan, 2.0, 2.5, 3.0, 3 + 0.5 / 3, 3 + 1.0 / 3, 3.5, nan]  # x = 0 and 7 lie outside [1, 6]
    np.testing.assert_allclose(b.lumen_intima, expected_li, rtol=0, atol=1e-12)
    np.testing.assert_allclose(b.media_adventitia, [6 + 2 * x / 7 for x in range(8)], rtol=0, atol=1e-12)


def test_read_layered_annotation_takes_fractional_ends_and_null_spacing(tmp_path):
    bounds = {"lumen_intima": [[0.5, 2], [2.5, 4]], "media_adventitia": [[0, 9], [7, 9]]}
    b = read_layered_annotation(_write(tmp_path, _doc(pixel_spacing_um=None, boundaries=bounds)), image_shape=SHAPE)
    assert b.pixel_spacing_um is None
    np.testing.assert_array_equal(b.lumen_intima, [np.nan, 2.5, 3.5] + [np.nan] * 5)
    np.testing.assert_array_equal(b.media_adventitia, [9.0] * 8)  # y = height - 1 is inside the image


def _bounds(li: object = None, ma: object = None, **extra: object) -> dict[str, object]:
    out: dict[str, object] = {
        "lumen_intima": [[1, 2], [3, 3], [6, 3.5]] if li is None else li,
        "media_adventitia": [[0, 6], [7, 8]] if ma is None else ma,
    }
    out.update(extra)
    return out


_FILE = r"Layered annotation .*frame\.json"
BAD_ANNOTATIONS = {
    "not-json": ("{not json", _FILE + r" could not be read as JSON \(JSONDecodeError"),
    "not-object": ([1, 2], _FILE + r" holds a JSON list, not an object with keys image, pixel_spacing_um, boundaries"),
    "missing-key": ({"image": "a.png", "boundaries": _bounds()},
                    _FILE + r" has no key 'pixel_spacing_um' \(1 missing\)"),
    "unknown-key": (_doc(notes="x"), _FILE + r" has an unknown key 'notes'; the allowed keys are image, "),
    "missing-boundary": (_doc(boundaries={"lumen_intima": [[0, 1], [7, 1]]}),
                         _FILE + r" has no key 'boundaries\.media_adventitia' \(1 missing\)"),
    "unknown-boundary": (_doc(boundaries=_bounds(lumen_intim=[[0, 1], [1, 1]])),
                         _FILE + r" has an unknown key 'boundaries\.lumen_intim'.* Did you mean "
                                 r"'boundaries\.lumen_intima'\?"),
    "empty-image": (_doc(image=""), _FILE + r": key 'image' must be the image's file name .*; got ''"),
    "image-not-string": (_doc(image=3), _FILE + r": key 'image' must be .*; got 3"),
    "negative-spacing": (_doc(pixel_spacing_um=-60), _FILE + r": key 'pixel_spacing_um' must be a positive number"),
    "bool-spacing": (_doc(pixel_spacing_um=True), _FILE + r": key 'pixel_spacing_um' .*; got True"),
    "boundaries-not-object": (_doc(boundaries=[]), _FILE + r": key 'boundaries' must be an object .*got a JSON list"),
    "one-vertex": (_doc(boundaries=_bounds(li=[[1, 2]])),
                   _FILE + r": key 'boundaries\.lumen_intima' must be a list of at least two \[x, y\] pairs"),
    "three-coordinates": (_doc(boundaries=_bounds(ma=[[0, 6, 1], [7, 8, 1]])),
                          _FILE + r": key 'boundaries\.media_adventitia' must be a list of at least two \[x, y\]"),
    "string-coordinate": (_doc(boundaries=_bounds(li=[[1, "2"], [3, 3]])),
                          _FILE + r": key 'boundaries\.lumen_intima' must be a list .* finite numbers"),
    "nan-coordinate": (_doc(boundaries=_bounds(li=[[1, math.nan], [3, 3]])),
                       _FILE + r": key 'boundaries\.lumen_intima' must be a list .* finite numbers"),
    "x-repeated": (_doc(boundaries=_bounds(li=[[1, 2], [3, 3], [3, 3.5]])),
                   _FILE + r": key 'boundaries\.lumen_intima' must have strictly increasing x; vertex 2 has x = 3 "
                           r"after x = 3"),
    "x-decreasing": (_doc(boundaries=_bounds(ma=[[7, 8], [0, 6]])),
                     _FILE + r": key 'boundaries\.media_adventitia' must have strictly increasing x; vertex 1"),
    "x-outside": (_doc(boundaries=_bounds(ma=[[0, 6], [8, 8]])),
                  _FILE + r": key 'boundaries\.media_adventitia' has vertex 1 at \(x, y\) = \(8, 8\) outside the 8x10 "
                          r"image \(0 <= x <= 7, 0 <= y <= 9\)"),
    "y-negative": (_doc(boundaries=_bounds(li=[[1, -0.5], [3, 3]])),
                   _FILE + r": key 'boundaries\.lumen_intima' has vertex 0 at \(x, y\) = \(1, -0\.5\) outside"),
    "y-below-image": (_doc(boundaries=_bounds(ma=[[0, 6], [7, 9.5]])),
                      _FILE + r": key 'boundaries\.media_adventitia' has vertex 1 .* outside the 8x10 image"),
    "no-pixel-column": (_doc(boundaries=_bounds(li=[[2.2, 3], [2.8, 3]])),
                        _FILE + r": key 'boundaries\.lumen_intima' spans x = 2\.2 \.\. 2\.8, which contains no pixel"),
    "crossing": (_doc(boundaries=_bounds(li=[[0, 2], [7, 9]])),
                 _FILE + r": key 'boundaries\.lumen_intima' must lie above .* 'boundaries\.media_adventitia' .*; at "
                         r"x = 6 they are at y = 8 and 7\.71\d+ \(2 such columns\)"),  # y = 2 + x vs 6 + 2x/7
    "touching": (_doc(boundaries=_bounds(li=[[0, 6], [7, 6]], ma=[[0, 6], [7, 6]])),
                 _FILE + r": key 'boundaries\.lumen_intima' must lie above .*at x = 0 they are at y = 6 and 6 "
                         r"\(8 such columns\)"),
}


@pytest.mark.parametrize("case", list(BAD_ANNOTATIONS))
def test_read_layered_annotation_rejects_bad_files_naming_file_and_key(tmp_path, case):
    content, match = BAD_ANNOTATIONS[case]
    with pytest.raises(DataError, match=match):
        read_layered_annotation(_write(tmp_path, content), image_shape=SHAPE)


def test_read_layered_annotation_rejects_a_missing_file_and_bad_shape(tmp_path):
    with pytest.raises(DataError, match=r"Layered annotation .*absent\.json could not be read as JSON"):
        read_layered_annotation(tmp_path / "absent.json", image_shape=SHAPE)
    path = _write(tmp_path, _doc())
    for shape in [(10,), (10, 0), (10.0, 8), (True, 8)]:
        with pytest.raises(ValueError, match=r"'image_shape' parameter of read_layered_annotation must be "
                                             r"\(height, width\), two ints >= 1"):
            read_layered_annotation(path, image_shape=shape)  # type: ignore[arg-type]


def test_layered_label_image_marks_one_rounded_pixel_per_column(tmp_path):
    b = read_layered_annotation(_write(tmp_path, _doc()), image_shape=SHAPE)
    labels = layered_label_image(b, SHAPE)
    assert labels.dtype == np.int32 and labels.shape == SHAPE
    # LI rows 2, 2.5, 3, 3.17, 3.33, 3.5 in columns 1..6 -> 2, 3 (half goes down), 3, 3, 3, 4
    li_rows = {1: 2, 2: 3, 3: 3, 4: 3, 5: 3, 6: 4}
    # MA rows 6 + 2x/7 = 6, 6.29, 6.57, 6.86, 7.14, 7.43, 7.71, 8 -> 6, 6, 7, 7, 7, 7, 8, 8
    ma_rows = [6, 6, 7, 7, 7, 7, 8, 8]
    expected = np.zeros(SHAPE, np.int32)
    for col, row in li_rows.items():
        expected[row, col] = 1
    for col, row in enumerate(ma_rows):
        expected[row, col] = 2
    np.testing.assert_array_equal(labels, expected)


@pytest.mark.parametrize(
    ("li", "ma", "shape", "match"),
    [
        ([1.0, 2.0], [4.0, 4.0], (6, 3), r"'shape' parameter of layered_label_image gives width 3 but 'boundaries' "
                                         r"has 2 columns"),
        ([1.0, 2.0], [4.0, 5.6], (6, 2), r"has media_adventitia at y = 5\.6 in column 1, outside the 6 rows"),
        ([1.0, 2.4], [4.0, 2.45], (6, 2), r"has both interfaces on pixel row 2 in column 1 \(less than a pixel "
                                         r"apart\); resample"),
        ([1.0, 2.0], [4.0, 4.0], (6, 0), r"'shape' parameter of layered_label_image must be \(height, width\)"),
    ],
    ids=["width-mismatch", "row-outside", "same-pixel", "bad-shape"],
)
def test_layered_label_image_rejects_bad_input(li, ma, shape, match):
    b = LayeredBoundaries("a.png", None, np.array(li), np.array(ma))
    with pytest.raises(ValueError, match=match):
        layered_label_image(b, shape)


@pytest.mark.parametrize(
    ("li", "ma", "match"),
    [
        (np.array([1, 2]), np.array([3.0, 4.0]), r"'lumen_intima' field of LayeredBoundaries must be a 1-D float"),
        (np.ones((2, 2)), np.ones((2, 2)), r"'lumen_intima' field .* got dtype float64 and shape \(2, 2\)"),
        (np.ones(3), np.ones(2), r"must have one shape \(width,\); got \(3,\) and \(2,\)"),
    ],
    ids=["int-rows", "2-d-rows", "shape-mismatch"],
)
def test_layered_boundaries_validates_rows(li, ma, match):
    with pytest.raises(ValueError, match=match):
        LayeredBoundaries("a.png", None, li, ma)


# --- annotation folders ------------------------------------------------------------------------------------------

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
