"""The study report: figures built from a finished study's tables, and the self-contained HTML page."""

from __future__ import annotations

from tunedepth.report.html import REPORT_FILE, write_report
from tunedepth.report.plot_kinds import PLOT_KINDS
from tunedepth.report.plots import (
    figure_to_png_bytes,
    plot_convergence,
    plot_pvalue_heatmap,
    plot_score_vs_depth,
    plot_score_vs_fraction,
)
from tunedepth.report.prediction_plots import plot_reliability, plot_roc_curves
from tunedepth.report.task_plots import plot_boundary_errors, plot_boundary_overlays, plot_froc_curves

__all__ = [
    "PLOT_KINDS",
    "REPORT_FILE",
    "figure_to_png_bytes",
    "plot_boundary_errors",
    "plot_boundary_overlays",
    "plot_convergence",
    "plot_froc_curves",
    "plot_pvalue_heatmap",
    "plot_reliability",
    "plot_roc_curves",
    "plot_score_vs_depth",
    "plot_score_vs_fraction",
    "write_report",
]
