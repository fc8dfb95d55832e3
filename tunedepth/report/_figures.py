"""The report's figures built from a finished study: the plot functions fed with its tables and run files.

Each figure comes back as an :class:`EmbeddedFigure` (PNG bytes, base64-encoded); a figure that cannot be drawn
(no usable history, a test split with one class, every run NaN) is left out with a note saying why, which the
report shows.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tunedepth.report.plots import (
    figure_to_png_bytes,
    plot_convergence,
    plot_pvalue_heatmap,
    plot_roc_curves,
    plot_score_vs_depth,
    plot_score_vs_fraction,
)
from tunedepth.report.task_plots import plot_boundary_errors, plot_boundary_overlays, plot_froc_curves
from tunedepth.study import FinishedRun, FinishedStudy, StudyAnalysis, froc_curves, read_boundary_errors

__all__ = ["EmbeddedFigure", "build_figures"]


@dataclass(frozen=True)
class EmbeddedFigure:
    """One figure of the report.

    Attributes:
        kind: "score_vs_depth", "convergence", "roc", "froc", "boundary_errors", "boundary_overlays",
            "pvalue_heatmap" or "score_vs_fraction".
        title: the caption shown above the image.
        train_fraction: the fraction it shows, or None for a figure across fractions.
        png_base64: the PNG file, base64-encoded (ASCII).
    """

    kind: str
    title: str
    train_fraction: float | None
    png_base64: str

    @property
    def data_uri(self) -> str:
        """``data:image/png;base64,...``, for an ``<img src>``."""
        return f"data:image/png;base64,{self.png_base64}"


def _embed(kind: str, title: str, fraction: float | None, fig: Figure) -> EmbeddedFigure:
    return EmbeddedFigure(kind, title, fraction, base64.b64encode(figure_to_png_bytes(fig)).decode("ascii"))


def _run_history(study: FinishedStudy, run: FinishedRun) -> pd.DataFrame | None:
    """The run's history at its chosen learning rate, with a seed column; None when it has no val_auc curve."""
    folder = study.root / "runs" / run.run_id
    path = folder / "history.csv"
    if not path.is_file():
        return None
    history = pd.read_csv(path)
    if not {"iteration", "val_auc"} <= set(history.columns) or history.empty:
        return None
    if "base_lr" in history.columns and history["base_lr"].nunique() > 1:
        with open(folder / "metrics.json", encoding="utf-8") as fh:
            lr = float(json.load(fh)["lr"])
        history = history[np.isclose(history["base_lr"].to_numpy(dtype=float), lr)]
    return history.assign(seed=run.seed)


def _convergence(study: FinishedStudy, fraction: float, notes: list[str]) -> EmbeddedFigure | None:
    histories: dict[str, pd.DataFrame] = {}
    for label in study.regimes_at(fraction):
        frames = [h for run in study.runs_of(label, train_fraction=fraction).values()
                  if (h := _run_history(study, run)) is not None]
        if frames:
            histories[label] = pd.concat(frames, ignore_index=True)
    if not histories:
        notes.append(f"Convergence at {fraction:g}: no run has a history.csv with iteration and val_auc columns.")
        return None
    title = f"Convergence (validation AUC vs mini-batches), {fraction * 100:g}% of the training data"
    return _embed("convergence", title, fraction, plot_convergence(histories, train_fraction=fraction))


def _roc(study: FinishedStudy, fraction: float, notes: list[str]) -> EmbeddedFigure | None:
    scores: dict[str, np.ndarray] = {}
    for label in study.regimes_at(fraction):
        usable = [r for r in study.runs_of(label, train_fraction=fraction).values()
                  if np.isfinite(r.test_scores).all()]
        if usable:
            scores[label] = usable[0].test_scores  # the lowest seed with finite predictions
    if np.unique(study.test_labels).size < 2:
        notes.append(f"ROC curves at {fraction:g}: the test split has one class only, so a ROC curve is undefined.")
        return None
    if not scores:
        notes.append(f"ROC curves at {fraction:g}: every run has non-finite test predictions.")
        return None
    title = f"ROC curves on the test set (lowest seed per regime), {fraction * 100:g}% of the training data"
    return _embed("roc", title, fraction, plot_roc_curves(study.test_labels, scores))


def _froc(study: FinishedStudy, fraction: float) -> EmbeddedFigure | None:
    seed = min(r.seed for r in study.runs if r.train_fraction == fraction)
    curves = froc_curves(study, train_fraction=fraction, seed=seed)
    title = f"FROC curves on the test frames (seed {seed}), {fraction * 100:g}% of the training data"
    return _embed("froc", title, fraction, plot_froc_curves(curves)) if curves else None


def _boundary_boxes(study: FinishedStudy, analysis: StudyAnalysis, fraction: float) -> EmbeddedFigure | None:
    table = analysis.boundaries
    if table is None:
        return None
    seed = min(r.seed for r in study.runs if r.train_fraction == fraction)
    errors = {}
    for label in study.regimes_at(fraction):
        run = study.runs_of(label, train_fraction=fraction).get(seed)
        if run is not None:
            errors[label] = read_boundary_errors(study, run.run_id)["mean_boundary_error"].to_numpy(dtype=float)
    rows = table[np.isclose(table["train_fraction"].to_numpy(dtype=float), fraction)]
    unit = str(rows["unit"].iloc[0]) if len(rows) else "px"
    title = f"Boundary error per test image (seed {seed}), {fraction * 100:g}% of the training data"
    return _embed("boundary_errors", title, fraction, plot_boundary_errors(errors, unit=unit)) if errors else None


def _overlays(study: FinishedStudy, analysis: StudyAnalysis, fraction: float) -> EmbeddedFigure | None:
    if analysis.boundaries is None:
        return None
    recommended = [r.label for r in analysis.recommendations if r.train_fraction == fraction and r.label]
    panels = {}
    for label in dict.fromkeys(["scratch", *recommended]):
        runs = study.runs_of(label, train_fraction=fraction) if label in study.regimes_at(fraction) else {}
        path = study.root / "runs" / runs[min(runs)].run_id / "overlays_test.npz" if runs else None
        if path is None or not path.is_file():
            continue
        with np.load(path) as arrays:
            n = len([k for k in arrays.files if k.startswith("image_")])
            panels[label] = [(arrays[f"image_{k}"], arrays[f"reference_{k}"], arrays[f"predicted_{k}"])
                             for k in range(n)]
    if not panels:
        return None
    title = (f"Test images with reference and predicted boundaries: scratch and the recommended depth, "
             f"{fraction * 100:g}% of the training data")
    return _embed("boundary_overlays", title, fraction, plot_boundary_overlays(panels))


def _deepest_label(scores: pd.DataFrame) -> str | None:
    finetune = scores[scores["regime"] != "scratch"]
    if finetune.empty:
        return None
    return str(finetune.sort_values("depth").iloc[-1]["label"])


def _score_vs_fraction(analysis: StudyAnalysis, notes: list[str]) -> EmbeddedFigure | None:
    scores = analysis.scores
    labels = [label for label in ("scratch", _deepest_label(scores)) if label is not None and label in
              set(scores["label"].astype(str))]
    recommended = {rec.train_fraction: rec.label for rec in analysis.recommendations if rec.label is not None}
    if not labels and not recommended:
        notes.append("Score vs training fraction: no regime to draw.")
        return None
    if not labels:
        labels = [next(iter(recommended.values()))]
    title = "Test AUC vs training fraction: scratch, the deepest fine-tuning depth and the recommended depth"
    return _embed("score_vs_fraction", title, None,
                  plot_score_vs_fraction(scores, labels=labels, recommended=recommended or None))


def build_figures(study: FinishedStudy, analysis: StudyAnalysis) -> tuple[tuple[EmbeddedFigure, ...], tuple[str, ...]]:
    """Every figure of the report, and a note for each figure left out.

    Per training fraction (largest first): test AUC vs depth, convergence, ROC curves, FROC curves (detection
    studies), boundary error box plots and overlays (segmentation studies), Holm-adjusted p-value heatmap; then
    test AUC vs training fraction for scratch, the deepest depth run and the recommended depth.

    Args:
        study: the finished study (:func:`~tunedepth.study.load_finished_study`).
        analysis: its analysis (:func:`~tunedepth.study.analyze_study`).

    Returns:
        The figures in report order, and the notes (one sentence each) on figures that could not be drawn.
    """
    figures: list[EmbeddedFigure | None] = []
    notes: list[str] = []
    fractions = [f for f in study.train_fractions if not math.isnan(f)]
    for fraction in fractions:
        at = f"{fraction * 100:g}% of the training data"
        if np.isclose(analysis.scores["train_fraction"].to_numpy(dtype=float), fraction).any():
            figures.append(_embed("score_vs_depth", f"Test AUC vs fine-tuning depth, {at}", fraction,
                                  plot_score_vs_depth(analysis.scores, train_fraction=fraction)))
        figures.append(_convergence(study, fraction, notes))
        figures.append(_roc(study, fraction, notes))
        if analysis.froc is not None:
            figures.append(_froc(study, fraction))
        figures.append(_boundary_boxes(study, analysis, fraction))
        figures.append(_overlays(study, analysis, fraction))
        sig = analysis.significance
        if np.isclose(sig["train_fraction"].to_numpy(dtype=float), fraction).any():
            figures.append(_embed("pvalue_heatmap", f"Holm-adjusted p-values between regimes, {at}", fraction,
                                  plot_pvalue_heatmap(sig, train_fraction=fraction)))
        else:
            notes.append(f"p-value heatmap at {fraction:g}: fewer than two regimes, so no pair to compare.")
    figures.append(_score_vs_fraction(analysis, notes))
    return tuple(f for f in figures if f is not None), tuple(notes)
