"""A run that raises is recorded as failed, the study goes on, the report lists it, --retry-failed re-runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import tunedepth.study.execution as execution_module
import tunedepth.study.lr_search as lr_search_module
from tunedepth.cli.main import main
from tunedepth.config import parse_study
from tunedepth.results import FAILURE_COLUMNS
from tunedepth.study import run_study

pytestmark = pytest.mark.run_failures_expected

GRID = {"regimes": ["finetune"], "depths": [1, 2, 3, 4], "train_fractions": [1.0], "seeds": [0]}


def _config(raw):
    return parse_study(raw, base_dir=Path("."))


def _fail_in_call(monkeypatch, failing: set[int], exc: Exception) -> list[int]:
    """Make the n-th call of train_model (1-based, counted over the test) raise ``exc`` for n in ``failing``."""
    real_train = lr_search_module.train_model
    calls: list[int] = []

    def train(*args, **kwargs):
        calls.append(1)
        if len(calls) in failing:
            raise exc
        return real_train(*args, **kwargs)

    monkeypatch.setattr(lr_search_module, "train_model", train)
    return calls


def _toml_value(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value)  # strings, numbers and booleans are written alike in TOML and JSON


def _write_toml(raw: dict, path: Path) -> Path:
    lines = [f"{key} = {_toml_value(value)}" for key, value in raw.items() if not isinstance(value, dict)]
    for table, values in raw.items():
        if isinstance(values, dict):
            lines += [f"[{table}]"] + [f"{key} = {_toml_value(value)}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _run_folders(out: Path) -> dict[str, list[str]]:
    return {p.name: sorted(f.name for f in p.iterdir()) for p in (out / "runs").iterdir()}


def test_a_run_that_raises_is_recorded_and_the_others_go_on(study_raw, tmp_path, monkeypatch):
    study_raw["grid"] = GRID
    out = tmp_path / "out"
    _fail_in_call(monkeypatch, {2}, RuntimeError("CUDA out of memory: simulated\nsecond line"))
    summary = run_study(_config(study_raw), out)

    assert (summary.n_executed, summary.n_skipped) == (4, 0)
    assert len(summary.results) == 3 and len(summary.failures) == 1
    failure = summary.failures.iloc[0]
    assert (failure["label"], failure["error"], failure["reason"]) == ("ft:conv3-fc", "RuntimeError",
                                                                      "CUDA out of memory: simulated")
    folder = out / "runs" / failure["run_id"]
    assert sorted(p.name for p in folder.iterdir()) == ["failed.json", "traceback.txt"]
    recorded = json.loads((folder / "failed.json").read_text())
    assert tuple(recorded) == FAILURE_COLUMNS or set(recorded) == set(FAILURE_COLUMNS)
    assert recorded["depth"] == 2 and recorded["seed"] == 0
    traceback_text = (folder / "traceback.txt").read_text()
    assert "Traceback (most recent call last)" in traceback_text and "CUDA out of memory: simulated" in traceback_text
    table = pd.read_csv(out / "failures.csv", dtype={"run_id": str})
    assert list(table.columns) == list(FAILURE_COLUMNS) and list(table["run_id"]) == [failure["run_id"]]
    assert failure["run_id"] not in set(pd.read_csv(out / "results.csv", dtype={"run_id": str})["run_id"])
    assert not list(out.rglob("*.tmp"))


def test_resume_skips_failed_runs_and_retry_failed_reruns_only_them(study_raw, tmp_path, monkeypatch):
    study_raw["grid"] = GRID
    config, out = _config(study_raw), tmp_path / "out"
    calls = _fail_in_call(monkeypatch, {2}, RuntimeError("simulated"))
    failed_id = run_study(config, out).failures["run_id"].iloc[0]
    finished = {rid: (out / "runs" / rid / "metrics.json").read_bytes()
                for rid in _run_folders(out) if rid != failed_id}

    calls.clear()
    summary = run_study(config, out)
    assert calls == [] and (summary.n_executed, summary.n_skipped, summary.n_skipped_failed) == (0, 4, 1)
    assert list(summary.failures["run_id"]) == [failed_id]

    calls.clear()
    summary = run_study(config, out, retry_failed=True)
    assert len(calls) == 1 and (summary.n_executed, summary.n_skipped) == (1, 3)
    assert summary.failures.empty and not (out / "failures.csv").exists()
    assert len(summary.results) == 4
    assert "failed.json" not in _run_folders(out)[failed_id] and "metrics.json" in _run_folders(out)[failed_id]
    assert all((out / "runs" / rid / "metrics.json").read_bytes() == data for rid, data in finished.items())


def test_a_diverging_loss_fails_the_run_with_its_reason(study_raw, tmp_path):
    study_raw["grid"] = {"regimes": ["scratch"], "depths": [4], "train_fractions": [1.0], "seeds": [0]}
    study_raw["training"]["lr"] = 1e30  # the weights overflow within a few mini-batches
    summary = run_study(_config(study_raw), tmp_path / "out")
    assert summary.results.empty and len(summary.failures) == 1
    failure = summary.failures.iloc[0]
    assert failure["error"] == "TrainingDivergedError"
    assert failure["reason"].startswith("training loss became ") and "try a lower learning rate" in failure["reason"]


def test_a_diverging_learning_rate_of_a_sweep_is_left_out_of_the_run(study_raw, tmp_path):
    study_raw["grid"] = {"regimes": ["scratch"], "depths": [4], "train_fractions": [1.0], "seeds": [0]}
    study_raw["training"]["lr"] = [0.05, 1e30]
    summary = run_study(_config(study_raw), tmp_path / "out")
    assert summary.failures.empty and len(summary.results) == 1
    run_id = summary.results["run_id"].iloc[0]
    metrics = json.loads((tmp_path / "out" / "runs" / run_id / "metrics.json").read_text())
    assert metrics["lr"] == 0.05
    assert [t["lr"] for t in metrics["lr_trials"]] == [0.05, 1e30]
    assert "val_auc" in metrics["lr_trials"][0] and metrics["lr_trials"][1]["diverged"].startswith("training loss")


def test_cli_exits_1_lists_failed_runs_and_the_report_shows_them(study_raw, tmp_path, monkeypatch, capsys):
    study_raw["grid"] = GRID
    study_file = _write_toml(study_raw, tmp_path / "study.toml")
    out = tmp_path / "out"
    _fail_in_call(monkeypatch, {3}, ValueError("simulated bug"))
    assert main(["study", str(study_file), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    error_lines = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "1 run(s) failed" in error_lines[0] and "--retry-failed" in error_lines[0]
    assert "failed runs" in captured.out and "simulated" in captured.out
    html = (out / "report.html").read_text()
    assert "Failed runs" in html and "ft:conv2-fc at 1, seed 0" in html and "ValueError: simulated bug" in html
    assert main(["recommend", str(out)]) == 0
    assert "Left out: 1 failed run(s)" in capsys.readouterr().out.replace("\n", " ")

    monkeypatch.undo()
    assert main(["study", str(study_file), "--out", str(out), "--retry-failed"]) == 0
    assert "Failed runs</h2>\n<p>None.</p>" in (out / "report.html").read_text()


def test_cli_exits_1_when_every_run_failed(study_raw, tmp_path, monkeypatch, capsys):
    study_raw["grid"] = {"regimes": ["finetune"], "depths": [1], "train_fractions": [1.0], "seeds": [0]}
    study_file = _write_toml(study_raw, tmp_path / "study.toml")
    _fail_in_call(monkeypatch, {1}, RuntimeError("simulated"))
    assert main(["study", str(study_file), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "no run finished, so there is nothing to analyse" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "report.html").exists()


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(3)])
def test_interruptions_are_not_recorded_as_failures(study_raw, tmp_path, monkeypatch, exc):
    study_raw["grid"] = GRID
    out = tmp_path / "out"
    _fail_in_call(monkeypatch, {1}, exc)
    with pytest.raises(type(exc)):
        run_study(_config(study_raw), out)
    assert _run_folders(out) == {} and not (out / "failures.csv").exists()


def test_resume_removes_what_a_killed_process_left(study_raw, tmp_path):
    from tunedepth.results import StudyStore

    study_raw["grid"] = {"regimes": ["finetune"], "depths": [1], "train_fractions": [1.0], "seeds": [0]}
    config, out = _config(study_raw), tmp_path / "out"
    run_study(config, out)
    leftovers = [out / "runs" / ".abc.x1y2.tmp", out / ".results.csv.q9.tmp", out / ".feature-cache"]
    leftovers[0].mkdir()
    (leftovers[0] / "config.json").write_text("{}")
    leftovers[1].write_text("run_id\n")
    leftovers[2].mkdir()
    assert sorted(StudyStore(out).remove_temporary()) == sorted(leftovers[:2])
    for path in leftovers[:2]:
        path.mkdir() if path.suffix == ".tmp" and "runs" in path.parts else path.write_text("x")
    leftovers[2].mkdir(exist_ok=True)
    assert run_study(config, out).n_executed == 0
    assert not any(path.exists() for path in leftovers)


@pytest.mark.parametrize("feature_cache", [True, False])
def test_a_checkpoint_changed_during_the_study_is_never_trained_from(study_raw, tmp_path, monkeypatch, toy_checkpoint,
                                                                      feature_cache):
    import torch

    from tunedepth.errors import WeightsError

    real_prepare = execution_module.prepare_study

    def prepare_then_overwrite(*args, **kwargs):
        prepared = real_prepare(*args, **kwargs)
        state = torch.load(toy_checkpoint, weights_only=True)
        torch.save({k: v + 1 for k, v in state.items()}, toy_checkpoint)
        return prepared

    monkeypatch.setattr(execution_module, "prepare_study", prepare_then_overwrite)
    study_raw["grid"] = {"regimes": ["scratch", "finetune"], "depths": [1], "train_fractions": [1.0], "seeds": [0]}
    study_raw["execution"]["feature_cache"] = feature_cache
    out = tmp_path / "out"
    if feature_cache:  # the cache is computed from the checkpoint before any run: the study stops there
        with pytest.raises(WeightsError, match="sha256 .* it is not the file the study was set up with"):
            run_study(_config(study_raw), out)
        assert _run_folders(out) == {}
    else:  # each fine-tuning run loads it: they fail, scratch does not
        summary = run_study(_config(study_raw), out)
        assert list(summary.results["regime"]) == ["scratch"]
        assert list(summary.failures["error"]) == ["WeightsError"]
