"""The records of one run in the study folder: :class:`RunRecord` (``metrics.json``, one row of ``results.csv``) and
:class:`RunFailure` (``failed.json``, one row of ``failures.csv``).

The columns of ``results.csv`` and ``failures.csv`` come from these fields: :data:`RESULT_COLUMNS` are the fields
every run has, in order; a run's scalar extras (``n_val``, ``n_test``, ``cached_groups``, a task's metrics) follow
them; nested ones (``lr_trials``, ``feature_cache``) stay in each run's ``metrics.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["FAILURE_COLUMNS", "RESULT_COLUMNS", "RunFailure", "RunRecord"]

_COLUMN = {"results_column": True}


@dataclass(frozen=True)
class RunRecord:
    """The metrics of one finished run.

    Attributes:
        run_id: the run's id (its folder name).
        regime: "scratch" or "finetune".
        depth: trainable groups from the output (scratch: all).
        label: the display label, e.g. "ft:conv3-fc8".
        train_fraction: share of the training split, in (0, 1].
        seed: the run's seed.
        n_train: training cases (images, patches) the run used.
        lr: the base learning rate kept (the best on validation when several were tried).
        val_auc: best validation AUC (the kept epoch's).
        test_auc: test ROC AUC of the kept model.
        test_acc: test accuracy (arg-max).
        best_epoch: the kept epoch.
        epochs_run: epochs trained at the kept learning rate.
        train_seconds: training time over every learning rate tried (with an lp_ft run's probe).
        n_val: validation cases scored.
        n_test: test cases scored.
        cached_groups: leading groups served from the frozen-feature cache (0 = not used).
        lr_trials: per learning rate tried: its validation AUC, epochs, or why it diverged.
        feature_cache: whether the feature cache was used, which groups, its dtype, or why not.
        task_metrics: the task's own test metrics (e.g. FROC sensitivities, boundary errors), by column name.
        method: the tuning method of a fine-tuning run beyond the paper's layer-wise scheme (``RunSpec.method``);
            None (not written) otherwise.
    """

    run_id: str = field(metadata=_COLUMN)
    regime: str = field(metadata=_COLUMN)
    depth: int = field(metadata=_COLUMN)
    label: str = field(metadata=_COLUMN)
    train_fraction: float = field(metadata=_COLUMN)
    seed: int = field(metadata=_COLUMN)
    n_train: int = field(metadata=_COLUMN)
    lr: float = field(metadata=_COLUMN)
    val_auc: float = field(metadata=_COLUMN)
    test_auc: float = field(metadata=_COLUMN)
    test_acc: float = field(metadata=_COLUMN)
    best_epoch: int = field(metadata=_COLUMN)
    epochs_run: int = field(metadata=_COLUMN)
    train_seconds: float = field(metadata=_COLUMN)
    n_val: int
    n_test: int
    cached_groups: int
    lr_trials: tuple[Mapping[str, Any], ...]
    feature_cache: Mapping[str, Any]
    task_metrics: Mapping[str, Any] = field(default_factory=dict)
    method: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The record as ``metrics.json`` holds it: the fields in order (``method`` only when set), the task's
        metrics last, flattened."""
        out = {f.name: getattr(self, f.name) for f in fields(self)
               if f.name != "task_metrics" and not (f.name == "method" and self.method is None)}
        out["lr_trials"] = [dict(trial) for trial in self.lr_trials]
        out["feature_cache"] = dict(self.feature_cache)
        clash = set(self.task_metrics) & set(out)
        if clash:
            raise ValueError(f"task metrics {sorted(clash)} of run {self.run_id} would overwrite run fields; rename "
                             "them.")
        return out | dict(self.task_metrics)


RESULT_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(RunRecord) if f.metadata.get("results_column"))
"""The first columns of ``results.csv``, in order (the fields every run has)."""


@dataclass(frozen=True)
class RunFailure:
    """A run whose last attempt raised.

    Attributes:
        run_id, regime, depth, label, train_fraction, seed: the run, as in :class:`RunRecord`.
        error: the exception's type name.
        reason: the first line of its message.
    """

    run_id: str
    regime: str
    depth: int
    label: str
    train_fraction: float
    seed: int
    error: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


FAILURE_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(RunFailure))
"""Columns of ``failures.csv`` and of each ``failed.json``."""
