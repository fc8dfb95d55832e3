"""Where everything of a study folder lives: the one place that spells its paths and file names.

Layout::

    <study>/study.json                        resolved study configuration
    <study>/results.csv                       one row per finished run
    <study>/failures.csv                      one row per failed run; absent when none
    <study>/scores.csv, ..., analysis.json    the analysis (tunedepth.analysis), written by analyze_study
    <study>/report.html                       the report (tunedepth.report)
    <study>/<task>/...                        task-wide tables of a task that writes them (e.g. detection/)
    <study>/runs/<run_id>/config.json         resolved run config, version, git SHA, weights sha256
    <study>/runs/<run_id>/history.csv         convergence: val AUC against mini-batches
    <study>/runs/<run_id>/predictions_{val,test}.csv
    <study>/runs/<run_id>/epoch_predictions.npz    every epoch's val and test case log-odds at every lr
    <study>/runs/<run_id>/<name>.csv, <name>.npz   a task's own per-run tables and arrays
    <study>/runs/<run_id>/weights.safetensors the best epoch's weights (keep_checkpoints = "all", tunedepth rerun)
    <study>/runs/<run_id>/metrics.json        written last: the run is finished iff it exists
    <study>/runs/<run_id>/failed.json, traceback.txt   instead, for a run that raised
    <study>/.lock                             held (flock) by the process running the study
    <study>/plan.json                         the runs of the last `tunedepth study` (ids, labels), when it started
    <study>/runs/.<run_id>.running.tmp        while a run trains: where and since when (removed at its end)
    <study>/.feature-cache/                   shared frozen-feature files while a study runs

:class:`~tunedepth.results.StudyStore` writes and :class:`~tunedepth.results.FinishedStudy` reads through it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["CROPS_TEST", "EPOCH_PREDICTIONS", "WEIGHTS_FILE", "Split", "StudyLayout"]

Split = Literal["val", "test"]

EPOCH_PREDICTIONS = "epoch_predictions"
WEIGHTS_FILE = "weights.safetensors"
"""A run's weights at its best epoch (:mod:`tunedepth.models.checkpoints`)."""
"""Name of a run's arrays (``<name>.npz``) of every epoch's validation and test case log-odds at every lr tried:
``lrs`` (the study's learning rates), ``val_<k>`` and ``test_<k>`` of shape (epochs, n_cases, n_classes) for the
lr of index k (absent for an lr whose training diverged). The test arrays are for scoring only: nothing selects on
them."""

CROPS_TEST = "crops_test"
"""Name of a frame-classification run's arrays (``<name>.npz``) of every test crop's log-odds: ``log_odds`` of shape
(n_crops, n_frames, n_classes), crop 0 the centre crop (the single view)."""


@dataclass(frozen=True)
class StudyLayout:
    """The paths of one study folder.

    Example:
        >>> layout = StudyLayout(Path("/s"))
        >>> str(layout.run_file("0123abcd4567", "metrics.json"))
        '/s/runs/0123abcd4567/metrics.json'
    """

    root: Path

    @property
    def study_json(self) -> Path:
        return self.root / "study.json"

    @property
    def results_csv(self) -> Path:
        return self.root / "results.csv"

    @property
    def failures_csv(self) -> Path:
        return self.root / "failures.csv"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    @property
    def plan_json(self) -> Path:
        return self.root / "plan.json"

    def running_marker(self, run_id: str) -> Path:
        """The file that says a run is training now (a ``.tmp`` name: removed with a killed process's leftovers)."""
        return self.runs_dir / f".{run_id}.running.tmp"

    @property
    def report_html(self) -> Path:
        return self.root / "report.html"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def feature_cache_dir(self) -> Path:
        return self.root / ".feature-cache"

    @property
    def prepared_dir(self) -> Path:
        """The prepared study shared with worker processes while a study runs (removed at its end; a killed
        process's is removed as a temporary folder)."""
        return self.root / ".prepared.tmp"

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id

    def run_file(self, run_id: str, name: str) -> Path:
        return self.run_dir(run_id) / name

    def weights_file(self, run_id: str) -> Path:
        return self.run_file(run_id, WEIGHTS_FILE)

    def predictions_file(self, run_id: str, split: Split) -> Path:
        return self.run_file(run_id, f"predictions_{split}.csv")

    def task_dir(self, task: str) -> Path:
        """The folder of a task's study-wide tables (e.g. ``detection/``)."""
        return self.root / task

    def analysis_file(self, name: str) -> Path:
        """A table or text the analysis writes into the study folder (``scores.csv``, ...)."""
        return self.root / name
