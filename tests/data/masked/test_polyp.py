"""Tests of tunedepth.data.masked.polyp: polyp labelling and the Kvasir-SEG / CVC-ClinicDB loaders."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tunedepth.data.masked import PolypFrames, SkippedFrame, label_polyps, load_cvc_clinicdb, load_kvasir_seg
from tunedepth.errors import DataError

_HINT = r".* set skip_bad_frames \(data\.skip_bad_frames = true in a study file\)\.$"


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _frame(h: int, w: int, value: int) -> np.ndarray:
    rng = np.random.default_rng(value)
    return np.clip(value + rng.integers(-5, 6, size=(h, w, 3)), 0, 255).astype(np.uint8)


def _mask(h: int, w: int, box: tuple[int, int, int, int], value: int = 255) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    r0, r1, c0, c1 = box
    m[r0:r1, c0:c1] = value
    return m


@pytest.fixture
def kvasir(tmp_path: Path) -> Path:
    root = tmp_path / "kvasir"
    _save(root / "images" / "b.png", _frame(20, 30, 100))
    _save(root / "masks" / "b.png", _mask(20, 30, (2, 12, 3, 13)))
    _save(root / "images" / "a.png", _frame(24, 16, 150))
    m = _mask(24, 16, (0, 10, 0, 10))
    m[15:20, 10:15] = 127  # below the default threshold of 128
    m[20:24, 0:4] = 128  # at the threshold: polyp
    _save(root / "masks" / "a.png", m)
    return root


def test_label_polyps_uses_8_connectivity_and_min_area():
    m = np.zeros((6, 8), bool)
    m[0:2, 0:2] = True  # 4 px
    m[2, 2] = True  # touches the square diagonally: same component under 8-connectivity (5 px in all)
    m[4:6, 5:8] = True  # 6 px
    m[0, 7] = True  # 1 px
    labels = label_polyps(m, min_area_px=1)
    assert labels.dtype == np.int32
    assert labels.max() == 3
    assert labels[2, 2] == labels[0, 0] == 1  # raster order of first pixels: square, single pixel, bar
    assert labels[0, 7] == 2 and labels[4, 5] == 3
    # min_area_px keeps components of exactly that size and drops smaller ones, relabelling 1..n
    assert label_polyps(m, min_area_px=5).max() == 2
    kept = label_polyps(m, min_area_px=6)
    assert kept.max() == 1 and kept[4, 5] == 1 and kept[0, 0] == 0
    assert label_polyps(np.zeros((3, 3), bool)).max() == 0


@pytest.mark.parametrize(
    ("mask", "kwargs", "match"),
    [
        (np.zeros((3, 3), np.uint8), {}, "2-D bool array"),
        (np.zeros((3, 3, 1), bool), {}, "2-D bool array"),
        (np.zeros((3, 3), bool), {"min_area_px": 0}, "min_area_px"),
    ],
    ids=["uint8", "3-d", "zero-area"],
)
def test_label_polyps_rejects_bad_input(mask, kwargs, match):
    with pytest.raises(ValueError, match=match):
        label_polyps(mask, **kwargs)


def test_load_kvasir_seg_reads_pairs_and_thresholds(kvasir):
    frames = load_kvasir_seg(kvasir)
    assert frames.name == "kvasir-seg"
    assert frames.frame_ids == ("a", "b") and frames.group_ids == ("a", "b")
    assert frames.boxes is None
    assert [img.shape for img in frames.images] == [(24, 16, 3), (20, 30, 3)]
    mask = frames.masks[0]
    assert mask.dtype == np.bool_ and int(mask.sum()) == 100 + 16  # the square and the 128 block, not the 127 one
    assert not mask[15:20, 10:15].any()
    assert int(frames.masks[1].sum()) == 100
    assert not frames.images[0].flags.writeable and not mask.flags.writeable
    assert int(load_kvasir_seg(kvasir, mask_threshold=127).masks[0].sum()) == 100 + 16 + 25


def test_load_kvasir_seg_reads_jpeg_masks(tmp_path):
    root = tmp_path / "k"
    _save(root / "images" / "x.jpg", _frame(40, 40, 90))
    _save(root / "masks" / "x.jpg", np.stack([_mask(40, 40, (10, 30, 10, 30))] * 3, axis=2))
    mask = load_kvasir_seg(root).masks[0]
    # JPEG blurs the edge; the interior and the far background are unambiguous
    assert mask[12:28, 12:28].all() and not mask[:8].any() and not mask[32:].any()


def test_load_kvasir_seg_selects_frames_in_order(kvasir):
    frames = load_kvasir_seg(kvasir, frame_ids=["b", "a"])
    assert frames.frame_ids == ("b", "a")
    with pytest.raises(DataError, match=r"Frame id 'aa' is not an image .* Did you mean 'a'"):
        load_kvasir_seg(kvasir, frame_ids=["aa"])
    with pytest.raises(ValueError, match="non-empty sequence"):
        load_kvasir_seg(kvasir, frame_ids=[])


def test_load_kvasir_seg_reads_boxes(kvasir):
    table = {
        "a": {"height": 24, "width": 16, "bbox": [{"label": "polyp", "xmin": 0, "ymin": 0, "xmax": 10, "ymax": 10}]},
        "b": {"height": 20, "width": 30, "bbox": [{"label": "polyp", "xmin": 3, "ymin": 2, "xmax": 13, "ymax": 12},
                                                  {"label": "polyp", "xmin": 20, "ymin": 1, "xmax": 25, "ymax": 5}]},
    }
    (kvasir / "kavsir_bboxes.json").write_text(json.dumps(table))
    frames = load_kvasir_seg(kvasir)
    assert frames.boxes is not None
    assert frames.boxes[0].tolist() == [[0, 0, 10, 10]]
    assert frames.boxes[1].tolist() == [[3, 2, 13, 12], [20, 1, 25, 5]]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{not json", "could not be read as JSON"),
        (json.dumps({"b": {"height": 20, "width": 30, "bbox": []}}), "no valid entry for image 'a'"),
        (json.dumps({"a": {"height": 16, "width": 24, "bbox": []}, "b": {"height": 20, "width": 30, "bbox": []}}),
         r"gives image 'a' as 24x16 but the image is 16x24"),
    ],
    ids=["malformed", "missing-entry", "size-mismatch"],
)
def test_load_kvasir_seg_rejects_bad_boxes(kvasir, content, match):
    (kvasir / "kavsir_bboxes.json").write_text(content)
    with pytest.raises(DataError, match=match):
        load_kvasir_seg(kvasir)


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("skip_bad_frames", [False, True], ids=["raise", "skip"])
@pytest.mark.parametrize(
    ("breakage", "match"),
    [
        (lambda r: [p.unlink() for p in (r / "images").iterdir()] and [p.unlink() for p in (r / "masks").iterdir()],
         "holds no image file"),
        (lambda r: [p.unlink() for p in (r / "masks").iterdir()] and (r / "masks").rmdir(), "has no masks/ sub-folder"),
        (lambda r: _save(r / "images" / "a.jpg", _frame(24, 16, 150)), r"two images named 'a' \(a\.jpg and a\.png\)"),
        (lambda r: (r / "kavsir_bboxes.json").write_text("{not json"), "could not be read as JSON"),
        (lambda r: (r / "kavsir_bboxes.json").write_text("[]"), r"holds a JSON list, not an object of image ids"),
    ],
    ids=["empty", "no-masks-folder", "duplicate-stem", "malformed-box-file", "box-file-not-object"],
)
def test_load_kvasir_seg_rejects_bad_folders_even_when_skipping(kvasir, breakage, match, skip_bad_frames):
    breakage(kvasir)
    with pytest.raises(DataError, match=match):
        load_kvasir_seg(kvasir, skip_bad_frames=skip_bad_frames)


# Breakages of one frame, shared by both loaders: (breakage of frame `stem` under `root`, message pattern with
# {s} for the stem, folder of the path that SkippedFrame records).
def _image_size(root: Path, stem: str) -> tuple[int, int]:
    with Image.open(root / "images" / f"{stem}.png") as img:
        return img.height, img.width


def _speck_mask(root: Path, stem: str) -> None:
    h, w = _image_size(root, stem)
    _save(root / "masks" / f"{stem}.png", _mask(h, w, (0, 7, 0, 7)))  # 49 px: one short of a polyp


BAD_FRAMES = {
    "image-without-mask": (lambda r, s: (r / "masks" / f"{s}.png").unlink(),
                           r"Image .*images/{s}\.png has no mask: expected .*masks/{s}\.png", "images"),
    "mask-without-image": (lambda r, s: (r / "images" / f"{s}.png").unlink(),
                           r"Mask .*masks/{s}\.png has no image: expected .*images/{s}\.png", "masks"),
    "size-mismatch": (lambda r, s: _save(r / "masks" / f"{s}.png", np.zeros((5, 7), np.uint8)),
                      r"Mask .*masks/{s}\.png is 7x5 but its image {s}\.png is \d+x\d+", "images"),
    "truncated-image": (lambda r, s: _truncate(r / "images" / f"{s}.png"),
                        r"Image file .*images/{s}\.png could not be read", "images"),
    "truncated-mask": (lambda r, s: _truncate(r / "masks" / f"{s}.png"),
                       r"Image file .*masks/{s}\.png could not be read", "images"),
    "grayscale": (lambda r, s: _save(r / "images" / f"{s}.png", np.zeros(_image_size(r, s), np.uint8)),
                  r"Image .*images/{s}\.png is grayscale", "images"),
    "empty-mask": (lambda r, s: _save(r / "masks" / f"{s}.png", np.zeros(_image_size(r, s), np.uint8)),
                   r"Mask .*masks/{s}\.png has no polyp \(no 8-connected component of at least 50 px", "images"),
    "mask-below-min-area": (_speck_mask, r"Mask .*masks/{s}\.png has no polyp", "images"),
}
LOADERS = {"kvasir": (load_kvasir_seg, "a"), "cvc": (load_cvc_clinicdb, "2")}


@pytest.mark.parametrize("data_set", list(LOADERS))
@pytest.mark.parametrize("case", list(BAD_FRAMES))
def test_loaders_raise_on_bad_frame_naming_the_file(request, data_set, case):
    loader, stem = LOADERS[data_set]
    root = request.getfixturevalue(data_set)
    breakage, pattern, _ = BAD_FRAMES[case]
    breakage(root, stem)
    with pytest.raises(DataError, match=pattern.format(s=stem) + _HINT):
        loader(root)


@pytest.mark.parametrize("data_set", list(LOADERS))
@pytest.mark.parametrize("case", list(BAD_FRAMES))
def test_loaders_skip_and_list_bad_frame(request, caplog, data_set, case):
    loader, stem = LOADERS[data_set]
    root = request.getfixturevalue(data_set)
    clean = loader(root)
    breakage, pattern, folder = BAD_FRAMES[case]
    breakage(root, stem)
    with caplog.at_level(logging.WARNING, logger="tunedepth.data.masked.polyp"):
        frames = loader(root, skip_bad_frames=True)
    assert frames.frame_ids == tuple(f for f in clean.frame_ids if f != stem)
    assert len(frames.skipped) == 1 and frames.skipped[0].path == root / folder / f"{stem}.png"
    reason = frames.skipped[0].reason
    assert re.match(pattern.format(s=stem), reason) and "skip_bad_frames" not in reason
    assert [r.levelname for r in caplog.records] == ["WARNING"] and reason in caplog.records[0].getMessage()
    for i, fid in enumerate(frames.frame_ids):  # the good frames are read as without the bad one
        j = clean.frame_ids.index(fid)
        assert np.array_equal(frames.images[i], clean.images[j]) and np.array_equal(frames.masks[i], clean.masks[j])
    if data_set == "cvc":  # video segmentation runs on the frames that remain: frame 2 is one more gap
        assert frames.group_ids == ("video01",) * 3 + ("video02",) * 4


@pytest.mark.parametrize("data_set", list(LOADERS))
def test_loaders_raise_when_every_frame_is_bad_even_when_skipping(request, data_set):
    loader, _ = LOADERS[data_set]
    root = request.getfixturevalue(data_set)
    for mask in sorted((root / "masks").iterdir()):
        _save(mask, np.zeros(_image_size(root, mask.stem), np.uint8))
    first = sorted((root / "masks").iterdir(), key=lambda p: (len(p.stem), p.stem))[0]  # "a" or frame 1
    n = len(list((root / "masks").iterdir()))
    with pytest.raises(DataError, match=rf"masks/{first.stem}\.png has no polyp.* set skip_bad_frames"):
        loader(root)
    with pytest.raises(DataError, match=rf"frame read from .* is bad \({n} skipped\).*the first: Mask .*masks/"
                                        rf"{first.stem}\.png has no polyp"):
        loader(root, skip_bad_frames=True)


def test_loaders_keep_polyps_from_min_area_px_at_mask_threshold(kvasir):
    # Frame a's mask: a 100 px square at 255, a 16 px block at 128 and a 25 px block at 127 (fixture).
    _save(kvasir / "masks" / "a.png", _mask(24, 16, (0, 5, 0, 10)))  # exactly 50 px
    assert int(load_kvasir_seg(kvasir).masks[0].sum()) == 50
    with pytest.raises(DataError, match=r"masks/a\.png has no polyp \(no 8-connected component of at least 51 px"):
        load_kvasir_seg(kvasir, min_area_px=51)
    assert load_kvasir_seg(kvasir, min_area_px=51, skip_bad_frames=True).frame_ids == ("b",)
    _save(kvasir / "masks" / "a.png", _mask(24, 16, (0, 10, 0, 10), value=127))  # 100 px below the threshold
    with pytest.raises(DataError, match=r"a\.png has no polyp .* grey value >= 128\)"):
        load_kvasir_seg(kvasir)
    assert int(load_kvasir_seg(kvasir, mask_threshold=127).masks[0].sum()) == 100


@pytest.mark.parametrize(
    ("table_a", "match"),
    [
        (None, r"Box file .*kavsir_bboxes\.json has no valid entry for image 'a' \(expected height"),
        ({"height": 20, "width": 30}, r"no valid entry for image 'a' .*KeyError: 'bbox'"),
        ({"height": 16, "width": 24, "bbox": []}, r"Box file .*kavsir_bboxes\.json gives image 'a' as 24x16 but the "
                                                  r"image is 16x24"),
    ],
    ids=["missing-entry", "entry-without-bbox", "size-mismatch"],
)
def test_load_kvasir_seg_skips_frames_with_bad_box_entries(kvasir, table_a, match):
    table = {"b": {"height": 20, "width": 30, "bbox": [{"xmin": 3, "ymin": 2, "xmax": 13, "ymax": 12}]}}
    if table_a is not None:
        table["a"] = table_a
    (kvasir / "kavsir_bboxes.json").write_text(json.dumps(table))
    with pytest.raises(DataError, match=match + _HINT):
        load_kvasir_seg(kvasir)
    frames = load_kvasir_seg(kvasir, skip_bad_frames=True)
    assert frames.frame_ids == ("b",) and frames.boxes is not None and frames.boxes[0].tolist() == [[3, 2, 13, 12]]
    assert [s.path for s in frames.skipped] == [kvasir / "images" / "a.png"]
    assert re.search(match, frames.skipped[0].reason)


def test_load_kvasir_seg_lists_only_requested_frames_as_skipped(kvasir):
    (kvasir / "masks" / "a.png").unlink()
    assert load_kvasir_seg(kvasir, frame_ids=["b"], skip_bad_frames=True).skipped == ()
    frames = load_kvasir_seg(kvasir, frame_ids=["b", "a"], skip_bad_frames=True)
    assert frames.frame_ids == ("b",) and [s.path.name for s in frames.skipped] == ["a.png"]
    with pytest.raises(DataError, match=r"Every Kvasir-SEG frame .* is bad \(1 skipped\)"):
        load_kvasir_seg(kvasir, frame_ids=["a"], skip_bad_frames=True)
    with pytest.raises(DataError, match=r"Frame id 'c' is not an image"):
        load_kvasir_seg(kvasir, frame_ids=["b", "c"], skip_bad_frames=True)


def test_loaders_reject_missing_root_and_bad_threshold(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_kvasir_seg(tmp_path / "nowhere")
    with pytest.raises(DataError, match="does not exist"):
        load_cvc_clinicdb(tmp_path / "nowhere", skip_bad_frames=True)
    with pytest.raises(ValueError, match="mask_threshold"):
        load_cvc_clinicdb(tmp_path, mask_threshold=0)


@pytest.mark.parametrize("loader", [load_kvasir_seg, load_cvc_clinicdb], ids=["kvasir", "cvc"])
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"min_area_px": 0}, ValueError, r"'min_area_px' parameter of load_\w+ must be an int >= 1; got 0"),
        ({"min_area_px": True}, ValueError, r"'min_area_px' parameter of load_\w+ must be an int >= 1; got True"),
        ({"skip_bad_frames": "yes"}, TypeError, r"'skip_bad_frames' parameter of load_\w+ must be True or False"),
    ],
    ids=["zero-area", "bool-area", "str-skip"],
)
def test_loaders_reject_bad_options(tmp_path, loader, kwargs, error, match):
    with pytest.raises(error, match=match):
        loader(tmp_path, **kwargs)


@pytest.fixture
def cvc(tmp_path: Path) -> Path:
    # Frames 1, 2, 3, 10 show scene one (the gap 3 -> 10 is inside it), frames 11-14 scene two.
    root = tmp_path / "cvc"
    for n, value in ((1, 60), (2, 60), (3, 60), (10, 60), (11, 200), (12, 200), (13, 200), (14, 200)):
        _save(root / "images" / f"{n}.png", _frame(18, 24, value))
        _save(root / "masks" / f"{n}.png", _mask(18, 24, (2, 12, 2, 12)))
    return root


def test_load_cvc_clinicdb_orders_by_number_and_groups_by_video(cvc):
    frames = load_cvc_clinicdb(cvc)
    assert frames.name == "cvc-clinicdb"
    assert frames.frame_ids == ("1", "2", "3", "10", "11", "12", "13", "14")  # numeric, not string, order
    assert frames.group_ids == ("video01",) * 4 + ("video02",) * 4
    assert all(int(m.sum()) == 100 for m in frames.masks)
    assert frames.skipped == ()


def test_load_cvc_clinicdb_rejects_names_that_are_not_numbers(cvc):
    _save(cvc / "images" / "x1.png", _frame(18, 24, 5))
    _save(cvc / "masks" / "x1.png", _mask(18, 24, (2, 12, 2, 12)))
    with pytest.raises(DataError, match=r"file .*images/x1\.png is not named by its frame number .* 1 such file"):
        load_cvc_clinicdb(cvc)
    frames = load_cvc_clinicdb(cvc, skip_bad_frames=True)
    assert frames.frame_ids == ("1", "2", "3", "10", "11", "12", "13", "14")
    assert [s.path for s in frames.skipped] == [cvc / "images" / "x1.png"]
    assert "is not named by its frame number" in frames.skipped[0].reason


def test_polyp_frames_validates_and_subsets():
    img = np.zeros((4, 5, 3), np.uint8)
    m = np.zeros((4, 5), bool)
    frames = PolypFrames("toy", (img, img), (m, m), ("a", "b"), ("g1", "g2"))
    assert frames.skipped == ()
    sub = frames.subset([1])
    assert len(sub) == 1 and sub.frame_ids == ("b",) and sub.group_ids == ("g2",) and sub.images[0] is img
    skipped = (SkippedFrame(Path("images/c.png"), "Image images/c.png is grayscale; ..."),)
    assert dataclasses.replace(frames, skipped=skipped).subset([0]).skipped == skipped  # it describes the load
    with pytest.raises(DataError, match=r"has 2 images but \{'group_ids': 1\}"):
        dataclasses.replace(frames, group_ids=("g1",))
    with pytest.raises(DataError, match="repeated frame ids"):
        dataclasses.replace(frames, frame_ids=("a", "a"))
    with pytest.raises(DataError, match=r"mask 'a' must be bool of shape \(4, 5\)"):
        dataclasses.replace(frames, masks=(np.zeros((4, 5), np.uint8), m))
    with pytest.raises(DataError, match=r"image 'b' must be uint8 of shape \(height, width, 3\)"):
        dataclasses.replace(frames, images=(img, np.zeros((4, 5), np.uint8)))


# Measured: the 1000 Kvasir-SEG masks hold 1206 8-connected components, 1063 of them with >= 50 px.
KVASIR_POLYPS = 1063


@pytest.mark.slow
def test_real_kvasir_seg(data_dir):
    frames = load_kvasir_seg(data_dir / "kvasir-seg")
    assert len(frames) == 1000 and frames.boxes is not None
    assert len({img.shape for img in frames.images}) == 333  # PROVENANCE.md: 333 distinct sizes
    n_polyps = [int(label_polyps(m).max()) for m in frames.masks]
    assert min(n_polyps) == 1  # every image shows a polyp
    assert sum(n_polyps) == KVASIR_POLYPS
    assert sum(int(label_polyps(m, min_area_px=1).max()) for m in frames.masks) == 1206


def test_real_cvc_clinicdb(data_dir):
    frames = load_cvc_clinicdb(data_dir / "cvc-clinicdb-pranet-train550")
    assert len(frames) == 550 and frames.frame_ids[0] == "1" and frames.frame_ids[-1] == "612"
    assert {img.shape for img in frames.images} == {(288, 384, 3)}
    assert all(m.any() for m in frames.masks)  # PROVENANCE.md: every mask is non-empty
    assert "14" not in frames.frame_ids and "575" not in frames.frame_ids  # two of the 62 missing frames


def test_kvasir_max_frames_reads_the_first_images_in_name_order(kvasir: Path) -> None:
    every = load_kvasir_seg(kvasir)
    first = load_kvasir_seg(kvasir, max_frames=1)
    assert first.frame_ids == every.frame_ids[:1]
    with pytest.raises(ValueError, match="'max_frames' parameter of load_kvasir_seg must be an int >= 1"):
        load_kvasir_seg(kvasir, max_frames=0)
    with pytest.raises(ValueError, match="frame_ids None"):
        load_kvasir_seg(kvasir, max_frames=1, frame_ids=[every.frame_ids[0]])
