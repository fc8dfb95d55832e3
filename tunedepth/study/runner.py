"""Run a study: every run of the grid, resumably, then ``results.csv``.

``run_study`` skips runs whose ``metrics.json`` exists, so re-running an interrupted
study executes only the missing runs.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from tunedepth._seeding import seed_everything
from tunedepth.config import StudyConfig, dump_resolved
from tunedepth.data import ImageSet, balance_indices, class_weights, train_subset_indices
from tunedepth.evaluation import accuracy_score, roc_auc_score
from tunedepth.models import GroupedModel, build_model
from tunedepth.study._provenance import provenance
from tunedepth.study.grid import RunSpec, hashed_config
from tunedepth.study.prepare import PreparedStudy, prepare_study, resolve_device
from tunedepth.study.store import StudyStore
from tunedepth.training import EpochRecord, StoppingRule, TrainResult, predict_proba, train_model
from tunedepth.tuning import LrPolicy, freeze_to_depth

logger = logging.getLogger(__name__)

__all__ = ["StudyProgress", "StudySummary", "run_one", "run_study"]


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
    """What ``run_study`` did."""

    out_dir: Path
    results: pd.DataFrame
    n_executed: int
    n_skipped: int

    @property
    def results_path(self) -> Path:
        return self.out_dir / "results.csv"


def _predictions_frame(labels: torch.Tensor, probs: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame({"index": np.arange(len(labels)), "label": labels.numpy()})
    for k in range(probs.shape[1]):
        frame[f"prob_{k}"] = probs[:, k]
    return frame


def _train_subset(prepared: PreparedStudy, spec: RunSpec) -> tuple[ImageSet, torch.Tensor | None]:
    train = prepared.data.train
    labels = train.labels.numpy()
    idx = train_subset_indices(labels, spec.train_fraction, seed=spec.seed)
    balance = prepared.config.data.balance
    if balance == "downsample":
        idx = balance_indices(labels, idx, policy="downsample", seed=spec.seed)
    subset = train.subset(torch.from_numpy(idx))
    weights = None
    if balance == "weighted_loss":
        weights = torch.as_tensor(class_weights(subset.labels.numpy(), prepared.data.n_classes), dtype=torch.float32)
    return subset, weights


@dataclass(frozen=True)
class _Trial:
    lr: float
    result: TrainResult
    model: GroupedModel

    @property
    def rank(self) -> float:
        # A NaN validation AUC never wins over a number.
        score = self.result.best_val_score
        return score if math.isfinite(score) else -math.inf


def _train_at_each_lr(prepared: PreparedStudy, spec: RunSpec, train: ImageSet, class_weights: torch.Tensor | None,
                      device: torch.device, progress: StudyProgress | None) -> list[_Trial]:
    """Train the run once per configured learning rate, each from the same initialisation."""
    config, tc, data = prepared.config, prepared.config.training, prepared.data
    trials = []
    for lr in tc.lrs:
        seed_everything(spec.seed)  # same initialisation (and data order) for every lr
        model = build_model(
            config.model.architecture, num_classes=data.n_classes,
            weights="none" if spec.regime == "scratch" else config.model.weights,
            checkpoint_path=config.model.checkpoint if spec.regime == "finetune" else None,
        )
        freeze_to_depth(model, spec.depth, bn_policy=tc.bn_policy)
        policy = LrPolicy(
            optimizer=tc.optimizer, lr=lr, head_lr_mult=tc.head_lr_mult, bias_lr_mult=tc.bias_lr_mult,
            momentum=tc.momentum, weight_decay=tc.weight_decay, lr_decay_per_epoch=tc.lr_decay_per_epoch,
        )
        result = train_model(
            model, train=train, val=data.val, regime=spec.regime, policy=policy,
            stopping=StoppingRule(tc.max_epochs, tc.patience, tc.min_iterations), batch_size=tc.batch_size,
            seed=spec.seed, device=device, val_score=roc_auc_score, augment=tc.augment, class_weights=class_weights,
            on_epoch_end=None if progress is None else (lambda r: progress.epoch_ended(spec, r)),
        )
        trials.append(_Trial(lr, result, model))
    return trials


def run_one(prepared: PreparedStudy, spec: RunSpec, run_id: str, store: StudyStore,
            *, progress: StudyProgress | None = None) -> dict[str, Any]:
    """Train and evaluate one run (at each learning rate when several), write it, return its metrics.

    Args:
        prepared: the validated study.
        spec: the run.
        run_id: its id (see :func:`tunedepth.study.run_id`).
        store: the study folder.
        progress: optional progress callbacks.

    Returns:
        The run's metrics, as written to ``metrics.json``.
    """
    config, data = prepared.config, prepared.data
    device = resolve_device(config.training.device)
    train, weights = _train_subset(prepared, spec)
    trials = _train_at_each_lr(prepared, spec, train, weights, device, progress)
    best = max(trials, key=lambda t: t.rank)  # first of equals: the earlier lr in the list
    model, result = best.model, best.result
    test_probs = predict_proba(model, data.test.images, mean=model.mean, std=model.std, batch_size=256,
                               device=device)
    test_labels = data.test.labels.numpy()
    metrics: dict[str, Any] = {
        "run_id": run_id, "regime": spec.regime, "depth": spec.depth, "label": spec.label,
        "train_fraction": spec.train_fraction, "seed": spec.seed, "n_train": len(train), "lr": best.lr,
        "val_auc": result.best_val_score, "test_auc": roc_auc_score(test_labels, test_probs),
        "test_acc": accuracy_score(test_labels, test_probs), "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run, "train_seconds": sum(t.result.train_seconds for t in trials),
        "n_val": len(data.val), "n_test": len(data.test),
        "lr_trials": [{"lr": t.lr, "val_auc": t.result.best_val_score, "best_epoch": t.result.best_epoch,
                       "epochs_run": t.result.epochs_run} for t in trials],
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
        predictions={"val": _predictions_frame(data.val.labels, result.val_probs),
                     "test": _predictions_frame(data.test.labels, test_probs)},
    )
    return metrics


def run_study(config: StudyConfig, out_dir: Path, *, progress: StudyProgress | None = None) -> StudySummary:
    """Run every run of a study that is not finished yet, then write ``results.csv``.

    Args:
        config: the validated study configuration.
        out_dir: the study folder; created after all checks pass.
        progress: optional progress callbacks.

    Returns:
        The summary, with the results table.

    Raises:
        TunedepthError: for bad input, before anything is written.
    """
    out_dir = Path(out_dir)
    prepared = prepare_study(config, out_dir)
    torch.set_num_threads(config.training.num_threads or os.cpu_count() or 1)
    # Denormal floats appear while training (tiny activations and gradients) and slow CPU
    # kernels by up to 10x (measured: EfficientNet-Lite0 at 64 px fell from 200 to 16 img/s
    # in the third run of one process). Flushing them to zero is deterministic.
    torch.set_flush_denormal(True)
    store = StudyStore(out_dir)
    store.create(dump_resolved(config))
    done = [store.is_complete(rid) for rid in prepared.run_ids]
    if progress is not None:
        progress.study_started(len(prepared.runs), sum(done))
    executed = 0
    for spec, rid, finished in zip(prepared.runs, prepared.run_ids, done, strict=True):
        if finished:
            logger.info("run %s (%s, fraction %g, seed %d) already finished; skipped",
                        rid, spec.label, spec.train_fraction, spec.seed)
            continue
        if progress is not None:
            progress.run_started(spec, rid, config.training.max_epochs)
        metrics = run_one(prepared, spec, rid, store, progress=progress)
        executed += 1
        if progress is not None:
            progress.run_ended(spec, metrics)
    results = store.write_results(list(prepared.run_ids))
    return StudySummary(out_dir, results, executed, len(prepared.runs) - executed)
