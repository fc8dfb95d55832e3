"""The report's figures built from a finished study: the plot functions fed with its tables and run files.

Each figure comes back as an :class:`EmbeddedFigure` (PNG bytes, base64-encoded); a figure that cannot be drawn
(no usable history, a test split with one class, every run NaN) is left out with a note saying why, which the
report shows.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tunedepth.analysis import ANALYSIS_TASKS, DepthRecommendation, FigureData, StudyAnalysis
from tunedepth.evaluation import ReliabilityCurve, reliability_curve
from tunedepth.report.plot_kinds import PLOT_KINDS
from tunedepth.report.plots import (
    figure_to_png_bytes,
    plot_convergence,
    plot_pvalue_heatmap,
    plot_score_vs_depth,
    plot_score_vs_fraction,
)
from tunedepth.report.prediction_plots import plot_reliability, plot_roc_curves
from tunedepth.results import Arm, FinishedRun, FinishedStudy

__all__ = ["EmbeddedFigure", "build_figures"]


@dataclass(frozen=True)
class EmbeddedFigure:
    """One figure of the report.

    Attributes:
        kind: "score_vs_depth", "convergence", "roc", "reliability", "pvalue_heatmap", "score_vs_fraction", or a
            task's plot
            kind (e.g. "froc", "boundary_errors", "boundary_overlays"; see :data:`~tunedepth.report.PLOT_KINDS`).
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


def _embed(kind: str, title: str, train_fraction: float | None, fig: Figure) -> EmbeddedFigure:
    return EmbeddedFigure(kind, title, train_fraction, base64.b64encode(figure_to_png_bytes(fig)).decode("ascii"))


def _run_history(study: FinishedStudy, run: FinishedRun) -> pd.DataFrame | None:
    """The run's history at its chosen learning rate, with a seed column; None when it has no val_auc curve."""
    history = study.run_history(run.run_id)
    if history is None or not {"iteration", "val_auc"} <= set(history.columns) or history.empty:
        return None
    if "base_lr" in history.columns and history["base_lr"].nunique() > 1:
        lr = run.lr if run.lr is not None else float(study.run_metrics(run.run_id)["lr"])
        history = history[np.isclose(history["base_lr"].to_numpy(dtype=float), lr)]
    return history.assign(seed=run.seed)


def _convergence(study: FinishedStudy, train_fraction: float, notes: list[str]) -> EmbeddedFigure | None:
    histories: dict[str, pd.DataFrame] = {}
    for arm in study.arms_at(train_fraction):
        frames = [h for run in study.runs_of(arm, train_fraction=train_fraction).values()
                  if (h := _run_history(study, run)) is not None]
        if frames:
            histories[study.label_of(arm)] = pd.concat(frames, ignore_index=True)
    if not histories:
        notes.append(f"Convergence at {train_fraction:g}: no run has a history.csv with iteration and val_auc columns.")
        return None
    title = f"Convergence (validation AUC vs mini-batches), {train_fraction * 100:g}% of the training data"
    return _embed("convergence", title, train_fraction, plot_convergence(histories, train_fraction=train_fraction))


def _roc(study: FinishedStudy, train_fraction: float, notes: list[str]) -> EmbeddedFigure | None:
    scores: dict[str, np.ndarray] = {}
    for arm in study.arms_at(train_fraction):
        usable = [r for r in study.runs_of(arm, train_fraction=train_fraction).values()
                  if np.isfinite(r.test_scores).all()]
        if usable:
            scores[study.label_of(arm)] = usable[0].test_scores  # the lowest seed with finite predictions
    if np.unique(study.test_labels).size < 2:
        notes.append(f"ROC curves at {train_fraction:g}: the test split has one class only, so a ROC curve is "
                     "undefined.")
        return None
    if not scores:
        notes.append(f"ROC curves at {train_fraction:g}: every run has non-finite test predictions.")
        return None
    title = f"ROC curves on the test set (lowest seed per regime), {train_fraction * 100:g}% of the training data"
    return _embed("roc", title, train_fraction, plot_roc_curves(study.test_labels, scores))


def _recommendation_at(analysis: StudyAnalysis, train_fraction: float) -> DepthRecommendation | None:
    return next((r for r in analysis.recommendations if np.isclose(r.train_fraction, train_fraction)), None)


def _score_vs_depth(analysis: StudyAnalysis, train_fraction: float) -> EmbeddedFigure:
    rec = _recommendation_at(analysis, train_fraction)
    recommended = rec.label if rec is not None else None
    confidence_set = rec.confidence_set if rec is not None else ()
    marks = ", the recommended depth starred" if recommended is not None else ""
    marks += " and the confidence set of depths shaded" if confidence_set else ""
    title = f"Test AUC vs fine-tuning depth{marks}, {train_fraction * 100:g}% of the training data"
    return _embed("score_vs_depth", title, train_fraction,
                  plot_score_vs_depth(analysis.scores, train_fraction=train_fraction, recommended=recommended,
                                      confidence_set=confidence_set))


def _reliability(study: FinishedStudy, analysis: StudyAnalysis, train_fraction: float,
                 notes: list[str]) -> EmbeddedFigure | None:
    """Reliability of the recommended depth, scratch and the deepest depth run (full fine-tuning when every group
    was run), each from its lowest seed with finite test predictions."""
    rec = _recommendation_at(analysis, train_fraction)
    arms = study.arms_at(train_fraction)
    layerwise = [arm for arm in arms if not arm.is_scratch and arm.method is None]
    roles: dict[Arm, list[str]] = {}  # arm -> what it is (the recommended depth can also be the deepest)
    if rec is not None and rec.arm is not None:
        roles.setdefault(rec.arm, []).append("recommended")
    for arm in arms:
        if arm.is_scratch:
            roles.setdefault(arm, [])
    if layerwise:
        roles.setdefault(layerwise[-1], []).append("deepest depth")
    curves: dict[str, ReliabilityCurve] = {}
    for arm, role in roles.items():
        usable = [r for r in study.runs_of(arm, train_fraction=train_fraction).values()
                  if np.isfinite(r.test_scores).all()]
        if usable:  # the lowest seed with finite test predictions, as in the ROC figure
            label = study.label_of(arm)
            curves[f"{label} ({', '.join(role)})" if role else label] = reliability_curve(
                study.test_labels, usable[0].log_odds("test"))
    if not curves:
        notes.append(f"Reliability at {train_fraction:g}: no run of the recommended depth, scratch or the deepest "
                     "depth has finite test predictions.")
        return None
    title = (f"Reliability on the test set (lowest seed per regime, not pooled): recommended depth, scratch and "
             f"the deepest depth, {train_fraction * 100:g}% of the training data")
    return _embed("reliability", title, train_fraction, plot_reliability(curves))


def _task_figure(figure: FigureData) -> EmbeddedFigure:
    return _embed(figure.kind, figure.title, figure.train_fraction, PLOT_KINDS.get(figure.kind)(**figure.data))


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

    Per training fraction (largest first): test AUC vs depth (recommended depth starred, confidence set of
    depths shaded), convergence, ROC curves, reliability diagram (recommended depth, scratch, deepest depth;
    lowest seed), the task's figures (e.g.
    FROC curves of a detection study, boundary error box plots and overlays of a segmentation study), Holm-adjusted
    p-value heatmap; then
    test AUC vs training fraction for scratch, the deepest depth run and the recommended depth.

    Args:
        study: the finished study (:func:`~tunedepth.results.load_finished_study`).
        analysis: its analysis (:func:`~tunedepth.analysis.analyze_study`).

    Returns:
        The figures in report order, and the notes (one sentence each) on figures that could not be drawn.
    """
    figures: list[EmbeddedFigure | None] = []
    notes: list[str] = []
    task = ANALYSIS_TASKS.get(study.task)
    fractions = [f for f in study.train_fractions if not math.isnan(f)]
    for train_fraction in fractions:
        at = f"{train_fraction * 100:g}% of the training data"
        if np.isclose(analysis.scores["train_fraction"].to_numpy(dtype=float), train_fraction).any():
            figures.append(_score_vs_depth(analysis, train_fraction))
        figures.append(_convergence(study, train_fraction, notes))
        figures.append(_roc(study, train_fraction, notes))
        figures.append(_reliability(study, analysis, train_fraction, notes))
        if task.figures is not None:
            figures += [_task_figure(figure) for figure in task.figures(study, analysis, train_fraction)]
        sig = analysis.significance
        if np.isclose(sig["train_fraction"].to_numpy(dtype=float), train_fraction).any():
            figures.append(_embed("pvalue_heatmap", f"Holm-adjusted p-values between regimes, {at}", train_fraction,
                                  plot_pvalue_heatmap(sig, train_fraction=train_fraction)))
        else:
            notes.append(f"p-value heatmap at {train_fraction:g}: fewer than two regimes, so no pair to compare.")
    figures.append(_score_vs_fraction(analysis, notes))
    return tuple(f for f in figures if f is not None), tuple(notes)
