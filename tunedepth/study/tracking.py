"""Log a study's finished runs to MLflow and/or TensorBoard (``[tracking]``; docs/answer.md, "Tracking").

Logging reads what the study folder holds, in the study's own process: a run is logged when it has finished (its
``metrics.json`` is written), right after it ends and again, for every finished run, when the study ends. So runs
trained by worker processes or on Ray are logged like the others, a resumed study logs the finished runs that were
not logged yet (tracking switched on later, a tracking server down for a while), and a run already logged is never
logged again: in MLflow, a run tagged with its run id exists in the experiment; in TensorBoard, its folder exists.
Failed runs are not logged. A logging error during the study is a warning (the runs are safe in the study folder;
the next sync retries); the store is opened before anything is written, so a wrong URI stops the study first.

What a run logs (the same in both):

- parameters: the run's identity (regime, depth, label, method, training fraction, seed) and every resolved setting
  its run id is made from (``config.json``'s ``hashed``, flattened to dotted keys such as ``training.lr``);
- final metrics: the other numbers of its ``results.csv`` row (``val_auc``, ``test_auc``, the kept ``lr``,
  ``best_epoch``, ``train_seconds``, the task's own scores);
- per-epoch metrics: every number of ``history.csv``, as ``history/<column>`` at step = epoch;
- artifacts (MLflow): ``config.json``, ``metrics.json``, ``history.csv``, the prediction files and, when kept,
  ``weights.safetensors``. Experiments this module creates on a local store (SQLite, a folder) keep their artifacts
  in ``<study folder>/mlflow-artifacts``.

Written by hand: MLflow and TensorBoard log what they are given; which runs to log, and once, is the study's.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tunedepth._io import atomic_write_dir
from tunedepth.config import StudyConfig, TrackingConfig
from tunedepth.errors import ConfigError
from tunedepth.results import WEIGHTS_FILE, StudyStore

logger = logging.getLogger(__name__)

__all__ = ["IDENTITY", "RUN_ID_TAG", "StudyTracker", "TrackedRun", "open_tracker", "tracked_run"]

IDENTITY = ("regime", "depth", "label", "method", "train_fraction", "seed")
"""The ``results.csv`` columns that say which run it is: logged as parameters, not metrics."""
RUN_ID_TAG = "tunedepth.run_id"
TENSORBOARD_DIR = "tensorboard"
_ARTIFACTS = ("config.json", "metrics.json", "history.csv", "predictions_val.csv", "predictions_test.csv",
              WEIGHTS_FILE)


@dataclass(frozen=True)
class TrackedRun:
    """What one finished run logs (see the module docstring)."""

    run_id: str
    name: str
    params: dict[str, str]
    metrics: dict[str, float]
    history: pd.DataFrame
    artifacts: tuple[Path, ...]
    ended: float
    seconds: float


def tracked_run(store: StudyStore, run_id: str) -> TrackedRun:
    """The record of the finished run ``run_id`` of ``store``'s study."""
    metrics = store.read_metrics(run_id)
    config = json.loads(store.layout.run_file(run_id, "config.json").read_text())
    scalars = {k: v for k, v in metrics.items() if k != "run_id" and not isinstance(v, (list, dict))}
    params = {k: str(scalars.pop(k)) for k in IDENTITY if k in scalars}
    params |= {k: str(scalars.pop(k)) for k, v in list(scalars.items()) if isinstance(v, str) or v is None}
    params |= {f"config.{k}": v for k, v in _flat(config.get("hashed", {})).items()}
    history = pd.read_csv(store.layout.run_file(run_id, "history.csv"))
    history = history[[c for c in history.columns if pd.api.types.is_numeric_dtype(history[c])]]
    folder = store.run_dir(run_id)
    label = params.get("label", run_id)
    name = f"{label} @ {float(params.get('train_fraction', 1)):g} seed {params.get('seed', '?')}"
    return TrackedRun(run_id=run_id, name=name, params=params,
                      metrics={k: float(v) for k, v in scalars.items()}, history=history,
                      artifacts=tuple(folder / f for f in _ARTIFACTS if (folder / f).is_file()),
                      ended=(folder / "metrics.json").stat().st_mtime,
                      seconds=float(scalars.get("train_seconds", 0.0) or 0.0))


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"training": {"lr": 0.01}}`` -> ``{"training.lr": "0.01"}`` (lists as JSON)."""
    out: dict[str, str] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out |= _flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = json.dumps(value) if isinstance(value, list) else str(value)
    return out


class _Mlflow:
    """One MLflow experiment for the study; logs each run once (its run id as a tag)."""

    def __init__(self, uri: str, experiment: str, study_dir: Path) -> None:
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise ConfigError("[tracking] mlflow_uri needs MLflow, which is not installed; run pip install "
                              "'tunedepth[mlflow]', or remove mlflow_uri.") from None
        try:
            self.client = MlflowClient(tracking_uri=uri)
            found = self.client.get_experiment_by_name(experiment)
            if found is None:
                local = uri.startswith(("sqlite:", "file:")) or "://" not in uri
                location = (study_dir.resolve() / "mlflow-artifacts").as_uri() if local else None
                self.experiment_id = self.client.create_experiment(experiment, artifact_location=location)
            else:
                self.experiment_id = found.experiment_id
            self.logged = self._logged_run_ids()
        except Exception as exc:  # any store error: the URI is wrong, the server down, the database unreadable
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ConfigError(f"[tracking] mlflow_uri {uri!r}: cannot open the MLflow store ({first}); check the URI "
                              "or that the tracking server runs.") from None

    def _logged_run_ids(self) -> set[str]:
        found: set[str] = set()
        token = None
        while True:
            page = self.client.search_runs([self.experiment_id], max_results=1000, page_token=token)
            found |= {run.data.tags[RUN_ID_TAG] for run in page if RUN_ID_TAG in run.data.tags}
            token = page.token
            if not token:
                return found

    def log(self, run: TrackedRun, study: str) -> bool:
        if run.run_id in self.logged:
            return False
        from mlflow.entities import Metric, Param

        ended_ms = int(run.ended * 1000)
        created = self.client.create_run(self.experiment_id, start_time=ended_ms - int(run.seconds * 1000),
                                         run_name=run.name, tags={RUN_ID_TAG: run.run_id, "tunedepth.study": study})
        mlflow_id = created.info.run_id
        params = [Param(k, v) for k, v in run.params.items()]
        metrics = [Metric(k, v, ended_ms, 0) for k, v in run.metrics.items()]
        for column in run.history.columns.drop("epoch", errors="ignore"):
            metrics += [Metric(f"history/{column}", float(value), ended_ms, int(epoch))
                        for epoch, value in zip(run.history["epoch"], run.history[column], strict=True)
                        if not math.isnan(float(value))]
        for start in range(0, max(len(params), len(metrics)), 100):  # MLflow's batch limits
            self.client.log_batch(mlflow_id, metrics=metrics[start:start + 100], params=params[start:start + 100])
        for path in run.artifacts:
            self.client.log_artifact(mlflow_id, str(path))
        self.client.set_terminated(mlflow_id, status="FINISHED", end_time=ended_ms)
        self.logged.add(run.run_id)
        return True


class _TensorBoard:
    """Event files under ``<study folder>/tensorboard/<run_id>/``, written whole; a run with a folder is skipped."""

    def __init__(self, study_dir: Path) -> None:
        try:
            import tensorboard  # noqa: F401  (torch's writer needs it)
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ConfigError("[tracking] tensorboard = true needs TensorBoard, which is not installed; run pip "
                              "install 'tunedepth[tensorboard]', or set tensorboard = false.") from None
        self.writer = SummaryWriter
        self.root = study_dir / TENSORBOARD_DIR

    def log(self, run: TrackedRun) -> bool:
        target = self.root / run.run_id
        if target.exists():
            return False

        def write(folder: Path) -> None:
            writer = self.writer(log_dir=str(folder))
            for column in run.history.columns.drop("epoch", errors="ignore"):
                for epoch, value in zip(run.history["epoch"], run.history[column], strict=True):
                    writer.add_scalar(f"history/{column}", float(value), int(epoch))
            hparams: dict[str, Any] = {k: _number_or_text(v) for k, v in run.params.items()}
            writer.add_hparams(hparams, {f"final/{k}": v for k, v in run.metrics.items()}, run_name=".")
            writer.close()

        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_dir(target, write)
        return True


def _number_or_text(value: str) -> float | str:
    try:
        return float(value)
    except ValueError:
        return value


class StudyTracker:
    """Where a study's finished runs are logged ([tracking]); :meth:`log_finished` logs those not logged yet."""

    def __init__(self, config: TrackingConfig, study_name: str, study_dir: Path) -> None:
        self.study_name = study_name
        self.mlflow = None if config.mlflow_uri is None else \
            _Mlflow(config.mlflow_uri, config.mlflow_experiment or study_name, study_dir)
        self.tensorboard = _TensorBoard(study_dir) if config.tensorboard else None

    def log_finished(self, store: StudyStore, run_ids: Iterable[str]) -> int:
        """Log each finished run of ``run_ids`` not logged yet; return how many were logged. A logging error is a
        warning: the run is logged at the next call."""
        logged = 0
        for run_id in run_ids:
            if not store.is_complete(run_id):
                continue
            try:
                run = tracked_run(store, run_id)
                new = self.mlflow is not None and self.mlflow.log(run, self.study_name)
                new = (self.tensorboard is not None and self.tensorboard.log(run)) or new
                logged += new
            except Exception as exc:  # a tracking failure must not stop the study; the runs are in its folder
                logger.warning("run %s could not be logged (%s: %s); it will be tried again when the study ends or "
                               "is resumed", run_id, type(exc).__name__, str(exc).strip().splitlines()[0] if str(exc)
                               else "")
        return logged


def open_tracker(config: StudyConfig, study_dir: Path) -> StudyTracker | None:
    """The study's tracker, its stores opened (None without ``[tracking]``).

    Raises:
        ConfigError: an extra is missing, or the MLflow store cannot be opened (one line naming the setting).
    """
    tracking = config.tracking
    if tracking.mlflow_uri is None and not tracking.tensorboard:
        return None
    return StudyTracker(tracking, config.name, Path(study_dir))
