"""Run a study: every run of the grid, resumably, then ``results.csv``.

``run_study`` skips runs whose ``metrics.json`` exists, so re-running an interrupted
study executes only the missing runs. A run that raises (its training loss became NaN, it ran
out of memory, a bug) is recorded as failed in its folder (``failed.json``, ``traceback.txt``)
and the study goes on; failed runs are skipped on resume unless ``retry_failed`` is set.
"""

from __future__ import annotations

import importlib
import logging
import math
import multiprocessing
import os
import shutil
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from tunedepth._seeding import seed_everything
from tunedepth.config import ExecutionConfig, StudyConfig, dump_resolved
from tunedepth.data import ImageSet, balance_indices, class_weights, train_subset_indices
from tunedepth.errors import ExecutionError
from tunedepth.evaluation import (
    accuracy_score,
    roc_auc_score,
)
from tunedepth.models import GroupedModel, build_model, get_architecture
from tunedepth.study._provenance import provenance
from tunedepth.study._task_outputs import (
    case_labels,
    case_log_odds,
    detection_metrics,
    segmentation_outputs,
    val_score,
)
from tunedepth.study.detection import write_detection_tables
from tunedepth.study.grid import RunSpec, hashed_config
from tunedepth.study.prepare import PreparedStudy, prepare_study, resolve_device
from tunedepth.study.store import FAILURE_COLUMNS, StudyStore
from tunedepth.training import (
    CachedInputs,
    EpochRecord,
    FeatureStore,
    StoppingRule,
    TrainingDivergedError,
    TrainResult,
    cache_cut,
    predict_log_odds,
    train_model,
)
from tunedepth.tuning import LrPolicy, freeze_to_depth

logger = logging.getLogger(__name__)

__all__ = ["StudyProgress", "StudySummary", "resolve_workers", "run_one", "run_study", "worker_gpu"]


class StudyProgress:
    """Progress callbacks; the library calls them, the command line draws bars. All no-ops here."""

    def study_started(self, n_runs: int, n_done: int) -> None:
        """Called once with the number of runs and how many are already finished."""

    def run_started(self, spec: RunSpec, run_id: str, max_epochs: int) -> None:
        """Called before each run that will execute."""

    def epoch_ended(self, spec: RunSpec, record: EpochRecord) -> None:
        """Called after every epoch."""

    def run_ended(self, spec: RunSpec, metrics: dict[str, Any]) -> None:
        """Called after each executed run."""


@dataclass(frozen=True)
class StudySummary:
    """What ``run_study`` did.

    Attributes:
        out_dir: the study folder.
        results: ``results.csv``: one row per finished run.
        n_executed: runs attempted in this call (finished or failed).
        n_skipped: runs skipped: finished before, or failed before and not retried (``n_skipped_failed`` of them).
        failures: ``failures.csv``: one row per run whose last attempt failed (this call or before), with the
            :data:`~tunedepth.study.store.FAILURE_COLUMNS`; empty when none.
    """

    out_dir: Path
    results: pd.DataFrame
    n_executed: int
    n_skipped: int
    failures: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(FAILURE_COLUMNS)))
    n_skipped_failed: int = 0

    @property
    def results_path(self) -> Path:
        return self.out_dir / "results.csv"


def _predictions_frame(labels: torch.Tensor, log_odds: np.ndarray) -> pd.DataFrame:
    """One row per case: index, label and the per-class log-odds log_odds_0 ... log_odds_(K-1) (float64,
    unsaturated; the probability of class k is 1 / (1 + exp(-log_odds_k)); see
    :func:`~tunedepth.training.predict_log_odds`)."""
    frame = pd.DataFrame({"index": np.arange(len(labels)), "label": labels.numpy()})
    for k in range(log_odds.shape[1]):
        frame[f"log_odds_{k}"] = log_odds[:, k]
    return frame


def _train_subset(prepared: PreparedStudy, spec: RunSpec) -> tuple[ImageSet, torch.Tensor | None, torch.Tensor]:
    train = prepared.data.train
    task_data = prepared.detection or prepared.segmentation
    if task_data is not None:  # patches of a nested subset of the training frame groups
        index = torch.from_numpy(task_data.train_rows(spec.train_fraction, seed=spec.seed))
        return train.subset(index), None, index
    labels = train.labels.numpy()
    idx = train_subset_indices(labels, spec.train_fraction, seed=spec.seed)
    balance = getattr(prepared.config.data, "balance", "none")
    if balance == "downsample":
        idx = balance_indices(labels, idx, policy="downsample", seed=spec.seed)
    index = torch.from_numpy(idx)
    subset = train.subset(index)
    weights = None
    if balance == "weighted_loss":
        weights = torch.as_tensor(class_weights(subset.labels.numpy(), prepared.data.n_classes), dtype=torch.float32)
    return subset, weights, index


@dataclass(frozen=True)
class _Trial:
    lr: float
    result: TrainResult
    model: GroupedModel
    cut: int

    @property
    def rank(self) -> float:
        # A NaN validation AUC never wins over a number.
        score = self.result.best_val_score
        return score if math.isfinite(score) else -math.inf


def _build_frozen(prepared: PreparedStudy, spec: RunSpec) -> GroupedModel:
    config, tc = prepared.config, prepared.config.training
    finetune_from_file = spec.regime == "finetune" and config.model.weights == "checkpoint"
    model = build_model(
        config.model.architecture, num_classes=prepared.data.n_classes,
        weights="none" if spec.regime == "scratch" else config.model.weights,
        checkpoint_path=config.model.checkpoint if finetune_from_file else None,
        # the digest hashed into the run ids: a checkpoint changed during the study is refused, not trained from
        checkpoint_sha256=prepared.weights.sha256 if finetune_from_file and prepared.weights else None,
    )
    freeze_to_depth(model, spec.depth, bn_policy=tc.bn_policy)
    return model


def _cache_decision(prepared: PreparedStudy, model: GroupedModel, spec: RunSpec,
                    features: FeatureStore | None) -> tuple[int, str]:
    """How many leading groups this run takes from the feature cache (0 = none), and why not when 0."""
    if features is None:
        return 0, "feature_cache = false" if not prepared.config.execution.feature_cache else "no feature store"
    if prepared.config.training.augment:
        return 0, "random online augmentation (augment = true) changes the inputs every epoch"
    if spec.regime == "scratch":
        return 0, "scratch: every group trains"
    cut, reason = cache_cut(model)
    allowed = features.allowed_cuts
    if cut and allowed is not None and cut not in allowed:
        limit = prepared.config.execution.feature_cache_max_gb
        fallback = max((c for c in allowed if c < cut), default=0)
        if not fallback:
            return 0, f"the features at cut {cut} did not fit in feature_cache_max_gb = {limit:g}"
        return fallback, (f"cut {cut} did not fit in feature_cache_max_gb = {limit:g}; cut {fallback} used, "
                          f"groups {fallback + 1}-{cut} run live (frozen)")
    return cut, reason


def _rows(features: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``features[index]``, without a copy when ``index`` is every row in order (a run on the whole split): at the
    demo's shallowest cut that copy is 600 MB."""
    if index.numel() == features.shape[0] and torch.equal(index, torch.arange(features.shape[0])):
        return features
    return features[index]


def _train_at_each_lr(prepared: PreparedStudy, spec: RunSpec, train: ImageSet, train_index: torch.Tensor,
                      class_weights: torch.Tensor | None, device: torch.device, progress: StudyProgress | None,
                      features: FeatureStore | None) -> tuple[list[_Trial], dict[float, str], str]:
    """Train the run once per configured learning rate, each from the same initialisation.

    Returns the trials, the learning rates whose training diverged (lr -> reason; the run goes on with the
    others), and why the feature cache was not used ("" when it was).

    Raises:
        TrainingDivergedError: when training diverged at every learning rate.
    """
    tc, data = prepared.config.training, prepared.data
    trials, diverged, reason = [], {}, ""
    for lr in tc.lrs:
        seed_everything(spec.seed)  # same initialisation (and data order) for every lr
        model = _build_frozen(prepared, spec)
        cut, reason = _cache_decision(prepared, model, spec, features)
        cached = None
        if cut and features is not None:
            cached = CachedInputs(cut, _rows(features.get(model, cut, data.train.images), train_index),
                                  features.get(model, cut, data.val.images))
        policy = LrPolicy(
            optimizer=tc.optimizer, lr=lr, head_lr_mult=tc.head_lr_mult, bias_lr_mult=tc.bias_lr_mult,
            momentum=tc.momentum, weight_decay=tc.weight_decay, lr_decay_per_epoch=tc.lr_decay_per_epoch,
        )
        try:
            result = train_model(
                model, train=train, val=data.val, regime=spec.regime, policy=policy,
                stopping=StoppingRule(tc.max_epochs, tc.patience, tc.min_iterations), batch_size=tc.batch_size,
                seed=spec.seed, device=device, val_score=val_score(prepared), augment=tc.augment,
                class_weights=class_weights,
                on_epoch_end=None if progress is None else (lambda r: progress.epoch_ended(spec, r)), cached=cached,
            )
        except TrainingDivergedError as exc:
            if len(tc.lrs) == 1:
                raise
            diverged[lr] = str(exc)
            logger.warning("run %s at lr %g: %s; the other learning rates go on", spec.label, lr, exc)
            continue
        trials.append(_Trial(lr, result, model, cut))
    if not trials:
        raise TrainingDivergedError("training diverged at every learning rate ("
                                    + "; ".join(f"lr {lr:g}: {why}" for lr, why in diverged.items()) + ")")
    return trials, diverged, reason


def run_one(prepared: PreparedStudy, spec: RunSpec, run_id: str, store: StudyStore,
            *, progress: StudyProgress | None = None, features: FeatureStore | None = None) -> dict[str, Any]:
    """Train and evaluate one run (at each learning rate when several), write it, return its metrics.

    Args:
        prepared: the validated study.
        spec: the run.
        run_id: its id (see :func:`tunedepth.study.run_id`).
        store: the study folder.
        progress: optional progress callbacks.
        features: the frozen-prefix feature cache; None trains every run on images. The run uses it when
            :func:`~tunedepth.training.cache_cut` allows and augmentation is off; ``metrics.json`` records
            whether it did (``cached_groups`` and ``feature_cache``).

    Returns:
        The run's metrics, as written to ``metrics.json``.
    """
    config, data = prepared.config, prepared.data
    device = resolve_device(config.execution.device)
    train, weights, train_index = _train_subset(prepared, spec)
    trials, diverged, reason = _train_at_each_lr(prepared, spec, train, train_index, weights, device, progress,
                                                 features)
    best = max(trials, key=lambda t: t.rank)  # first of equals: the earlier lr in the list
    model, result, cut = best.model, best.result, best.cut
    test_inputs = data.test.images if not cut or features is None else features.get(model, cut, data.test.images)
    test_probs = case_log_odds(
        prepared, predict_log_odds(model, test_inputs, batch_size=256, device=device, cut=cut))
    test_labels = case_labels(prepared, "test").numpy()
    task_metrics, task_tables, task_arrays = segmentation_outputs(prepared, model, device)
    metrics: dict[str, Any] = {
        "run_id": run_id, "regime": spec.regime, "depth": spec.depth, "label": spec.label,
        "train_fraction": spec.train_fraction, "seed": spec.seed, "n_train": len(train), "lr": best.lr,
        "val_auc": result.best_val_score, "test_auc": roc_auc_score(test_labels, test_probs),
        "test_acc": accuracy_score(test_labels, test_probs), "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run, "train_seconds": sum(t.result.train_seconds for t in trials),
        "n_val": len(case_labels(prepared, "val")), "n_test": len(test_labels), "cached_groups": cut,
        "lr_trials": sorted([{"lr": t.lr, "val_auc": t.result.best_val_score, "best_epoch": t.result.best_epoch,
                              "epochs_run": t.result.epochs_run} for t in trials]
                            + [{"lr": lr, "diverged": why} for lr, why in diverged.items()],
                            key=lambda trial: config.training.lrs.index(trial["lr"])),
        "feature_cache": {
            "used": bool(cut), "cached_groups": list(model.group_names[:cut]),
            "dtype": None if not cut or features is None else features.dtype, "reason_not_used": reason,
        },
        **detection_metrics(prepared, test_probs),
        **task_metrics,
    }
    history = pd.concat(
        [pd.DataFrame([asdict(rec) for rec in t.result.history]).assign(base_lr=t.lr) for t in trials],
        ignore_index=True,
    ).rename(columns={"val_score": "val_auc"})
    resolved = prepared.weights if spec.regime == "finetune" else None
    sha = None if resolved is None else resolved.sha256
    run_config = {
        "run_id": run_id,
        "run": asdict(spec),
        "hashed": hashed_config(config, spec, weights_sha256=sha),
        "study": dump_resolved(config),
        "weights": None if resolved is None else {"name": resolved.name, "path": str(resolved.path), "sha256": sha},
        "device": str(device),
        "num_threads": torch.get_num_threads(),
        **provenance(),
    }
    store.write_run(
        run_id, config=run_config, metrics=metrics, history=history,
        predictions={"val": _predictions_frame(case_labels(prepared, "val"),
                                               case_log_odds(prepared, result.val_log_odds)),
                     "test": _predictions_frame(case_labels(prepared, "test"), test_probs)},
        tables=task_tables, arrays={"overlays_test": task_arrays} if task_arrays else None,
    )
    return metrics


def _run_recorded(prepared: PreparedStudy, index: int, store: StudyStore, *, progress: StudyProgress | None = None,
                  features: FeatureStore | None = None) -> dict[str, Any]:
    """:func:`run_one`, with an exception recorded as the run's failure (the study goes on): returns the
    metrics, or the failure record with ``"failed": True``. ``KeyboardInterrupt`` and ``SystemExit`` stop the
    study as usual."""
    spec, run_id = prepared.runs[index], prepared.run_ids[index]
    try:
        return run_one(prepared, spec, run_id, store, progress=progress, features=features)
    except Exception as exc:
        lines = str(exc).strip().splitlines()
        failure = {"run_id": run_id, "regime": spec.regime, "depth": spec.depth, "label": spec.label,
                   "train_fraction": spec.train_fraction, "seed": spec.seed, "error": type(exc).__name__,
                   "reason": lines[0] if lines else type(exc).__name__}
        store.write_failure(run_id, failure=failure, traceback_text=traceback.format_exc())
        if torch.cuda.is_available():
            torch.cuda.empty_cache()  # give the next run the memory a failed one (e.g. out of memory) held
        logger.warning("run %s (%s, fraction %g, seed %d) failed: %s: %s; the study goes on (traceback in %s)",
                       run_id, spec.label, spec.train_fraction, spec.seed, failure["error"], failure["reason"],
                       store.run_dir(run_id) / "traceback.txt")
        return {**failure, "failed": True}


def _precompute_features(prepared: PreparedStudy, specs: list[RunSpec], features: FeatureStore) -> None:
    """Compute, in one pass per split, the cached features every pending fine-tuning run will ask for."""
    finetune = [spec for spec in specs if spec.regime == "finetune"]
    if not finetune or prepared.config.training.augment:
        return
    model = _build_frozen(prepared, finetune[0])
    cuts: set[int] = set()
    for depth in sorted({spec.depth for spec in finetune}):
        freeze_to_depth(model, depth, bn_policy=prepared.config.training.bn_policy)
        cut, _ = cache_cut(model)
        if cut:
            cuts.add(cut)
    if not cuts:
        return
    data = prepared.data
    n_images = len(data.train) + len(data.val) + len(data.test)
    budget = prepared.config.execution.feature_cache_max_gb * 2**30
    size = int(data.train.images.shape[-1])
    allowed: set[int] = set()
    for need, cut in sorted((features.feature_bytes_per_image(model, c, size) * n_images, c) for c in cuts):
        if need <= budget:
            allowed.add(cut)
            budget -= need
        else:
            logger.warning("feature cache: cut %d (%s) would need %.1f GB for %d images, over feature_cache_max_gb; "
                           "runs there use a shallower cached cut or none", cut, model.group_names[cut - 1],
                           need / 2**30, n_images)
    features.allowed_cuts = allowed
    cuts = allowed
    if not cuts:
        return
    for split in (data.train, data.val, data.test):
        features.prepare(model, cuts, split.images)
    logger.info("feature cache: %d cut(s) %s computed for %d images", len(cuts), sorted(cuts),
                len(data.train) + len(data.val) + len(data.test))


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


def _threads(execution: ExecutionConfig, workers: int) -> int:
    return execution.num_threads or max(1, (os.cpu_count() or 1) // workers)


def _set_numerics(threads: int, device: torch.device) -> None:
    if device.type == "cuda":
        # Let cuDNN pick the fastest convolution algorithms for the (fixed) input sizes; this makes CUDA runs
        # non-deterministic at the level of rounding (see docs/benchmarks.md).
        torch.backends.cudnn.benchmark = True
    torch.set_num_threads(threads)
    # Denormal floats appear while training (tiny activations and gradients) and slow CPU
    # kernels by up to 10x (measured: EfficientNet-Lite0 at 64 px fell from 200 to 16 img/s
    # in the third run of one process). Flushing them to zero is deterministic.
    torch.set_flush_denormal(True)


def _feature_store(config: StudyConfig, cache_dir: Path, *, shared: bool) -> FeatureStore | None:
    execution = config.execution
    if not execution.feature_cache:
        return None
    budget = 0 if shared else int(execution.feature_cache_memory_gb * 2**30)
    return FeatureStore(dtype=execution.feature_cache_dtype, memory_budget_bytes=budget, directory=cache_dir,
                        device=resolve_device(execution.device))


# One study per worker process, set up once by _init_worker.
_WORKER: dict[str, Any] = {}


def _init_worker(config: StudyConfig, out_dir: Path, threads: int, cache_dir: Path, plugin: str,
                 counter: Any, allowed_cuts: set[int] | None) -> None:
    importlib.import_module(plugin)  # registers the architecture when a plug-in module defines it
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    device = resolve_device(config.execution.device)
    gpu = worker_gpu(index, torch.cuda.device_count()) if device.type == "cuda" else None
    if gpu is not None:
        torch.cuda.set_device(gpu)
    _set_numerics(threads, device)
    prepared = prepare_study(config, out_dir)
    features = _feature_store(config, cache_dir, shared=True)
    if features is not None:
        features.allowed_cuts = allowed_cuts  # decided by the parent, which computed the shared files
    _WORKER.update(prepared=prepared, store=StudyStore(out_dir), features=features)


def _worker_run(index: int) -> dict[str, Any]:
    return _run_recorded(_WORKER["prepared"], index, _WORKER["store"], features=_WORKER["features"])


def run_study(config: StudyConfig, out_dir: Path, *, progress: StudyProgress | None = None,
              retry_failed: bool = False) -> StudySummary:
    """Run every run of a study that is not finished yet, then write ``results.csv`` (and ``failures.csv``).

    Runs execute in the grid's order, one after another, or in ``execution.workers`` parallel processes with
    ``execution.num_threads`` torch threads each. With the feature cache on, the features every pending
    fine-tuning run needs are computed first, in one pass per split, and kept in memory (one process) or in
    memory-mapped files under ``<out_dir>/.feature-cache`` that the workers share; that folder is removed at
    the end. A run that raises is recorded as failed (see :func:`_run_recorded`) and the others go on.
    Leftovers of a killed process (temporary files and folders, the feature cache) are removed first.

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
    with store.lock():
        return _run_locked(prepared, store, workers, progress, retry_failed)


def _run_locked(prepared: PreparedStudy, store: StudyStore, workers: int, progress: StudyProgress | None,
                retry_failed: bool) -> StudySummary:
    """:func:`run_study` once the study folder is held by this process."""
    config, execution, out_dir = prepared.config, prepared.config.execution, store.root
    store.create(dump_resolved(config))
    cache_dir = out_dir / ".feature-cache"
    shutil.rmtree(cache_dir, ignore_errors=True)  # left by a killed process; rebuilt below
    for leftover in store.remove_temporary():
        logger.info("removed %s, left by an interrupted run", leftover)
    if prepared.detection is not None:
        write_detection_tables(prepared.detection, out_dir / "detection")
    done = [store.is_complete(rid) or (store.is_failed(rid) and not retry_failed) for rid in prepared.run_ids]
    if progress is not None:
        progress.study_started(len(prepared.runs), sum(done))
    for spec, rid, skip in zip(prepared.runs, prepared.run_ids, done, strict=True):
        if skip and store.is_complete(rid):
            logger.info("run %s (%s, fraction %g, seed %d) already finished; skipped",
                        rid, spec.label, spec.train_fraction, spec.seed)
        elif skip:
            logger.info("run %s (%s, fraction %g, seed %d) failed before (%s); skipped: run again with "
                        "--retry-failed to retry it", rid, spec.label, spec.train_fraction, spec.seed,
                        store.read_failure(rid)["reason"])
    pending = [i for i, skip in enumerate(done) if not skip]
    workers = max(1, min(workers, len(pending)))
    _set_numerics(_threads(execution, 1), resolve_device(execution.device))  # this process: all cores
    features = _feature_store(config, cache_dir, shared=workers > 1)
    try:
        if features is not None:
            _precompute_features(prepared, [prepared.runs[i] for i in pending], features)
        if workers == 1:
            for i in pending:
                spec = prepared.runs[i]
                if progress is not None:
                    progress.run_started(spec, prepared.run_ids[i], config.training.max_epochs)
                metrics = _run_recorded(prepared, i, store, progress=progress, features=features)
                if progress is not None:
                    progress.run_ended(spec, metrics)
        else:
            _run_parallel(prepared, pending, out_dir, cache_dir, workers, progress,
                          None if features is None else features.allowed_cuts)
    finally:
        del features
        shutil.rmtree(cache_dir, ignore_errors=True)
    results = store.write_results(list(prepared.run_ids))
    failures = store.write_failures(list(prepared.run_ids))
    n_skipped_failed = sum(skip and not store.is_complete(rid)
                           for rid, skip in zip(prepared.run_ids, done, strict=True))
    return StudySummary(out_dir, results, len(pending), len(prepared.runs) - len(pending), failures, n_skipped_failed)


def _run_parallel(prepared: PreparedStudy, pending: list[int], out_dir: Path, cache_dir: Path, workers: int,
                  progress: StudyProgress | None, allowed_cuts: set[int] | None) -> None:
    config = prepared.config
    plugin = get_architecture(config.model.architecture).build_net.__module__
    context = multiprocessing.get_context("spawn")  # fork after OpenMP has started can deadlock the child
    threads = _threads(config.execution, workers)
    logger.info("running %d runs in %d processes x %d threads", len(pending), workers, threads)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker,
                             initargs=(config, out_dir, threads, cache_dir, plugin, context.Value("i", 0),
                                       allowed_cuts)) as pool:
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
