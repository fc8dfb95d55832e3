"""Kept weights (``execution.keep_checkpoints``) and ``tunedepth rerun`` (tunedepth/study/rerun.py): a run
re-trained from its study folder gives its stored predictions again and keeps the same weights a study keeping
them writes."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch

from tunedepth.config import parse_study
from tunedepth.errors import StudyFolderError
from tunedepth.models.checkpoints import read_run_weights
from tunedepth.results import WEIGHTS_FILE
from tunedepth.study import run_study
from tunedepth.study.rerun import ReproductionError, rerun_run


def _raw(study_raw: dict[str, Any], **training: Any) -> dict[str, Any]:
    raw = copy.deepcopy(study_raw)
    raw["grid"]["train_fractions"] = [1.0]  # scratch, fine-tuning at depth 1 (cached) and 4: 3 runs
    raw["training"] |= training
    return raw


def _study(raw: dict[str, Any], out: Path, **execution: Any) -> pd.DataFrame:
    raw = copy.deepcopy(raw)
    raw["execution"] |= execution
    run_study(parse_study(raw, base_dir=out.parent), out)
    return pd.read_csv(out / "results.csv")


def test_keeping_checkpoints_writes_each_runs_weights_and_changes_no_run_id(study_raw, tmp_path):
    kept = _study(_raw(study_raw), tmp_path / "kept", keep_checkpoints="all")
    plain = _study(_raw(study_raw), tmp_path / "plain")
    assert sorted(kept["run_id"]) == sorted(plain["run_id"])  # an execution setting: not part of run ids
    for rid in kept["run_id"]:
        tensors, header = read_run_weights(tmp_path / "kept" / "runs" / rid / WEIGHTS_FILE)
        assert header == {"run_id": rid, "architecture": "toy4", "groups": "conv1,conv2,conv3,fc", "n_classes": "2"}
        assert all(t.dtype == torch.float32 or t.dtype == torch.int64 for t in tensors.values())
        assert not (tmp_path / "plain" / "runs" / rid / WEIGHTS_FILE).exists()


@pytest.mark.parametrize("lr", [0.05, "auto"], ids=["one-lr", "successive-halving"])
def test_rerun_reproduces_a_run_and_keeps_the_weights_a_study_would_have_kept(study_raw, tmp_path, lr):
    raw = _raw(study_raw, lr=lr, lr_grid=[0.1, 0.05, 0.01])
    plain = _study(raw, tmp_path / "plain")
    _study(raw, tmp_path / "kept", keep_checkpoints="all")
    for rid in plain["run_id"]:
        result = rerun_run(tmp_path / "plain", rid)
        assert result.max_abs_difference == 0.0 and result.tolerance == 0.0 and result.threads == 1
        remade, _ = read_run_weights(result.weights)
        kept, _ = read_run_weights(tmp_path / "kept" / "runs" / rid / WEIGHTS_FILE)
        assert remade.keys() == kept.keys() and all(torch.equal(remade[k], kept[k]) for k in kept)
    assert not [p for p in (tmp_path / "plain").iterdir() if p.name.startswith(".rerun-")]


def test_a_run_that_does_not_reproduce_keeps_no_weights(study_raw, tmp_path):
    plain = _study(_raw(study_raw), tmp_path / "plain")
    rid = plain["run_id"].iloc[0]
    stored = tmp_path / "plain" / "runs" / rid / "predictions_test.csv"
    frame = pd.read_csv(stored)
    frame.loc[0, "log_odds_1"] += 0.25  # as if the run had been trained otherwise
    frame.to_csv(stored, index=False)
    message = rf"^Run {rid} re-trained with 1 thread\(s\) gives log-odds up to 0.25 from the stored ones \(tol"
    with pytest.raises(ReproductionError, match=message + r"erance 0\); its weights were not kept"):
        rerun_run(tmp_path / "plain", rid)
    assert not (tmp_path / "plain" / "runs" / rid / WEIGHTS_FILE).exists()
    assert rerun_run(tmp_path / "plain", rid, tolerance=0.3).max_abs_difference == pytest.approx(0.25)


def test_rerun_refuses_what_is_not_a_finished_run_in_one_line(study_raw, tmp_path):
    _study(_raw(study_raw), tmp_path / "plain")
    with pytest.raises(StudyFolderError, match=r"^Run 'abc' is not a finished run of .*plain; its finished runs are "
                                               r"the run_id column of results.csv\.$"):
        rerun_run(tmp_path / "plain", "abc")
    with pytest.raises(StudyFolderError, match=r"is not a study folder \(no study.json\)"):
        rerun_run(tmp_path, "abc")



def test_rerun_reproduces_a_run_that_starts_from_a_probed_head(study_raw, tmp_path):
    raw = _raw(study_raw, lr="auto", lr_grid=[0.1, 0.05])
    raw["grid"] |= {"regimes": ["finetune"], "depths": [4], "methods": ["lp_ft"]}
    plain = _study(raw, tmp_path / "plain")
    (rid,) = plain["run_id"]
    assert rerun_run(tmp_path / "plain", rid).max_abs_difference == 0.0


def test_tunedepth_rerun_prints_one_line_and_refuses_in_one_line(study_raw, tmp_path, capsys):
    from tunedepth.cli.main import main

    plain = _study(_raw(study_raw), tmp_path / "plain")
    rid = plain["run_id"].iloc[-1]
    assert main(["rerun", str(tmp_path / "plain"), rid]) == 0
    printed = capsys.readouterr().out
    assert f"Run {rid} (" in printed and "validation and test predictions identical. Weights:" in printed
    assert main(["rerun", str(tmp_path / "plain"), "nope"]) == 2
    assert capsys.readouterr().err.strip().startswith("error: Run 'nope' is not a finished run of")
