"""Tests of the learning-rate search (tunedepth/study/lr_search.py): successive halving, its records, and that the
winner trains exactly as a run at that single learning rate would."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import tunedepth.study.lr_search as lr_search_module
from tunedepth.config import parse_study
from tunedepth.results import RunSpec, load_finished_study
from tunedepth.study import run_study
from tunedepth.training import TrainingDivergedError, TrainResult

SPEC = RunSpec("finetune", 1, 1.0, 0, "ft:fc")
BEST_LR = 0.01


class FakeTrainer:
    """Validation score rises with each epoch and falls with the distance of log10(lr) from log10(BEST_LR); the
    stopping rule stops after 6 epochs. lr 10 diverges in its first epoch."""

    runs: list[tuple[float, int | None]] = []

    def __init__(self, model: Any, *, policy: Any, **_: Any) -> None:
        self.model, self.lr, self.epochs_run, self.stopped = model, policy.lr, 0, False

    @property
    def selection_score(self) -> float:
        return -abs(math.log10(self.lr / BEST_LR)) + 0.01 * self.epochs_run if self.epochs_run else -math.inf

    def run(self, *, until_epoch: int | None = None) -> None:
        FakeTrainer.runs.append((self.lr, until_epoch))
        if self.lr == 10.0:
            raise TrainingDivergedError("loss became nan")
        self.epochs_run = min(6, until_epoch or 6)

    def result(self) -> TrainResult:
        return TrainResult(best_epoch=self.epochs_run, best_val_score=self.selection_score,
                           epochs_run=self.epochs_run, history=(), train_seconds=0.0, val_log_odds=np.zeros((1, 2)),
                           selection_score=self.selection_score)

    def release(self) -> None:
        self.model = None


def _search(lrs: tuple[float, ...], monkeypatch: pytest.MonkeyPatch) -> lr_search_module.LrSearch:
    FakeTrainer.runs = []
    monkeypatch.setattr(lr_search_module, "Trainer", FakeTrainer)
    return lr_search_module.search_lr(
        lambda: (object(), 0, ""), spec=SPEC, lrs=lrs, successive_halving=True, first_round_epochs=1,
        features=None, cached_inputs=lambda model, cut: (None, None), policy=lambda lr: type("P", (), {"lr": lr}),
        trainer_args={}, on_epoch_end=None)


def test_successive_halving_keeps_the_better_half_each_round(monkeypatch: pytest.MonkeyPatch) -> None:
    """6 candidates, decades from the best lr 0.01: 0.0001 (2), 0.001 (1), 0.003 (0.52), 0.01 (0), 0.1 (1), 1 (2).
    Round 0: all train 1 epoch; the better 3 go on (0.01, 0.003, and 0.001 before 0.1 on the tie, being earlier).
    Round 1: 2 epochs; the better 2 go on (0.01, 0.003). Round 2: 4 epochs; 0.01 wins and trains to the stopping
    rule. Every trial is recorded with the round after which it stopped."""
    search = _search((0.0001, 0.001, 0.003, 0.01, 0.1, 1.0), monkeypatch)
    assert FakeTrainer.runs == [(lr, 1) for lr in (0.0001, 0.001, 0.003, 0.01, 0.1, 1.0)] + \
        [(0.001, 2), (0.003, 2), (0.01, 2)] + [(0.003, 4), (0.01, 4)] + [(0.01, None)]
    assert search.best.lr == BEST_LR and search.best.eliminated_in_round is None and search.best.result.epochs_run == 6
    rounds = {t.lr: t.eliminated_in_round for t in search.trials}
    assert rounds == {0.0001: 0, 0.1: 0, 1.0: 0, 0.001: 1, 0.003: 2, 0.01: None}
    assert [t.lr for t in search.trials] == [0.0001, 0.001, 0.003, 0.01, 0.1, 1.0]  # in the order of the grid
    assert search.best.record() == {"lr": 0.01, "val_auc": search.best.result.best_val_score, "best_epoch": 6,
                                    "epochs_run": 6}
    assert next(t for t in search.trials if t.lr == 0.001).record()["eliminated_in_round"] == 1


def test_a_diverging_candidate_is_left_out_and_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    search = _search((0.01, 10.0), monkeypatch)
    assert search.best.lr == 0.01 and list(search.diverged) == [10.0]
    assert [t.lr for t in search.trials] == [0.01]


def test_ties_keep_the_earlier_learning_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    search = _search((0.1, 0.001), monkeypatch)  # equally far from 0.01
    assert search.best.lr == 0.1


def _raw(image_folder: Path, toy_checkpoint: Path, lr: Any) -> dict[str, Any]:
    return {
        "name": "toy-auto",
        "data": {"source": "image_folder", "path": str(image_folder), "image_size": 16},
        "model": {"architecture": "toy4", "weights": "checkpoint", "checkpoint": str(toy_checkpoint)},
        "grid": {"regimes": ["scratch", "finetune"], "depths": [2], "train_fractions": [1.0], "seeds": [0]},
        "training": {"lr": lr, "lr_grid": [0.0003, 0.003, 0.03, 0.3], "batch_size": 16, "max_epochs": 5,
                     "patience": 5},
        "execution": {"num_threads": 1},
    }


def test_lr_auto_chooses_per_run_and_the_winner_trains_as_a_single_lr_run_would(
        tmp_path: Path, toy_checkpoint: Path) -> None:
    """A real study with lr = "auto": each run's lr is one of the grid, every trial is recorded (with its round),
    and re-running the study at each chosen lr alone gives the same run: same best epoch, validation AUC and test
    predictions (the winner continued where it paused, with its own random streams)."""
    from tests.conftest import write_faint_image_folder

    folder = write_faint_image_folder(tmp_path / "images")
    auto = run_study(parse_study(_raw(folder, toy_checkpoint, "auto"), base_dir=tmp_path), tmp_path / "auto")
    assert auto.failures.empty
    study = load_finished_study(tmp_path / "auto")
    for run in study.runs:
        metrics = study.run_metrics(run.run_id)
        trials = metrics["lr_trials"]
        assert [t["lr"] for t in trials] == [0.0003, 0.003, 0.03, 0.3] and metrics["lr"] in (0.0003, 0.003, 0.03, 0.3)
        assert sorted(t.get("eliminated_in_round", -1) for t in trials) == [-1, 0, 0, 1]
        assert {t["epochs_run"] for t in trials if t.get("eliminated_in_round") == 0} == {1}
        single = run_study(parse_study(_raw(folder, toy_checkpoint, metrics["lr"]), base_dir=tmp_path),
                           tmp_path / f"single-{run.label}")
        row = single.results.set_index("label").loc[run.label]
        assert (row["best_epoch"], row["val_auc"], row["epochs_run"]) == (
            metrics["best_epoch"], metrics["val_auc"], metrics["epochs_run"])
        lone = load_finished_study(tmp_path / f"single-{run.label}")
        np.testing.assert_array_equal(lone.runs_of(run.arm, train_fraction=1.0)[0].test_scores, run.test_scores)
    assert set(pd.read_csv(tmp_path / "auto" / "results.csv")["lr"]) <= {0.0003, 0.003, 0.03, 0.3}


def test_the_modern_recipe_with_lr_auto_views_and_the_cache_runs_and_resumes(tmp_path: Path,
                                                                              toy_checkpoint: Path) -> None:
    """Every new training setting at once (modern recipe, lr = "auto", fixed views, the feature cache, per-epoch
    predictions) in a real study: it finishes, records what it chose, and a second call executes nothing."""
    from tests.conftest import write_faint_image_folder

    raw = _raw(write_faint_image_folder(tmp_path / "images"), toy_checkpoint, "auto")
    raw["training"] = {"recipe": "modern", "lr": "auto", "lr_grid": [0.001, 0.01], "augment_copies": 1,
                       "max_epochs": 3, "patience": 3, "batch_size": 16}
    config = parse_study(raw, base_dir=tmp_path)
    summary = run_study(config, tmp_path / "out")
    assert summary.failures.empty and summary.n_executed == 2
    study = load_finished_study(tmp_path / "out")
    finetune = next(r for r in study.runs if r.regime == "finetune")
    metrics = study.run_metrics(finetune.run_id)
    assert metrics["feature_cache"]["used"] and metrics["lr"] in (0.001, 0.01)
    assert sorted(study.run_epoch_log_odds(finetune.run_id, "val")) == [0.001, 0.01]
    again = run_study(config, tmp_path / "out")
    assert (again.n_executed, again.n_skipped) == (0, 2)
