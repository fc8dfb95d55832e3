"""``tunedepth rerun STUDY_DIR RUN_ID``: re-train one finished run from what its study folder stored, check that it
gives the stored predictions again, and keep its weights (``weights.safetensors``) in its run folder.

A study keeps no weights by default (``keep_checkpoints = "none"``): the answer is known only once every run is in,
and a study's weights would be the bulk of its folder. Re-making one run's weights is exact instead: a run is a
deterministic function of its settings and seed on the CPU (the same thread count, as the run's ``config.json``
records; the feature cache in the run's own precision), so the re-trained run must give the stored validation and
test log-odds again, and its weights are then the original run's. On CUDA, convolution algorithms chosen by timing
make runs differ in rounding, so a tolerance must be given.

The run is re-trained at its kept learning rate only (its probed head first, for LP-FT, as the original did): a
search's kept trial trains exactly as a run at that single learning rate (tested for successive halving and ASHA),
so the other candidates need not be trained again, and an ASHA run needs no Ray.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from tunedepth.config import StudyConfig, parse_study
from tunedepth.errors import StudyFolderError
from tunedepth.results import WEIGHTS_FILE, StudyStore
from tunedepth.study.executors import feature_store, set_numerics
from tunedepth.study.lr_search import LrSearch, search_lr
from tunedepth.study.prepare import PreparedStudy, prepare_study, resolve_device
from tunedepth.study.run_setup import RunSetup, run_method
from tunedepth.study.runner import DecidedSearch, probe_head, run_one

__all__ = ["ReproductionError", "RerunResult", "rerun_run"]


class ReproductionError(StudyFolderError):
    """A re-trained run did not give its stored predictions again (its weights are then not kept)."""


@dataclass(frozen=True)
class RerunResult:
    """What ``tunedepth rerun`` did.

    Attributes:
        run_id: the run.
        label: its arm's label, e.g. "ft:block5-classifier".
        max_abs_difference: the largest difference between the stored and the re-made log-odds (validation and
            test cases, every class).
        tolerance: the largest difference accepted.
        weights: the weights file written.
        seconds: the time it took.
        threads: the CPU threads it trained with (the original run's).
    """

    run_id: str
    label: str
    max_abs_difference: float
    tolerance: float
    weights: Path
    seconds: float
    threads: int


def rerun_run(study_dir: Path, run_id: str, *, tolerance: float | None = None) -> RerunResult:
    """Re-train run ``run_id`` of the study in ``study_dir``, check its predictions, keep its weights.

    Args:
        study_dir: a study folder.
        run_id: one of its finished runs (``results.csv``'s ``run_id``).
        tolerance: the largest accepted difference of a log-odds; default 0 on the CPU (exact) and 1e-2 on CUDA.

    Raises:
        StudyFolderError: the folder is not a study, the run is not one of its finished runs, or a study holds
            the folder now.
        ReproductionError: the re-trained run's predictions differ from the stored ones by more than
            ``tolerance``; nothing is written.
    """
    started = time.perf_counter()
    store = StudyStore(Path(study_dir))
    layout = store.layout
    if not layout.study_json.is_file():
        raise StudyFolderError(f"{study_dir} is not a study folder (no study.json); give the --out folder of a "
                               "tunedepth study.")
    if not store.is_complete(run_id):
        raise StudyFolderError(f"Run {run_id!r} is not a finished run of {study_dir}; its finished runs are the "
                               "run_id column of results.csv.")
    run_config = json.loads(layout.run_file(run_id, "config.json").read_text())
    config = _rerun_config(parse_study(json.loads(layout.study_json.read_text()), base_dir=Path(study_dir),
                                       source=str(layout.study_json)))
    device = resolve_device(config.execution.device)
    if tolerance is None:
        tolerance = 0.0 if device.type == "cpu" else 1e-2
    threads = int(run_config.get("num_threads") or torch.get_num_threads())
    previous = torch.get_num_threads()
    with store.lock():
        set_numerics(threads, device)
        try:
            prepared = prepare_study(config, Path(study_dir))
            if run_id not in prepared.run_ids:
                raise StudyFolderError(f"Run {run_id!r} is not in the grid of {layout.study_json} as this version of "
                                       "tunedepth computes run ids; re-run it with the version that wrote it.")
            index = prepared.run_ids.index(run_id)
            weights, difference = _retrain(prepared, index, store)
        finally:
            torch.set_num_threads(previous)
        if not difference <= tolerance:
            raise ReproductionError(
                f"Run {run_id} re-trained with {threads} thread(s) gives log-odds up to {difference:.3g} from the "
                f"stored ones (tolerance {tolerance:g}); its weights were not kept. On CUDA give a larger "
                "--tolerance; on the CPU, run it where the study ran (same tunedepth and torch versions).")
        store.add_run_file(run_id, WEIGHTS_FILE, weights)
    return RerunResult(run_id, prepared.runs[index].label, difference, tolerance, layout.weights_file(run_id),
                       time.perf_counter() - started, threads)


def _rerun_config(config: StudyConfig) -> StudyConfig:
    """The stored study, run here in this process with its weights kept (execution settings change no result)."""
    execution = config.execution.model_copy(update={"executor": "local", "workers": 1, "keep_checkpoints": "all"})
    return config.model_copy(update={"execution": execution})


def _retrain(prepared: PreparedStudy, index: int, store: StudyStore) -> tuple[bytes, float]:
    """Train run ``index`` again into a temporary folder: its weights file and the largest log-odds difference."""
    spec, run_id = prepared.runs[index], prepared.run_ids[index]
    config = prepared.config
    kept_lr = float(json.loads(store.layout.run_file(run_id, "metrics.json").read_text())["lr"])
    device = resolve_device(config.execution.device)
    with tempfile.TemporaryDirectory(prefix=".rerun-", suffix=".tmp", dir=store.root) as tmp:
        features = feature_store(config, Path(tmp) / "features", shared=False)
        probe = probe_head(prepared, spec, device=device, features=features) \
            if run_method(prepared, spec).probe else None

        def at_kept_lr(setup: RunSetup) -> LrSearch:
            return search_lr(setup.build, spec=spec, lrs=(kept_lr,), successive_halving=False, first_round_epochs=1,
                             features=features, cached_inputs=setup.cached_inputs, policy=setup.policy,
                             trainer_args=setup.trainer_args, on_epoch_end=None)

        scratch = StudyStore(Path(tmp) / "study")
        run_one(prepared, spec, run_id, scratch, features=features,
                decided=DecidedSearch(load=at_kept_lr, probe=probe))
        difference = max(_max_difference(store.layout.predictions_file(run_id, split),
                                         scratch.layout.predictions_file(run_id, split)) for split in ("val", "test"))
        weights = scratch.layout.weights_file(run_id).read_bytes()
    return weights, difference


def _max_difference(stored: Path, remade: Path) -> float:
    a, b = pd.read_csv(stored), pd.read_csv(remade)
    columns = [c for c in a.columns if c.startswith("log_odds_")]
    if list(a["index"]) != list(b["index"]) or columns != [c for c in b.columns if c.startswith("log_odds_")]:
        return float("inf")
    return float(np.max(np.abs(a[columns].to_numpy() - b[columns].to_numpy()), initial=0.0))
