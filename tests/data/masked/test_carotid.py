"""Tests of tunedepth.data.masked.carotid (the carotid ultrasound loader) and
tunedepth.data.masked.segmentation_frames."""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tunedepth.data.boundaries import closed_boundary
from tunedepth.data.masked import (
    CAROTID_DATA_FOLDER,
    CAROTID_IMAGE_FOLDER,
    CAROTID_MASK_FOLDER,
    SegmentationFrames,
    load_carotid,
)
from tunedepth.errors import DataError

_HINT = r".* set skip_bad_frames \(data\.skip_bad_frames = true in a study file\)\.$"
IMAGES, MASKS = CAROTID_IMAGE_FOLDER, CAROTID_MASK_FOLDER
# (file stem, sequence, image height, width, mask rows, mask cols); sizes differ between frames
FRAMES = [
    ("SEQA_slice_1", "SEQA", 10, 12, (2, 6), (3, 8)),
    ("SEQA_slice_2", "SEQA", 10, 12, (4, 9), (0, 5)),
    ("SEQB_slice_7", "SEQB", 8, 9, (1, 4), (1, 4)),
]


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _image(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    grey = rng.integers(0, 250, size=(h, w, 1))
    tint = np.array([0, 3, 5])  # as in the real files: grey content, channels a few levels apart
    return (grey + tint).astype(np.uint8)


def _mask(h: int, w: int, rows: tuple[int, int], cols: tuple[int, int], value: int = 255) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    m[rows[0]:rows[1], cols[0]:cols[1]] = value
    return m


@pytest.fixture
def carotid(tmp_path: Path) -> Path:
    root = tmp_path / CAROTID_DATA_FOLDER
    for i, (stem, _, h, w, rows, cols) in enumerate(FRAMES):
        _save(root / IMAGES / f"{stem}.png", _image(h, w, i))
        _save(root / MASKS / f"{stem}.png", _mask(h, w, rows, cols))
    return root


def test_load_carotid_reads_pairs_groups_and_keeps_channels(carotid):
    frames = load_carotid(carotid)
    assert frames.name == "carotid-cca-us" and frames.skipped == ()
    assert frames.frame_ids == tuple(f[0] for f in FRAMES)
    assert frames.group_ids == ("SEQA", "SEQA", "SEQB")
    for i, (_, _, h, w, rows, cols) in enumerate(FRAMES):
        image, mask = frames.images[i], frames.masks[i]
        assert image.dtype == np.uint8 and image.shape == (h, w, 3)
        assert np.array_equal(image, _image(h, w, i))  # the stored channels, not their mean
        assert mask.dtype == np.bool_ and np.array_equal(mask, _mask(h, w, rows, cols) > 0)
        assert not image.flags.writeable and not mask.flags.writeable


def test_load_carotid_replicates_grey_images_and_accepts_equal_channel_masks(carotid):
    stem, _, h, w, rows, cols = FRAMES[2]
    grey = _image(h, w, 2)[:, :, 0]
    _save(carotid / IMAGES / f"{stem}.png", grey)
    _save(carotid / MASKS / f"{stem}.png", np.stack([_mask(h, w, rows, cols, value=1)] * 3, axis=2))
    frames = load_carotid(carotid)
    assert np.array_equal(frames.images[2], np.stack([grey] * 3, axis=2))
    assert int(frames.masks[2].sum()) == 9  # any single non-zero value is artery


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _rename(root: Path, stem: str, new: str) -> None:
    for folder in (IMAGES, MASKS):
        (root / folder / f"{stem}.png").rename(root / folder / f"{new}.png")


def _resave_mask(root: Path, stem: str, edit) -> None:
    path = root / MASKS / f"{stem}.png"
    with Image.open(path) as img:
        mask = np.asarray(img).copy()
    _save(path, edit(mask))


def _three_levels(mask: np.ndarray) -> np.ndarray:
    mask[0, 0] = 128
    return mask


def _colour(mask: np.ndarray) -> np.ndarray:
    rgb = np.stack([mask] * 3, axis=2)
    rgb[0, 0, 1] = 7
    return rgb


# One frame broken at a time: (breakage of frame `stem` under `root`, message pattern with {s} for the stem and
# {t} for the frame id after the breakage, folder and stem of the path that SkippedFrame records).
BAD_FRAMES = {
    "image-without-mask": (lambda r, s: (r / MASKS / f"{s}.png").unlink(),
                           r"Image .*US images/{s}\.png has no mask: expected .*Expert mask images/{s}\.png",
                           IMAGES, "{s}"),
    "mask-without-image": (lambda r, s: (r / IMAGES / f"{s}.png").unlink(),
                           r"Mask .*Expert mask images/{s}\.png has no image: expected .*US images/{s}\.png",
                           MASKS, "{s}"),
    "size-mismatch": (lambda r, s: _save(r / MASKS / f"{s}.png", np.full((5, 7), 255, np.uint8)),
                      r"Mask .*Expert mask images/{s}\.png is 7x5 but its image {s}\.png is 12x10", IMAGES, "{s}"),
    "truncated-image": (lambda r, s: _truncate(r / IMAGES / f"{s}.png"),
                        r"Image file .*US images/{s}\.png could not be read", IMAGES, "{s}"),
    "truncated-mask": (lambda r, s: _truncate(r / MASKS / f"{s}.png"),
                       r"Image file .*Expert mask images/{s}\.png could not be read", IMAGES, "{s}"),
    "empty-mask": (lambda r, s: _resave_mask(r, s, np.zeros_like),
                   r"Mask .*Expert mask images/{s}\.png is empty \(every pixel 0\)", IMAGES, "{s}"),
    "grey-level-mask": (lambda r, s: _resave_mask(r, s, _three_levels),
                        r"Mask .*Expert mask images/{s}\.png holds 3 grey levels \(0, 128, 255\); a mask must be "
                        r"binary", IMAGES, "{s}"),
    "colour-mask": (lambda r, s: _resave_mask(r, s, _colour),
                    r"Mask .*Expert mask images/{s}\.png is a colour image with different channels", IMAGES, "{s}"),
    "name-without-slice": (lambda r, s: _rename(r, s, "SEQA-2"),
                           r"Carotid file .*US images/SEQA-2\.png is not named <sequence>_slice_<n>", IMAGES,
                           "SEQA-2"),
}
BAD_STEM = "SEQA_slice_2"


@pytest.mark.parametrize("case", list(BAD_FRAMES))
def test_load_carotid_raises_on_bad_frame_naming_the_file(carotid, case):
    breakage, pattern, _, _ = BAD_FRAMES[case]
    breakage(carotid, BAD_STEM)
    with pytest.raises(DataError, match=pattern.format(s=BAD_STEM) + _HINT):
        load_carotid(carotid)


@pytest.mark.parametrize("case", list(BAD_FRAMES))
def test_load_carotid_skips_and_lists_bad_frame(carotid, caplog, case):
    clean = load_carotid(carotid)
    breakage, pattern, folder, stem = BAD_FRAMES[case]
    breakage(carotid, BAD_STEM)
    with caplog.at_level(logging.WARNING, logger="tunedepth.data"):
        frames = load_carotid(carotid, skip_bad_frames=True)
    assert frames.frame_ids == ("SEQA_slice_1", "SEQB_slice_7") and frames.group_ids == ("SEQA", "SEQB")
    assert len(frames.skipped) == 1
    assert frames.skipped[0].path == carotid / folder / f"{stem.format(s=BAD_STEM)}.png"
    reason = frames.skipped[0].reason
    assert re.match(pattern.format(s=BAD_STEM), reason) and "skip_bad_frames" not in reason
    assert [r.levelname for r in caplog.records] == ["WARNING"] and reason in caplog.records[0].getMessage()
    for i, j in ((0, 0), (1, 2)):  # the good frames are read as without the bad one
        assert np.array_equal(frames.images[i], clean.images[j]) and np.array_equal(frames.masks[i], clean.masks[j])


def test_load_carotid_raises_when_every_frame_is_bad_even_when_skipping(carotid):
    for stem, *_ in FRAMES:
        _resave_mask(carotid, stem, np.zeros_like)
    with pytest.raises(DataError, match=r"SEQA_slice_1\.png is empty.* set skip_bad_frames"):
        load_carotid(carotid)
    with pytest.raises(DataError, match=r"Every carotid frame read from .* is bad \(3 skipped\).*the first: Mask "
                                        r".*SEQA_slice_1\.png is empty"):
        load_carotid(carotid, skip_bad_frames=True)


def _remove_folder(folder: Path) -> None:
    for p in folder.iterdir():
        p.unlink()
    folder.rmdir()


@pytest.mark.parametrize("skip_bad_frames", [False, True], ids=["raise", "skip"])
@pytest.mark.parametrize(
    ("breakage", "match"),
    [
        (lambda r: _remove_folder(r / IMAGES) or _remove_folder(r / MASKS) or r.rmdir(),
         r"The carotid folder .* does not exist"),
        (lambda r: _remove_folder(r / MASKS), r"has no 'Expert mask images/' sub-folder"),
        (lambda r: _remove_folder(r / IMAGES), r"has no 'US images/' sub-folder"),
        (lambda r: [p.unlink() for p in (r / IMAGES).iterdir()] and [p.unlink() for p in (r / MASKS).iterdir()],
         r"US images holds no image file"),
        (lambda r: _save(r / IMAGES / "SEQA_slice_1.jpg", _image(10, 12, 0)),
         r"two images named 'SEQA_slice_1' \(SEQA_slice_1\.jpg and SEQA_slice_1\.png\)"),
    ],
    ids=["no-root", "no-mask-folder", "no-image-folder", "empty", "duplicate-stem"],
)
def test_load_carotid_rejects_bad_folders_even_when_skipping(carotid, breakage, match, skip_bad_frames):
    breakage(carotid)
    with pytest.raises(DataError, match=match):
        load_carotid(carotid, skip_bad_frames=skip_bad_frames)


def test_load_carotid_rejects_non_bool_skip(carotid):
    with pytest.raises(TypeError, match=r"'skip_bad_frames' parameter of load_carotid must be True or False; got 1"):
        load_carotid(carotid, skip_bad_frames=1)  # type: ignore[arg-type]


def test_segmentation_frames_validates_and_subsets(carotid):
    frames = load_carotid(carotid)
    sub = frames.subset([2, 0])
    assert sub.frame_ids == ("SEQB_slice_7", "SEQA_slice_1") and sub.group_ids == ("SEQB", "SEQA")
    assert sub.images[0] is frames.images[2] and sub.masks[1] is frames.masks[0]
    img, mask = frames.images[0], frames.masks[0]
    with pytest.raises(DataError, match=r"has 3 images but \{'group_ids': 1\}"):
        dataclasses.replace(frames, group_ids=("g",))
    with pytest.raises(DataError, match="repeated frame ids"):
        frames.subset([0, 0])
    with pytest.raises(DataError, match=r"image 'x' must be uint8 of shape \(height, width, 3\); got dtype uint8 "
                                        r"and shape \(10, 12\)"):
        SegmentationFrames("t", (img[:, :, 0],), (mask,), ("x",), ("g",))
    with pytest.raises(DataError, match=r"mask 'x' must be bool of shape \(10, 12\); got dtype uint8"):
        SegmentationFrames("t", (img,), (mask.astype(np.uint8),), ("x",), ("g",))


# Measured on the 110-image subset: smallest and largest artery mask, and all masks together, in pixels.
CAROTID_MASK_AREAS_PX = (8543, 22969, 1360784)


def test_real_carotid(data_dir):
    frames = load_carotid(data_dir / CAROTID_DATA_FOLDER)
    assert len(frames) == 110 and frames.skipped == ()  # PROVENANCE.md: 110 image/mask pairs
    assert len(set(frames.group_ids)) == 32  # PROVENANCE.md: 32 of the 38 sequence prefixes
    assert frames.group_ids[0] == "202201121748100022VAS"
    assert all(fid.startswith(f"{g}_slice_") for fid, g in zip(frames.frame_ids, frames.group_ids, strict=True))
    assert {img.shape for img in frames.images} == {(749, 709, 3)}
    areas = [int(m.sum()) for m in frames.masks]  # PROVENANCE.md: foreground 1.6-4.3 % of 709x749 = 531041 px
    assert (min(areas), max(areas), sum(areas)) == CAROTID_MASK_AREAS_PX
    assert all(closed_boundary(m).sum() < m.sum() for m in frames.masks)  # a filled region, not an outline
