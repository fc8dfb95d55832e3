"""A task registered from tests/ only (tests/study/toy_task.py: three parts, nothing in tunedepth/) validates, runs
and reports like the built-in tasks."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import tests.study.toy_task as toy
from tests.conftest import write_faint_image_folder
from tunedepth.analysis import analyze_study
from tunedepth.config import parse_study
from tunedepth.errors import ConfigError
from tunedepth.report import write_report
from tunedepth.results import load_finished_study
from tunedepth.study import run_study


@pytest.fixture
def toy_raw(tmp_path: Path, toy_checkpoint: Path) -> dict[str, Any]:
    folder = write_faint_image_folder(tmp_path / "images", n=48)
    return {
        "name": "toy-views", "task": toy.NAME,
        "data": {"source": "image_folder", "path": str(folder), "image_size": 16},
        "model": {"architecture": "toy4", "weights": "checkpoint", "checkpoint": str(toy_checkpoint)},
        "grid": {"regimes": ["scratch", "finetune"], "depths": [1], "train_fractions": [1.0], "seeds": [0]},
        "training": {"lr": 0.05, "batch_size": 16, "max_epochs": 2, "patience": 2},
        "execution": {"num_threads": 1},
        toy.NAME: {"n_views": 3},
    }


def test_a_task_from_outside_the_package_runs_end_to_end_with_its_report(toy_raw: dict[str, Any],
                                                                          tmp_path: Path) -> None:
    out = tmp_path / "study"
    summary = run_study(parse_study(toy_raw, base_dir=tmp_path), out)
    assert summary.failures.empty and summary.n_executed == 2
    # its own table is validated, resolved and written back under its name
    assert json.loads((out / "study.json").read_text())[toy.NAME] == {"n_views": 3}
    # its runs: cases are images (each the mean of 3 views), plus the task's metric and per-run table
    results = summary.results
    assert "test_view_accuracy" in results.columns and results["n_test"].tolist() == [10, 10]
    study = load_finished_study(out)
    assert study.test_labels.shape == (10,)
    for run in study.runs:
        views = study.run_table(run.run_id, "views_test")
        accuracy = float((views["predicted"] == views["label"]).mean())
        assert results.set_index("run_id").loc[run.run_id, "test_view_accuracy"] == pytest.approx(accuracy)
    # its analysis: the table is written and listed
    analysis = analyze_study(out)
    assert list(analysis.task_tables) == ["view_accuracy"]
    table = pd.read_csv(out / "view_accuracy.csv")
    assert sorted(table["label"]) == ["ft:fc", "scratch"]
    assert "view_accuracy.csv" in json.loads((out / "analysis.json").read_text())["files"]
    # its report sections: the table, the header line and the figure of its own plot kind
    html = write_report(out, analysis=analysis).read_text()
    assert "Toy views: accuracy of the view-averaged prediction" in html
    assert "Test-time views" in html and "View accuracy at 1" in html


def test_the_toy_table_is_validated_by_its_model(toy_raw: dict[str, Any], tmp_path: Path) -> None:
    raw = copy.deepcopy(toy_raw)
    raw[toy.NAME] = {"n_veiws": 2}
    with pytest.raises(ConfigError, match=r"unknown key 'toy_views.n_veiws'\. Did you mean 'n_views'\?"):
        parse_study(raw, base_dir=tmp_path)
    raw[toy.NAME] = {"n_views": 9}
    with pytest.raises(ConfigError, match=r"'toy_views.n_views': Input should be less than or equal to 4; got 9"):
        parse_study(raw, base_dir=tmp_path)


def test_the_toy_table_belongs_to_its_task(toy_raw: dict[str, Any], tmp_path: Path) -> None:
    raw = copy.deepcopy(toy_raw)
    raw["task"] = "classification"
    with pytest.raises(ConfigError, match=r"the \[toy_views\] table is only read with task = 'toy_views'"):
        parse_study(raw, base_dir=tmp_path)


def test_the_toy_task_refuses_a_source_it_does_not_read(toy_raw: dict[str, Any], tmp_path: Path) -> None:
    raw = copy.deepcopy(toy_raw)
    raw["data"] = {"source": "medmnist", "flag": "breastmnist", "image_size": 16}
    with pytest.raises(ConfigError, match=r"task = 'toy_views' needs data.source 'image_folder' or 'csv_manifest'; "
                                          r"got 'medmnist'"):
        parse_study(raw, base_dir=tmp_path)


def test_an_unknown_task_is_refused_with_a_guess(toy_raw: dict[str, Any], tmp_path: Path) -> None:
    raw = copy.deepcopy(toy_raw)
    raw["task"] = "toy_view"
    del raw[toy.NAME]
    with pytest.raises(ConfigError, match=r"'task': Unknown task 'toy_view'\. Did you mean 'toy_views'\?"):
        parse_study(raw, base_dir=tmp_path)


def test_the_toy_task_runs_in_worker_processes(toy_raw: dict[str, Any], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Spawned workers import the module that registered the task's run part, so a plug-in task runs there too,
    with the same results as in one process; the study is prepared once, by the study's process (the workers map
    its arrays), and the shared copy is removed at the end."""
    serial = run_study(parse_study(toy_raw, base_dir=tmp_path), tmp_path / "serial").results
    raw = copy.deepcopy(toy_raw)
    raw["execution"] = {"workers": 2, "num_threads": 1}
    log = tmp_path / "prepared.log"
    monkeypatch.setenv(toy.PREPARE_LOG, str(log))  # inherited by the spawned workers
    summary = run_study(parse_study(raw, base_dir=tmp_path), tmp_path / "pool")
    assert log.read_text().split() == [str(os.getpid())]  # once, here: no worker prepared it again
    assert not (tmp_path / "pool" / ".prepared.tmp").exists()
    assert summary.failures.empty and summary.n_executed == 2
    columns = ["run_id", "test_auc", "test_view_accuracy"]
    pd.testing.assert_frame_equal(summary.results[columns], serial[columns])
