"""An exported volume-candidate model (tunedepth/deploy/predict_volumes.py): ``tunedepth predict`` on volumes and a
candidate table scores each candidate as the study scored its test candidates; wrong inputs are one line, exit 2,
no CSV."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.study.test_volume_candidates import _write_nifti_table, nifti_table_study
from tunedepth.cli.main import main
from tunedepth.config import parse_study
from tunedepth.deploy import export_model
from tunedepth.deploy.predict_volumes import predict_candidates
from tunedepth.errors import DataError
from tunedepth.study import run_study

pytest.importorskip("nibabel", reason="the volumes extra is not installed: pip install 'tunedepth[volumes]'")


@pytest.fixture
def volume_model(tmp_path: Path, toy_checkpoint: Path) -> tuple[Path, Path, Path, Path]:
    """A volume-table study of NIfTI volumes (weights kept), its exported model, the volume folder and the table."""
    folder, table = _write_nifti_table(tmp_path)
    raw = nifti_table_study(toy_checkpoint)
    raw["volume_candidates"] |= {"widths": [10.0, 14.0], "test_angles": 3}
    raw["execution"] |= {"keep_checkpoints": "all"}
    study = tmp_path / "study"
    run_study(parse_study(raw, base_dir=tmp_path), study)
    export_model(study, tmp_path / "model", fpr_target=0.3)
    return study, tmp_path / "model", folder, table


def test_a_volume_model_scores_candidates_as_the_study_scored_its_test_candidates(volume_model, tmp_path):
    study, model, folder, table = volume_model
    info = json.loads((model / "model.json").read_text())
    assert info["input"]["volumes"]["unit"] == "mm" and info["input"]["volumes"]["settings"]["test_angles"] == 3
    scores = predict_candidates(model, table, folder, tmp_path / "scores.csv")
    assert len(scores) == len(pd.read_csv(table)) and list(scores.columns[:5]) == ["volume_id", "label", "z", "y", "x"]
    volumes = pd.read_csv(study / "volume_candidates" / "volumes.csv")
    test_ids = set(volumes.loc[volumes["split"] == "test", "volume_id"])
    stored = pd.read_csv(study / "runs" / info["source"]["run_id"] / "predictions_test.csv")
    ours = scores[scores["volume_id"].isin(test_ids)]  # the table's order, as the study's test split keeps it
    np.testing.assert_array_equal(ours["label"].to_numpy(), stored["label"].to_numpy())
    np.testing.assert_allclose(ours[["log_odds_0", "log_odds_1"]].to_numpy(),
                               stored[["log_odds_0", "log_odds_1"]].to_numpy(), rtol=0, atol=1e-6)
    card = (model / "MODEL_CARD.md").read_text()
    assert "patches 10, 14 mm wide" in card


def test_predict_on_the_command_line_and_its_refusals(volume_model, tmp_path, capsys):
    _, model, folder, table = volume_model
    unlabelled = tmp_path / "new.csv"
    pd.read_csv(table).drop(columns=["label", "lesion"]).assign(candidate_id=lambda f: [f"c{i}" for i in
                                                                                        range(len(f))]).to_csv(
        unlabelled, index=False)
    out = tmp_path / "scores.csv"
    assert main(["predict", str(model), str(unlabelled), "--volumes", str(folder), "--out", str(out)]) == 0
    written = pd.read_csv(out)
    assert "label" not in written and written["candidate_id"].iloc[0] == "c0"
    assert f"Scored {len(written)} candidate(s)" in capsys.readouterr().out
    for args, message in [
        ([str(table)], "scores candidates in volumes; give it a candidate table and the folder"),  # no --volumes
        ([str(table), "--volumes", str(tmp_path / "nope")], "--volumes '"),
        ([str(table), str(table), "--volumes", str(folder)], "With --volumes, tunedepth predict takes one candidate"),
    ]:
        bad = tmp_path / "bad.csv"
        assert main(["predict", str(model), *args, "--out", str(bad)]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1 and not bad.exists()


def test_mm_widths_need_a_spacing(volume_model, tmp_path):
    _, model, folder, table = volume_model
    arrays = tmp_path / "npy"
    arrays.mkdir()
    import nibabel as nib

    for path in sorted(folder.glob("*.nii.gz")):
        np.save(arrays / path.name.replace(".nii.gz", ".npy"), np.asarray(nib.load(path).dataobj).transpose(2, 1, 0))
    with pytest.raises(DataError, match=r"^The model cuts patches \(10.0, 14.0\) mm wide, but volume 'ct00' has no "
                                        r"voxel spacing"):
        predict_candidates(model, table, arrays, tmp_path / "scores.csv")
    assert not (tmp_path / "scores.csv").exists()
