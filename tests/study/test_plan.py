"""`tunedepth plan`: the runs, their state in the output folder, the feature cache, a measured estimate; nothing
written."""

from __future__ import annotations

import copy
import math
import shutil

import pandas as pd

from tunedepth.cli.main import main
from tunedepth.config import parse_study
from tunedepth.study import run_study
from tunedepth.study.plan import plan_study


def test_the_plan_counts_the_runs_says_which_are_done_and_which_use_the_cache(study_raw, tmp_path):
    raw = copy.deepcopy(study_raw)  # scratch, depths 1 and 4, at 2 fractions: 6 runs
    out = tmp_path / "out"
    before = plan_study(parse_study(raw, base_dir=tmp_path), out)
    assert not out.exists()  # a plan writes nothing
    assert [r.state for r in before.runs] == ["to run"] * 6
    assert all(r.seconds > 0 and math.isfinite(r.seconds) for r in before.runs)
    assert before.seconds >= sum(r.seconds for r in before.runs) / before.workers
    run_study(parse_study(raw, base_dir=tmp_path), out)
    results = pd.read_csv(out / "results.csv").set_index("run_id")
    shutil.rmtree(out / "runs" / results.index[0])
    after = plan_study(parse_study(raw, base_dir=tmp_path), out)
    assert [r.state for r in after.runs].count("finished") == 5 and len(after.to_run) == 1
    for run in after.runs:  # the cache use the plan predicts is what the runs recorded
        if run.run_id in results.index[1:]:
            assert run.cached_groups == results.loc[run.run_id, "cached_groups"], run.spec.label
    assert {r.cached_groups for r in after.runs} == {0, 3}  # depth 1 of toy4 takes conv1-conv3 from the cache


def test_a_longer_training_is_estimated_longer(study_raw, tmp_path):
    raw = copy.deepcopy(study_raw)
    short = plan_study(parse_study(raw, base_dir=tmp_path), tmp_path / "a")
    raw["training"] |= {"max_epochs": 20}
    long = plan_study(parse_study(raw, base_dir=tmp_path), tmp_path / "a")
    ratio = sum(r.seconds for r in long.runs) / sum(r.seconds for r in short.runs)
    assert 4 < ratio < 25  # 10x the epochs; the probe itself is noisy


def test_tunedepth_plan_prints_the_runs_and_the_estimate(study_raw, tmp_path, capsys):
    from tests.study.test_failures import _write_toml

    study_file = _write_toml(copy.deepcopy(study_raw), tmp_path / "study.toml")
    assert main(["plan", str(study_file), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "6 runs: 0 finished or failed before, 6 to run; estimated" in printed
    assert not (tmp_path / "out").exists()
    assert main(["plan", str(study_file), "--no-probe"]) == 0
    assert "estimated" not in capsys.readouterr().out


def test_with_asha_a_runs_trials_are_what_trains_at_once(study_raw, tmp_path):
    import pytest

    pytest.importorskip("ray", reason="Ray is not installed: pip install 'tunedepth[ray]' (CI installs it)")
    raw = copy.deepcopy(study_raw)
    raw["training"] |= {"lr": "auto", "lr_grid": [0.1, 0.01, 0.001]}
    raw["execution"] |= {"executor": "ray", "ray": {"max_concurrent": 8}}
    halving = plan_study(parse_study(raw, base_dir=tmp_path), tmp_path / "a", probe=False)
    raw["training"]["lr_search"] = "asha"
    asha = plan_study(parse_study(raw, base_dir=tmp_path), tmp_path / "a", probe=False)
    assert (halving.workers, asha.workers) == (8, 3)  # runs at once; one run's 3 trials at once
