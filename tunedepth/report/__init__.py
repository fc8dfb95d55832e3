"""The study report: figures (and later tables and the HTML page) built from a finished study's tables."""

from __future__ import annotations

from tunedepth.report.plots import (
    figure_to_png_bytes,
    plot_convergence,
    plot_pvalue_heatmap,
    plot_roc_curves,
    plot_score_vs_depth,
    plot_score_vs_fraction,
)

__all__ = [
    "figure_to_png_bytes",
    "plot_convergence",
    "plot_pvalue_heatmap",
    "plot_roc_curves",
    "plot_score_vs_depth",
    "plot_score_vs_fraction",
]
