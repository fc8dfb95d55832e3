"""A finished study read back from its folder: ``results.csv``, every listed run's predictions, and typed readers
for everything else a study folder holds (its configuration, each run's history, tables and arrays).

Every run of a study is scored on the same validation and test cases, in the same order, so two runs'
predictions can be compared case by case (paired tests). Loading checks that this holds.

Only the runs listed in ``results.csv`` are read: a study folder may also hold run folders of an earlier
version of the study file (their run ids differ), which ``results.csv`` leaves out.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.special import logit

from tunedepth.config import Regime
from tunedepth.errors import ConfigError, StudyFolderError, UndefinedMetricWarning
from tunedepth.evaluation import roc_auc_score
from tunedepth.results.identity import Arm, RunSpec
from tunedepth.results.layout import EPOCH_PREDICTIONS, Split, StudyLayout
from tunedepth.results.records import FAILURE_COLUMNS

logger = logging.getLogger(__name__)

__all__ = ["PROBABILITY_CLIP", "FinishedRun", "FinishedStudy", "load_finished_study"]

PROBABILITY_CLIP = float(np.finfo(np.float32).epsneg)
"""How far from 0 and 1 :meth:`FinishedRun.log_odds` clips stored probabilities, 2**-24: the float32 probabilities
that studies written before tunedepth stored log-odds hold cannot resolve anything closer to 1 (a stored 1.0 means
"at least 1 - 2**-24"), so a stored 0 or 1 becomes log-odds of -/+16.6 instead of an infinity."""

_SPLITS: tuple[Split, ...] = ("val", "test")
_REQUIRED = ("run_id", "regime", "depth", "label", "train_fraction", "seed", "val_auc", "test_auc")


@dataclass(frozen=True)
class FinishedRun:
    """One finished run and its predicted class probabilities.

    Attributes:
        run_id: the run's id (its folder name).
        spec: which run of the grid it is (regime, depth, train_fraction, seed, label); also readable as
            ``run.regime``, ``run.depth``, ``run.train_fraction``, ``run.seed``, ``run.label`` and ``run.arm``.
        val_scores: class scores on the validation cases, of shape (n_val, n_classes): per-class log-odds (or
            probabilities, for studies written before tunedepth stored log-odds); ranked, never averaged.
        test_scores: class scores on the test cases, of shape (n_test, n_classes), likewise.
        val_auc: ROC AUC of ``val_scores`` (:func:`~tunedepth.evaluation.roc_auc_score`); NaN when undefined,
            for example when a predicted probability is not finite.
        test_auc: ROC AUC of ``test_scores``, likewise.
        lr: the base learning rate the run kept (``results.csv``'s ``lr``); None when not recorded.
        score_kind: what the prediction files store: "log_odds", or "probability" for studies written before
            tunedepth stored log-odds (``prob_k`` columns). :meth:`log_odds` gives log-odds either way.
    """

    run_id: str
    spec: RunSpec
    val_scores: np.ndarray = field(repr=False)
    test_scores: np.ndarray = field(repr=False)
    val_auc: float
    test_auc: float
    lr: float | None = None
    score_kind: Literal["log_odds", "probability"] = "log_odds"

    @property
    def arm(self) -> Arm:
        """What the run trained: scratch, or fine-tuning at its depth."""
        return self.spec.arm

    @property
    def regime(self) -> Regime:
        return self.spec.regime

    @property
    def depth(self) -> int:
        return self.spec.depth

    @property
    def train_fraction(self) -> float:
        return self.spec.train_fraction

    @property
    def seed(self) -> int:
        return self.spec.seed

    @property
    def label(self) -> str:
        return self.spec.label

    def scores(self, split: Split) -> np.ndarray:
        """Class probabilities on ``split`` ("val" or "test"), of shape (n_cases, n_classes)."""
        return self.val_scores if split == "val" else self.test_scores

    def auc(self, split: Split) -> float:
        """ROC AUC on ``split`` ("val" or "test"), computed from the stored predictions; NaN when undefined."""
        return self.val_auc if split == "val" else self.test_auc

    def log_odds(self, split: Split) -> np.ndarray:
        """Per-class log-odds on ``split`` ("val" or "test"), of shape (n_cases, n_classes), as the calibration
        statistics of :mod:`tunedepth.evaluation.calibration` take them.

        The stored scores when they are log-odds; for a study that stored probabilities (``score_kind`` is
        "probability"), ``logit`` of the probabilities clipped to [:data:`PROBABILITY_CLIP`, 1 -
        :data:`PROBABILITY_CLIP`], so a stored 0 or 1 gives a finite log-odds of -/+16.6 (NaN stays NaN). The
        probabilities ``expit(log_odds)`` are then the stored ones up to that clip: Brier loss and calibration error
        are as good as exact; log-loss counts a confident miss as 16.6 rather than infinity.
        """
        scores = self.scores(split)
        if self.score_kind == "log_odds":
            return scores
        return np.asarray(logit(np.clip(scores, PROBABILITY_CLIP, 1.0 - PROBABILITY_CLIP)), dtype=float)


@dataclass(frozen=True)
class FinishedStudy:
    """The finished runs of a study with their predictions on the shared validation and test cases.

    Attributes:
        root: the study folder.
        results: ``results.csv`` as read (NaN metrics kept), one row per finished run.
        runs: one :class:`FinishedRun` per row of ``results``, in the same order.
        val_labels: class labels of the validation cases, of shape (n_val,).
        test_labels: class labels of the test cases, of shape (n_test,).
    """

    root: Path
    results: pd.DataFrame = field(repr=False)
    runs: tuple[FinishedRun, ...] = field(repr=False)
    val_labels: np.ndarray = field(repr=False)
    test_labels: np.ndarray = field(repr=False)

    @property
    def n_classes(self) -> int:
        """Number of classes (columns of the predicted probabilities)."""
        return int(self.runs[0].test_scores.shape[1])

    @property
    def train_fractions(self) -> tuple[float, ...]:
        """The training fractions with at least one finished run, largest first."""
        return tuple(sorted({r.train_fraction for r in self.runs}, reverse=True))

    def labels(self, split: Split) -> np.ndarray:
        """Class labels of the cases of ``split`` ("val" or "test"), of shape (n_cases,)."""
        return self.val_labels if split == "val" else self.test_labels

    @property
    def layout(self) -> StudyLayout:
        return StudyLayout(self.root)

    def arms_at(self, train_fraction: float) -> tuple[Arm, ...]:
        """The arms with a finished run at ``train_fraction``: scratch first, then depth 1, 2, ..."""
        return tuple(sorted({r.arm for r in self.runs if r.train_fraction == train_fraction}, key=Arm.sort_key))

    def depth_arms_at(self, train_fraction: float) -> tuple[Arm, ...]:
        """The paper's layer-wise fine-tuning arms with a finished run at ``train_fraction``, by depth: what the
        depth rules choose among (scratch and the other tuning methods are compared with the choice, not in it)."""
        return tuple(a for a in self.arms_at(train_fraction) if not a.is_scratch and a.method is None)

    def label_of(self, arm: Arm) -> str:
        """The display label of ``arm``, e.g. "scratch" or "ft:conv3-fc8"."""
        for r in self.runs:
            if r.arm == arm:
                return r.label
        raise KeyError(f"No run of the study {str(self.root)!r} trains {arm}.")

    def arm_of(self, label: str) -> Arm:
        """The arm a display label names (for callers that have only the label, e.g. from a table).

        Raises:
            ConfigError: if no run has this label.
        """
        for r in self.runs:
            if r.label == label:
                return r.arm
        labels = list(dict.fromkeys(r.label for r in self.runs))
        raise ConfigError(f"No run of the study {str(self.root)!r} has the label {label!r}; the labels are "
                          f"{labels}.")

    def runs_of(self, arm: Arm, *, train_fraction: float) -> dict[int, FinishedRun]:
        """The finished runs of one arm at one fraction, keyed by seed (ascending)."""
        found = [r for r in self.runs if r.arm == arm and r.train_fraction == train_fraction]
        return {r.seed: r for r in sorted(found, key=lambda r: r.seed)}

    def seeds_at(self, train_fraction: float) -> tuple[int, ...]:
        """The seeds with a finished run at ``train_fraction``, ascending."""
        return tuple(sorted({r.seed for r in self.runs if r.train_fraction == train_fraction}))

    # Typed readers of the rest of the folder. Paths come from the layout alone.

    def study_config(self) -> dict[str, Any]:
        """The resolved study configuration (``study.json``) as written when the study ran."""
        return _read_json(self.layout.study_json)

    @property
    def task(self) -> str:
        """The study's task ("classification" for folders written before tasks had names)."""
        return str(self.study_config().get("task") or "classification")

    def run_metrics(self, run_id: str) -> dict[str, Any]:
        """A finished run's ``metrics.json``."""
        return _read_json(self.layout.run_file(run_id, "metrics.json"))

    def run_config(self, run_id: str) -> dict[str, Any] | None:
        """A run's ``config.json`` (resolved config, versions, weights), or None when absent."""
        path = self.layout.run_file(run_id, "config.json")
        return _read_json(path) if path.is_file() else None

    def run_history(self, run_id: str) -> pd.DataFrame | None:
        """A run's ``history.csv`` (validation AUC and losses per epoch, at every learning rate tried), or None."""
        path = self.layout.run_file(run_id, "history.csv")
        return pd.read_csv(path) if path.is_file() else None

    def run_predictions(self, run_id: str, split: Split) -> tuple[np.ndarray, np.ndarray]:
        """A run's labels (n_cases,) and class scores (n_cases, n_classes) on ``split``, as stored."""
        labels, scores, _ = _read_predictions(self.layout.predictions_file(run_id, split))
        return labels, scores

    def run_table(self, run_id: str, name: str) -> pd.DataFrame:
        """A task's per-run table ``<name>.csv`` (e.g. ``boundary_errors_test``).

        Raises:
            StudyFolderError: if the run has no such table.
        """
        path = self.layout.run_file(run_id, f"{name}.csv")
        if not path.is_file():
            raise StudyFolderError(f"{path} is missing; the study's task does not write {name!r} or the run folder "
                                   "is incomplete (re-run `tunedepth study` on it).")
        return pd.read_csv(path)

    def run_arrays(self, run_id: str, name: str) -> dict[str, np.ndarray] | None:
        """A task's per-run arrays ``<name>.npz`` (e.g. ``overlays_test``), or None when absent."""
        path = self.layout.run_file(run_id, f"{name}.npz")
        if not path.is_file():
            return None
        with np.load(path) as arrays:
            return {key: arrays[key] for key in arrays.files}

    def run_epoch_log_odds(self, run_id: str, split: Split) -> dict[float, np.ndarray]:
        """A run's case log-odds on ``split`` after every epoch, per learning rate tried: lr -> array of shape
        (epochs, n_cases, n_classes). Empty for runs written before tunedepth kept them. The test arrays are for
        scoring only: nothing may be chosen on them."""
        arrays = self.run_arrays(run_id, EPOCH_PREDICTIONS)
        if arrays is None:
            return {}
        return {float(lr): arrays[f"{split}_{k}"] for k, lr in enumerate(arrays["lrs"]) if f"{split}_{k}" in arrays}

    def task_table(self, name: str) -> pd.DataFrame:
        """A task's study-wide table ``<task>/<name>`` (e.g. ``detection/frames.csv``).

        Raises:
            StudyFolderError: if it is missing or unreadable.
        """
        path = self.layout.task_dir(self.task) / name
        try:
            return pd.read_csv(path)
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise StudyFolderError(f"Study folder {str(self.root)!r} lacks a readable {self.task} table {name!r} "
                                   f"({exc}); re-run `tunedepth study` on it.") from None

    def task_summary(self, name: str) -> dict[str, Any] | None:
        """A task's study-wide JSON file ``<task>/<name>`` (e.g. ``detection/summary.json``), or None when absent."""
        path = self.layout.task_dir(self.task) / name
        return _read_json(path) if path.is_file() else None

    def failures(self) -> pd.DataFrame:
        """``failures.csv``: one row per run whose last attempt failed; empty when none."""
        path = self.layout.failures_csv
        if not path.is_file():
            return pd.DataFrame(columns=list(FAILURE_COLUMNS))
        return pd.read_csv(path, dtype={"run_id": str}, keep_default_na=False)


def _read_json(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def _fail_unless(condition: bool, message: str) -> None:
    if not condition:
        raise StudyFolderError(message)


def _read_results(root: Path) -> pd.DataFrame:
    path = StudyLayout(root).results_csv
    _fail_unless(
        path.is_file(),
        f"Study {str(root)!r} has no finished runs: results.csv is missing (`tunedepth study` writes it when the "
        "study ends; rerun the study, which resumes, to finish it).",
    )
    try:
        # run ids are hex digests: one made only of digits must not become a number
        frame = pd.read_csv(path, dtype={"run_id": str, "label": str, "regime": str})
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise StudyFolderError(f"{str(path)!r} is not a readable results table ({exc}); rerun `tunedepth study` "
                               "on this folder to rewrite it.") from None
    missing = [c for c in _REQUIRED if c not in frame.columns]
    _fail_unless(not missing, f"{str(path)!r} lacks the column(s) {missing}; rerun `tunedepth study` on this folder "
                              "to rewrite it.")
    _fail_unless(len(frame) > 0, f"Study {str(root)!r} has no finished runs (results.csv lists none); run "
                                 "`tunedepth study` first.")
    key = ["label", "train_fraction", "seed"]
    duplicated = frame[frame.duplicated(key, keep=False)]
    _fail_unless(duplicated.empty, f"{str(path)!r} lists the same (label, train_fraction, seed) more than once "
                                   f"(run ids {sorted(duplicated['run_id'].astype(str))}); rerun `tunedepth study`.")
    return frame


def _read_predictions(path: Path) -> tuple[np.ndarray, np.ndarray, Literal["log_odds", "probability"]]:
    _fail_unless(path.is_file(), f"Run file {str(path)!r} is missing; the study folder is incomplete (rerun "
                                 "`tunedepth study` after deleting that run's folder).")
    frame = pd.read_csv(path)
    # log_odds_k: what studies write (per-class float64 log-odds, which never saturate); prob_k: studies written by
    # tunedepth before that (probabilities from float32, which tie at 0 and 1), still readable.
    prefix = "log_odds_" if any(str(c).startswith("log_odds_") for c in frame.columns) else "prob_"
    prob_columns = [c for c in frame.columns if str(c).startswith(prefix)]
    expected = ["index", "label", *(f"{prefix}{k}" for k in range(len(prob_columns)))]
    _fail_unless(list(frame.columns) == expected and len(prob_columns) >= 2,
                 f"{str(path)!r} must have the columns index, label, log_odds_0 ... log_odds_(K-1) (or prob_0 ... "
                 f"prob_(K-1)) with K >= 2; got {list(frame.columns)}.")
    _fail_unless(np.array_equal(frame["index"].to_numpy(), np.arange(len(frame))),
                 f"{str(path)!r}: the 'index' column must be 0, 1, ..., n - 1 in order.")
    kind: Literal["log_odds", "probability"] = "log_odds" if prefix == "log_odds_" else "probability"
    return frame["label"].to_numpy(dtype=int), frame[prob_columns].to_numpy(dtype=float), kind


def _read_run(root: Path, row: pd.Series) -> tuple[FinishedRun, dict[Split, np.ndarray]]:
    run_id = str(row["run_id"])
    layout = StudyLayout(root)
    metrics = layout.run_file(run_id, "metrics.json")
    _fail_unless(metrics.is_file(),
                 f"Run {run_id!r} is listed in {str(layout.results_csv)!r} but is not finished (no "
                 f"{str(metrics)!r}); rerun `tunedepth study` on this folder.")
    labels: dict[Split, np.ndarray] = {}
    scores: dict[Split, np.ndarray] = {}
    kinds: set[str] = set()
    for split in _SPLITS:
        labels[split], scores[split], kind = _read_predictions(layout.predictions_file(run_id, split))
        kinds.add(kind)
    _fail_unless(len(kinds) == 1, f"Run {run_id!r} stores log-odds for one split and probabilities for the other; "
                                  "delete its folder and rerun `tunedepth study` on this folder.")
    regime = str(row["regime"])
    _fail_unless(regime in ("scratch", "finetune"), f"{str(layout.results_csv)!r}: run {run_id!r} has regime "
                                                    f"{regime!r}; expected 'scratch' or 'finetune'.")
    method = row.get("method")
    spec = RunSpec("scratch" if regime == "scratch" else "finetune", int(row["depth"]), float(row["train_fraction"]),
                   int(row["seed"]), str(row["label"]),
                   method=None if not isinstance(method, str) or method in ("", "layerwise") else method)
    run = FinishedRun(
        run_id=run_id, spec=spec,
        val_scores=scores["val"], test_scores=scores["test"],
        val_auc=_auc(labels["val"], scores["val"], run_id, "val"),
        test_auc=_auc(labels["test"], scores["test"], run_id, "test"),
        lr=float(row["lr"]) if "lr" in row.index and pd.notna(row["lr"]) else None,
        score_kind=kind,
    )
    return run, labels


def _auc(labels: np.ndarray, scores: np.ndarray, run_id: str, split: Split) -> float:
    bad = int((~np.isfinite(scores).all(axis=1)).sum())
    if bad:
        warnings.warn(f"Run {run_id!r} has {bad} {split} case(s) with non-finite predicted probabilities; its {split} "
                      "AUC is NaN and it is left out of the statistics.", UndefinedMetricWarning, stacklevel=4)
        return float("nan")
    return roc_auc_score(labels, scores)


def load_finished_study(study_dir: Path) -> FinishedStudy:
    """Read a study folder's finished runs: ``results.csv`` and each listed run's predictions.

    Args:
        study_dir: the folder written by :func:`tunedepth.study.run_study` (``tunedepth study --out``).

    Returns:
        The finished study. NaN metrics in ``results.csv`` are kept (and logged with a count). Each run's AUCs
        are recomputed from its predictions; a run with non-finite predictions gets a NaN AUC, with an
        :class:`~tunedepth.errors.UndefinedMetricWarning`.

    Raises:
        StudyFolderError: if the folder does not exist, is not a study (no ``study.json``), has no finished runs
            (no or an empty ``results.csv``), or a listed run lacks its files, or runs were scored on different
            cases (labels or class counts differ), or a (label, train_fraction, seed) appears twice.

    Example:
        >>> load_finished_study(Path("/nonexistent/study"))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        tunedepth.errors.StudyFolderError: Study folder '/nonexistent/study' does not exist ...
    """
    root = Path(study_dir)
    _fail_unless(root.is_dir(), f"Study folder {str(root)!r} does not exist or is not a folder; pass the folder "
                                "that `tunedepth study --out` wrote.")
    _fail_unless(StudyLayout(root).study_json.is_file(),
                 f"{str(root)!r} is not a tunedepth study (it has no study.json); pass the folder that "
                 "`tunedepth study --out` wrote.")
    results = _read_results(root)
    runs: list[FinishedRun] = []
    reference: dict[Split, np.ndarray] = {}
    for _, row in results.iterrows():
        run, labels = _read_run(root, row)
        for split in _SPLITS:
            ref = reference.setdefault(split, labels[split])
            if runs and not (np.array_equal(ref, labels[split])
                             and run.scores(split).shape[1] == runs[0].scores(split).shape[1]):
                raise StudyFolderError(
                    f"Run {run.run_id!r} was scored on other {split} cases than run {runs[0].run_id!r} (labels or "
                    "class count differ); every run of a study must share the validation and test cases.")
        runs.append(run)
    for metric in ("val_auc", "test_auc"):
        n_nan = int(results[metric].isna().sum())
        if n_nan:
            logger.warning("study %s: %d of %d runs have a NaN %s (kept; see the tables' n_nan columns)",
                           root, n_nan, len(results), metric)
    return FinishedStudy(root, results, tuple(runs), reference["val"], reference["test"])

