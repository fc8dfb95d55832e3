"""``tunedepth export`` and ``tunedepth predict`` on the command line: files, folders, manifests and .npz splits
scored as the study scored them; bad input is one line, exit code 2 and no CSV."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tests.deploy.test_export import _test_images
from tunedepth.cli.main import main
from tunedepth.config import parse_study
from tunedepth.study import run_study


@pytest.fixture
def exported(study_raw, tmp_path, capsys) -> tuple[Path, Path, pd.DataFrame, str]:
    """A toy study (weights not kept), its exported model, the exported run's stored test predictions, and what
    the export printed."""
    raw = copy.deepcopy(study_raw)
    raw["grid"]["train_fractions"] = [1.0]
    study = tmp_path / "study"
    run_study(parse_study(raw, base_dir=tmp_path), study)
    assert main(["export", str(study), "--out", str(tmp_path / "model"), "--fpr-target", "0.2"]) == 0
    info = pd.read_json(tmp_path / "model" / "model.json", typ="series")
    stored = pd.read_csv(study / "runs" / info["source"]["run_id"] / "predictions_test.csv")
    return study, tmp_path / "model", stored, capsys.readouterr().out


def test_export_prints_the_run_the_interval_and_the_threshold(exported):
    study, model, _, printed = exported
    assert "(weights re-made and checked: tunedepth rerun)" in printed and "test AUC" in printed
    assert "Threshold at 0.2 validation FPR: log-odds >" in printed and "sensitivity" in printed
    assert (model / "weights.safetensors").is_file()
    assert f"Model card: {model / 'MODEL_CARD.md'}" in printed and (model / "MODEL_CARD.md").is_file()


def test_export_refit_on_the_command_line_says_what_it_trained(exported, tmp_path, capsys):
    study, model, _, _ = exported
    assert main(["export", str(study), "--out", str(tmp_path / "refit"), "--fpr-target", "0.2", "--refit"]) == 0
    printed = capsys.readouterr().out
    run_id = pd.read_json(model / "model.json", typ="series")["source"]["run_id"]
    row = pd.read_csv(study / "results.csv").set_index("run_id").loc[run_id]
    assert f"refitted on {row['n_train'] + row['n_val']} training and validation cases for {row['best_epoch']} " \
           "epoch(s)" in printed


def test_predict_scores_files_folders_manifests_and_npz_as_the_study_did(exported, tmp_path, capsys):
    study, model, stored, _ = exported
    images = _test_images(study)
    folder = tmp_path / "new"  # (tmp_path / "images" is the study's own image folder)
    folder.mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{i:03d}.png")
    pd.DataFrame({"path": [f"new/{i:03d}.png" for i in range(len(images))], "label": stored["label"]}).to_csv(
        tmp_path / "manifest.csv", index=False)
    np.savez(tmp_path / "split.npz", test_images=images, val_images=images[:2])
    want = stored[["log_odds_0", "log_odds_1"]].to_numpy()
    for args in ([str(folder)], [str(tmp_path / "manifest.csv")], [str(tmp_path / "split.npz")],
                 [str(folder / f"{i:03d}.png") for i in range(len(images))]):
        out = tmp_path / "scores.csv"
        assert main(["predict", str(model), *args, "--out", str(out), "--batch-size", "5"]) == 0
        got = pd.read_csv(out)
        np.testing.assert_allclose(got[["log_odds_0", "log_odds_1"]].to_numpy(), want, rtol=0, atol=1e-6)
        assert set(got["decision"]) <= {"lesion", "normal"}
        np.testing.assert_allclose(got["probability_1"], 1 / (1 + np.exp(-got["log_odds_1"])))
    assert got["image"].iloc[0] == str(folder / "000.png")
    assert main(["predict", str(model), f"{tmp_path / 'split.npz'}:val", "--out", str(out)]) == 0
    npz = tmp_path / "split.npz"
    assert pd.read_csv(out)["image"].tolist() == [f"{npz}:val[0]", f"{npz}:val[1]"]


@pytest.mark.parametrize("bad", ["corrupt", "missing", "no-split", "changed-model"])
def test_bad_input_is_one_line_exit_2_and_no_csv(exported, tmp_path, capsys, bad):
    _, model, _, _ = exported
    inputs = {"corrupt": tmp_path / "bad.png", "missing": tmp_path / "nothing.png",
              "no-split": f"{tmp_path / 'split.npz'}:train", "changed-model": tmp_path / "ok.png"}
    (tmp_path / "bad.png").write_bytes(b"not a png")
    np.savez(tmp_path / "split.npz", test_images=np.zeros((2, 16, 16), np.uint8))
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "ok.png")
    if bad == "changed-model":
        (model / "model.json").write_text((model / "model.json").read_text().replace('"toy4"', '"toy4" '))
        weights = model / "weights.safetensors"
        weights.write_bytes(weights.read_bytes() + b" ")
    capsys.readouterr()
    out = tmp_path / "scores.csv"
    assert main(["predict", str(model), str(inputs[bad]), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    assert not out.exists()
