"""One run: train at each configured learning rate, keep the best on validation, evaluate, write its folder.

:func:`run_one` trains and evaluates one run of a prepared study; :func:`run_recorded` is what executors call: it
records a run that raises (its training loss became NaN, it ran out of memory, a bug) as failed in its folder
(``failed.json``, ``traceback.txt``) instead of ending the study. The study itself (resume, feature cache,
executors) is :func:`tunedepth.study.run_study`.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import traceback
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from tunedepth.config import dump_resolved
from tunedepth.data import augmented_views
from tunedepth.evaluation import accuracy_score, roc_auc_score
from tunedepth.models import GroupedModel, build_model, get_architecture
from tunedepth.results import EPOCH_PREDICTIONS, RunFailure, RunRecord, RunSpec, StudyStore, hashed_config
from tunedepth.study._provenance import provenance
from tunedepth.study.lr_search import LrSearch, Trial, cached_inputs_of, search_lr
from tunedepth.study.prepare import PreparedStudy, resolve_device
from tunedepth.training import EpochRecord, FeatureStore, StoppingRule, predict_log_odds, run_cut
from tunedepth.tuning import LrPolicy, regime_label
from tunedepth.tuning.methods import TuningMethod, make_method

logger = logging.getLogger(__name__)

__all__ = ["StudyProgress", "build_frozen_model", "run_one", "run_recorded"]


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


def _predictions_frame(labels: np.ndarray, log_odds: np.ndarray) -> pd.DataFrame:
    """One row per case: index, label and the per-class log-odds log_odds_0 ... log_odds_(K-1) (float64,
    unsaturated; the probability of class k is 1 / (1 + exp(-log_odds_k)); see
    :func:`~tunedepth.training.predict_log_odds`)."""
    frame = pd.DataFrame({"index": np.arange(len(labels)), "label": labels})
    for k in range(log_odds.shape[1]):
        frame[f"log_odds_{k}"] = log_odds[:, k]
    return frame


def build_frozen_model(prepared: PreparedStudy, spec: RunSpec) -> GroupedModel:
    """The run's network at its starting weights (random for scratch), frozen to its depth by its tuning method."""
    config, tc = prepared.config, prepared.config.training
    finetune_from_file = spec.regime == "finetune" and config.model.weights == "checkpoint"
    model = build_model(
        config.model.architecture, num_classes=prepared.data.n_classes,
        weights="none" if spec.regime == "scratch" else config.model.weights,
        checkpoint_path=config.model.checkpoint if finetune_from_file else None,
        # the digest hashed into the run ids: a checkpoint changed during the study is refused, not trained from
        checkpoint_sha256=prepared.weights.sha256 if finetune_from_file and prepared.weights else None,
        head_init=tc.head_init,
    )
    _method(prepared, spec).freeze(model, spec.depth, bn_policy=tc.bn_policy)
    return model


def _method(prepared: PreparedStudy, spec: RunSpec) -> TuningMethod:
    """The run's tuning method (the paper's layer-wise scheme for scratch and for runs without one)."""
    return make_method(spec.method or "layerwise", prepared.config.methods)


def _cut(prepared: PreparedStudy, model: GroupedModel, spec: RunSpec, features: FeatureStore | None) -> tuple[int, str]:
    """How many leading groups this run takes from the feature cache (0 = none), and why not when 0."""
    execution = prepared.config.execution
    if features is None:
        return 0, "feature_cache = false" if not execution.feature_cache else "no feature store"
    return run_cut(model, features, regime=spec.regime, augment=prepared.config.training.augment,
                   max_gb=execution.feature_cache_max_gb)


def _train_views(prepared: PreparedStudy, spec: RunSpec, train_index: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """The run's training inputs when they are fixed views of the training images: the task's views (e.g. training
    crops, :meth:`~tunedepth.study.tasks.TaskData.train_views`) or the images, then, with ``augment_copies`` = k, k
    fixed augmented views of each of those drawn from the run's seed. Returns every view of the split (view-major),
    the rows of the run's images in it (view-major too) and the run's training inputs; without views: the split's
    images, the run's rows and None. The views of one seed are the same for every depth and fraction (a fraction's
    views are the views of its images), so the feature cache serves them like the images."""
    images, copies = prepared.data.train.images, prepared.config.training.augment_copies
    task_views = prepared.task_data.train_views(prepared.data, seed=spec.seed)
    if task_views is None and not copies:
        return images, train_index, None
    n_images = images.shape[0]
    everything = images if task_views is None else task_views
    if copies:
        fill = tuple(255.0 * m for m in get_architecture(prepared.config.model.architecture).mean)
        everything = torch.cat([everything, augmented_views(everything, views=copies, seed=spec.seed,
                                                            fill=(fill[0], fill[1], fill[2]))])
    rows = torch.cat([train_index + v * n_images for v in range(everything.shape[0] // n_images)])
    # The run's views: the tensor itself when the run has every image in order (no copy of the largest tensor of the
    # run, which the feature cache would not even read); otherwise its rows.
    every_row = rows.numel() == everything.shape[0] and bool(torch.equal(rows, torch.arange(rows.numel())))
    return everything, rows, everything if every_row else everything[rows]


def _search_lr(prepared: PreparedStudy, spec: RunSpec, train_index: torch.Tensor, class_weights: torch.Tensor | None,
               device: torch.device, progress: StudyProgress | None, features: FeatureStore | None,
               head: dict[str, torch.Tensor] | None = None) -> LrSearch:
    """Train the run at its learning rate(s) and keep the best on validation (:mod:`tunedepth.study.lr_search`);
    ``head``: the head's starting weights (a probed head), names relative to the network."""
    tc, data, task = prepared.config.training, prepared.data, prepared.task_data

    def build() -> tuple[GroupedModel, int, str]:
        model = build_frozen_model(prepared, spec)
        if head is not None:
            with torch.no_grad():
                for name, param in model.group_parameters(model.head):
                    param.copy_(head[name])
        cut, reason = _cut(prepared, model, spec, features)
        return model, cut, reason

    def policy(lr: float) -> LrPolicy:
        return LrPolicy(optimizer=tc.optimizer, lr=lr, head_lr_mult=tc.head_lr_mult, bias_lr_mult=tc.bias_lr_mult,
                        momentum=tc.momentum, weight_decay=tc.weight_decay, lr_decay_per_epoch=tc.lr_decay_per_epoch,
                        schedule=tc.schedule, warmup_epochs=tc.warmup_epochs)

    train_images, run_rows, train_views = _train_views(prepared, spec, train_index)
    trainer_args = {
        "train": data.train.subset(train_index), "train_views": train_views, "val": data.val, "regime": spec.regime,
        "stopping": StoppingRule(tc.max_epochs, tc.patience, tc.min_iterations), "batch_size": tc.batch_size,
        "seed": spec.seed, "device": device, "val_score": task.val_score(data), "augment": tc.augment,
        "class_weights": class_weights, "label_smoothing": tc.label_smoothing, "epoch_metric": tc.epoch_metric,
        "to_cases": task.case_log_odds, "epoch_images": tc.epoch_images, "method": _method(prepared, spec),
    }
    return search_lr(build, spec=spec, lrs=tc.lrs, successive_halving=tc.lr_search,
                     first_round_epochs=tc.lr_search_epochs, features=features,
                     cached_inputs=cached_inputs_of(features, (train_images, data.val.images, data.test.images),
                                                    run_rows),
                     policy=policy, trainer_args=trainer_args,
                     on_epoch_end=None if progress is None else (lambda r: progress.epoch_ended(spec, r)))


@dataclass(frozen=True)
class _Probe:
    """A probed head (a method's first stage): its weights and what training it took."""

    head: dict[str, torch.Tensor]
    val_auc: float
    epochs: int
    seconds: float


def _probe_head(prepared: PreparedStudy, spec: RunSpec, train_index: torch.Tensor,
                class_weights: torch.Tensor | None, device: torch.device, features: FeatureStore | None) -> _Probe:
    """Train the new head alone, as the layer-wise depth-1 run of this fraction and seed trains (its lr(s), stopping
    rule, epoch choice and feature cache), and return its best epoch's head weights."""
    names = prepared.group_names
    probe = RunSpec("finetune", 1, spec.train_fraction, spec.seed, regime_label("finetune", 1, names))
    search = _search_lr(prepared, probe, train_index, class_weights, device, None, features)
    head = {name: param.detach().clone() for name, param in search.model.group_parameters(search.model.head)}
    result = search.best.result
    return _Probe(head, result.best_val_score, result.epochs_run, sum(t.result.train_seconds for t in search.trials))


def _epoch_predictions(trials: tuple[Trial, ...], lrs: tuple[float, ...]) -> dict[str, np.ndarray]:
    """Every trial's per-epoch case log-odds (``val_<k>``, ``test_<k>``: (epochs, n_cases, n_classes), k = the
    lr's index in ``lrs``) and the learning rates (``lrs``), for re-doing choices later without retraining."""
    arrays: dict[str, np.ndarray] = {"lrs": np.asarray(lrs, dtype=np.float64)}
    for trial in trials:
        k = lrs.index(trial.lr)
        if trial.result.epoch_val_log_odds is not None:
            arrays[f"val_{k}"] = trial.result.epoch_val_log_odds
        if trial.result.epoch_test_log_odds is not None:
            arrays[f"test_{k}"] = trial.result.epoch_test_log_odds
    return arrays


def run_one(prepared: PreparedStudy, spec: RunSpec, run_id: str, store: StudyStore,
            *, progress: StudyProgress | None = None, features: FeatureStore | None = None) -> dict[str, Any]:
    """Train and evaluate one run (at each learning rate when several), write it, return its metrics.

    Args:
        prepared: the validated study.
        spec: the run.
        run_id: its id (see :func:`tunedepth.results.run_id`).
        store: the study folder.
        progress: optional progress callbacks.
        features: the frozen-prefix feature cache; None trains every run on images. The run uses it when
            :func:`~tunedepth.training.cache_cut` allows and augmentation is off; ``metrics.json`` records
            whether it did (``cached_groups`` and ``feature_cache``).

    Returns:
        The run's metrics, as written to ``metrics.json`` (:class:`~tunedepth.results.RunRecord`).
    """
    config, data, task = prepared.config, prepared.data, prepared.task_data
    device = resolve_device(config.execution.device)
    rows = task.train_rows(data, train_fraction=spec.train_fraction, seed=spec.seed)
    train_index = torch.from_numpy(rows)
    class_weights = task.class_weights(data, rows)
    probe = _probe_head(prepared, spec, train_index, class_weights, device, features) \
        if _method(prepared, spec).probe else None
    search = _search_lr(prepared, spec, train_index, class_weights, device, progress, features,
                        head=None if probe is None else probe.head)
    trials, model, best, diverged, reason = search.trials, search.model, search.best, search.diverged, \
        search.reason_not_cached
    result, cut = best.result, best.cut
    test_inputs = data.test.images if not cut or features is None else features.get(model, cut, data.test.images)
    test_image_log_odds = predict_log_odds(model, test_inputs, batch_size=256, device=device, cut=cut)
    test_log_odds = task.case_log_odds(test_image_log_odds)
    val_labels, test_labels = task.case_labels(data, "val"), task.case_labels(data, "test")
    outputs = task.test_outputs(model, test_log_odds, device=device, image_log_odds=test_image_log_odds)
    record = RunRecord(
        run_id=run_id, regime=spec.regime, depth=spec.depth, label=spec.label, train_fraction=spec.train_fraction,
        seed=spec.seed, n_train=len(train_index), lr=best.lr, val_auc=result.best_val_score,
        test_auc=roc_auc_score(test_labels, test_log_odds), test_acc=accuracy_score(test_labels, test_log_odds),
        best_epoch=result.best_epoch, epochs_run=result.epochs_run,
        train_seconds=sum(t.result.train_seconds for t in trials) + (0.0 if probe is None else probe.seconds),
        n_val=len(val_labels), n_test=len(test_labels),
        cached_groups=cut,
        lr_trials=tuple(sorted([t.record() for t in trials] + [{"lr": lr, "diverged": why} for lr, why in
                                                                  diverged.items()],
                               key=lambda trial: config.training.lrs.index(trial["lr"]))),
        feature_cache={"used": bool(cut), "cached_groups": list(model.group_names[:cut]),
                       "dtype": None if not cut or features is None else features.dtype, "reason_not_used": reason},
        task_metrics=outputs.metrics if probe is None else {
            **outputs.metrics, "probe_val_auc": probe.val_auc, "probe_epochs": probe.epochs},
        method=spec.method,
    )
    metrics = record.to_json()
    history = pd.concat(
        [pd.DataFrame([asdict(rec) for rec in t.result.history]).assign(base_lr=t.lr) for t in trials],
        ignore_index=True,
    ).rename(columns={"val_score": "val_auc"})
    resolved = prepared.weights if spec.regime == "finetune" else None
    sha = None if resolved is None else resolved.sha256
    run_config = {
        "run_id": run_id, "run": spec.to_json(), "hashed": hashed_config(config, spec, weights_sha256=sha),
        "study": dump_resolved(config),
        "weights": None if resolved is None else {"name": resolved.name, "path": str(resolved.path), "sha256": sha},
        "device": str(device), "num_threads": torch.get_num_threads(), **provenance(),
    }
    store.write_run(
        run_id, config=run_config, metrics=metrics, history=history,
        predictions={"val": _predictions_frame(val_labels, task.case_log_odds(result.val_log_odds)),
                     "test": _predictions_frame(test_labels, test_log_odds)},
        tables=outputs.tables,
        arrays={**outputs.arrays, EPOCH_PREDICTIONS: _epoch_predictions(trials, config.training.lrs)},
    )
    return metrics


def run_recorded(prepared: PreparedStudy, index: int, store: StudyStore, *, progress: StudyProgress | None = None,
                 features: FeatureStore | None = None) -> dict[str, Any]:
    """:func:`run_one` for ``prepared.runs[index]``, with an exception recorded as the run's failure (the study goes
    on): returns the metrics, or the failure record with ``"failed": True``. ``KeyboardInterrupt`` and
    ``SystemExit`` stop the study as usual."""
    spec, run_id = prepared.runs[index], prepared.run_ids[index]
    store.mark_running(run_id, host=socket.gethostname(), pid=os.getpid(), started=time.time())
    try:
        return run_one(prepared, spec, run_id, store, progress=progress, features=features)
    except Exception as exc:
        lines = str(exc).strip().splitlines()
        failure = RunFailure(run_id=run_id, regime=spec.regime, depth=spec.depth, label=spec.label,
                             train_fraction=spec.train_fraction, seed=spec.seed, error=type(exc).__name__,
                             reason=lines[0] if lines else type(exc).__name__).to_json()
        store.write_failure(run_id, failure=failure, traceback_text=traceback.format_exc())
        if torch.cuda.is_available():
            torch.cuda.empty_cache()  # give the next run the memory a failed one (e.g. out of memory) held
        logger.warning("run %s (%s, fraction %g, seed %d) failed: %s: %s; the study goes on (traceback in %s)",
                       run_id, spec.label, spec.train_fraction, spec.seed, failure["error"], failure["reason"],
                       store.run_dir(run_id) / "traceback.txt")
        return {**failure, "failed": True}
    finally:
        store.clear_running(run_id)
