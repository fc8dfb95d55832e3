"""Run a study: every pending run of the grid, resumably, then ``results.csv``.

:func:`run_study` skips runs whose ``metrics.json`` exists, so re-running an interrupted study executes only the
missing runs. A run that raises is recorded as failed in its folder (``failed.json``, ``traceback.txt``) and the
study goes on; failed runs are skipped on resume unless ``retry_failed`` is set. With the feature cache on, the
frozen features every pending fine-tuning run needs are computed first, in one pass per split.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tunedepth.config import StudyConfig, dump_resolved
from tunedepth.results import FAILURE_COLUMNS, RunSpec, StudyStore
from tunedepth.study.executors import (
    feature_store,
    resolve_workers,
    return_freed_memory,
    run_in_processes,
    run_serially,
    set_numerics,
    threads_per_worker,
)
from tunedepth.study.prepare import PreparedStudy, prepare_study, resolve_device
from tunedepth.study.run_setup import build_frozen_model
from tunedepth.study.runner import StudyProgress
from tunedepth.study.tracking import StudyTracker, open_tracker
from tunedepth.training import EpochRecord, FeatureStore, plan_cached_cuts

logger = logging.getLogger(__name__)

__all__ = ["StudySummary", "run_study"]


@dataclass(frozen=True)
class StudySummary:
    """What ``run_study`` did.

    Attributes:
        out_dir: the study folder.
        results: ``results.csv``: one row per finished run.
        n_executed: runs attempted in this call (finished or failed).
        n_skipped: runs skipped: finished before, or failed before and not retried (``n_skipped_failed`` of them).
        failures: ``failures.csv``: one row per run whose last attempt failed (this call or before), with the
            :data:`~tunedepth.results.FAILURE_COLUMNS`; empty when none.
    """

    out_dir: Path
    results: pd.DataFrame
    n_executed: int
    n_skipped: int
    failures: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(FAILURE_COLUMNS)))
    n_skipped_failed: int = 0

    @property
    def results_path(self) -> Path:
        return StudyStore(self.out_dir).results_path


def run_study(config: StudyConfig, out_dir: Path, *, progress: StudyProgress | None = None,
              retry_failed: bool = False) -> StudySummary:
    """Run every run of a study that is not finished yet, then write ``results.csv`` (and ``failures.csv``).

    Runs execute in the grid's order, one after another, or in ``execution.workers`` parallel processes with
    ``execution.num_threads`` torch threads each (:mod:`tunedepth.study.executors`). With the feature cache on,
    the features every pending fine-tuning run needs are computed first, in one pass per split, and kept in memory
    (one process) or in memory-mapped files in the study folder that the workers share; those are removed at the
    end. A run that raises is recorded as failed (see :func:`~tunedepth.study.runner.run_recorded`) and the others
    go on. Leftovers of a killed process (temporary files and folders, the feature cache) are removed first.

    Args:
        config: the validated study configuration.
        out_dir: the study folder; created after all checks pass.
        progress: optional progress callbacks (with several workers: study start and each run's end only).
        retry_failed: also re-run the runs whose last attempt failed; by default they are skipped.

    Returns:
        The summary, with the results table.

    Raises:
        TunedepthError: for bad input, before anything is written.
        StudyFolderError: if another process is running a study in ``out_dir``.
    """
    out_dir = Path(out_dir)
    prepared = prepare_study(config, out_dir)
    execution = config.execution
    workers = resolve_workers(execution, resolve_device(execution.device))
    store = StudyStore(out_dir)
    tracker = open_tracker(config, out_dir)  # a wrong tracking URI or a missing extra stops the study here
    with store.lock():
        if tracker is None:
            return _run_locked(prepared, store, workers, progress, retry_failed)
        summary = _run_locked(prepared, store, workers, _Tracked(progress, tracker, store), retry_failed)
        tracker.log_finished(store, prepared.run_ids)  # every finished run, skipped ones included
        return summary


class _Tracked(StudyProgress):
    """The caller's progress callbacks, and each finished run logged as it ends ([tracking])."""

    def __init__(self, inner: StudyProgress | None, tracker: StudyTracker, store: StudyStore) -> None:
        self.inner, self.tracker, self.store = inner or StudyProgress(), tracker, store

    def study_started(self, n_runs: int, n_done: int) -> None:
        self.inner.study_started(n_runs, n_done)

    def run_started(self, spec: RunSpec, run_id: str, max_epochs: int) -> None:
        self.inner.run_started(spec, run_id, max_epochs)

    def epoch_ended(self, spec: RunSpec, record: EpochRecord) -> None:
        self.inner.epoch_ended(spec, record)

    def run_ended(self, spec: RunSpec, metrics: dict[str, Any]) -> None:
        if not metrics.get("failed"):
            self.tracker.log_finished(self.store, [str(metrics["run_id"])])
        self.inner.run_ended(spec, metrics)


def _pending(prepared: PreparedStudy, store: StudyStore, retry_failed: bool) -> list[bool]:
    """Per run: whether it is skipped (finished, or failed before and not retried); each skip is logged."""
    done = [store.is_complete(rid) or (store.is_failed(rid) and not retry_failed) for rid in prepared.run_ids]
    for spec, rid, skip in zip(prepared.runs, prepared.run_ids, done, strict=True):
        if skip and store.is_complete(rid):
            logger.info("run %s (%s, fraction %g, seed %d) already finished; skipped",
                        rid, spec.label, spec.train_fraction, spec.seed)
        elif skip:
            logger.info("run %s (%s, fraction %g, seed %d) failed before (%s); skipped: run again with "
                        "--retry-failed to retry it", rid, spec.label, spec.train_fraction, spec.seed,
                        store.read_failure(rid)["reason"])
    return done


def _run_locked(prepared: PreparedStudy, store: StudyStore, workers: int, progress: StudyProgress | None,
                retry_failed: bool) -> StudySummary:
    """:func:`run_study` once the study folder is held by this process."""
    config, execution = prepared.config, prepared.config.execution
    store.create(dump_resolved(config))
    cache_dir = store.remove_feature_cache()  # left by a killed process; rebuilt below
    for leftover in store.remove_temporary():
        logger.info("removed %s, left by an interrupted run", leftover)
    prepared.task_data.write_study_files(store)
    done = _pending(prepared, store, retry_failed)
    if progress is not None:
        progress.study_started(len(prepared.runs), sum(done))
    pending = [i for i, skip in enumerate(done) if not skip]
    workers = max(1, min(workers, len(pending)))
    on_ray = execution.executor == "ray" and bool(pending)
    store.write_plan({
        "started": time.time(), "executor": execution.executor,
        "concurrency": (execution.ray.max_concurrent or 0) if on_ray else workers,
        "runs": [{"run_id": rid, "label": spec.label, "regime": spec.regime, "depth": spec.depth,
                  "train_fraction": spec.train_fraction, "seed": spec.seed}
                 for spec, rid in zip(prepared.runs, prepared.run_ids, strict=True)],
        "pending": [prepared.run_ids[i] for i in pending],
    })
    set_numerics(threads_per_worker(execution, 1), resolve_device(execution.device))  # this process: all cores
    features = feature_store(config, cache_dir, shared=workers > 1 or on_ray)
    try:
        if features is not None:
            _precompute_features(prepared, [prepared.runs[i] for i in pending], features)
        # The preparation's and the precomputation's temporaries are freed; give their heap back before training
        # (a detection study's preparation peaks at 1.1 GiB and keeps 0.3 GiB of it).
        return_freed_memory()
        if on_ray:
            from tunedepth.study.ray_executor import run_on_ray  # Ray is an optional dependency

            if features is not None:
                features.clear()  # the tasks map the files; this process only waits for them
            run_on_ray(prepared, pending, store, progress=progress,
                       allowed_cuts=None if features is None else features.allowed_cuts)
        elif workers == 1:
            run_serially(prepared, pending, store, progress=progress, features=features)
        else:
            if features is not None:
                features.clear()  # the workers map the files; this process only waits for them
            return_freed_memory()
            run_in_processes(prepared, pending, store, workers=workers, progress=progress,
                             allowed_cuts=None if features is None else features.allowed_cuts)
    finally:
        del features
        store.remove_feature_cache()
    results = store.write_results(list(prepared.run_ids))
    failures = store.write_failures(list(prepared.run_ids))
    n_skipped_failed = sum(skip and not store.is_complete(rid)
                           for rid, skip in zip(prepared.run_ids, done, strict=True))
    return StudySummary(store.root, results, len(pending), len(prepared.runs) - len(pending), failures,
                        n_skipped_failed)


def _precompute_features(prepared: PreparedStudy, specs: list[RunSpec], features: FeatureStore) -> None:
    """Compute, in one pass per split, the cached features every pending fine-tuning run will ask for.

    A task that trains on fixed views of its images (:meth:`~tunedepth.study.tasks.TaskData.train_views`) has the
    views of each pending seed computed instead of its training images, which no run reads."""
    finetune = [spec for spec in specs if spec.regime == "finetune"]
    if not finetune or prepared.config.training.augment:
        return
    data, task = prepared.data, prepared.task_data
    seeds = sorted({spec.seed for spec in finetune})
    views = [task.train_views(data, seed=seed) for seed in seeds]
    train_inputs = [data.train.images] if any(v is None for v in views) else []
    train_inputs += [v for v in views if v is not None]
    inputs = [*train_inputs, data.val.images, data.test.images]
    n_images = sum(x.shape[0] for x in inputs)
    model = build_frozen_model(prepared, finetune[0])
    cuts = plan_cached_cuts(model, [spec.depth for spec in finetune], features,
                            bn_policy=prepared.config.training.bn_policy, n_images=n_images,
                            image_size=int(data.val.images.shape[-1]),
                            max_gb=prepared.config.execution.feature_cache_max_gb)
    if not cuts:
        return
    for images in inputs:
        features.prepare(model, cuts, images)
    logger.info("feature cache: %d cut(s) %s computed for %d images", len(cuts), sorted(cuts), n_images)
