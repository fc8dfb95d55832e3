"""``tunedepth export`` and the exported model (tunedepth/deploy): the model folder scores the study's own test
images as the run did, the threshold is chosen on validation, a changed folder is refused."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from tunedepth.config import parse_study
from tunedepth.deploy import MODEL_FILE, export_model, load_model, predict_arrays
from tunedepth.deploy.model_card import model_card
from tunedepth.errors import ConfigError, StudyFolderError, WeightsError
from tunedepth.models.checkpoints import read_run_weights
from tunedepth.study import prepare_study, run_study


def _study(study_raw: dict[str, Any], out: Path, **execution: Any) -> None:
    raw = copy.deepcopy(study_raw)
    raw["grid"]["train_fractions"] = [1.0]
    raw["execution"] |= execution
    run_study(parse_study(raw, base_dir=out.parent), out)


def _test_images(study_dir: Path) -> np.ndarray:
    """The study's test images as uint8 (n, h, w, 3) arrays, as a user would give them."""
    config = parse_study(json.loads((study_dir / "study.json").read_text()), base_dir=study_dir)
    images = prepare_study(config, study_dir).data.test.images
    return images.permute(0, 2, 3, 1).numpy()


@pytest.mark.parametrize("kept", [True, False], ids=["kept-weights", "re-made-weights"])
def test_the_exported_model_scores_the_test_images_as_the_run_did(study_raw, tmp_path, kept):
    study = tmp_path / "study"
    _study(study_raw, study, **({"keep_checkpoints": "all"} if kept else {}))
    result = export_model(study, tmp_path / "model", fpr_target=0.2)  # the toy has 6 validation negatives
    info = result.info
    assert result.rerun is not kept
    assert info.source.run_id in pd.read_csv(study / "results.csv")["run_id"].tolist()
    assert info.source.why.startswith("the recommended configuration at 100% of the data")
    stored = pd.read_csv(study / "runs" / info.source.run_id / "predictions_test.csv")
    scores = predict_arrays(tmp_path / "model", _test_images(study))
    np.testing.assert_allclose(scores[["log_odds_0", "log_odds_1"]].to_numpy(),
                               stored[["log_odds_0", "log_odds_1"]].to_numpy(), rtol=0, atol=1e-6)
    # the decision applies the threshold chosen on validation
    threshold = info.threshold
    assert threshold is not None and threshold.fpr_target == 0.2
    called = (scores["decision"] == info.class_names[1]).to_numpy()
    assert np.array_equal(called, stored["log_odds_1"].to_numpy() > threshold.value)
    positive = stored["label"].to_numpy() == 1
    assert threshold.test_sensitivity == pytest.approx(called[positive].mean())
    assert threshold.test_specificity == pytest.approx((~called[~positive]).mean())
    assert info.test_auc_low <= info.test_auc <= info.test_auc_high


def test_a_changed_model_folder_and_a_taken_out_folder_are_refused_in_one_line(study_raw, tmp_path):
    study = tmp_path / "study"
    _study(study_raw, study, keep_checkpoints="all")
    with pytest.raises(ConfigError, match=r"^The 'fpr_target' of tunedepth export must be in \(0, 1\) and allow one "
                                          r"false positive among the run's 6 validation negatives \(at least 1/6"):
        export_model(study, tmp_path / "model")
    assert not (tmp_path / "model").exists()
    export_model(study, tmp_path / "model", fpr_target=0.2)
    with pytest.raises(StudyFolderError, match=r"^The export folder .*model exists; give a new --out"):
        export_model(study, tmp_path / "model", fpr_target=0.2)
    model, info = load_model(tmp_path / "model")
    weights = tmp_path / "model" / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(WeightsError, match=r"weights.safetensors is missing or changed since the export \(sha256"):
        load_model(tmp_path / "model")
    (tmp_path / "model" / MODEL_FILE).unlink()
    with pytest.raises(WeightsError, match=r"is not an exported model \(no model.json\); make one with tunedepth "):
        load_model(tmp_path / "model")
    assert info.architecture == "toy4" and model is not None


def test_a_named_run_is_exported_and_an_unknown_one_refused(study_raw, tmp_path):
    study = tmp_path / "study"
    _study(study_raw, study, keep_checkpoints="all")
    run_id = pd.read_csv(study / "results.csv")["run_id"].iloc[0]
    assert export_model(study, tmp_path / "m1", run_id=run_id, fpr_target=0.2).info.source.why == \
        "named by the user"
    with pytest.raises(StudyFolderError, match=r"^Run 'nope' is not a finished run of"):
        export_model(study, tmp_path / "m2", run_id="nope", fpr_target=0.2)
    assert not (tmp_path / "m2").exists()


def test_a_task_whose_cases_are_not_images_is_refused_in_one_line(study_raw, tmp_path):
    study = tmp_path / "study"
    _study(study_raw, study, keep_checkpoints="all")
    raw = json.loads((study / "study.json").read_text())
    (study / "study.json").write_text(json.dumps(raw | {"task": "detection"}))  # as a detection study's folder says
    with pytest.raises(StudyFolderError, match=r"^tunedepth export exports studies whose test cases are images or "
                                               r"candidates in volumes \(\['classification', 'frame_classification', "
                                               r"'volume_candidates'\]\) so far; .* is a 'detection' study"):
        export_model(study, tmp_path / "model", fpr_target=0.2)
    assert not (tmp_path / "model").exists()


def test_the_onnx_model_agrees_with_pytorch_on_the_test_images(study_raw, tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed: pip install "
                                                            "'tunedepth[onnx]' (CI installs it)")
    study = tmp_path / "study"
    _study(study_raw, study, keep_checkpoints="all")
    info = export_model(study, tmp_path / "model", fpr_target=0.2, onnx=True).info
    assert info.onnx is not None and info.onnx.max_relative_difference <= 1e-4 and info.onnx.n_images == 12
    assert info.onnx.max_abs_difference <= 1e-4  # the toy's log-odds are small
    load_model(tmp_path / "model")  # its sha256 is recorded and checked with the weights'
    assert set(info.files) == {"weights.safetensors", "model.onnx", "MODEL_CARD.md"}
    session = onnxruntime.InferenceSession(str(tmp_path / "model" / "model.onnx"))
    images = _test_images(study).transpose(0, 3, 1, 2).astype(np.float32)
    (got,) = session.run(None, {"images": images})
    stored = pd.read_csv(study / "runs" / info.source.run_id / "predictions_test.csv")
    np.testing.assert_allclose(got, stored[["log_odds_0", "log_odds_1"]].to_numpy(), rtol=0, atol=1e-4)


def test_onnx_without_the_extra_is_one_line_naming_it(study_raw, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    with pytest.raises(ConfigError, match=r"^tunedepth export --onnx needs onnxruntime, not installed; install them "
                                          r"with pip install 'tunedepth\[onnx\]'"):
        export_model(tmp_path, tmp_path / "model", onnx=True)


def test_the_default_run_is_the_recommendation_by_the_studys_own_analysis_settings(study_raw, tmp_path,
                                                                                    monkeypatch):
    from tunedepth.deploy import export as export_module

    raw = copy.deepcopy(study_raw) | {"analysis": {"depth_rule": "shallowest_in_set", "depth_metric": "log_loss"}}
    study = tmp_path / "study"
    _study(raw, study, keep_checkpoints="all")
    seen: dict[str, Any] = {}
    real = export_module.recommend_depths
    monkeypatch.setattr(export_module, "recommend_depths", lambda s, **kw: seen.update(kw) or real(s, **kw))
    info = export_model(study, tmp_path / "model", fpr_target=0.2).info
    assert (seen["depth_rule"], seen["depth_metric"]) == ("shallowest_in_set", "log_loss")
    assert "depth rule shallowest_in_set" in info.source.why


def test_every_export_has_a_model_card_whose_numbers_are_the_model_jsons(study_raw, tmp_path):
    study = tmp_path / "study"
    _study(study_raw, study, keep_checkpoints="all")
    info = export_model(study, tmp_path / "model", fpr_target=0.2).info
    card = (tmp_path / "model" / "MODEL_CARD.md").read_text()
    assert "**Not for clinical use.**" in card
    assert f"run `{info.source.run_id}`" in card and f"ROC AUC:** {info.test_auc:.3f}" in card
    counts = info.data.class_counts
    assert sum(counts["val"]) == info.n_val == 12 and sum(counts["test"]) == info.n_test == 12
    assert sum(counts["train"]) == pd.read_csv(study / "results.csv").set_index("run_id").loc[
        info.source.run_id, "n_train"]
    assert f"| test | 12 | {counts['test'][0]} | {counts['test'][1]} |" in card
    threshold = info.threshold
    assert threshold is not None
    low, high = threshold.test_sensitivity_interval
    assert low <= threshold.test_sensitivity <= high and f"sensitivity {threshold.test_sensitivity:.3f} [" in card
    assert 0 <= info.calibration.expected_calibration_error <= 1 and "expected calibration error" in card
    assert info.files.keys() == {"weights.safetensors", "MODEL_CARD.md"}
    # a threshold whose test specificity's interval excludes the validation target says so
    assert "does not carry over" not in card  # 0.8 lies in the interval here
    shifted = threshold.model_copy(update={"test_specificity": 0.5, "test_specificity_interval": (0.44, 0.57)})
    assert "**The validation target does not carry over:** the test specificity's interval excludes 0.80" in \
        model_card(info.model_copy(update={"threshold": shifted}))
    (tmp_path / "model" / "MODEL_CARD.md").write_text(card.replace("Not for clinical use", "Fine for clinics"))
    with pytest.raises(WeightsError, match=r"MODEL_CARD.md is missing or changed since the export"):
        load_model(tmp_path / "model")


def test_refit_trains_on_training_and_validation_cases_for_the_runs_best_epoch_count(study_raw, tmp_path):
    study = tmp_path / "study"
    _study(study_raw, study, keep_checkpoints="all")
    plain = export_model(study, tmp_path / "plain", fpr_target=0.2).info
    refit = export_model(study, tmp_path / "refit", fpr_target=0.2, refit=True).info
    export_model(study, tmp_path / "again", fpr_target=0.2, refit=True)
    row = pd.read_csv(study / "results.csv").set_index("run_id").loc[refit.source.run_id]
    assert refit.source == plain.source and refit.refit is not None
    assert (refit.refit.epochs, refit.refit.n_train) == (row["best_epoch"], row["n_train"] + row["n_val"])
    weights = {name: read_run_weights(tmp_path / name / "weights.safetensors")[0]
               for name in ("plain", "refit", "again")}
    assert all(torch.equal(weights["refit"][k], weights["again"][k]) for k in weights["refit"])  # deterministic
    assert not all(torch.equal(weights["refit"][k], weights["plain"][k]) for k in weights["refit"])
    assert refit.threshold is not None and plain.threshold is not None
    assert refit.threshold.value == plain.threshold.value  # chosen on the original run's validation predictions
    scores = predict_arrays(tmp_path / "refit", _test_images(study))  # the test metrics are the refitted model's
    labels = pd.read_csv(study / "runs" / refit.source.run_id / "predictions_test.csv")["label"].to_numpy()
    from tunedepth.evaluation import roc_auc_score

    assert roc_auc_score(labels, scores[["log_odds_0", "log_odds_1"]].to_numpy()) == pytest.approx(refit.test_auc)
    card = (tmp_path / "refit" / "MODEL_CARD.md").read_text()
    assert "**Refitted** (`--refit`)" in card and "the original run's validation predictions" in card


def test_a_frame_classification_model_scores_a_frame_by_its_crops_as_the_study_did(tmp_path, toy_checkpoint):
    from tests.study.test_frame_classification import _write_frames
    from tunedepth.study.tasks.classification import load_labelled_images

    raw = {
        "name": "toy-frames", "task": "frame_classification",
        "data": {"source": "image_folder", "path": str(_write_frames(tmp_path / "frames")), "image_size": 16},
        "model": {"architecture": "toy4", "weights": "checkpoint", "checkpoint": str(toy_checkpoint)},
        "grid": {"regimes": ["finetune"], "depths": [2], "train_fractions": [1.0], "seeds": [0]},
        "frame_classification": {"crops_per_image": 4, "frame_size": 24, "test_crops": "five_flips"},
        "training": {"lr": 0.05, "batch_size": 16, "max_epochs": 2, "patience": 2},
        "execution": {"num_threads": 1, "keep_checkpoints": "all"},
    }
    study = tmp_path / "study"
    run_study(parse_study(raw, base_dir=tmp_path), study)
    info = export_model(study, tmp_path / "model", fpr_target=0.25).info
    assert info.input.frame_size == 24 and info.input.crops is not None and len(info.input.crops) == 10
    config = parse_study(json.loads((study / "study.json").read_text()), base_dir=study)
    frames = load_labelled_images(config.model_copy(update={"data": config.data.model_copy(
        update={"image_size": 24})})).test.images.permute(0, 2, 3, 1).numpy()  # the test frames, as files give them
    stored = pd.read_csv(study / "runs" / info.source.run_id / "predictions_test.csv")
    scores = predict_arrays(tmp_path / "model", frames)
    np.testing.assert_allclose(scores[["log_odds_0", "log_odds_1"]].to_numpy(),
                               stored[["log_odds_0", "log_odds_1"]].to_numpy(), rtol=0, atol=1e-6)
    with pytest.raises(StudyFolderError, match=r"^tunedepth export --refit cannot refit run .*: it trains on fixed "
                                               r"views of its training images"):
        export_model(study, tmp_path / "refit", fpr_target=0.25, refit=True)
    assert not (tmp_path / "refit").exists()
