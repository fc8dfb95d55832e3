"""``training.lr_search = "asha"``: a run's learning rates as Ray Tune trials, scheduled from the driver by ASHA.

With ``lr = "auto"``, ``lr_search = "asha"`` and ``executor = "ray"``, each pending run goes through three steps,
one run after the other (a run's trials in parallel, at most ``max_concurrent`` at once):

1. when its tuning method starts from a probed head (LP-FT), a Ray task trains the probe (its own learning rate
   chosen in that task by successive halving) and returns the head's weights;
2. the driver runs a Ray Tune experiment with one trial per learning rate of ``lr_grid``, each holding
   ``cpus_per_run``/``gpus_per_run``. A trial trains the run at its learning rate one epoch at a time and reports
   its ranking score so far (the best epoch's ``epoch_metric``); the ASHA scheduler (Li et al., "A System for
   Massively Parallel Hyperparameter Tuning", MLSys 2020) stops the trials below the better half at each rung
   (``lr_search_epochs`` epochs, then twice as many, ...), the rungs of successive halving. The scheduler runs
   in the driver, which holds no Ray CPU, so a machine with as many CPUs as trials at once cannot deadlock. Every
   trial writes its state after each epoch (its history, per-epoch predictions and, when its best epoch changes,
   its weights) into ``runs/.<run_id>.asha.tmp/`` in the study folder, so a stopped trial is recorded as far as
   it went;
3. a Ray task keeps the best trial that was not stopped (by ``epoch_metric``, the earlier learning rate among
   equals), loads its best epoch's weights and evaluates and writes the run as every run is written, every trial
   listed in ``metrics.json``'s ``lr_trials`` (a stopped one with ``eliminated_in_round``, its rung).

What differs from ``halving``: ASHA decides as trials arrive at a rung, not when every trial of a round is in, so
which trials are stopped (and, when two learning rates are close, which is kept) depends on their timing: with
fewer trials at once than learning rates, the first trials reach each rung unopposed and go on. Two runs of the
same study can therefore keep different learning rates; the run id is the same (it hashes the settings, not the
outcome). Each trial alone is as deterministic as any run (its seed starts it), and the kept trial's training is
exactly a single-lr run's. The trials' states need the shared study folder: ``ship_results`` is refused with it.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import socket
import time
import traceback
from functools import partial
from pathlib import Path
from typing import Any

import torch

from tunedepth._io import atomic_write
from tunedepth.errors import ExecutionError
from tunedepth.results import StudyStore
from tunedepth.study.lr_search import LrSearch, Trial, all_diverged, start_trainer
from tunedepth.study.prepare import PreparedStudy, resolve_device
from tunedepth.study.ray_executor import task_result
from tunedepth.study.ray_worker import WorkerContext, worker_study
from tunedepth.study.run_setup import RunSetup, run_method, run_setup
from tunedepth.study.runner import DecidedSearch, Probe, StudyProgress, probe_head, record_failure, run_recorded
from tunedepth.training import TrainingDivergedError

logger = logging.getLogger(__name__)

__all__ = ["load_asha_search", "run_with_asha", "trials_folder"]

_WORST = -1e30
"""The score reported for a trial whose ranking score is undefined (NaN): below every real one."""


def trials_folder(store: StudyStore, run_id: str) -> Path:
    """Where the trials of run ``run_id`` keep their states while it searches (removed when the run ends, and
    with a killed study's other temporary folders on resume)."""
    return store.layout.runs_dir / f".{run_id}.asha.tmp"


def _save(path: Path, obj: Any) -> None:
    atomic_write(path, partial(torch.save, obj))


def _trial(params: dict[str, Any], *, context: WorkerContext, index: int, trials_dir: str,
           probe: Probe | None) -> None:
    """One learning rate of run ``index``: train it an epoch at a time, write its state, report its score."""
    from ray import tune

    worker = worker_study(context)
    prepared = worker.prepared
    spec, lrs = prepared.runs[index], prepared.config.training.lrs
    lr = float(params["lr"])
    k = lrs.index(lr)
    folder = Path(trials_dir)
    setup = run_setup(prepared, spec, device=resolve_device(context.config.execution.device),
                      features=worker.features, head=None if probe is None else probe.head)
    trainer, cut, reason = start_trainer(setup.build, spec, lr, cached_inputs=setup.cached_inputs,
                                         policy=setup.policy, trainer_args=setup.trainer_args, on_epoch_end=None)
    saved_best = 0
    while not trainer.stopped:
        try:
            trainer.run(until_epoch=trainer.epochs_run + 1)
        except TrainingDivergedError as exc:
            _save(folder / f"trial-{k}.pt", {"lr": lr, "cut": cut, "reason": reason, "diverged": str(exc)})
            return
        if trainer.best_epoch != saved_best and trainer.best_state is not None:
            _save(folder / f"trial-{k}.weights.pt", trainer.best_state)
            saved_best = trainer.best_epoch
        _save(folder / f"trial-{k}.pt", {"lr": lr, "cut": cut, "reason": reason, "result": trainer.summary(),
                                         "finished": trainer.stopped})
        score = trainer.selection_score
        tune.report({"score": score if math.isfinite(score) else _WORST, "epoch": trainer.epochs_run})


def load_asha_search(folder: Path, lrs: tuple[float, ...], first_round_epochs: int, setup: RunSetup) -> LrSearch:
    """The outcome of a run's ASHA trials from their states in ``folder``: every trial, the kept one (the best by
    ``epoch_metric`` among those the scheduler did not stop; among all when it stopped every one that did not
    diverge), its model at its best epoch's weights.

    Raises:
        TrainingDivergedError: training diverged at every learning rate.
        ExecutionError: a trial left no state (it never started, or failed before its first epoch).
    """
    states: dict[float, dict[str, Any]] = {}
    for k, lr in enumerate(lrs):
        path = folder / f"trial-{k}.pt"
        if not path.is_file():
            raise ExecutionError(f"The ASHA trial at lr {lr:g} left no state in {folder}; run the same command "
                                 "again to redo the run.")
        states[lr] = torch.load(path, weights_only=False)
    diverged = {lr: str(s["diverged"]) for lr, s in states.items() if "diverged" in s}
    trained = [lr for lr in lrs if lr not in diverged]
    if not trained:
        raise all_diverged(diverged)
    trials = {lr: Trial(lr, states[lr]["result"], int(states[lr]["cut"]),
                        eliminated_in_round=None if states[lr]["finished"] else _rung(
                            states[lr]["result"].epochs_run, first_round_epochs)) for lr in trained}
    candidates = [lr for lr in trained if trials[lr].eliminated_in_round is None] or trained
    best = max(candidates, key=lambda lr: (trials[lr].rank, -lrs.index(lr)))
    trials[best] = Trial(best, trials[best].result, trials[best].cut)
    model, cut, reason = setup.build()
    if cut != trials[best].cut:
        raise ExecutionError(f"The kept ASHA trial at lr {best:g} trained from feature-cache cut "
                             f"{trials[best].cut}, but the run now builds cut {cut}; run the same command again.")
    model.load_state_dict(torch.load(folder / f"trial-{lrs.index(best)}.weights.pt", weights_only=True))
    return LrSearch(tuple(trials[lr] for lr in trained), trials[best], model, diverged, reason)


def _rung(epochs_run: int, first_round_epochs: int) -> int:
    """The ASHA rung (0 = the first, after ``first_round_epochs`` epochs; each next one doubles) a trial stopped
    at after ``epochs_run`` epochs."""
    return max(0, round(math.log2(max(epochs_run, 1) / first_round_epochs)))


def _probe_task(context: WorkerContext, index: int) -> Probe | dict[str, str]:
    """The run's probed head; or, when training the probe raises (it diverged at every lr, ...), the error as a
    dict (``error``, ``message``, ``traceback``), so that the run is recorded as failed and the study goes on."""
    worker = worker_study(context)
    try:
        return probe_head(worker.prepared, worker.prepared.runs[index],
                          device=resolve_device(context.config.execution.device), features=worker.features)
    except Exception as exc:
        return {"error": type(exc).__name__, "message": str(exc), "traceback": traceback.format_exc()}


def _finish_task(context: WorkerContext, index: int, trials_dir: str, probe: Probe | None) -> dict[str, Any]:
    worker = worker_study(context)
    tc = context.config.training
    decided = DecidedSearch(load=partial(load_asha_search, Path(trials_dir), tc.lrs, tc.lr_search_epochs),
                            probe=probe)
    return run_recorded(worker.prepared, index, worker.store, features=worker.features, decided=decided)


def run_with_asha(ray: Any, prepared: PreparedStudy, pending: list[int], store: StudyStore, *,
                  context: WorkerContext, progress: StudyProgress | None) -> None:
    """Run the pending runs one after the other, each run's learning rates as ASHA-scheduled Ray Tune trials (see
    the module docstring). Ray is initialised.

    Raises:
        ExecutionError: a task or trial was lost more than ``max_retries`` times, or failed outside its run.
    """
    settings = context.config.execution.ray
    resources = {"num_cpus": settings.cpus_per_run, "num_gpus": settings.gpus_per_run,
                 "max_retries": settings.max_retries, "retry_exceptions": False}
    probe_remote = ray.remote(_probe_task).options(**resources)
    finish_remote = ray.remote(_finish_task).options(**resources)
    for index in pending:
        spec, run_id = prepared.runs[index], prepared.run_ids[index]
        if progress is not None:
            progress.run_started(spec, run_id, context.config.training.max_epochs)
        folder = trials_folder(store, run_id)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        try:
            metrics = _one_run(ray, prepared, index, store, folder, context, probe_remote, finish_remote)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        if progress is not None:
            progress.run_ended(spec, metrics)


def _one_run(ray: Any, prepared: PreparedStudy, index: int, store: StudyStore, folder: Path,
             context: WorkerContext, probe_remote: Any, finish_remote: Any) -> dict[str, Any]:
    # Tune's own console reporter (a table per experiment) would interleave with the study's progress display
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    config, run_id = context.config, prepared.run_ids[index]
    settings, tc = config.execution.ray, config.training
    probe = None
    if run_method(prepared, prepared.runs[index]).probe:
        probe = task_result(ray, probe_remote.remote(context, index), run_id, store,
                            max_retries=settings.max_retries)
        if isinstance(probe, dict):
            return record_failure(prepared, index, store, error=probe["error"], message=probe["message"],
                                  traceback_text=probe["traceback"])
    store.mark_running(run_id, host=socket.gethostname(), pid=os.getpid(), started=time.time())
    try:
        trainable = tune.with_resources(
            tune.with_parameters(_trial, context=context, index=index, trials_dir=str(folder), probe=probe),
            {"cpu": settings.cpus_per_run, "gpu": settings.gpus_per_run})
        scheduler = ASHAScheduler(time_attr="epoch", max_t=tc.max_epochs, grace_period=tc.lr_search_epochs,
                                  reduction_factor=2, stop_last_trials=False)
        tuner = tune.Tuner(
            trainable, param_space={"lr": tune.grid_search(list(tc.lrs))},
            tune_config=tune.TuneConfig(metric="score", mode="max", scheduler=scheduler, reuse_actors=True,
                                        max_concurrent_trials=settings.max_concurrent),
            run_config=tune.RunConfig(name=run_id, storage_path=str(folder / "tune"), verbose=0,
                                      failure_config=tune.FailureConfig(max_failures=settings.max_retries)))
        grid = tuner.fit()
    finally:
        store.clear_running(run_id)
    errors = [error for error in (grid[i].error for i in range(len(grid))) if error is not None]
    if errors:
        return _trial_failed(ray, prepared, index, store, errors[0], max_retries=settings.max_retries)
    logger.info("run %s: ASHA trials done, keeping the best", run_id)
    return dict(task_result(ray, finish_remote.remote(context, index, str(folder), probe), run_id, store,
                            max_retries=settings.max_retries))


def _trial_failed(ray: Any, prepared: PreparedStudy, index: int, store: StudyStore, error: BaseException, *,
                  max_retries: int) -> dict[str, Any]:
    """Record run ``index`` as failed by its trial's ``error`` (a Python error in the run), or raise when the
    trial's worker was lost more than ``max_retries`` times."""
    lost = (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError, ray.exceptions.OutOfMemoryError,
            ray.exceptions.ActorDiedError)
    cause = getattr(error, "cause", None) or error
    if isinstance(error, lost) or isinstance(cause, lost):
        raise ExecutionError(
            f"The Ray worker of an ASHA trial of run {prepared.run_ids[index]} of study {store.root} was lost "
            f"{max_retries + 1} times ({type(cause).__name__}); the runs finished so far are kept. Run the same "
            "command again to resume, with a larger execution.ray.max_retries or fewer runs at once.")
    if isinstance(cause, ExecutionError):
        raise ExecutionError(str(cause))
    text = "".join(traceback.format_exception(error))
    return record_failure(prepared, index, store, error=type(cause).__name__, message=str(cause),
                          traceback_text=text)
