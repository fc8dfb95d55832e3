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
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from tunedepth.config import dump_resolved
from tunedepth.evaluation import accuracy_score, roc_auc_score
from tunedepth.models import GroupedModel
from tunedepth.models.checkpoints import run_weights_bytes
from tunedepth.results import EPOCH_PREDICTIONS, WEIGHTS_FILE, RunFailure, RunRecord, RunSpec, StudyStore, hashed_config
from tunedepth.study._provenance import provenance
from tunedepth.study.lr_search import LrSearch, Trial, search_lr
from tunedepth.study.prepare import PreparedStudy, resolve_device
from tunedepth.study.run_setup import RunSetup, run_method, run_rows, run_setup
from tunedepth.training import EpochRecord, FeatureStore, predict_log_odds
from tunedepth.tuning import regime_label

logger = logging.getLogger(__name__)

__all__ = ["DecidedSearch", "Probe", "StudyProgress", "probe_head", "record_failure", "run_one", "run_recorded",
           "weights_file_bytes"]


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


def _search_lr(prepared: PreparedStudy, spec: RunSpec, device: torch.device, progress: StudyProgress | None,
               features: FeatureStore | None, head: dict[str, torch.Tensor] | None = None) -> LrSearch:
    """Train the run at its learning rate(s) and keep the best on validation (:mod:`tunedepth.study.lr_search`);
    ``head``: the head's starting weights (a probed head), names relative to the network."""
    tc = prepared.config.training
    setup = run_setup(prepared, spec, device=device, features=features, head=head,
                      on_epoch_end=None if progress is None else (lambda r: progress.epoch_ended(spec, r)))
    return search_lr(setup.build, spec=spec, lrs=tc.lrs, successive_halving=tc.searches_lr,
                     first_round_epochs=tc.lr_search_epochs, features=features, cached_inputs=setup.cached_inputs,
                     policy=setup.policy, trainer_args=setup.trainer_args, on_epoch_end=setup.on_epoch_end)


@dataclass(frozen=True)
class Probe:
    """A probed head (a method's first stage, e.g. LP-FT's linear probe): its weights (names relative to the
    network) and what training it took."""

    head: dict[str, torch.Tensor]
    val_auc: float
    epochs: int
    seconds: float


@dataclass(frozen=True)
class DecidedSearch:
    """A run's learning-rate search done outside :func:`run_one`: ``load`` rebuilds its outcome from the run's
    setup (the kept trial's weights loaded into a model built like the run's); ``probe``: the probed head its
    trials started from, or None."""

    load: Callable[[RunSetup], LrSearch]
    probe: Probe | None


def probe_head(prepared: PreparedStudy, spec: RunSpec, *, device: torch.device,
               features: FeatureStore | None) -> Probe:
    """Train the new head alone, as the layer-wise depth-1 run of this fraction and seed trains (its lr(s), stopping
    rule, epoch choice and feature cache), and return its best epoch's head weights."""
    names = prepared.group_names
    probe = RunSpec("finetune", 1, spec.train_fraction, spec.seed, regime_label("finetune", 1, names))
    search = _search_lr(prepared, probe, device, None, features)
    head = {name: param.detach().clone() for name, param in search.model.group_parameters(search.model.head)}
    result = search.best.result
    return Probe(head, result.best_val_score, result.epochs_run, sum(t.result.train_seconds for t in search.trials))


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
            *, progress: StudyProgress | None = None, features: FeatureStore | None = None,
            decided: DecidedSearch | None = None) -> dict[str, Any]:
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
        decided: a learning-rate search already run elsewhere (ASHA's trials on Ray Tune,
            :mod:`tunedepth.study.asha`), with the probed head its trials started from; None trains here.

    Returns:
        The run's metrics, as written to ``metrics.json`` (:class:`~tunedepth.results.RunRecord`).
    """
    config, data, task = prepared.config, prepared.data, prepared.task_data
    device = resolve_device(config.execution.device)
    train_index, _ = run_rows(prepared, spec)
    if decided is None:
        probe = probe_head(prepared, spec, device=device, features=features) \
            if run_method(prepared, spec).probe else None
        search = _search_lr(prepared, spec, device, progress, features, head=None if probe is None else probe.head)
    else:
        probe = decided.probe
        search = decided.load(run_setup(prepared, spec, device=device, features=features,
                                        head=None if probe is None else probe.head))
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
        files={WEIGHTS_FILE: weights_file_bytes(model, run_id, data.n_classes)}
        if config.execution.keep_checkpoints == "all" else None,
    )
    return metrics


def weights_file_bytes(model: GroupedModel, run_id: str, n_classes: int) -> bytes:
    """The run's ``weights.safetensors``: the network's weights (at its best epoch, as ``model`` holds them) and,
    in the header, what rebuilds it (:mod:`tunedepth.models.checkpoints`)."""
    return run_weights_bytes(model.net.state_dict(), {
        "run_id": run_id, "architecture": model.architecture, "groups": ",".join(model.group_names),
        "n_classes": str(n_classes)})


def run_recorded(prepared: PreparedStudy, index: int, store: StudyStore, *, progress: StudyProgress | None = None,
                 features: FeatureStore | None = None, decided: DecidedSearch | None = None) -> dict[str, Any]:
    """:func:`run_one` for ``prepared.runs[index]``, with an exception recorded as the run's failure (the study goes
    on): returns the metrics, or the failure record with ``"failed": True``. ``KeyboardInterrupt`` and
    ``SystemExit`` stop the study as usual."""
    spec, run_id = prepared.runs[index], prepared.run_ids[index]
    store.mark_running(run_id, host=socket.gethostname(), pid=os.getpid(), started=time.time())
    try:
        return run_one(prepared, spec, run_id, store, progress=progress, features=features, decided=decided)
    except Exception as exc:
        return record_failure(prepared, index, store, error=type(exc).__name__, message=str(exc),
                              traceback_text=traceback.format_exc())
    finally:
        store.clear_running(run_id)


def record_failure(prepared: PreparedStudy, index: int, store: StudyStore, *, error: str, message: str,
                   traceback_text: str) -> dict[str, Any]:
    """Record run ``index`` as failed (``failed.json`` with the message's first line, ``traceback.txt``) and return
    the failure record with ``"failed": True``."""
    spec, run_id = prepared.runs[index], prepared.run_ids[index]
    lines = message.strip().splitlines()
    failure = RunFailure(run_id=run_id, regime=spec.regime, depth=spec.depth, label=spec.label,
                         train_fraction=spec.train_fraction, seed=spec.seed, error=error,
                         reason=lines[0] if lines else error).to_json()
    store.write_failure(run_id, failure=failure, traceback_text=traceback_text)
    if torch.cuda.is_available():
        torch.cuda.empty_cache()  # give the next run the memory a failed one (e.g. out of memory) held
    logger.warning("run %s (%s, fraction %g, seed %d) failed: %s: %s; the study goes on (traceback in %s)",
                   run_id, spec.label, spec.train_fraction, spec.seed, failure["error"], failure["reason"],
                   store.run_dir(run_id) / "traceback.txt")
    return {**failure, "failed": True}
