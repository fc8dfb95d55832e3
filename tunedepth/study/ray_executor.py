"""``executor = "ray"``: each pending run of a study is a Ray task, on a local Ray instance or a cluster.

The driver (the process that runs :func:`~tunedepth.study.run_study`) holds the study folder and its lock, as with
the local executors; it prepares the study, computes the shared frozen-feature cache into memory-mapped files in the
study folder (as for worker processes), and submits one task per pending run with ``[execution.ray]``'s resources.
A task prepares the study once per Ray worker process (kept between tasks), maps the cached features, and runs
:func:`~tunedepth.study.runner.run_recorded`, which writes the run's folder atomically into the study folder — so
the folder must be on a file system every node sees; a task that cannot see it fails fast with one line.

What Ray adds and what it does not change: a run that raises is recorded as failed by the task itself and the
study goes on (``--retry-failed`` as usual); a task whose worker process or node is lost (SIGKILL, out of memory) is
re-run by Ray up to ``max_retries`` times (its half-written folder is a temporary one, never a finished run);
resuming skips the finished runs whichever executor wrote them, since they are keyed by run id.

With ``lr_search = "asha"`` a run is not one task: :mod:`tunedepth.study.asha` runs its learning rates as Ray Tune
trials from the driver, then one task keeps the best.
"""

from __future__ import annotations

import importlib
import logging
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from tunedepth._io import atomic_write_bytes, atomic_write_dir
from tunedepth.errors import ConfigError, ExecutionError
from tunedepth.results import StudyStore
from tunedepth.study.executors import plugin_modules
from tunedepth.study.prepare import PreparedStudy
from tunedepth.study.ray_worker import RAY_CHECK_FILE, WorkerContext, worker_study
from tunedepth.study.runner import StudyProgress, run_recorded
from tunedepth.study.shared_prepared import save_prepared

logger = logging.getLogger(__name__)

__all__ = ["check_ray_installed", "run_on_ray", "task_result"]

_NOT_INSTALLED = ("execution.executor = 'ray' needs Ray, which is not installed; install it with pip install "
                  "'tunedepth[ray]', or set executor = 'local'.")


def check_ray_installed() -> None:
    """Raise a one-line :class:`~tunedepth.errors.ConfigError` naming the extra when Ray cannot be imported."""
    if importlib.util.find_spec("ray") is None:
        raise ConfigError(_NOT_INSTALLED)


def _task(context: WorkerContext, index: int) -> dict[str, Any]:
    """One run, in a Ray worker process (see the module docstring). With ``ship_results`` the run is written into
    a temporary folder of this node and its files are returned: ``{"metrics": ..., "files": {name: bytes}}``."""
    config = context.config
    if not config.execution.ray.ship_results:
        worker = worker_study(context)
        return run_recorded(worker.prepared, index, worker.store, features=worker.features)
    root = Path(tempfile.mkdtemp(prefix="tunedepth-ray-"))
    try:
        worker = worker_study(context, root=root)
        store = StudyStore(root)
        metrics = run_recorded(worker.prepared, index, store, features=worker.features)
        folder = store.run_dir(worker.prepared.run_ids[index])
        files = {f.name: f.read_bytes() for f in sorted(folder.iterdir()) if f.is_file()}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    size_mb = sum(len(b) for b in files.values()) / 2**20
    limit = config.execution.ray.ship_max_mb
    if size_mb > limit:
        raise ExecutionError(f"Run {worker.prepared.run_ids[index]} wrote {size_mb:.0f} MB, more than "
                             f"execution.ray.ship_max_mb = {limit:g}; raise it, or put the study folder on a shared "
                             "file system and set ship_results = false.")
    return {"metrics": metrics, "files": files}


def _write_shipped(store: StudyStore, run_id: str, files: dict[str, bytes]) -> None:
    """Write a shipped run folder into the study folder whole (its ``metrics.json`` last, as every run's)."""
    def write(folder: Path) -> None:
        for name in sorted(files, key=lambda n: n == "metrics.json"):
            data = files[name]
            atomic_write_bytes(folder / name, data)

    atomic_write_dir(store.run_dir(run_id), write)


def _connect(ray: Any, address: str | None) -> bool:
    """Join or start Ray; True when this call started a local instance (which the study then shuts down)."""
    if ray.is_initialized():
        return False
    # Workers of a local instance find the modules the driver imported (a plug-in architecture, a test's task)
    # on the driver's import path; on a cluster, install tunedepth and plug-ins on every node instead.
    runtime_env = {"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}} if address is None else None
    ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env=runtime_env)
    return address is None


def task_result(ray: Any, ref: Any, run_id: str, store: StudyStore, *, max_retries: int) -> Any:
    """The value of a finished task of run ``run_id``.

    Raises:
        ExecutionError: the task failed outside its run (a node cannot see the study folder, a run folder too large
            to ship) or its worker was lost more than ``max_retries`` times.
    """
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = exc.cause if isinstance(exc.cause, ExecutionError) else None
        raise ExecutionError(str(cause) if cause is not None else
                             f"A Ray task of study {store.root} failed outside its run "
                             f"({type(exc.cause).__name__}: {exc.cause}); the runs finished so far are "
                             "kept. Run the same command again to resume.") from None
    except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
            ray.exceptions.OutOfMemoryError) as exc:
        raise ExecutionError(
            f"The Ray worker of run {run_id} of study {store.root} was lost {max_retries + 1} times "
            f"({type(exc).__name__}); the runs finished so far are kept. Run the same command again to resume, "
            "with a larger execution.ray.max_retries or fewer runs at once.") from None


def run_on_ray(prepared: PreparedStudy, pending: list[int], store: StudyStore, *, progress: StudyProgress | None,
               allowed_cuts: set[int] | None) -> None:
    """Run the pending runs as Ray tasks and wait for them (see the module docstring).

    Raises:
        ConfigError: Ray is not installed.
        ExecutionError: a task failed in a way that is not a run's own failure: a node cannot see the study folder,
            or a run's worker was lost more than ``max_retries`` times; the runs finished so far are kept.
    """
    check_ray_installed()
    import ray

    config = prepared.config
    settings = config.execution.ray
    threads = config.execution.num_threads or max(1, int(settings.cpus_per_run))
    token = secrets.token_hex(16)
    check = store.root / RAY_CHECK_FILE
    check.write_text(token + "\n")
    started = _connect(ray, settings.address)
    context = WorkerContext(config, str(store.root), threads, token, plugin_modules(config), allowed_cuts)
    if not settings.ship_results:  # the workers map the study prepared here (a shared folder), not prepare it again
        save_prepared(prepared, store.layout.prepared_dir)
    try:
        if config.training.searches_lr and config.training.lr_search == "asha" and len(config.training.lrs) > 1:
            from tunedepth.study.asha import run_with_asha  # Ray Tune, only for this search

            run_with_asha(ray, prepared, pending, store, context=context, progress=progress)
            return
        remote = ray.remote(_task).options(num_cpus=settings.cpus_per_run, num_gpus=settings.gpus_per_run,
                                          max_retries=settings.max_retries, retry_exceptions=False)
        waiting: list[int] = list(pending)
        in_flight: dict[Any, int] = {}
        limit = settings.max_concurrent or len(pending)
        logger.info("running %d runs on Ray (%s), %g CPU and %g GPU each, at most %d at once", len(pending),
                    settings.address or "local instance", settings.cpus_per_run, settings.gpus_per_run, limit)
        while waiting or in_flight:
            while waiting and len(in_flight) < limit:
                index = waiting.pop(0)
                in_flight[remote.remote(context, index)] = index
                if progress is not None:
                    progress.run_started(prepared.runs[index], prepared.run_ids[index], config.training.max_epochs)
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            index = in_flight.pop(ready[0])
            metrics = task_result(ray, ready[0], prepared.run_ids[index], store, max_retries=settings.max_retries)
            if settings.ship_results:
                _write_shipped(store, prepared.run_ids[index], metrics["files"])
                metrics = metrics["metrics"]
            if progress is not None:
                progress.run_ended(prepared.runs[index], metrics)
    finally:
        check.unlink(missing_ok=True)
        shutil.rmtree(store.layout.prepared_dir, ignore_errors=True)
        if started:
            ray.shutdown()
