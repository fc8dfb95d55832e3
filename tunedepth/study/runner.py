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
from tunedepth.models import build_model
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


def run_one(prepared: PreparedStudy, spec: RunSpec, run_id: str, store: StudyStore,
            *, progress: StudyProgress | None = None) -> dict[str, Any]:
    """Train and evaluate one run (each learning rate when several), write it, return its metrics."""
    config: StudyConfig = prepared.config
    tc = config.training
    device = resolve_device(tc.device)
    train, weights = _train_subset(prepared, spec)
    data = prepared.data
    trials: list[tuple[float, TrainResult, Any]] = []
    for lr in tc.lrs:
        seed_everything(spec.seed)  # same initialisation for every lr
        model = build_model(
            config.model.architecture, num_classes=data.n_classes,
            weights="none" if spec.regime == "scratch" else config.model.weights,
            checkpoint_path=config.model.checkpoint if spec.regime == "finetune" else None,
        )
        freeze_to_depth(model, spec.depth, bn_policy=tc.bn_policy)
        policy = LrPolicy(
            optimizer=tc.optimizer, lr=lr, head_lr_mult=tc.head_lr_mult if spec.regime == "finetune" else 1.0,
            bias_lr_mult=tc.bias_lr_mult, momentum=tc.momentum, weight_decay=tc.weight_decay,
            lr_decay_per_epoch=tc.lr_decay_per_epoch,
        )
        result = train_model(
            model, train=train, val=data.val, regime=spec.regime, policy=policy,
            stopping=StoppingRule(tc.max_epochs, tc.patience), batch_size=tc.batch_size, seed=spec.seed,
            device=device, val_score=roc_auc_score, augment=tc.augment, class_weights=weights,
            on_epoch_end=None if progress is None else (lambda r: progress.epoch_ended(spec, r)),
        )
        # A NaN validation AUC never wins over a number.
        score = result.best_val_score if math.isfinite(result.best_val_score) else -math.inf
        if not trials or score > max(t[0] for t in trials):
            best_model = model
        trials.append((score, result, lr))
    best_score, best, best_lr = max(trials, key=lambda t: t[0])
    test_probs = predict_proba(best_model, data.test.images, mean=best_model.mean, std=best_model.std,
                               batch_size=256, device=device)
    test_labels = data.test.labels.numpy()
    metrics: dict[str, Any] = {
        "run_id": run_id, "regime": spec.regime, "depth": spec.depth, "label": spec.label,
        "train_fraction": spec.train_fraction, "seed": spec.seed, "n_train": len(train), "lr": best_lr,
        "val_auc": best.best_val_score, "test_auc": roc_auc_score(test_labels, test_probs),
        "test_acc": accuracy_score(test_labels, test_probs), "best_epoch": best.best_epoch,
        "epochs_run": best.epochs_run, "train_seconds": sum(t[1].train_seconds for t in trials),
        "n_val": len(data.val), "n_test": len(data.test),
        "lr_trials": [{"lr": lr, "val_auc": r.best_val_score, "best_epoch": r.best_epoch, "epochs_run": r.epochs_run}
                      for _, r, lr in trials],
    }
    history = pd.concat(
        [pd.DataFrame([asdict(rec) for rec in r.history]).assign(base_lr=lr) for _, r, lr in trials],
        ignore_index=True,
    ).rename(columns={"val_score": "val_auc"})
    weights_info = prepared.weights if spec.regime == "finetune" else None
    run_config = {
        "run_id": run_id,
        "run": asdict(spec),
        "hashed": hashed_config(config, spec, weights_sha256=None if weights_info is None else weights_info.sha256),
        "study": dump_resolved(config),
        "weights": None if weights_info is None else {"name": weights_info.name, "path": str(weights_info.path),
                                                       "sha256": weights_info.sha256},
        "device": str(device),
        "num_threads": torch.get_num_threads(),
        **provenance(),
    }
    store.write_run(
        run_id, config=run_config, metrics=metrics, history=history,
        predictions={"val": _predictions_frame(data.val.labels, best.val_probs),
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
