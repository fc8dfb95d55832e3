"""task = "segmentation": a toy carotid-like study end to end (masks -> boundary pixel patches -> runs -> dense
inference -> closed boundary -> per-image errors), training fractions over groups, and the config checks."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tunedepth.config import parse_study
from tunedepth.errors import ConfigError
from tunedepth.study import prepare_study, run_study


def _write_carotid_like(root: Path, n_sequences: int = 6, per_sequence: int = 4, seed: int = 0) -> Path:
    """Speckled grey frames with a dark disc (the artery) each, in the carotid data set's layout."""
    rng = np.random.default_rng(seed)
    (root / "US images").mkdir(parents=True)
    (root / "Expert mask images").mkdir()
    yy, xx = np.mgrid[:64, :60]
    for s in range(n_sequences):
        for k in range(per_sequence):
            grey = np.clip(rng.normal(150, 20, size=(64, 60)), 0, 255)
            cy, cx, r = 32 + rng.integers(-6, 7), 30 + rng.integers(-6, 7), rng.integers(9, 14)
            disc = (yy - cy) ** 2 + (xx - cx) ** 2 < r ** 2
            grey[disc] = np.clip(rng.normal(40, 10, size=int(disc.sum())), 0, 255)
            name = f"2022SEQ{s}VAS_slice_{k:03d}.png"
            Image.fromarray(np.repeat(grey.astype(np.uint8)[..., None], 3, axis=2)).save(root / "US images" / name)
            Image.fromarray((disc * 255).astype(np.uint8)).save(root / "Expert mask images" / name)
    return root


@pytest.fixture
def segmentation_raw(tmp_path: Path, toy_checkpoint: Path) -> dict[str, Any]:
    root = _write_carotid_like(tmp_path / "carotid")
    return copy.deepcopy({
        "name": "toy-segmentation",
        "task": "segmentation",
        "data": {"source": "carotid", "root": str(root), "image_size": 16, "val_fraction": 0.2,
                 "test_fraction": 0.3},
        "model": {"architecture": "toy4", "weights": "checkpoint", "checkpoint": str(toy_checkpoint)},
        "grid": {"regimes": ["scratch", "finetune"], "depths": [4], "train_fractions": [1.0, 0.5], "seeds": [0]},
        "segmentation": {"work_size_px": 48, "pixels_per_class": 30, "val_pixels_per_class": 10, "stride": 2,
                         "roi_margin_px": 6, "n_rays": 36, "smoothing": 1.0},
        "training": {"lr": 0.05, "batch_size": 32, "max_epochs": 2, "patience": 2},
        "execution": {"num_threads": 1},
    })


def test_toy_segmentation_study_end_to_end(segmentation_raw: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "out"
    results = run_study(parse_study(segmentation_raw, base_dir=tmp_path), out).results
    assert len(results) == 4
    # 6 sequences of 4 images: whole sequences per side
    assert (results["n_test_images"] == 8).all()
    assert set(results["boundary_error_unit"]) == {"px"}
    for row in results.itertuples():
        errors = pd.read_csv(out / "runs" / row.run_id / "boundary_errors_test.csv")
        assert len(errors) == 8 and errors["group_id"].nunique() == 2
        assert (errors["unit"] == "px").all()
        assert row.test_mean_boundary_error == pytest.approx(errors["mean_boundary_error"].mean())
        assert ((errors["dice_score"] >= 0) & (errors["dice_score"] <= 1)).all()
        assert (errors["hausdorff95_boundary_error"] >= 0).all()


def test_fractions_keep_whole_sequences(segmentation_raw: dict[str, Any], tmp_path: Path) -> None:
    prepared = prepare_study(parse_study(segmentation_raw, base_dir=tmp_path), tmp_path / "out")
    seg = prepared.segmentation
    assert seg is not None
    train_groups = np.asarray(seg.frames["train"].group_ids)[seg.train_frame_of_row]
    half = seg.train_rows(0.5, seed=0)
    chosen = set(train_groups[half].tolist())
    n_groups = len(set(train_groups.tolist()))
    assert len(chosen) == math.ceil(0.5 * n_groups) and len(chosen) < n_groups
    assert np.array_equal(half, np.flatnonzero(np.isin(train_groups, list(chosen))))
    # boundary and background patches are balanced in training
    labels = prepared.data.train.labels.numpy()
    assert int(labels.sum()) * 2 == len(labels)


@pytest.mark.parametrize(("change", "match"), [
    ({"task": "detection"}, "task = 'detection' needs data.source"),
    ({"task": "classification"}, "holds masks, not image labels"),
    ({"segmentation": {"stride": 0}}, "stride"),
    ({"detection": {"max_candidates": 5}}, r"\[detection\] table is only read"),
], ids=["carotid-is-not-detection", "carotid-is-not-classification", "stride-0", "detection-table"])
def test_bad_segmentation_configs_are_refused(segmentation_raw: dict[str, Any], tmp_path: Path,
                                              change: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_study({**segmentation_raw, **change}, base_dir=tmp_path)
