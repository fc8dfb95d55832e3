"""Plot kinds a task's figures can name (:class:`~tunedepth.analysis.FigureData`): each a plot function of
:mod:`tunedepth.report.task_plots` (or of a plug-in), called with the figure's data as keyword arguments.

Adding a kind = a plot function that returns a :class:`matplotlib.figure.Figure`, registered here (or from the
plug-in's own module) under the name its task's figures use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from matplotlib.figure import Figure

from tunedepth._registry import Registry
from tunedepth.report.task_plots import (
    plot_boundary_errors,
    plot_boundary_overlays,
    plot_crops_vs_single,
    plot_froc_curves,
)

__all__ = ["PLOT_KINDS"]

PLOT_KINDS: Registry[Callable[..., Figure]] = Registry("plot kind")
"""Plot functions by kind."""

_BUILT_IN: dict[str, Callable[..., Any]] = {
    "froc": plot_froc_curves,
    "boundary_errors": plot_boundary_errors,
    "boundary_overlays": plot_boundary_overlays,
    "crops_vs_single": plot_crops_vs_single,
}
for _kind, _plot in _BUILT_IN.items():
    PLOT_KINDS.register(_kind, _plot)
