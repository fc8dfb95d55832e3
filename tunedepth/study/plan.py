"""``tunedepth plan STUDY.toml``: what a study will run and about how long it will take, before anything runs.

The study is prepared as ``tunedepth study`` prepares it (every check, the data loaded), nothing is written. For
each run: its state in the output folder (finished, failed, to run), whether it takes its frozen prefix from the
feature cache, and an estimated time. The estimate comes from a short measured probe on this machine: for each
distinct cost class of the grid (regime, first trainable group, cached cut), a few mini-batches of training at the
study's batch size and input size, and one batch of prediction, with the study's threads per run. A run's time is
then

    epochs x (training images per epoch x training seconds per image + validation and test images x prediction
    seconds per image)

summed over the learning rates it trains (every lr of a list; successive halving's rounds for ``lr = "auto"``),
with ``epochs`` = ``max_epochs`` (more when ``min_iterations`` asks for it): an **upper bound** where early stopping
ends runs sooner. The study's time is the cached features' computation plus the runs' time divided by the runs
trained at once (``workers``; with ``lr_search = "asha"``, a run's trials at once, its search counted as successive
halving's epochs, which ASHA's matches when its trials arrive together). Model building, data loading and the
report are not counted.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from tunedepth.config import StudyConfig
from tunedepth.models import GroupedModel
from tunedepth.results import RunSpec, StudyStore
from tunedepth.study.executors import resolve_workers, threads_per_worker
from tunedepth.study.prepare import PreparedStudy, prepare_study, resolve_device
from tunedepth.study.run_setup import build_frozen_model
from tunedepth.training import cache_cut
from tunedepth.training.predict import forward_from_cut, model_inputs

__all__ = ["PlannedRun", "StudyPlan", "halving_epochs", "plan_study"]


@dataclass(frozen=True)
class PlannedRun:
    """One run of the plan: its spec, id, state in the output folder ("finished", "failed" or "to run"), the
    groups it takes from the feature cache, and its estimated seconds (NaN without a probe)."""

    spec: RunSpec
    run_id: str
    state: str
    cached_groups: int
    seconds: float


@dataclass(frozen=True)
class StudyPlan:
    """The plan of a study (see the module docstring).

    Attributes:
        runs: every run of the grid, in order.
        workers: runs trained at once.
        threads: torch threads per run.
        precompute_seconds: estimated time to compute the cached features (NaN without a probe).
    """

    runs: tuple[PlannedRun, ...]
    workers: int
    threads: int
    precompute_seconds: float

    @property
    def to_run(self) -> tuple[PlannedRun, ...]:
        return tuple(r for r in self.runs if r.state == "to run")

    @property
    def seconds(self) -> float:
        """The estimated wall-clock time of the runs still to run (NaN without a probe)."""
        if not self.to_run:
            return 0.0
        return self.precompute_seconds + sum(r.seconds for r in self.to_run) / self.workers


def halving_epochs(n_lrs: int, first_round_epochs: int, max_epochs: int) -> int:
    """Epochs trained over all learning rates by successive halving: every lr ``first_round_epochs``, the better
    half up to twice that, ..., the last one to ``max_epochs`` (:mod:`tunedepth.study.lr_search`).

    Example:
        >>> halving_epochs(4, 2, 10)  # all 4 lrs to epoch 2, the better 2 on to 4, the winner on to 10: 2+2+4+10
        18
    """
    trained = [0] * n_lrs
    alive, budget = list(range(n_lrs)), first_round_epochs
    while len(alive) > 1:
        for k in alive:
            trained[k] = min(budget, max_epochs)
        alive, budget = alive[: math.ceil(len(alive) / 2)], budget * 2
    trained[alive[0]] = max_epochs
    return sum(trained)


def _probe(model: GroupedModel, cut: int, images: torch.Tensor, *, batch_size: int, batches: int,
           device: torch.device) -> tuple[float, float]:
    """Seconds per image of a training step and of a prediction, from ``cut`` on (a few mini-batches)."""
    x = model_inputs(model, images[:batch_size], cut=0, device=device)
    if cut:
        with torch.no_grad():
            model.eval()
            x = model.forward_to(cut, x)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=1e-6, momentum=0.9) if params else None
    y = torch.zeros(x.shape[0], dtype=torch.long, device=device)
    model.train()
    times = []
    for _ in range(batches + 1):  # the first step warms up (allocations, kernels)
        started = time.perf_counter()
        loss = F.cross_entropy(forward_from_cut(model, x, cut).float(), y)
        if optimizer is not None:
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter() - started)
    model.eval()
    with torch.no_grad():
        forward_from_cut(model, x, cut)
        started = time.perf_counter()
        forward_from_cut(model, x, cut)
        predict = time.perf_counter() - started
    return float(np.mean(times[1:])) / x.shape[0], predict / x.shape[0]


def _run_epochs(prepared: PreparedStudy, n_train: int) -> tuple[int, int]:
    """(epochs over every lr the run trains, training images per epoch) for a run with ``n_train`` images."""
    tc = prepared.config.training
    passes = max(1, math.ceil(tc.epoch_images / max(n_train, 1)))
    batches = passes * max(1, math.ceil(n_train / tc.batch_size))
    epochs = max(tc.max_epochs, math.ceil(tc.min_iterations / batches))
    lrs = len(tc.lrs)
    total = halving_epochs(lrs, tc.lr_search_epochs, epochs) if tc.searches_lr and lrs > 1 else lrs * epochs
    return total, passes * n_train


def plan_study(config: StudyConfig, out_dir: Path, *, probe: bool = True, probe_batches: int = 2) -> StudyPlan:
    """The plan of the study ``config`` with its output in ``out_dir`` (see the module docstring); writes nothing.

    Raises:
        TunedepthError: for bad input, as ``tunedepth study`` would refuse it.
    """
    prepared = prepare_study(config, Path(out_dir))
    store = StudyStore(Path(out_dir))
    execution = config.execution
    device = resolve_device(execution.device)
    workers = resolve_workers(execution, device) if execution.executor == "local" else (
        execution.ray.max_concurrent or max(1, int((os.cpu_count() or 1) / execution.ray.cpus_per_run)))
    threads = threads_per_worker(execution, workers) if execution.executor == "local" else (
        execution.num_threads or max(1, int(execution.ray.cpus_per_run)))
    if config.training.searches_lr and config.training.lr_search == "asha":
        workers = min(workers, len(config.training.lrs))  # one run at a time, its trials at once
    data, task = prepared.data, prepared.task_data
    n_eval = len(data.val) + len(data.test)
    costs: dict[tuple[str, int, int, str | None], tuple[float, float]] = {}
    cached_cuts: set[int] = set()
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        runs = []
        for spec, rid in zip(prepared.runs, prepared.run_ids, strict=True):
            state = "finished" if store.is_complete(rid) else "failed" if store.is_failed(rid) else "to run"
            model = build_frozen_model(prepared, spec)
            cut = 0
            if spec.regime == "finetune" and execution.feature_cache and not config.training.augment:
                cut = cache_cut(model)[0]
            first = next((i for i, g in enumerate(model.groups)
                          if any(p.requires_grad for _, p in model.group_parameters(g))), 0)
            seconds = math.nan
            if probe and state == "to run":
                key = (spec.regime, first, cut, spec.method)
                if key not in costs:
                    costs[key] = _probe(model.to(device), cut, data.val.images, batch_size=config.training.batch_size,
                                        batches=probe_batches, device=device)
                train_cost, predict_cost = costs[key]
                n_train = len(task.train_rows(data, train_fraction=spec.train_fraction, seed=spec.seed))
                epochs, per_epoch = _run_epochs(prepared, n_train)
                seconds = epochs * (per_epoch * train_cost + n_eval * predict_cost)
                if cut:
                    cached_cuts.add(cut)
            runs.append(PlannedRun(spec, rid, state, cut, seconds))
        precompute = _precompute_seconds(prepared, cached_cuts, device) if probe else math.nan
    finally:
        torch.set_num_threads(previous)
    return StudyPlan(tuple(runs), workers, threads, precompute if cached_cuts else 0.0)


def _precompute_seconds(prepared: PreparedStudy, cuts: set[int], device: torch.device) -> float:
    """Seconds to compute the features at the deepest cut for every image (one pass serves every cut)."""
    if not cuts:
        return 0.0
    finetune = next(spec for spec in prepared.runs if spec.regime == "finetune")
    model = build_frozen_model(prepared, finetune).to(device).eval()
    data = prepared.data
    views = prepared.task_data.train_views(data, seed=finetune.seed)
    n_images = (len(data.train) if views is None else views.shape[0]) + len(data.val) + len(data.test)
    x = model_inputs(model, data.val.images[:64], cut=0, device=device)
    with torch.no_grad():
        model.forward_to(max(cuts), x)
        started = time.perf_counter()
        model.forward_to(max(cuts), x)
        per_image = (time.perf_counter() - started) / x.shape[0]
    return per_image * n_images
