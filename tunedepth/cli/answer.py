"""Commands that turn a study's answer into a model: ``rerun`` (a run's weights, re-made and checked), ``export``
(a standalone model folder) and ``predict`` (its scores for new images)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tunedepth.cli._app import StudyDirArgument, VerboseOption, console, duration, err_console, setup_logging

__all__ = ["export", "predict", "rerun"]


def rerun(
    study_dir: StudyDirArgument,
    run_id: Annotated[str, typer.Argument(help="The run to re-make (results.csv's run_id).")],
    tolerance: Annotated[float | None, typer.Option(
        "--tolerance", min=0.0, help="Largest accepted difference of a stored log-odds. Default: 0 on the CPU "
                                     "(exact), 0.01 on CUDA.")] = None,
    verbose: VerboseOption = False,
) -> None:
    """Re-train one finished run from its study folder, check that it gives its stored predictions again, and keep
    its weights (weights.safetensors in its run folder).

    It trains with the run's own thread count at its kept learning rate; nothing is written when the predictions
    differ by more than the tolerance.
    """
    from tunedepth.study.rerun import rerun_run

    setup_logging(verbose)
    result = rerun_run(study_dir, run_id, tolerance=tolerance)
    same = "identical" if result.max_abs_difference == 0 else \
        f"within {result.max_abs_difference:.3g} (tolerance {result.tolerance:g})"
    console.print(f"Run {result.run_id} ({result.label}) re-trained in {duration(result.seconds)} with "
                  f"{result.threads} thread(s): validation and test predictions {same}. Weights: {result.weights}",
                  markup=False, highlight=False, soft_wrap=True)


def export(
    study_dir: StudyDirArgument,
    out: Annotated[Path, typer.Option("--out", help="The model folder to write (must not exist).")],
    run: Annotated[str | None, typer.Option(
        "--run", help="The run to export (results.csv's run_id). Default: the recommended configuration at the "
                      "largest training fraction, its seed of best validation AUC.")] = None,
    fpr_target: Annotated[float, typer.Option(
        "--fpr-target", help="False-positive rate at which the decision threshold is chosen on the validation "
                             "cases (binary tasks).")] = 0.1,
    onnx: Annotated[bool, typer.Option(
        "--onnx", help="Also write model.onnx (uint8 values as float32 in, log-odds out), checked with onnxruntime "
                       "against PyTorch on the test images; needs pip install 'tunedepth[onnx]'.")] = False,
    refit: Annotated[bool, typer.Option(
        "--refit", help="Export the run's configuration trained again on its training and validation cases "
                        "together for the run's best epoch count (the threshold stays the run's, chosen on "
                        "validation).")] = False,
    verbose: VerboseOption = False,
) -> None:
    """Export a study's answer as a standalone model folder: weights.safetensors, model.json (architecture, classes,
    input steps, the source run, test AUC with its interval, the validation-chosen threshold, calibration, sha256s)
    and MODEL_CARD.md.

    Uses the run's kept weights, or re-makes them first (tunedepth rerun) when the study kept none.
    """
    from tunedepth.deploy import export_model

    setup_logging(verbose)
    result = export_model(study_dir, out, run_id=run, fpr_target=fpr_target, onnx=onnx, refit=refit)
    info = result.info
    remade = " (weights re-made and checked: tunedepth rerun)" if result.rerun else ""
    if info.refit is not None:
        remade = (f" refitted on {info.refit.n_train} training and validation cases for {info.refit.epochs} epoch(s) "
                  f"in {duration(info.refit.train_seconds)}")
    console.print(f"Exported run {info.source.run_id} ({info.source.label} @ {info.source.train_fraction:g}, seed "
                  f"{info.source.seed}){remade} to {result.model_dir}: test AUC {info.test_auc:.3f} "
                  f"[{info.test_auc_low:.3f}, {info.test_auc_high:.3f}]", markup=False, highlight=False,
                  soft_wrap=True)
    if info.threshold is not None:
        t = info.threshold
        console.print(f"Threshold at {t.fpr_target:g} validation FPR: log-odds > {t.value:.4g} -> "
                      f"{info.class_names[1]}; on test: sensitivity {t.test_sensitivity:.3f}, specificity "
                      f"{t.test_specificity:.3f}", markup=False, highlight=False, soft_wrap=True)
    if info.onnx is not None:
        console.print(f"ONNX: {info.onnx.file}, log-odds within {info.onnx.max_abs_difference:.2g} of PyTorch's "
                      f"({info.onnx.max_relative_difference:.2g} relative) on {info.onnx.n_images} test images",
                      markup=False, highlight=False, soft_wrap=True)
    console.print(f"Model card: {result.model_dir / 'MODEL_CARD.md'}", markup=False, highlight=False, soft_wrap=True)


def predict(
    model_dir: Annotated[Path, typer.Argument(help="A model folder written by tunedepth export.")],
    inputs: Annotated[list[str], typer.Argument(
        help="Image files, folders of them, CSV manifests (a 'path' column) or MedMNIST .npz files "
             "(FILE.npz[:SPLIT], default split test); for a volume-candidate model, one candidate table (CSV: "
             "volume_id and z, y, x or world_x, world_y, world_z; label optional) with --volumes.")],
    out: Annotated[Path, typer.Option("--out", help="The CSV to write (written whole, or not at all).")],
    volumes: Annotated[Path | None, typer.Option(
        "--volumes", help="Folder of the volumes the candidate table names (NIfTI files, DICOM series folders, .npy "
                          "arrays); for a volume-candidate model.")] = None,
    coordinates: Annotated[str, typer.Option(
        "--coordinates", help="Which coordinate columns of the candidate table to read: 'voxel' (z, y, x) or "
                              "'world' (world_x, world_y, world_z, LPS mm).")] = "voxel",
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Images per forward pass.")] = 64,
    device: Annotated[str, typer.Option("--device", help="'cpu' or 'cuda'.")] = "cpu",
) -> None:
    """Score new images (or candidates in volumes) with an exported model: one row per image (candidate) with each
    class's log-odds and probability and the decision (the exported threshold for binary tasks, else the most
    likely class), by the study's own protocol (a frame's crops averaged; a candidate's patches averaged)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from tunedepth.deploy.predict import predict_inputs
    from tunedepth.deploy.predict_volumes import predict_candidates
    from tunedepth.errors import ConfigError

    if volumes is not None and len(inputs) != 1:
        raise ConfigError(f"With --volumes, tunedepth predict takes one candidate table; got {len(inputs)} inputs.")
    if coordinates not in ("voxel", "world"):
        raise ConfigError(f"--coordinates must be 'voxel' or 'world'; got {coordinates!r}.")
    what = "candidates" if volumes is not None else "images"
    with Progress(TextColumn(what), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True) as bar:
        task = bar.add_task(what, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        if volumes is not None:
            frame = predict_candidates(model_dir, Path(inputs[0]), volumes, out, batch_size=batch_size, device=device,
                                       coordinates="world" if coordinates == "world" else "voxel", progress=advance)
        else:
            frame = predict_inputs(model_dir, inputs, out, batch_size=batch_size, device=device, progress=advance)
    console.print(f"Scored {len(frame)} {what[:-1]}(s): {out}", markup=False, highlight=False, soft_wrap=True)
