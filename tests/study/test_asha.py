"""How a run's ASHA trials become its learning-rate search (tunedepth/study/asha.py ``load_asha_search``), from
trial states written by hand: no Ray needed. The Ray Tune scheduling itself is tested in test_ray.py."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import build_toy
from tunedepth.errors import ExecutionError
from tunedepth.study.asha import load_asha_search
from tunedepth.study.run_setup import RunSetup
from tunedepth.training import TrainingDivergedError, TrainResult

LRS = (0.1, 0.03, 0.01, 0.003)


def _result(score: float, epochs: int) -> TrainResult:
    return TrainResult(best_epoch=epochs, best_val_score=score, epochs_run=epochs, history=(), train_seconds=1.0,
                       val_log_odds=np.zeros((1, 2)), selection_score=score)


def _write(folder: Path, k: int, *, score: float | None = None, epochs: int = 1, finished: bool = False,
           diverged: str = "", seed: int = 0) -> None:
    state: dict = {"lr": LRS[k], "cut": 0, "reason": "feature_cache = false"}
    if diverged:
        state["diverged"] = diverged
    else:
        state |= {"result": _result(score if score is not None else math.nan, epochs), "finished": finished}
        torch.manual_seed(seed)
        torch.save(build_toy().state_dict(), folder / f"trial-{k}.weights.pt")
    torch.save(state, folder / f"trial-{k}.pt")


def _setup() -> RunSetup:
    return RunSetup(build=lambda: (build_toy(), 0, "feature_cache = false"), cached_inputs=lambda m, c: (None, None),
                    policy=lambda lr: None, trainer_args={}, on_epoch_end=None)


def test_the_best_trial_the_scheduler_did_not_stop_is_kept_with_its_weights(tmp_path):
    _write(tmp_path, 0, score=0.95, epochs=2)                   # stopped at the second rung, though best so far
    _write(tmp_path, 1, score=0.90, epochs=8, finished=True, seed=1)
    _write(tmp_path, 2, score=0.93, epochs=8, finished=True, seed=2)
    _write(tmp_path, 3, score=0.50, epochs=1)                   # stopped at the first rung
    search = load_asha_search(tmp_path, LRS, 1, _setup())
    assert search.best.lr == 0.01 and search.best.eliminated_in_round is None
    assert [t.eliminated_in_round for t in search.trials] == [1, None, None, 0]
    torch.manual_seed(2)
    expected = build_toy().state_dict()
    assert all(torch.equal(search.model.state_dict()[name], value) for name, value in expected.items())
    records = [t.record() for t in search.trials]
    assert records[0]["eliminated_in_round"] == 1 and "eliminated_in_round" not in records[2]


def test_rungs_count_from_the_first_round_epochs(tmp_path):
    for k, epochs in enumerate((2, 4, 8)):
        _write(tmp_path, k, score=0.9, epochs=epochs)
    _write(tmp_path, 3, score=0.8, epochs=16, finished=True)
    search = load_asha_search(tmp_path, LRS, 2, _setup())
    assert [t.eliminated_in_round for t in search.trials] == [0, 1, 2, None]


def test_ties_keep_the_earlier_learning_rate_and_diverged_ones_are_listed(tmp_path):
    _write(tmp_path, 0, diverged="training loss became nan at epoch 1")
    _write(tmp_path, 1, score=0.9, epochs=4, finished=True, seed=1)
    _write(tmp_path, 2, score=0.9, epochs=4, finished=True, seed=2)
    _write(tmp_path, 3, score=math.nan, epochs=4, finished=True, seed=3)  # an undefined score never wins
    search = load_asha_search(tmp_path, LRS, 1, _setup())
    assert search.best.lr == 0.03 and set(search.diverged) == {0.1}
    assert [t.lr for t in search.trials] == [0.03, 0.01, 0.003]


def test_when_every_trial_was_stopped_the_best_stopped_one_is_kept(tmp_path):
    for k, score in enumerate((0.7, 0.8, 0.6)):
        _write(tmp_path, k, score=score, epochs=2, seed=k)
    _write(tmp_path, 3, diverged="training loss became inf at epoch 3")
    assert load_asha_search(tmp_path, LRS, 1, _setup()).best.lr == 0.03


def test_every_trial_diverged_is_the_runs_divergence(tmp_path):
    for k in range(4):
        _write(tmp_path, k, diverged=f"loss nan ({k})")
    with pytest.raises(TrainingDivergedError, match=r"diverged at every learning rate \(lr 0.1: loss nan \(0\)"):
        load_asha_search(tmp_path, LRS, 1, _setup())


def test_a_trial_without_a_state_is_one_line(tmp_path):
    for k in range(3):
        _write(tmp_path, k, score=0.9, epochs=1, finished=True)
    with pytest.raises(ExecutionError, match=r"^The ASHA trial at lr 0.003 left no state in .*; run the same command"):
        load_asha_search(tmp_path, LRS, 1, _setup())


def test_a_probe_that_raises_comes_back_as_the_runs_error(study_raw, tmp_path, monkeypatch):
    """LP-FT's probe task reports its error instead of raising, so the driver records the run as failed and the
    study goes on (a raising task would stop the study)."""
    from tunedepth.config import parse_study
    from tunedepth.study import asha
    from tunedepth.study.ray_worker import RAY_CHECK_FILE, WorkerContext

    out = tmp_path / "out"
    out.mkdir()
    (out / RAY_CHECK_FILE).write_text("token\n")
    config = parse_study(study_raw, base_dir=tmp_path)
    context = WorkerContext(config, str(out), 1, "token", (), None)
    from tunedepth.results import StudyStore
    from tunedepth.study.prepare import prepare_study
    from tunedepth.study.shared_prepared import save_prepared

    save_prepared(prepare_study(config, out), StudyStore(out).layout.prepared_dir)  # as the driver does

    def diverges(*args, **kwargs):
        raise TrainingDivergedError("training diverged at every learning rate (lr 0.05: loss nan)")

    monkeypatch.setattr(asha, "probe_head", diverges)
    failure = asha._probe_task(context, 0)
    assert failure["error"] == "TrainingDivergedError" and failure["message"].startswith("training diverged")
    assert "Traceback" in failure["traceback"]
