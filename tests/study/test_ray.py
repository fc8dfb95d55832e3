"""executor = "ray" (tunedepth/study/ray_executor.py) on a local Ray instance with 2 CPUs: the same results as the
local executor, resume across executors, a lost worker retried, a failing run recorded.

Skipped, saying why, only when Ray is not installed (`pip install 'tunedepth[ray]'`; CI installs it)."""

from __future__ import annotations

import copy
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tunedepth.config import parse_study
from tunedepth.errors import ConfigError, ExecutionError
from tunedepth.study import run_study

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'tunedepth[ray]' (CI installs it)")

pytestmark = pytest.mark.run_failures_expected


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance with 2 CPUs for the module, started the way the executor starts one."""
    from tunedepth.study.ray_executor import _connect

    if not ray.is_initialized():  # the executor's own start path (PYTHONPATH for the workers), with 2 CPUs
        real_init = ray.init
        ray.init = lambda **kwargs: real_init(num_cpus=2, **kwargs)  # the machine may have more cores
        try:
            _connect(ray, None)
        finally:
            ray.init = real_init
    yield ray
    ray.shutdown()


def _raw(study_raw: dict[str, Any], **execution: Any) -> dict[str, Any]:
    raw = copy.deepcopy(study_raw)
    raw["grid"]["train_fractions"] = [1.0]
    raw["execution"] = {"num_threads": 1, **execution}
    return raw


def _results(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "results.csv").drop(columns=["train_seconds"]).set_index("run_id").sort_index()


def test_ray_gives_the_results_of_the_local_executor(local_ray, study_raw, tmp_path):
    local = run_study(parse_study(_raw(study_raw, workers=1), base_dir=tmp_path), tmp_path / "local")
    on_ray = run_study(parse_study(_raw(study_raw, executor="ray", ray={"max_concurrent": 2}), base_dir=tmp_path),
                       tmp_path / "ray")
    assert on_ray.n_executed == local.n_executed == 3
    pd.testing.assert_frame_equal(_results(tmp_path / "ray"), _results(tmp_path / "local"))
    assert not (tmp_path / "ray" / ".ray-shared-fs-check").exists()


def test_with_ship_results_workers_return_their_run_folders_and_the_driver_writes_them(local_ray, study_raw,
                                                                                        tmp_path):
    local = tmp_path / "local"
    run_study(parse_study(_raw(study_raw, workers=1), base_dir=tmp_path), local)
    shipped = tmp_path / "shipped"
    run_study(parse_study(_raw(study_raw, executor="ray", ray={"ship_results": True}), base_dir=tmp_path), shipped)
    pd.testing.assert_frame_equal(_results(shipped), _results(local))
    for run in (local / "runs").iterdir():  # the same files, the predictions byte for byte
        assert sorted(f.name for f in (shipped / "runs" / run.name).iterdir()) == sorted(f.name for f in run.iterdir())
        for name in ("predictions_val.csv", "predictions_test.csv"):
            assert (shipped / "runs" / run.name / name).read_bytes() == (run / name).read_bytes()
    too_small = _raw(study_raw, executor="ray", ray={"ship_results": True, "ship_max_mb": 1e-6})
    with pytest.raises(ExecutionError, match=r"wrote \d+ MB, more than execution.ray.ship_max_mb = 1e-06"):
        run_study(parse_study(too_small, base_dir=tmp_path), tmp_path / "too-small")
    assert not [p for p in (tmp_path / "too-small" / "runs").iterdir() if not p.name.startswith(".")]


def test_a_study_half_run_locally_finishes_on_ray_with_only_the_missing_runs(local_ray, study_raw, tmp_path):
    out = tmp_path / "out"
    run_study(parse_study(_raw(study_raw, workers=1), base_dir=tmp_path), out)
    before = _results(out)
    import shutil

    for run_id in before.index[:2]:
        shutil.rmtree(out / "runs" / run_id)
    summary = run_study(parse_study(_raw(study_raw, executor="ray"), base_dir=tmp_path), out)
    assert (summary.n_executed, summary.n_skipped) == (2, 1)
    pd.testing.assert_frame_equal(_results(out), before)


def test_a_run_that_raises_on_ray_is_recorded_as_failed_and_the_study_goes_on(local_ray, study_raw, tmp_path):
    raw = _raw(study_raw, executor="ray")
    raw["grid"]["methods"] = ["layerwise", "l2sp"]
    raw["methods"] = {"l2sp": {"beta": 1e308}}  # the head's penalty overflows at the first step: the run diverges
    summary = run_study(parse_study(raw, base_dir=tmp_path), tmp_path / "out")
    assert summary.n_executed == 4 and len(summary.results) == 3
    (failure,) = summary.failures.to_dict("records")
    assert failure["label"] == "l2sp" and failure["error"] == "TrainingDivergedError"


def _ray_task_pids() -> list[int]:
    """Processes running a run's task (Ray names a worker process after the function it executes)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"ray::_task" in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the worker process through /proc (Linux)")
def test_a_ray_worker_killed_mid_run_is_retried_and_the_study_ends_complete(local_ray, study_raw, tmp_path):
    raw = _raw(study_raw, executor="ray", ray={"max_concurrent": 1, "max_retries": 2})
    raw["training"] |= {"max_epochs": 40, "patience": 40}  # runs long enough to be killed in the middle
    killed: list[int] = []

    def kill_one() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            pids = _ray_task_pids()
            if pids and (tmp_path / "out" / "runs").is_dir():
                time.sleep(0.5)  # into the run
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one)
    killer.start()
    summary = run_study(parse_study(raw, base_dir=tmp_path), tmp_path / "out")
    killer.join()
    assert killed, "no Ray task process was found to kill"
    assert summary.n_executed == 3 and len(summary.results) == 3 and summary.failures.empty


def test_asking_for_ray_without_it_installed_is_one_line_naming_the_extra(study_raw, tmp_path, monkeypatch):
    import importlib.util

    from tunedepth.study.prepare import prepare_study

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    with pytest.raises(ConfigError, match=r"^execution.executor = 'ray' needs Ray, .*pip install 'tunedepth\[ray\]'"):
        prepare_study(parse_study(_raw(study_raw, executor="ray"), base_dir=tmp_path), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _asha_raw(study_raw: dict[str, Any]) -> dict[str, Any]:
    """One fine-tuning run whose lr_grid has two learning rates that learn and, after them, two too small to
    (ranked by validation loss: the toy's validation AUC is 1 from the first epoch at every lr)."""
    raw = _raw(study_raw, executor="ray", ray={"max_concurrent": 2})
    raw["grid"] |= {"regimes": ["finetune"], "depths": [4]}
    raw["training"] |= {"lr": "auto", "lr_search": "asha", "lr_grid": [0.05, 0.02, 1e-7, 2e-7], "max_epochs": 6,
                        "patience": 6, "epoch_metric": "loss"}
    return raw


def test_asha_stops_the_worst_trials_early_and_keeps_the_best(local_ray, study_raw, tmp_path):
    raw = _asha_raw(study_raw)
    raw["grid"]["methods"] = ["layerwise", "l2sp"]
    raw["methods"] = {"l2sp": {"beta": 1e308}}  # diverges at the first step at every lr: that run fails, the rest go on
    summary = run_study(parse_study(raw, base_dir=tmp_path), tmp_path / "asha")
    assert summary.n_executed == 2 and len(summary.results) == 1
    (failure,) = summary.failures.to_dict("records")
    assert failure["label"] == "l2sp" and failure["error"] == "TrainingDivergedError"
    run_dir = tmp_path / "asha" / "runs" / summary.results["run_id"].iloc[0]
    assert sorted(p.name for p in (tmp_path / "asha" / "runs").iterdir() if p.name.startswith(".")) == []
    metrics = json.loads((run_dir / "metrics.json").read_text())
    trials = {t["lr"]: t for t in metrics["lr_trials"]}
    assert sorted(trials) == [1e-7, 2e-7, 0.02, 0.05]
    # the two that cannot learn reach the first rung after both that do, below them: stopped after 1 epoch
    for lr in (1e-7, 2e-7):
        assert trials[lr]["eliminated_in_round"] == 0 and trials[lr]["epochs_run"] == 1
    # which of the two that learn goes on depends on their timing; the kept one trained to the end, and is the
    # best (lowest validation loss) of those not stopped
    history = pd.read_csv(run_dir / "history.csv")
    best_loss = history.groupby("base_lr")["val_loss"].min()
    finished = [lr for lr, t in trials.items() if "eliminated_in_round" not in t]
    kept = metrics["lr"]
    assert kept in finished and trials[kept]["epochs_run"] == 6
    assert best_loss[kept] == min(best_loss[lr] for lr in finished)
    # the kept trial trained exactly as a run at that single learning rate does
    single = _raw(study_raw)
    single["grid"] |= {"regimes": ["finetune"], "depths": [4]}
    single["training"] |= {"lr": kept, "max_epochs": 6, "patience": 6, "epoch_metric": "loss"}
    run_study(parse_study(single, base_dir=tmp_path), tmp_path / "single")
    (single_dir,) = (tmp_path / "single" / "runs").iterdir()
    pd.testing.assert_frame_equal(pd.read_csv(run_dir / "predictions_test.csv"),
                                  pd.read_csv(single_dir / "predictions_test.csv"))


def test_the_cluster_example_of_the_docs_is_a_valid_ray_cluster_config():
    import jsonschema
    import yaml

    config = yaml.safe_load((Path(__file__).parents[2] / "examples" / "ray-cluster.yaml").read_text())
    schema = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
    jsonschema.validate(config, schema)
    assert config["head_node_type"] in config["available_node_types"]
