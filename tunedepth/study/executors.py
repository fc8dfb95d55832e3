"""Where a study's pending runs execute: one after another in this process, or in a pool of worker processes.

An executor takes the indices of the pending runs of a prepared study and runs each through
:func:`~tunedepth.study.runner.run_recorded` (which records a failure instead of raising). The serial executor
shares the process's feature cache; the process pool gives each worker the study prepared by the study's process,
its arrays memory-mapped (:mod:`tunedepth.study.shared_prepared`, loaded once by :func:`_init_worker`), its share of
the CPU threads and, on CUDA, a GPU in turn. ``executor = "ray"`` is
:mod:`tunedepth.study.ray_executor`.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import logging
import multiprocessing
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import torch

from tunedepth.config import ExecutionConfig, StudyConfig
from tunedepth.errors import ExecutionError
from tunedepth.models import get_architecture
from tunedepth.results import StudyStore
from tunedepth.study.prepare import PreparedStudy, resolve_device
from tunedepth.study.runner import StudyProgress, run_recorded
from tunedepth.study.shared_prepared import load_prepared, save_prepared
from tunedepth.study.tasks import STUDY_TASKS
from tunedepth.training import FeatureStore

logger = logging.getLogger(__name__)

__all__ = ["feature_store", "plugin_modules", "resolve_workers", "run_in_processes", "run_serially", "set_numerics",
           "threads_per_worker", "worker_gpu"]


def resolve_workers(execution: ExecutionConfig, device: torch.device) -> int:
    """The number of parallel run processes: ``execution.workers``, where "auto" is one process per GPU on CUDA
    and 1 on the CPU (measured faster than 2 processes x 1 thread on 2 cores; see docs/benchmarks.md)."""
    if execution.workers != "auto":
        return int(execution.workers)
    return max(1, torch.cuda.device_count()) if device.type == "cuda" else 1


def worker_gpu(worker_index: int, n_gpus: int) -> int | None:
    """The GPU a worker process uses: workers take the GPUs in turn; None without CUDA.

    Example:
        >>> [worker_gpu(i, 2) for i in range(3)], worker_gpu(0, 0)
        ([0, 1, 0], None)
    """
    return worker_index % n_gpus if n_gpus else None


def threads_per_worker(execution: ExecutionConfig, workers: int) -> int:
    """torch threads of each of ``workers`` processes: ``execution.num_threads``, else the cores shared out."""
    return execution.num_threads or max(1, (os.cpu_count() or 1) // workers)


def set_numerics(threads: int, device: torch.device) -> None:
    """This process's torch threads, cuDNN autotuning on CUDA, and denormals flushed to zero."""
    if device.type == "cuda":
        # Let cuDNN pick the fastest convolution algorithms for the (fixed) input sizes; this makes CUDA runs
        # non-deterministic at the level of rounding (see docs/benchmarks.md).
        torch.backends.cudnn.benchmark = True
    torch.set_num_threads(threads)
    # Denormal floats appear while training (tiny activations and gradients) and slow CPU
    # kernels by up to 10x (measured: EfficientNet-Lite0 at 64 px fell from 200 to 16 img/s
    # in the third run of one process). Flushing them to zero is deterministic.
    torch.set_flush_denormal(True)


def return_freed_memory() -> None:
    """Give the heap memory this process has freed back to the system, where the C library allows it.

    glibc keeps freed blocks for reuse, so a process that computed large tensors and dropped them keeps their
    resident size (measured: the study process held 1.4 GiB while its two workers trained the demo). On other C
    libraries this does nothing.
    """
    gc.collect()
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    trim = getattr(libc, "malloc_trim", None)
    if trim is not None:
        trim(0)


def feature_store(config: StudyConfig, cache_dir: Path, *, shared: bool) -> FeatureStore | None:
    """The frozen-feature cache of a study (None when ``execution.feature_cache`` is off); ``shared`` keeps every
    feature in memory-mapped files under ``cache_dir``, which worker processes read."""
    execution = config.execution
    if not execution.feature_cache:
        return None
    budget = 0 if shared else int(execution.feature_cache_memory_gb * 2**30)
    return FeatureStore(dtype=execution.feature_cache_dtype, memory_budget_bytes=budget, directory=cache_dir,
                        device=resolve_device(execution.device))


def run_serially(prepared: PreparedStudy, pending: list[int], store: StudyStore, *, progress: StudyProgress | None,
                 features: FeatureStore | None) -> None:
    """Run the pending runs one after another in this process, sharing its feature cache."""
    for i in pending:
        spec = prepared.runs[i]
        if progress is not None:
            progress.run_started(spec, prepared.run_ids[i], prepared.config.training.max_epochs)
        metrics = run_recorded(prepared, i, store, progress=progress, features=features)
        if progress is not None:
            progress.run_ended(spec, metrics)


class _Worker:
    """The study of one worker process, set up once by :func:`_init_worker`."""

    prepared: PreparedStudy
    store: StudyStore
    features: FeatureStore | None


def _init_worker(config: StudyConfig, out_dir: Path, threads: int, cache_dir: Path, plugins: tuple[str, ...],
                 counter: Any, allowed_cuts: set[int] | None, prepared_dir: Path) -> None:
    for plugin in plugins:
        importlib.import_module(plugin)  # registers a plug-in architecture or task its module defines
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    device = resolve_device(config.execution.device)
    gpu = worker_gpu(index, torch.cuda.device_count()) if device.type == "cuda" else None
    if gpu is not None:
        torch.cuda.set_device(gpu)
    set_numerics(threads, device)
    _Worker.prepared = load_prepared(prepared_dir)  # prepared once by the study's process, arrays memory-mapped
    _Worker.store = StudyStore(out_dir)
    _Worker.features = feature_store(config, cache_dir, shared=True)
    if _Worker.features is not None:
        _Worker.features.allowed_cuts = allowed_cuts  # decided by the parent, which computed the shared files


def _worker_run(index: int) -> dict[str, Any]:
    return run_recorded(_Worker.prepared, index, _Worker.store, features=_Worker.features)


def plugin_modules(config: StudyConfig) -> tuple[str, ...]:
    """Modules a spawned worker imports before it prepares the study, so that an architecture or a task registered
    from outside the package (a plug-in, a test) is registered there too: the architecture's and the task's."""
    return (get_architecture(config.model.architecture).build_net.__module__,
            STUDY_TASKS.get(config.task).prepare.__module__)


def run_in_processes(prepared: PreparedStudy, pending: list[int], store: StudyStore, *, workers: int,
                     progress: StudyProgress | None, allowed_cuts: set[int] | None) -> None:
    """Run the pending runs in ``workers`` spawned processes, with ``execution.num_threads`` threads each.

    Raises:
        ExecutionError: if a worker process dies without a Python error (killed by the system); the runs finished
            so far are kept.
    """
    config, out_dir = prepared.config, store.root
    context = multiprocessing.get_context("spawn")  # fork after OpenMP has started can deadlock the child
    threads = threads_per_worker(config.execution, workers)
    logger.info("running %d runs in %d processes x %d threads", len(pending), workers, threads)
    prepared_dir = save_prepared(prepared, store.layout.prepared_dir)
    initargs = (config, out_dir, threads, store.layout.feature_cache_dir, plugin_modules(config),
                context.Value("i", 0), allowed_cuts, prepared_dir)
    try:
        _run_pool(prepared, pending, workers, context, initargs, progress, out_dir)
    finally:
        shutil.rmtree(prepared_dir, ignore_errors=True)


def _run_pool(prepared: PreparedStudy, pending: list[int], workers: int, context: Any, initargs: tuple[Any, ...],
              progress: StudyProgress | None, out_dir: Path) -> None:
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker,
                             initargs=initargs) as pool:
        futures = {pool.submit(_worker_run, i): i for i in pending}
        for future in as_completed(futures):
            try:
                metrics = future.result()
            except BrokenProcessPool as exc:  # a worker died without a Python exception (SIGKILL, out of memory)
                raise ExecutionError(
                    f"A worker process of study {out_dir} died without a Python error (killed by the system, e.g. "
                    "for lack of memory); the runs finished so far are kept. Run the same command again to resume, "
                    "with fewer execution.workers or a smaller training.batch_size."
                ) from exc
            if progress is not None:
                progress.run_ended(prepared.runs[futures[future]], metrics)
