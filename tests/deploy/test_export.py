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

from tunedepth.config import parse_study
from tunedepth.deploy import MODEL_FILE, export_model, load_model, predict_arrays
from tunedepth.errors import ConfigError, StudyFolderError, WeightsError
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


def test_a_task_whose_cases_are_not_whole_images_is_refused_in_one_line(study_raw, tmp_path):
    study = tmp_path / "study"
    _study(study_raw, study, keep_checkpoints="all")
    raw = json.loads((study / "study.json").read_text())
    (study / "study.json").write_text(json.dumps(raw | {"task": "detection"}))  # as a detection study's folder says
    with pytest.raises(StudyFolderError, match=r"^tunedepth export exports studies whose test cases are whole "
                                               r"images \(\['classification'\]\) so far; .* is a 'detection' study"):
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
    assert set(info.files) == {"weights.safetensors", "model.onnx"}
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
