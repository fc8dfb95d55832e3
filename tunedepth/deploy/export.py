"""``tunedepth export``: a study's answer as a model folder (:mod:`tunedepth.deploy.model_folder`).

The exported run is the recommended configuration at the study's largest training fraction (the analysis's
depth rule, chosen on validation) unless a run is named; with several seeds, the seed whose run has the best
validation AUC among that configuration's (stated in ``model.json``'s ``source.why``). Its weights are the ones
the study kept (``keep_checkpoints = "all"``) or, when it kept none, re-made and checked by ``tunedepth rerun``.
For a binary task the decision threshold is chosen on the run's validation predictions at a target
false-positive rate (:func:`~tunedepth.evaluation.threshold_at_fpr`), and the test split's sensitivity and
specificity at it are recorded with Wilson intervals; the test AUC with its DeLong interval, the accuracy and the
calibration of the test probabilities too. ``--refit`` exports the configuration trained again on training and
validation cases (:mod:`tunedepth.deploy.refit`). Every export has a model card (``MODEL_CARD.md``,
:mod:`tunedepth.deploy.model_card`).

Tasks whose test cases are images (``TaskRun.scores_images``: classification, and frame classification with its
test crops) or candidates in volumes (``TaskRun.scores_volume_candidates``: how their patches are cut) are exported;
the model folder carries the protocol and ``tunedepth predict`` applies it. Detection (candidates in frames) and
segmentation (boundaries) are refused in one line.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.stats import binomtest

import tunedepth
from tunedepth._io import atomic_write_dir, file_sha256
from tunedepth.analysis import recommend_depths
from tunedepth.config import AnalysisConfig, StudyConfig, parse_study
from tunedepth.deploy.model_card import model_card
from tunedepth.deploy.model_folder import (
    CARD_FILE,
    Calibration,
    CropRecord,
    DataSummary,
    ExportedModel,
    InputSpec,
    OnnxCheck,
    Refit,
    RunSource,
    Threshold,
    VolumeScoring,
    load_weights,
    write_model_json,
)
from tunedepth.deploy.onnx_export import ONNX_FILE, ONNX_TOLERANCE, check_onnx_installed, write_onnx
from tunedepth.deploy.refit import refit_run
from tunedepth.errors import ConfigError, StudyFolderError
from tunedepth.evaluation import (
    accuracy_score,
    auc_ci,
    brier_loss,
    expected_calibration_error,
    log_loss,
    roc_auc_score,
    threshold_at_fpr,
)
from tunedepth.models import Architecture, get_architecture
from tunedepth.results import WEIGHTS_FILE, FinishedStudy, StudyStore, load_finished_study
from tunedepth.study.prepare import PreparedStudy, prepare_study
from tunedepth.study.rerun import rerun_run
from tunedepth.study.run_setup import run_rows
from tunedepth.study.tasks import STUDY_TASKS, TaskData

__all__ = ["ExportResult", "export_model"]


@dataclass(frozen=True)
class ExportResult:
    """What ``tunedepth export`` wrote: the folder, its description, and whether the weights were re-made."""

    model_dir: Path
    info: ExportedModel
    rerun: bool


def export_model(study_dir: Path, out_dir: Path, *, run_id: str | None = None, fpr_target: float = 0.1,
                 confidence: float = 0.95, onnx: bool = False, refit: bool = False) -> ExportResult:
    """Export one run of the study in ``study_dir`` into ``out_dir`` (see the module docstring).

    Args:
        study_dir: a finished study folder.
        out_dir: the model folder to write (must not exist; written whole or not at all).
        run_id: the run to export; default: the recommended configuration at the largest fraction.
        fpr_target: the false-positive rate the decision threshold is chosen at on validation (binary tasks).
        confidence: level of the test AUC's interval and of the test sensitivity's and specificity's.
        onnx: also write ``model.onnx``, checked against PyTorch on the test images
            (:mod:`tunedepth.deploy.onnx_export`).
        refit: export the run's configuration trained again on its training and validation cases for its best
            epoch count (:mod:`tunedepth.deploy.refit`) instead of the run itself.

    Raises:
        StudyFolderError: not a study, the run is not one of its finished runs, the task cannot be exported yet,
            ``out_dir`` exists, or the run cannot be refitted.
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
    if not _exportable(study.task):
        exportable = [name for name in STUDY_TASKS if _exportable(name)]
        raise StudyFolderError(f"tunedepth export exports studies whose test cases are images or candidates in "
                               f"volumes ({exportable}) so far; {study_dir} is a {study.task!r} study, whose test "
                               "protocol (candidates in frames, boundaries) the model folder cannot yet carry.")
    store = StudyStore(study_dir)
    config = parse_study(json.loads(store.layout.study_json.read_text()), base_dir=study_dir,
                         source=str(store.layout.study_json))
    run_id, why = _chosen_run(study, run_id, config.analysis)
    metrics = json.loads(store.layout.run_file(run_id, "metrics.json").read_text())
    val, test = (pd.read_csv(store.layout.predictions_file(run_id, split)) for split in ("val", "test"))
    if study.n_classes == 2:
        _check_fpr_target(val, fpr_target)
    prepared = prepare_study(config, study_dir)  # the class names (the data's own), the architecture, the images
    refitted = None
    remade = False
    with tempfile.TemporaryDirectory(prefix="tunedepth-export-") as tmp:
        weights = Path(tmp) / WEIGHTS_FILE
        if refit:
            refitted = refit_run(prepared, run_id, metrics)
            weights.write_bytes(refitted.weights)
            test = test.assign(**{f"log_odds_{k}": refitted.test_log_odds[:, k]
                                  for k in range(refitted.test_log_odds.shape[1])})
        else:
            remade = not store.layout.weights_file(run_id).is_file()
            if remade:
                rerun_run(study_dir, run_id)
            shutil.copyfile(store.layout.weights_file(run_id), weights)
        info = _describe(prepared, study, run_id, why, metrics, val, test, fpr_target=fpr_target,
                         confidence=confidence, files={WEIGHTS_FILE: file_sha256(weights)})
        if refitted is not None:
            info = info.model_copy(update={"refit": Refit(epochs=refitted.epochs, n_train=refitted.n_train,
                                                          train_seconds=refitted.seconds)})
        if onnx:
            info = _with_onnx(info, weights, prepared, Path(tmp))
        card = model_card(info)
        info = info.model_copy(update={"files": {**info.files, CARD_FILE: hashlib.sha256(card.encode()).hexdigest()}})

        def write(folder: Path) -> None:
            for name in info.files:
                if name != CARD_FILE:
                    shutil.copyfile(Path(tmp) / name, folder / name)
            (folder / CARD_FILE).write_text(card, encoding="utf-8")
            write_model_json(folder, info)

        out_dir.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_dir(out_dir, write)
    return ExportResult(out_dir, info, remade)


def _describe(prepared: PreparedStudy, study: FinishedStudy, run_id: str, why: str, metrics: dict[str, Any],
              val: pd.DataFrame, test: pd.DataFrame, *, fpr_target: float, confidence: float,
              files: dict[str, str]) -> ExportedModel:
    """``model.json`` of the run (its test metrics from ``test``: the run's own predictions or a refit's)."""
    config, data, task = prepared.config, prepared.data, prepared.task_data
    n_classes = len(data.class_names)
    columns = [f"log_odds_{k}" for k in range(n_classes)]
    labels, log_odds = test["label"].to_numpy(), test[columns].to_numpy()
    test_auc = (roc_auc_score(labels, log_odds), float("nan"), float("nan"))
    threshold = None
    if n_classes == 2:
        interval = auc_ci(labels, log_odds[:, 1], confidence=confidence)
        test_auc = (interval.auc, interval.low, interval.high)
        threshold = _threshold(val, test, fpr_target, confidence)
    arch = get_architecture(config.model.architecture)
    index = prepared.run_ids.index(run_id)
    rows, _ = run_rows(prepared, prepared.runs[index])
    train_labels = data.train.labels.numpy()[rows.numpy()]
    counts = {split: tuple(int(c) for c in np.bincount(y, minlength=n_classes))
              for split, y in (("train", train_labels), ("val", val["label"].to_numpy()), ("test", labels))}
    start = prepared.weights if metrics["regime"] == "finetune" else None
    return ExportedModel(
        task=study.task, architecture=config.model.architecture, groups=arch.group_names,
        class_names=tuple(data.class_names), input=_input_spec(config, arch, task),
        source=RunSource(study_dir=str(study.root.resolve()), study_name=config.name, run_id=run_id,
                         label=str(metrics["label"]), regime=str(metrics["regime"]), depth=int(metrics["depth"]),
                         train_fraction=float(metrics["train_fraction"]), seed=int(metrics["seed"]),
                         lr=float(metrics["lr"]), best_epoch=int(metrics["best_epoch"]), why=why,
                         method=metrics.get("method") or ("layerwise" if metrics["regime"] == "finetune" else None),
                         starting_weights=None if start is None or start.sha256 is None
                         else f"{start.name} (sha256 {start.sha256})"),
        data=DataSummary(settings=config.data.model_dump(mode="json"), class_counts=counts,
                         split_origin=data.split_origin),
        test_auc=test_auc[0], test_auc_low=test_auc[1], test_auc_high=test_auc[2],
        test_accuracy=accuracy_score(labels, log_odds), confidence=confidence, n_val=len(val), n_test=len(test),
        calibration=Calibration(expected_calibration_error=expected_calibration_error(labels, log_odds),
                                brier=brier_loss(labels, log_odds), log_loss=log_loss(labels, log_odds), n_bins=15),
        threshold=threshold, files=files,
        versions={"tunedepth": tunedepth.__version__, "torch": torch.__version__},
    )


def _exportable(task: str) -> bool:
    run = STUDY_TASKS.get(task)
    return run.scores_images or run.scores_volume_candidates


def _input_spec(config: StudyConfig, arch: Architecture, task: TaskData) -> InputSpec:
    spec = InputSpec(image_size=config.data.image_size, mean=arch.mean, std=arch.std)
    if (volumes := task.scoring_volumes()) is not None:
        return spec.model_copy(update={"volumes": VolumeScoring(**volumes)})
    crops = task.scoring_crops()
    if crops is None:
        return spec
    frame_size, specs = crops
    return spec.model_copy(update={
        "frame_size": frame_size,
        "crops": tuple(CropRecord(**dataclasses.asdict(c)) for c in specs),
        "crop_steps": ("the image is resized to frame_size x frame_size as in `steps`; each crop is cut from it "
                       "(tunedepth.data.crops.CropSpec: side = scale x frame_size, centre placed by the offsets), "
                       "resized to image_size, mirrored when flip, turned quarter_turns x 90 degrees; the image's "
                       "score is the mean of its crops' probabilities (tunedepth.data.crops.average_over_crops)"),
    })


def _with_onnx(info: ExportedModel, weights: Path, prepared: PreparedStudy, tmp: Path) -> ExportedModel:
    """``info`` with ``model.onnx`` written into ``tmp`` and checked on the test images the network scores."""
    model, _ = load_weights(weights, info.architecture, len(info.class_names))
    test_images = prepared.data.test.images
    absolute, relative = write_onnx(model, tmp / ONNX_FILE, image_size=info.input.image_size,
                                    check_images=test_images)
    return info.model_copy(update={
        "onnx": OnnxCheck(file=ONNX_FILE, max_abs_difference=absolute, max_relative_difference=relative,
                          n_images=int(test_images.shape[0]), tolerance=ONNX_TOLERANCE),
        "files": {**info.files, ONNX_FILE: file_sha256(tmp / ONNX_FILE)}})


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


def _check_fpr_target(val: pd.DataFrame, fpr_target: float) -> None:
    negatives = int((val["label"] == 0).sum())
    if not 0 < fpr_target < 1 or int(fpr_target * negatives + 1e-9) < 1:
        raise ConfigError(f"The 'fpr_target' of tunedepth export must be in (0, 1) and allow one false positive "
                          f"among the run's {negatives} validation negatives (at least 1/{negatives} = "
                          f"{1 / max(negatives, 1):.3g}); got {fpr_target:g}. Give a larger --fpr-target.")


def _threshold(val: pd.DataFrame, test: pd.DataFrame, fpr_target: float, confidence: float) -> Threshold:
    value = threshold_at_fpr(val["label"], val["log_odds_1"], fpr_target=fpr_target)

    def rates(frame: pd.DataFrame) -> tuple[tuple[int, int], tuple[int, int]]:
        """(true positives, positives), (true negatives, negatives) at the threshold."""
        called = frame["log_odds_1"].to_numpy() > value
        positive = frame["label"].to_numpy() == 1
        return (int(called[positive].sum()), int(positive.sum())), (int((~called[~positive]).sum()),
                                                                    int((~positive).sum()))

    def share(k: int, n: int) -> float:
        return k / n if n else float("nan")

    (vtp, vp), (vtn, vn) = rates(val)
    (ttp, tp), (ttn, tn) = rates(test)
    return Threshold(fpr_target=fpr_target, value=float(value), validation_sensitivity=share(vtp, vp),
                     validation_specificity=share(vtn, vn), test_sensitivity=share(ttp, tp),
                     test_specificity=share(ttn, tn), test_sensitivity_interval=_wilson(ttp, tp, confidence),
                     test_specificity_interval=_wilson(ttn, tn, confidence))


def _wilson(k: int, n: int, confidence: float) -> tuple[float, float]:
    """The Wilson score interval of a proportion k / n (scipy's ``binomtest``); NaNs when n = 0."""
    if n == 0:
        return float("nan"), float("nan")
    interval = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)
