"""``[tracking]`` (tunedepth/study/tracking.py): a study's finished runs in MLflow (read back with MLflow's own
client) and TensorBoard (read back with TensorBoard's event reader), each run once, resumed studies included."""

from __future__ import annotations

import builtins
import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tunedepth.config import parse_study
from tunedepth.errors import ConfigError
from tunedepth.study import run_study
from tunedepth.study.tracking import RUN_ID_TAG

mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is not installed: pip install 'tunedepth[mlflow]'")


def _raw(study_raw: dict[str, Any], **tracking: Any) -> dict[str, Any]:
    raw = copy.deepcopy(study_raw)
    raw["grid"]["train_fractions"] = [1.0]  # scratch, depth 1 and depth 4: 3 runs
    if tracking:
        raw["tracking"] = tracking
    return raw


def _run(raw: dict[str, Any], out: Path) -> pd.DataFrame:
    run_study(parse_study(raw, base_dir=out.parent), out)
    return pd.read_csv(out / "results.csv", dtype={"run_id": str})


def _mlflow_runs(uri: str, experiment: str) -> pd.DataFrame:
    mlflow.set_tracking_uri(uri)
    return mlflow.search_runs(experiment_names=[experiment])


def test_each_finished_run_is_one_mlflow_run_with_the_results_csv_values(study_raw, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    results = _run(_raw(study_raw, mlflow_uri=uri), tmp_path / "study")
    logged = _mlflow_runs(uri, "toy")
    assert sorted(logged[f"tags.{RUN_ID_TAG}"]) == sorted(results["run_id"]) and len(logged) == 3
    assert set(logged["status"]) == {"FINISHED"}
    for _, row in results.iterrows():
        run = logged[logged[f"tags.{RUN_ID_TAG}"] == row["run_id"]].iloc[0]
        for column in ("regime", "label"):
            assert run[f"params.{column}"] == str(row[column])
        assert float(run["params.train_fraction"]) == row["train_fraction"] and int(run["params.seed"]) == row["seed"]
        assert int(run["params.depth"]) == row["depth"]
        for column in ("val_auc", "test_auc", "test_acc", "lr", "best_epoch", "epochs_run", "n_train", "n_test"):
            assert run[f"metrics.{column}"] == pytest.approx(row[column], rel=1e-5), column
        assert run["params.config.training.batch_size"] == "16"  # the resolved settings of the run id
        history = pd.read_csv(tmp_path / "study" / "runs" / row["run_id"] / "history.csv")
        client = mlflow.tracking.MlflowClient(uri)
        steps = client.get_metric_history(run["run_id"], "history/val_auc")
        assert [(m.step, m.value) for m in sorted(steps, key=lambda m: m.step)] == \
            [(int(e), pytest.approx(v)) for e, v in zip(history["epoch"], history["val_auc"], strict=True)]
        artifacts = {a.path for a in client.list_artifacts(run["run_id"])}
        assert {"config.json", "metrics.json", "history.csv", "predictions_test.csv"} <= artifacts
        assert Path(run["artifact_uri"].removeprefix("file://")).is_relative_to(tmp_path / "study")


def test_a_resumed_study_logs_only_runs_not_logged_before(study_raw, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = tmp_path / "study"
    raw = _raw(study_raw)
    raw["grid"]["depths"] = [1]
    _run(raw, out)  # 2 runs, untracked
    raw = _raw(study_raw, mlflow_uri=uri, tensorboard=True)
    results = _run(raw, out)  # resumed with tracking: 1 new run, the 2 earlier ones logged too
    _run(raw, out)  # nothing new
    logged = _mlflow_runs(uri, "toy")
    assert len(logged) == 3 and sorted(logged[f"tags.{RUN_ID_TAG}"]) == sorted(results["run_id"])
    assert sorted(p.name for p in (out / "tensorboard").iterdir()) == sorted(results["run_id"])


def test_tensorboard_events_hold_each_epoch_and_the_final_metrics(study_raw, tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "study"
    results = _run(_raw(study_raw, tensorboard=True), out)
    for _, row in results.iterrows():
        events = EventAccumulator(str(out / "tensorboard" / row["run_id"]))
        events.Reload()
        history = pd.read_csv(out / "runs" / row["run_id"] / "history.csv")
        for column in ("val_auc", "val_loss", "train_loss"):
            scalars = events.Scalars(f"history/{column}")
            assert [s.step for s in scalars] == list(history["epoch"])
            np.testing.assert_allclose([s.value for s in scalars], history[column], rtol=1e-6)
        assert events.Scalars("final/test_auc")[0].value == pytest.approx(row["test_auc"], rel=1e-5)
    assert not list((out / "tensorboard").glob(".*"))  # no temporary folder left


def test_tracking_changes_no_run_id(study_raw, tmp_path):
    plain = _run(_raw(study_raw), tmp_path / "plain")
    tracked = _run(_raw(study_raw, tensorboard=True, mlflow_uri=f"sqlite:///{tmp_path / 'm.db'}"),
                   tmp_path / "tracked")
    assert sorted(plain["run_id"]) == sorted(tracked["run_id"])
    assert json.loads((tmp_path / "tracked" / "study.json").read_text())["tracking"]["tensorboard"] is True


def test_a_relative_sqlite_uri_is_read_from_the_study_files_folder(study_raw, tmp_path):
    config = parse_study(_raw(study_raw, mlflow_uri="sqlite:///runs/mlflow.db"), base_dir=tmp_path)
    assert config.tracking.mlflow_uri == f"sqlite:///{tmp_path.resolve() / 'runs' / 'mlflow.db'}"


def test_a_store_that_cannot_be_opened_stops_the_study_before_anything_is_written(study_raw, tmp_path):
    out = tmp_path / "study"
    (tmp_path / "mlflow.db").write_text("not a database")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(ConfigError, match=r"^\[tracking\] mlflow_uri .*cannot open the MLflow store") as info:
        run_study(parse_study(_raw(study_raw, mlflow_uri=uri), base_dir=tmp_path), out)
    assert "\n" not in str(info.value) and not out.exists()


@pytest.mark.parametrize(("setting", "module", "extra"), [({"mlflow_uri": "sqlite:///m.db"}, "mlflow", "mlflow"),
                                                          ({"tensorboard": True}, "tensorboard", "tensorboard")])
def test_a_missing_extra_is_named_in_one_line(study_raw, tmp_path, monkeypatch, setting, module, extra):
    real_import = builtins.__import__

    def without(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == module or name.startswith(f"{module}."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without)
    out = tmp_path / "study"
    with pytest.raises(ConfigError, match=rf"pip install 'tunedepth\[{extra}\]'"):
        run_study(parse_study(_raw(study_raw, **setting), base_dir=tmp_path), out)
    assert not out.exists()


def test_a_logging_error_during_the_study_is_a_warning_and_the_run_is_logged_at_the_end(study_raw, tmp_path,
                                                                                      monkeypatch, caplog):
    from tunedepth.study import tracking

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    calls = {"n": 0}
    real = tracking._Mlflow.log

    def flaky(self: Any, run: Any, study: str) -> bool:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("server went away")
        return real(self, run, study)

    monkeypatch.setattr(tracking._Mlflow, "log", flaky)
    results = _run(_raw(study_raw, mlflow_uri=uri), tmp_path / "study")
    assert "could not be logged (OSError: server went away)" in caplog.text
    assert sorted(_mlflow_runs(uri, "toy")[f"tags.{RUN_ID_TAG}"]) == sorted(results["run_id"])
