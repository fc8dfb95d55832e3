"""task = "detection": a toy polyp study end to end (frames -> candidates -> patches -> runs -> FROC), candidate
scores as the mean patch probability, training subsets by frame group, and the config checks."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from tests.conftest import write_kvasir_like
from tunedepth.analysis import analyze_study
from tunedepth.analysis.tasks import candidate_hits
from tunedepth.config import parse_study
from tunedepth.errors import ConfigError
from tunedepth.evaluation import sensitivity_at_fps
from tunedepth.results import load_finished_study
from tunedepth.study import prepare_study, run_study
from tunedepth.study.tasks import candidate_log_odds


def test_toy_detection_study_end_to_end(detection_raw: dict[str, Any], tmp_path: Path) -> None:
    config = parse_study(detection_raw, base_dir=tmp_path)
    out = tmp_path / "out"
    summary = run_study(config, out)
    results = summary.results
    assert len(results) == 6 and summary.n_executed == 6
    # frames split by group: 21 / 6 / 9 of 30 (Kvasir: each frame its own group)
    frames = pd.read_csv(out / "detection" / "frames.csv")
    assert frames.groupby("split").size().to_dict() == {"test": 9, "train": 15, "val": 6}
    assert set(frames["n_polyps"]) == {1}
    cands = pd.read_csv(out / "detection" / "candidates_test.csv")
    assert (results["n_test"] == len(cands)).all()
    assert (results["n_test_frames"] == 9).all() and (results["n_test_polyps"] == 9).all()
    # 50% of the training frames -> about half the training patches, a subset of the 100% ones
    n_train = results.groupby("train_fraction")["n_train"].max()
    assert 0.3 * n_train[1.0] < n_train[0.5] < 0.7 * n_train[1.0]
    # the stored FROC operating points are recomputed from the study folder's tables
    for row in results.itertuples():
        scores = pd.read_csv(out / "runs" / row.run_id / "predictions_test.csv")["log_odds_1"].to_numpy()
        expected = sensitivity_at_fps(candidate_hits(load_finished_study(out), "test", scores),
                                      fps_targets=(0.01, 0.1, 1.0))
        got = [results.loc[results["run_id"] == row.run_id, f"test_sensitivity_at_{t:g}_fps"].item()
               for t in (0.01, 0.1, 1.0)]
        np.testing.assert_allclose(got, expected)
    analysis = analyze_study(out)
    assert "froc" in analysis.task_tables and (out / "froc.csv").is_file()
    froc = analysis.task_tables["froc"]
    assert len(froc) == 6 * 3
    scratch = froc[froc["label"] == "scratch"]
    assert scratch["vs_scratch_p"].isna().all()
    finetune = froc[froc["label"] != "scratch"]
    assert finetune["vs_scratch_p"].between(0, 1).all()
    assert (finetune["vs_scratch_p_holm"] >= finetune["vs_scratch_p"]).all()
    summary_json = json.loads((out / "detection" / "summary.json").read_text())
    assert summary_json["test"]["frames"] == 9 and summary_json["views_per_evaluated_candidate"] == 2


def test_cross_data_set_mode_tests_on_every_frame_of_the_other(detection_raw: dict[str, Any],
                                                                 tmp_path: Path) -> None:
    raw = copy.deepcopy(detection_raw)
    cvc = write_kvasir_like(tmp_path / "cvc", n=12, seed=1, numbered=True)
    raw["data"] |= {"test_fraction": 0, "test_source": "cvc_clinicdb", "test_root": str(cvc)}
    prepared = prepare_study(parse_study(raw, base_dir=tmp_path), tmp_path / "out")
    det = prepared.task_data
    assert det is not None
    assert det.candidates["test"].frames.name == "cvc-clinicdb" and len(det.candidates["test"].frames) == 12
    assert len(det.candidates["train"].frames) + len(det.candidates["val"].frames) == 30
    assert len(det.candidates["val"].frames) == 6  # 20% of the 30 Kvasir-like frames
    assert prepared.data.name == "kvasir-seg->cvc-clinicdb"
    test_ids = set(prepared.data.test.patient_ids or ())
    assert all(g.startswith("cvc-clinicdb/") for g in test_ids)


def test_a_cross_centre_report_says_which_data_set_trained_and_which_tested(detection_raw: dict[str, Any],
                                                                           tmp_path: Path) -> None:
    from tunedepth.report import write_report

    raw = copy.deepcopy(detection_raw)
    cvc = write_kvasir_like(tmp_path / "cvc", n=12, seed=1, numbered=True)
    raw["data"] |= {"test_fraction": 0, "test_source": "cvc_clinicdb", "test_root": str(cvc)}
    raw["grid"] |= {"regimes": ["finetune"], "depths": [1], "train_fractions": [1.0]}
    run_study(parse_study(raw, base_dir=tmp_path), tmp_path / "cross")
    html = write_report(tmp_path / "cross").read_text()
    assert ("trained and validated on kvasir_seg (24 training and 6 validation frames); tested on every frame of "
            "another data set, cvc_clinicdb (12 frames): a cross-centre test") in html
    raw = copy.deepcopy(detection_raw)
    raw["grid"] |= {"regimes": ["finetune"], "depths": [1], "train_fractions": [1.0]}
    run_study(parse_study(raw, base_dir=tmp_path), tmp_path / "within")
    assert "one data set: kvasir_seg (" in write_report(tmp_path / "within").read_text()


@pytest.mark.parametrize("example", ["kvasir_to_cvc_detection.toml", "cvc_to_kvasir_detection.toml"])
def test_the_cross_centre_examples_validate_and_run_on_a_few_frames(data_dir: Path, tmp_path: Path,
                                                                    example: str) -> None:
    """Each cross-centre example as shipped, cut to a few frames of its training data set, a small patch set and
    one run of one epoch; its test split is every frame of the other data set (here a copy of its first 40
    frames, linked into a folder of the data set's layout)."""
    from tunedepth.config import load_study

    config = load_study(Path(__file__).parents[2] / "examples" / example)
    raw = config.model_dump(mode="json", exclude={"task_settings"})
    raw["detection"] = config.task_settings.model_dump(mode="json") if config.task_settings else {}
    other = data_dir / ("cvc-clinicdb-pranet-train550" if config.data.test_source == "cvc_clinicdb" else "kvasir-seg")
    names = sorted(p.name for p in (other / "images").iterdir())
    names = sorted(names, key=lambda n: int(Path(n).stem))[:40] if config.data.test_source == "cvc_clinicdb" \
        else names[:40]
    for folder in ("images", "masks"):
        (tmp_path / "test" / folder).mkdir(parents=True)
        for name in names:
            (tmp_path / "test" / folder / name).symlink_to(other / folder / name)
    raw["data"] |= {"max_frames": 60 if config.data.source == "kvasir_seg" else 120, "image_size": 32,
                    "test_root": str(tmp_path / "test")}
    raw["detection"] |= {"train_patches": 200, "max_candidates": 5}
    raw["grid"] |= {"regimes": ["finetune"], "depths": [1]}
    raw["training"] |= {"max_epochs": 1}
    summary = run_study(parse_study(raw, base_dir=tmp_path), tmp_path / "out")
    assert summary.failures.empty and len(summary.results) == 1
    frames = json.loads((tmp_path / "out" / "detection" / "summary.json").read_text())
    assert frames["test"]["frames"] == 40


def test_fraction_subsets_whole_frame_groups(detection_raw: dict[str, Any], tmp_path: Path) -> None:
    prepared = prepare_study(parse_study(detection_raw, base_dir=tmp_path), tmp_path / "out")
    det = prepared.task_data
    assert det is not None
    half = det.train_rows(prepared.data, train_fraction=0.5, seed=0)
    full = det.train_rows(prepared.data, train_fraction=1.0, seed=0)
    assert np.isin(half, full).all() and len(full) == len(prepared.data.train)
    train = det.candidates["train"]
    frames_used = set(train.frame_index[det.patches["train"].candidate[half]].tolist())
    # every patch of a chosen frame is in, none of the others
    for f in range(len(train.frames)):
        rows = np.flatnonzero(train.frame_index[det.patches["train"].candidate] == f)
        assert np.isin(rows, half).all() == (f in frames_used)
        assert np.isin(rows, half).any() == (f in frames_used)
    assert len(frames_used) == 8  # ceil(0.5 * 15)


def test_candidate_score_is_the_log_odds_of_the_mean_probability() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(0, 3, size=(7, 4))
    p = 1 / (1 + np.exp(-z))
    mean = p.mean(axis=1)
    np.testing.assert_allclose(candidate_log_odds(z.ravel(), 4), np.log(mean / (1 - mean)), rtol=1e-10)
    # far beyond float saturation the order is kept: 1 - p rounds to 0 for both, the log-odds differ
    big = candidate_log_odds(np.array([60.0, 60.0, 70.0, 70.0]), 2)
    assert big[1] > big[0] > 59


@pytest.mark.parametrize(("change", "match"), [
    ({"task": "classification"}, "holds masks, not image labels"),
    ({"data": {"source": "kvasir_seg", "image_size": 16, "test_source": "kvasir_seg", "test_fraction": 0}},
     "other data set"),
    ({"data": {"source": "kvasir_seg", "image_size": 16, "test_source": "cvc_clinicdb"}}, "test_fraction = 0"),
    ({"data": {"source": "kvasir_seg", "image_size": 16, "test_fraction": 0}}, "leaves no test frames"),
    ({"data": {"source": "kvasir_seg", "image_size": 16, "test_root": "x"}}, "test_root"),
    ({"detection": {"scales": [1.0, 1.0]}}, "unique"),
    ({"detection": {"orientations": 9}}, "orientations"),
    ({"detection": {"unknown": 1}}, "unknown"),
], ids=["polyp-data-needs-detection", "test-source-same", "cross-needs-test-fraction-0", "no-test",
        "test-root-alone", "repeated-scales", "orientations-9", "unknown-key"])
def test_bad_detection_configs_are_refused(detection_raw: dict[str, Any], tmp_path: Path, change: dict[str, Any],
                                           match: str) -> None:
    raw = {**detection_raw, **change}
    with pytest.raises(ConfigError, match=match):
        parse_study(raw, base_dir=tmp_path)


def test_detection_needs_a_polyp_data_set(study_raw: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="task = 'detection' needs data.source"):
        parse_study({**study_raw, "task": "detection"}, base_dir=tmp_path)


def test_a_detection_table_needs_the_detection_task(study_raw: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[detection\] table is only read"):
        parse_study({**study_raw, "detection": {"max_candidates": 5}}, base_dir=tmp_path)


def test_missing_data_folder_names_the_parameter(detection_raw: dict[str, Any], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    raw = copy.deepcopy(detection_raw)
    del raw["data"]["root"]
    monkeypatch.delenv("TUNEDEPTH_DATA_DIR", raising=False)
    with pytest.raises(ConfigError, match="data.root is not set and TUNEDEPTH_DATA_DIR is unset"):
        prepare_study(parse_study(raw, base_dir=tmp_path), tmp_path / "out")


def test_real_kvasir_seg_detection_study(data_dir: Path, tmp_path: Path) -> None:
    """60 real Kvasir-SEG frames, ImageNet EfficientNet-Lite0 with only its head trained on 32-px patches: the
    whole pipeline on real data in about a minute. Measured when written: candidate AUC 0.937 on the 12 test
    frames, sensitivity 0.833 at every target; a detector no better than chance gives AUC near 0.5."""
    raw = {
        "name": "kvasir-smoke", "task": "detection",
        "data": {"source": "kvasir_seg", "root": str(data_dir / "kvasir-seg"), "image_size": 32, "max_frames": 60,
                 "val_fraction": 0.2, "test_fraction": 0.2},
        "model": {"architecture": "efficientnet_lite0", "weights": "imagenet"},
        "grid": {"regimes": ["finetune"], "depths": [1], "train_fractions": [1.0], "seeds": [0]},
        "detection": {"max_candidates": 10, "train_patches": 400, "test_views": "scales"},
        "training": {"lr": 0.003, "batch_size": 32, "max_epochs": 3, "patience": 2},
        "analysis": {"n_boot": 200},
    }
    out = tmp_path / "out"
    results = run_study(parse_study(raw, base_dir=tmp_path), out).results
    summary = json.loads((out / "detection" / "summary.json").read_text())
    assert summary["test"]["frames"] == 12 and summary["test"]["candidates_per_frame"] == 10
    assert summary["test"]["candidate_recall"] >= 0.8
    row = results.iloc[0]
    assert row["test_auc"] > 0.8
    assert row["test_sensitivity_at_1_fps"] >= 0.5
    froc = analyze_study(out).task_tables["froc"]
    assert froc["sensitivity"].tolist() == pytest.approx(
        [row[f"test_sensitivity_at_{t:g}_fps"] for t in (0.01, 0.1, 1.0)])


def _same_preparation(data: Any, detection: Any) -> None:
    """prepare_detection streaming the frames and holding them give the same candidates and patches."""
    from tunedepth.study.tasks.detection import prepare_detection

    streamed, held = (prepare_detection(data, detection, lazy=lazy) for lazy in (True, False))
    assert streamed[1].candidates["train"].frames.on_demand and not held[1].candidates["train"].frames.on_demand
    for split in ("train", "val", "test"):
        a, b = streamed[1].candidates[split], held[1].candidates[split]
        assert np.array_equal(a.frame_index, b.frame_index) and np.array_equal(a.polyp_index, b.polyp_index)
        assert np.array_equal(a.boxes, b.boxes) and np.array_equal(a.n_polyps, b.n_polyps)
        x, y = getattr(streamed[0], split), getattr(held[0], split)
        assert torch.equal(x.images, y.images) and torch.equal(x.labels, y.labels) and x.patient_ids == y.patient_ids


def test_streamed_frames_give_the_candidates_and_patches_of_frames_held_in_memory(detection_raw: dict[str, Any],
                                                                                  tmp_path: Path) -> None:
    config = parse_study(detection_raw, base_dir=tmp_path)
    _same_preparation(config.data, config.task_settings)


def test_streamed_frames_on_real_kvasir_seg_and_cvc_clinicdb(data_dir: Path, tmp_path: Path) -> None:
    """The same check on 40 real Kvasir-SEG frames (training and validation) with CVC-ClinicDB as the test set
    (every frame: its videos are derived from all of them)."""
    raw = {"name": "stream", "task": "detection",
           "data": {"source": "kvasir_seg", "root": str(data_dir / "kvasir-seg"), "image_size": 32, "max_frames": 40,
                    "val_fraction": 0.25, "test_fraction": 0, "test_source": "cvc_clinicdb",
                    "test_root": str(data_dir / "cvc-clinicdb-pranet-train550")},
           "model": {"architecture": "efficientnet_lite0", "weights": "imagenet"},
           "grid": {"regimes": ["finetune"], "depths": [1], "train_fractions": [1.0], "seeds": [0]},
           "detection": {"max_candidates": 5, "train_patches": 200, "test_views": "scales"}}
    config = parse_study(raw, base_dir=tmp_path)
    _same_preparation(config.data, config.task_settings)


def test_scales_orientations_test_views_are_the_centred_patches_in_each_orientation(
        detection_raw: dict[str, Any], tmp_path: Path) -> None:
    from tunedepth.data.masked import orient_patch
    from tunedepth.study.tasks.detection import prepare_detection

    raw = copy.deepcopy(detection_raw)
    raw["detection"]["test_views"] = "scales_orientations"
    config = parse_study(raw, base_dir=tmp_path)
    splits, det = prepare_detection(config.data, config.task_settings)
    assert det.n_eval_views == 2 * 2  # scales (1.0, 1.5) x the first 2 orientations
    test = splits.test.images.numpy().reshape(len(det.candidates["test"]), 2, 2, 3, 16, 16)
    for k in range(2):  # per scale: orientation 1 is orientation 0 turned a quarter
        np.testing.assert_array_equal(test[:, k, 1], np.stack([orient_patch(p, 1) for p in test[:, k, 0]]))
    raw["detection"]["test_views"] = "scales"
    plain = prepare_detection(*(lambda c: (c.data, c.task_settings))(parse_study(raw, base_dir=tmp_path)))[0]
    np.testing.assert_array_equal(test[:, :, 0], plain.test.images.numpy().reshape(-1, 2, 3, 16, 16))
