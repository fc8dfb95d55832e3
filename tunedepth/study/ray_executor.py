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
"""

from __future__ import annotations

import importlib
import logging
import os
import secrets
import shutil
import socket
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import IO, Any

from tunedepth._io import atomic_write, atomic_write_dir
from tunedepth.config import StudyConfig
from tunedepth.errors import ConfigError, ExecutionError
from tunedepth.results import StudyStore
from tunedepth.study.executors import feature_store, plugin_modules, set_numerics
from tunedepth.study.prepare import PreparedStudy, prepare_study, resolve_device
from tunedepth.study.runner import StudyProgress, run_recorded

logger = logging.getLogger(__name__)

__all__ = ["RAY_CHECK_FILE", "check_ray_installed", "run_on_ray"]

RAY_CHECK_FILE = ".ray-shared-fs-check"
"""A file the driver writes into the study folder with a random token; every task reads it back first, so a node
that does not see the study folder (no shared file system) fails fast."""

_NOT_INSTALLED = ("execution.executor = 'ray' needs Ray, which is not installed; install it with pip install "
                  "'tunedepth[ray]', or set executor = 'local'.")


def check_ray_installed() -> None:
    """Raise a one-line :class:`~tunedepth.errors.ConfigError` naming the extra when Ray cannot be imported."""
    if importlib.util.find_spec("ray") is None:
        raise ConfigError(_NOT_INSTALLED)


class _WorkerStudy:
    """The prepared study of this Ray worker process, set up by its first task and kept for the next ones."""

    key: tuple[str, str] | None = None
    prepared: PreparedStudy
    store: StudyStore
    features: Any


def _task(config: StudyConfig, out_dir: str, index: int, threads: int, token: str, plugins: tuple[str, ...],
          allowed_cuts: set[int] | None) -> dict[str, Any]:
    """One run, in a Ray worker process (see the module docstring). With ``ship_results`` the run is written into
    a temporary folder of this node and its files are returned: ``{"metrics": ..., "files": {name: bytes}}``."""
    ship = config.execution.ray.ship_results
    root = Path(tempfile.mkdtemp(prefix="tunedepth-ray-")) if ship else Path(out_dir)
    if not ship:
        _check_shared_folder(root, token)
    key = (out_dir, token)
    if _WorkerStudy.key != key:
        for plugin in plugins:
            importlib.import_module(plugin)
        device = resolve_device(config.execution.device)
        set_numerics(threads, device)
        _WorkerStudy.prepared = prepare_study(config, Path(out_dir) if not ship else root)
        _WorkerStudy.store = StudyStore(Path(out_dir))
        # shipped runs cannot read the driver's feature files: this worker computes (and keeps) its own features
        _WorkerStudy.features = feature_store(config, _WorkerStudy.store.layout.feature_cache_dir, shared=not ship)
        if _WorkerStudy.features is not None and not ship:
            _WorkerStudy.features.allowed_cuts = allowed_cuts
        _WorkerStudy.key = key
    if not ship:
        return run_recorded(_WorkerStudy.prepared, index, _WorkerStudy.store, features=_WorkerStudy.features)
    try:
        store = StudyStore(root)
        metrics = run_recorded(_WorkerStudy.prepared, index, store, features=_WorkerStudy.features)
        folder = store.run_dir(_WorkerStudy.prepared.run_ids[index])
        files = {f.name: f.read_bytes() for f in sorted(folder.iterdir()) if f.is_file()}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    size_mb = sum(len(b) for b in files.values()) / 2**20
    limit = config.execution.ray.ship_max_mb
    if size_mb > limit:
        raise ExecutionError(f"Run {_WorkerStudy.prepared.run_ids[index]} wrote {size_mb:.0f} MB, more than "
                             f"execution.ray.ship_max_mb = {limit:g}; raise it, or put the study folder on a shared "
                             "file system and set ship_results = false.")
    return {"metrics": metrics, "files": files}


def _check_shared_folder(root: Path, token: str) -> None:
    """Raise a one-line ExecutionError unless this node sees the driver's token in the study folder."""
    try:
        seen = (root / RAY_CHECK_FILE).read_text().strip()
    except OSError:
        seen = ""
    if seen != token:
        raise ExecutionError(
            f"Ray worker on host {socket.gethostname()} cannot see the study folder {root} (its "
            f"{RAY_CHECK_FILE} is missing or from another study); put the study folder on a file system every Ray "
            "node mounts at the same path, or set execution.ray.ship_results = true.")


def _write_bytes(data: bytes, fh: IO[bytes]) -> None:
    fh.write(data)


def _write_shipped(store: StudyStore, run_id: str, files: dict[str, bytes]) -> None:
    """Write a shipped run folder into the study folder whole (its ``metrics.json`` last, as every run's)."""
    def write(folder: Path) -> None:
        for name in sorted(files, key=lambda n: n == "metrics.json"):
            data = files[name]
            atomic_write(folder / name, partial(_write_bytes, data))

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
    try:
        remote = ray.remote(_task).options(num_cpus=settings.cpus_per_run, num_gpus=settings.gpus_per_run,
                                          max_retries=settings.max_retries, retry_exceptions=False)
        plugins = plugin_modules(config)
        waiting: list[int] = list(pending)
        in_flight: dict[Any, int] = {}
        limit = settings.max_concurrent or len(pending)
        logger.info("running %d runs on Ray (%s), %g CPU and %g GPU each, at most %d at once", len(pending),
                    settings.address or "local instance", settings.cpus_per_run, settings.gpus_per_run, limit)
        while waiting or in_flight:
            while waiting and len(in_flight) < limit:
                index = waiting.pop(0)
                ref = remote.remote(config, str(store.root), index, threads, token, plugins, allowed_cuts)
                in_flight[ref] = index
                if progress is not None:
                    progress.run_started(prepared.runs[index], prepared.run_ids[index], config.training.max_epochs)
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            index = in_flight.pop(ready[0])
            try:
                metrics = ray.get(ready[0])
            except ray.exceptions.RayTaskError as exc:
                cause = exc.cause if isinstance(exc.cause, ExecutionError) else None
                raise ExecutionError(str(cause) if cause is not None else
                                     f"A Ray task of study {store.root} failed outside its run "
                                     f"({type(exc.cause).__name__}: {exc.cause}); the runs finished so far are "
                                     "kept. Run the same command again to resume.") from None
            except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                    ray.exceptions.OutOfMemoryError) as exc:
                raise ExecutionError(
                    f"The Ray worker of run {prepared.run_ids[index]} of study {store.root} was lost "
                    f"{settings.max_retries + 1} times ({type(exc).__name__}); the runs finished so far are kept. "
                    "Run the same command again to resume, with a larger execution.ray.max_retries or fewer "
                    "runs at once.") from None
            if settings.ship_results:
                _write_shipped(store, prepared.run_ids[index], metrics["files"])
                metrics = metrics["metrics"]
            if progress is not None:
                progress.run_ended(prepared.runs[index], metrics)
    finally:
        check.unlink(missing_ok=True)
        if started:
            ray.shutdown()
