"""task = "frame_classification": a toy study end to end (frames -> training crops per seed -> crop-averaged frame
scores -> crops table and report), the crop protocol's invariants, the config checks, and the frame-quality proxy
source on generated and real colonoscopy frames."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from tunedepth.analysis import analyze_study
from tunedepth.analysis.tasks import per_crop_log_odds
from tunedepth.config import parse_study
from tunedepth.data.crops import average_over_crops, training_crops
from tunedepth.data.sources.frame_quality import load_colonoscopy_frame_quality
from tunedepth.errors import ConfigError
from tunedepth.evaluation import roc_auc_score
from tunedepth.report import write_report
from tunedepth.results import load_finished_study
from tunedepth.study import run_study
from tunedepth.study.tasks import prepare_frames


def _write_frames(root: Path, n: int = 60, size: int = 24, seed: int = 5) -> Path:
    """An image folder of ``n`` noisy frames; "lesion" frames carry a faint bright square near the centre, so every
    crop of the test set (scale 0.875) still shows most of it."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        image = rng.integers(0, 216, size=(size, size, 3), dtype=np.uint8)
        if i % 2:
            image[6:18, 6:18] += 40
        folder = root / ("lesion" if i % 2 else "normal")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{i:03d}.png")
    return root


@pytest.fixture
def frames_raw(tmp_path: Path, toy_checkpoint: Path) -> dict[str, Any]:
    return copy.deepcopy({
        "name": "toy-frames",
        "task": "frame_classification",
        "data": {"source": "image_folder", "path": str(_write_frames(tmp_path / "frames")), "image_size": 16},
        "model": {"architecture": "toy4", "weights": "checkpoint", "checkpoint": str(toy_checkpoint)},
        "grid": {"regimes": ["scratch", "finetune"], "depths": [1, 4], "train_fractions": [1.0, 0.5],
                 "seeds": [0]},
        "frame_classification": {"crops_per_image": 4, "frame_size": 24},
        "training": {"lr": 0.05, "batch_size": 16, "max_epochs": 2, "patience": 2},
        "execution": {"num_threads": 1},
    })


def test_toy_frame_study_end_to_end(frames_raw: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "out"
    summary = run_study(parse_study(frames_raw, base_dir=tmp_path), out)
    results = summary.results
    assert summary.n_executed == 6 and len(results) == 6
    # 60 frames, split 36 / 12 / 12; a case is a frame (not a crop) and training counts frames
    assert (results["n_test"] == 12).all() and (results["n_val"] == 12).all()
    assert results.groupby("train_fraction")["n_train"].max().to_dict() == {0.5: 18, 1.0: 36}
    # the frozen-feature cache serves the training crops of the head-only runs
    assert (results.loc[results["label"] == "ft:fc", "cached_groups"] > 0).all()
    study = load_finished_study(out)
    for run in study.runs:
        per_crop = per_crop_log_odds(study, run.run_id)
        assert per_crop.shape == (5, 12, 2)  # test_crops = "five"
        # the stored frame scores are the crops' mean probability, and the single view is the centre crop
        np.testing.assert_allclose(run.test_scores, average_over_crops(per_crop.reshape(60, 2), 12, 5))
        single = results.loc[results["run_id"] == run.run_id, "test_auc_single_view"].item()
        assert single == pytest.approx(roc_auc_score(study.test_labels, per_crop[0]))
    analysis = analyze_study(out)
    crops = analysis.task_tables["crops"]
    assert len(crops) == 6 and (out / "crops.csv").is_file()
    merged = crops.merge(results, on=["train_fraction", "label"])
    np.testing.assert_allclose(merged["auc_crops"], merged["test_auc"])
    np.testing.assert_allclose(merged["auc_single"], merged["test_auc_single_view"])
    np.testing.assert_allclose(crops["difference"], crops["auc_crops"] - crops["auc_single"])
    html = write_report(out, analysis=analysis).read_text()
    assert "Frames: crop-averaged vs single-view test AUC" in html and "Frame crops" in html
    assert "frames at 24 px; training: 4 crops per frame" in html


def test_training_crops_are_fixed_per_seed(frames_raw: dict[str, Any], tmp_path: Path) -> None:
    data, task = prepare_frames(parse_study(frames_raw, base_dir=tmp_path))
    n = len(data.train)
    views = task.train_views(data, seed=3)
    assert views.shape == (4 * n, 3, 16, 16) and views.dtype == torch.uint8
    assert torch.equal(views, task.train_views(data, seed=3))
    assert not torch.equal(views, task.train_views(data, seed=4))
    # crop-major: rows c * n + i are image i's crops, as training_crops draws them for that seed
    specs = training_crops(n, 4, (0.75, 0.875, 1.0), 3)
    left, top, right, bottom = specs[7][2].region(height=24, width=24)
    assert (right - left, bottom - top) == (round(specs[7][2].scale * 24),) * 2
    # validation and test are the fixed crops of each frame, crop-major, labels repeated alike
    assert len(data.test) == 5 * 12 and torch.equal(data.test.labels[:12], data.test.labels[12:24])
    np.testing.assert_array_equal(task.case_labels(data, "test"), data.test.labels[:12].numpy())


def test_crop_averaging_equals_mean_of_single_crop_probabilities() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(0, 3, size=(4 * 7, 2))
    averaged = average_over_crops(z, 7, 4)
    probabilities = 1 / (1 + np.exp(-z.reshape(4, 7, 2)))
    np.testing.assert_allclose(1 / (1 + np.exp(-averaged)), probabilities.mean(axis=0))


@pytest.mark.parametrize(("change", "message"), [
    ({"training": {"augment": True}}, "augments by its training crops"),
    ({"training": {"augment_copies": 2}}, "augments by its training crops"),
    ({"frame_classification": {"crop_scales": [0.5, 0.5]}}, "crop_scales must be unique"),
    ({"frame_classification": {"test_crops": "ten"}}, "test_crops"),
    ({"frame_classification": {"crop_scales": [1.5]}}, "crop_scales"),
])
def test_bad_frame_settings_are_refused_in_one_line(frames_raw: dict[str, Any], tmp_path: Path,
                                                    change: dict[str, Any], message: str) -> None:
    raw = copy.deepcopy(frames_raw)
    for table, values in change.items():
        raw.setdefault(table, {}).update(values)
    with pytest.raises(ConfigError, match=message) as info:
        parse_study(raw, base_dir=tmp_path)
    assert "\n" not in str(info.value).strip()


def test_a_frame_source_without_labels_is_refused(frames_raw: dict[str, Any], tmp_path: Path) -> None:
    raw = copy.deepcopy(frames_raw)
    raw["data"] = {"source": "kvasir_seg", "image_size": 16}
    with pytest.raises(ConfigError, match="holds masks, not image labels"):
        parse_study(raw, base_dir=tmp_path)


def _write_polyp_frames(root: Path, n: int = 24, seed: int = 0) -> Path:
    """A Kvasir-SEG-like folder of textured 120 x 160 frames (large enough that every drawn degradation changes
    them), each with a polyp mask."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    yy, xx = np.mgrid[:120, :160]
    for i in range(n):
        base = np.stack([128 + 60 * np.sin(xx / rng.uniform(3, 9) + c) * np.cos(yy / rng.uniform(3, 9))
                         for c in range(3)], axis=-1)
        image = np.clip(base + rng.normal(0, 10, base.shape), 30, 230).astype(np.uint8)
        disc = (yy - 60) ** 2 + (xx - 80) ** 2 < 20 ** 2
        Image.fromarray(image).save(root / "images" / f"f{i:03d}.png")
        Image.fromarray((disc * 255).astype(np.uint8)).save(root / "masks" / f"f{i:03d}.png")
    return root


def test_frame_quality_proxy_uses_each_frame_once_and_keeps_groups_apart(tmp_path: Path) -> None:
    root = _write_polyp_frames(tmp_path / "kvasir")
    data = load_colonoscopy_frame_quality(frames="kvasir_seg", root=root, image_size=32, non_informative_fraction=0.5,
                                          val_fraction=0.25, test_fraction=0.25, split_seed=1)
    sides = (data.train, data.val, data.test)
    ids = [set(s.patient_ids) for s in sides]
    assert sum(len(s) for s in sides) == 24 and len(set().union(*ids)) == 24  # every frame exactly once
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert [int(s.labels.sum()) for s in sides] == [6, 3, 3]  # stratified: half of each side degraded
    again = load_colonoscopy_frame_quality(frames="kvasir_seg", root=root, image_size=32,
                                           non_informative_fraction=0.5, val_fraction=0.25, test_fraction=0.25,
                                           split_seed=1)
    assert torch.equal(again.train.images, data.train.images)
    other = load_colonoscopy_frame_quality(frames="kvasir_seg", root=root, image_size=32,
                                           non_informative_fraction=0.5, val_fraction=0.25, test_fraction=0.25,
                                           split_seed=2)
    assert not torch.equal(other.train.labels, data.train.labels) or \
        not torch.equal(other.train.images, data.train.images)


@pytest.mark.slow
def test_real_frame_quality_study_runs(data_dir: Path, tmp_path: Path) -> None:
    """Kvasir-SEG's first 60 frames as the proxy, EfficientNet-Lite0 at 32 px, one epoch: the study file through
    run, analysis and report."""
    raw = {
        "name": "kvasir-frames-integration", "task": "frame_classification",
        "data": {"source": "colonoscopy_frame_quality", "frames": "kvasir_seg", "image_size": 32, "max_frames": 60},
        "model": {"architecture": "efficientnet_lite0", "weights": "imagenet"},
        "grid": {"regimes": ["scratch", "finetune"], "depths": [1], "train_fractions": [1.0], "seeds": [0]},
        "frame_classification": {"crops_per_image": 2, "frame_size": 40},
        "training": {"lr": 0.003, "batch_size": 32, "max_epochs": 1, "patience": 1},
        "execution": {"num_threads": 2},
    }
    out = tmp_path / "out"
    results = run_study(parse_study(raw, base_dir=tmp_path), out).results
    assert set(results["n_test"]) == {12} and set(results["n_train"]) == {36}
    assert pd.read_csv(out / "results.csv")["test_auc_single_view"].between(0, 1).all()
    write_report(out)
