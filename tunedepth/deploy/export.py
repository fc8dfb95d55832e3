"""``tunedepth export``: a study's answer as a model folder (:mod:`tunedepth.deploy.model_folder`).

The exported run is the recommended configuration at the study's largest training fraction (the analysis's
depth rule, chosen on validation) unless a run is named; with several seeds, the seed whose run has the best
validation AUC among that configuration's (stated in ``model.json``'s ``source.why``). Its weights are the ones
the study kept (``keep_checkpoints = "all"``) or, when it kept none, re-made and checked by ``tunedepth rerun``.
For a binary task the decision threshold is chosen on the run's validation predictions at a target
false-positive rate (:func:`~tunedepth.evaluation.threshold_at_fpr`), and the test split's sensitivity and
specificity at it are recorded; the test AUC with its DeLong interval too.

Only tasks whose test cases are whole images (``TaskRun.scores_whole_images``: classification) are exported so
far; the other tasks' protocols (crop averaging, candidates, boundaries) are refused in one line.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

import tunedepth
from tunedepth._io import atomic_write_dir, file_sha256
from tunedepth.analysis import recommend_depths
from tunedepth.config import AnalysisConfig, parse_study
from tunedepth.deploy.model_folder import (
    ExportedModel,
    InputSpec,
    OnnxCheck,
    RunSource,
    Threshold,
    load_weights,
    write_model_json,
)
from tunedepth.deploy.onnx_export import ONNX_FILE, ONNX_TOLERANCE, check_onnx_installed, write_onnx
from tunedepth.errors import ConfigError, StudyFolderError
from tunedepth.evaluation import auc_ci, threshold_at_fpr
from tunedepth.models import get_architecture
from tunedepth.results import WEIGHTS_FILE, FinishedStudy, StudyStore, load_finished_study
from tunedepth.study.prepare import prepare_study
from tunedepth.study.rerun import rerun_run
from tunedepth.study.tasks import STUDY_TASKS

__all__ = ["ExportResult", "export_model"]


@dataclass(frozen=True)
class ExportResult:
    """What ``tunedepth export`` wrote: the folder, its description, and whether the weights were re-made."""

    model_dir: Path
    info: ExportedModel
    rerun: bool


def export_model(study_dir: Path, out_dir: Path, *, run_id: str | None = None, fpr_target: float = 0.1,
                 confidence: float = 0.95, onnx: bool = False) -> ExportResult:
    """Export one run of the study in ``study_dir`` into ``out_dir`` (see the module docstring).

    Args:
        study_dir: a finished study folder.
        out_dir: the model folder to write (must not exist; written whole or not at all).
        run_id: the run to export; default: the recommended configuration at the largest fraction.
        fpr_target: the false-positive rate the decision threshold is chosen at on validation (binary tasks).
        confidence: level of the test AUC's interval.
        onnx: also write ``model.onnx``, checked against PyTorch on the test images
            (:mod:`tunedepth.deploy.onnx_export`).

    Raises:
        StudyFolderError: not a study, the run is not one of its finished runs, the task cannot be exported yet,
            or ``out_dir`` exists.
        ConfigError: ``fpr_target`` allows no false positive among the run's validation negatives, or ``onnx``
            without the ``onnx`` extra installed.
        WeightsError: the ONNX model does not match PyTorch.
        ReproductionError: the weights had to be re-made and the re-made run did not reproduce.
    """
    study_dir, out_dir = Path(study_dir), Path(out_dir)
    if onnx:
        check_onnx_installed()
    if out_dir.exists():
        raise StudyFolderError(f"The export folder {out_dir} exists; give a new --out (an export is never written "
                               "over another).")
    study = load_finished_study(study_dir)
    if not STUDY_TASKS.get(study.task).scores_whole_images:
        exportable = [name for name in STUDY_TASKS if STUDY_TASKS.get(name).scores_whole_images]
        raise StudyFolderError(f"tunedepth export exports studies whose test cases are whole images ({exportable}) "
                               f"so far; {study_dir} is a {study.task!r} study, whose test protocol (crops, "
                               "candidates, boundaries) the model folder cannot yet carry.")
    store = StudyStore(study_dir)
    config = parse_study(json.loads(store.layout.study_json.read_text()), base_dir=study_dir,
                         source=str(store.layout.study_json))
    run_id, why = _chosen_run(study, run_id, config.analysis)
    remade = not store.layout.weights_file(run_id).is_file()
    if remade:
        rerun_run(study_dir, run_id)
    metrics = json.loads(store.layout.run_file(run_id, "metrics.json").read_text())
    prepared = prepare_study(config, study_dir)  # the class names (the data's own) and the architecture
    val, test = (pd.read_csv(store.layout.predictions_file(run_id, split)) for split in ("val", "test"))
    n_classes = len(prepared.data.class_names)
    test_auc = (float(metrics["test_auc"]), float("nan"), float("nan"))
    threshold = None
    if n_classes == 2:
        interval = auc_ci(test["label"], test["log_odds_1"], confidence=confidence)
        test_auc = (interval.auc, interval.low, interval.high)
        threshold = _threshold(val, test, fpr_target)
    arch = get_architecture(config.model.architecture)
    info = ExportedModel(
        task=study.task, architecture=config.model.architecture, groups=arch.group_names,
        class_names=tuple(prepared.data.class_names),
        input=InputSpec(image_size=config.data.image_size, mean=arch.mean, std=arch.std),
        source=RunSource(study_dir=str(study_dir.resolve()), study_name=config.name, run_id=run_id,
                         label=str(metrics["label"]), regime=str(metrics["regime"]), depth=int(metrics["depth"]),
                         train_fraction=float(metrics["train_fraction"]), seed=int(metrics["seed"]),
                         lr=float(metrics["lr"]), best_epoch=int(metrics["best_epoch"]), why=why),
        test_auc=test_auc[0], test_auc_low=test_auc[1], test_auc_high=test_auc[2], confidence=confidence,
        n_val=len(val), n_test=len(test), threshold=threshold,
        files={WEIGHTS_FILE: file_sha256(store.layout.weights_file(run_id))},
        versions={"tunedepth": tunedepth.__version__, "torch": torch.__version__},
    )

    with tempfile.TemporaryDirectory(prefix="tunedepth-export-") as tmp:
        if onnx:
            model, _ = load_weights(store.layout.weights_file(run_id), config.model.architecture, n_classes)
            test_images = prepared.data.test.images
            absolute, relative = write_onnx(model, Path(tmp) / ONNX_FILE, image_size=config.data.image_size,
                                            check_images=test_images)
            info = info.model_copy(update={
                "onnx": OnnxCheck(file=ONNX_FILE, max_abs_difference=absolute, max_relative_difference=relative,
                                  n_images=int(test_images.shape[0]), tolerance=ONNX_TOLERANCE),
                "files": {**info.files, ONNX_FILE: file_sha256(Path(tmp) / ONNX_FILE)}})

        def write(folder: Path) -> None:
            shutil.copyfile(store.layout.weights_file(run_id), folder / WEIGHTS_FILE)
            if onnx:
                shutil.copyfile(Path(tmp) / ONNX_FILE, folder / ONNX_FILE)
            write_model_json(folder, info)

        out_dir.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_dir(out_dir, write)
    return ExportResult(out_dir, info, remade)


def _chosen_run(study: FinishedStudy, run_id: str | None, analysis: AnalysisConfig) -> tuple[str, str]:
    """The run to export and why it is the one (the recommendation by the study's own ``[analysis]`` settings)."""
    if run_id is not None:
        if run_id not in set(study.results["run_id"].astype(str)):
            raise StudyFolderError(f"Run {run_id!r} is not a finished run of {study.root}; its finished runs are the "
                                   "run_id column of results.csv.")
        return run_id, "named by the user"
    fraction = max(study.train_fractions)
    recommendations = recommend_depths(study, alpha=analysis.alpha, confidence=analysis.confidence,
                                       depth_rule=analysis.depth_rule, depth_metric=analysis.depth_metric,
                                       cross_fit=analysis.cross_fit, n_boot=analysis.n_boot,
                                       seed=analysis.bootstrap_seed)
    rec = next(r for r in recommendations if r.train_fraction == fraction)
    if rec.arm is None:
        raise StudyFolderError(f"The study {study.root} has no recommended configuration at fraction {fraction:g}; "
                               "name a run with --run.")
    runs = study.runs_of(rec.arm, train_fraction=fraction)
    seed = max(runs, key=lambda s: (runs[s].auc("val"), -s))
    return runs[seed].run_id, (f"the recommended configuration at {fraction:.0%} of the data ({rec.label}, depth rule "
                               f"{rec.depth_rule}); seed {seed}, of best validation AUC among {len(runs)} seed(s)")


def _threshold(val: pd.DataFrame, test: pd.DataFrame, fpr_target: float) -> Threshold:
    negatives = int((val["label"] == 0).sum())
    if not 0 < fpr_target < 1 or int(fpr_target * negatives + 1e-9) < 1:
        raise ConfigError(f"The 'fpr_target' of tunedepth export must be in (0, 1) and allow one false positive "
                          f"among the run's {negatives} validation negatives (at least 1/{negatives} = "
                          f"{1 / max(negatives, 1):.3g}); got {fpr_target:g}. Give a larger --fpr-target.")
    value = threshold_at_fpr(val["label"], val["log_odds_1"], fpr_target=fpr_target)

    def rates(frame: pd.DataFrame) -> tuple[float, float]:
        called = frame["log_odds_1"].to_numpy() > value
        positive = frame["label"].to_numpy() == 1
        return float(called[positive].mean()), float((~called[~positive]).mean())

    (val_sens, val_spec), (test_sens, test_spec) = rates(val), rates(test)
    return Threshold(fpr_target=fpr_target, value=float(value), validation_sensitivity=val_sens,
                     validation_specificity=val_spec, test_sensitivity=test_sens, test_specificity=test_spec)

