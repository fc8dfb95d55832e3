"""`tunedepth status`: where a study stands, read from its folder while it runs and after."""

from __future__ import annotations

import copy
import json
import math
import socket
import threading

import pytest

import tunedepth.study.lr_search as lr_search_module
from tunedepth.cli.main import main
from tunedepth.config import parse_study
from tunedepth.results import study_status
from tunedepth.study import run_study


def test_status_of_a_running_study_then_of_the_finished_one(study_raw, tmp_path, monkeypatch, capsys):
    raw = copy.deepcopy(study_raw)  # 6 runs: scratch, depths 1 and 4, at 2 fractions; one at a time
    raw["execution"] = {"num_threads": 1, "workers": 1}
    real_train = lr_search_module.train_model
    started, release, calls = threading.Event(), threading.Event(), []

    def train(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # the third run waits, so the study is caught in the middle
            started.set()
            assert release.wait(60)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(lr_search_module, "train_model", train)
    out = tmp_path / "out"
    study = threading.Thread(target=run_study, args=(parse_study(raw, base_dir=tmp_path), out))
    study.start()
    try:
        assert started.wait(60)
        state = study_status(out)
        assert state.running and state.executor == "local"
        assert [r.state for r in state.runs] == ["finished", "finished", "running", "pending", "pending", "pending"]
        running = state.runs[2]
        assert running.host == socket.gethostname() and running.seconds >= 0
        assert state.elapsed > 0 and math.isfinite(state.remaining) and state.remaining > 0
        assert main(["status", str(out)]) == 0
        printed = capsys.readouterr().out
        assert "running (local); 2 finished, 1 running, 3 pending of 6 runs" in printed
        assert f"running: {running.label} @ 1, seed 0 [{running.run_id}] on {running.host}" in printed
    finally:
        release.set()
        study.join()
    state = study_status(out)
    assert not state.running and state.count("finished") == 6 and math.isnan(state.remaining)


def test_a_run_left_training_by_a_killed_study_is_interrupted_not_running(study_raw, tmp_path):
    raw = copy.deepcopy(study_raw)
    raw["grid"]["train_fractions"] = [1.0]
    out = tmp_path / "out"
    run_study(parse_study(raw, base_dir=tmp_path), out)
    plan = json.loads((out / "plan.json").read_text())
    rid = plan["runs"][0]["run_id"]
    (out / "runs" / rid / "metrics.json").unlink()  # as if it had not finished ...
    (out / "runs" / f".{rid}.running.tmp").write_text(json.dumps({"host": "h", "pid": 1, "started": 0.0}))
    state = study_status(out)  # ... and its process had been killed (the lock is free)
    assert state.runs[0].state == "interrupted" and not state.running


def test_status_of_a_folder_that_is_not_a_study_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["status", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "plan.json" in err and "\n" not in err


@pytest.mark.parametrize(("seconds", "text"), [(42, "42 s"), (200, "3 min 20 s"), (3900, "1 h 05 min")])
def test_durations_read_as_people_say_them(seconds, text):
    from tunedepth.cli._app import duration as _duration

    assert _duration(seconds) == text
