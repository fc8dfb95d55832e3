"""Figures of detection, segmentation and frame studies: FROC curves, boundary errors per regime, crop-averaged vs
single-view AUC.

Like :mod:`tunedepth.report.plots`, one pure function per figure, each on a new pyplot-free Figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from tunedepth.evaluation import FrocCurve
from tunedepth.report.plots import new_figure

__all__ = ["plot_boundary_errors", "plot_boundary_overlays", "plot_crops_vs_single", "plot_froc_curves"]


def plot_froc_curves(curves: Mapping[str, FrocCurve], *, fps_range: tuple[float, float] = (1e-3, 10.0),
                     per: str = "frame", lesions: str = "polyps") -> Figure:
    """FROC curves of several regimes on the same frames, false positives per frame on a log x-axis (as the
    paper's Fig. 2(a)).

    Args:
        curves: regime label -> its curve (:func:`~tunedepth.evaluation.froc_curve`).
        fps_range: the x-axis limits, both > 0. The curve's first point (0 FP/frame) cannot be shown on a log axis.
        per: what false positives are counted per ("frame", or "volume" for volume studies).
        lesions: what the sensitivity counts ("polyps", "lesions").

    Returns:
        A figure with one axes; line i is the i-th regime's curve as a step function (each sensitivity holds
        until the next threshold adds false positives).

    Raises:
        ValueError: if ``curves`` is empty or ``fps_range`` is not 0 < low < high.

    Example:
        >>> from tunedepth.evaluation import FrocCurve
        >>> c = FrocCurve(np.array([0.0, 0.1, 1.0]), np.array([0.0, 0.5, 1.0]), np.array([np.inf, 0.9, 0.1]))
        >>> [float(y) for y in plot_froc_curves({"scratch": c}).axes[0].lines[0].get_ydata()]
        [0.0, 0.5, 1.0]
    """
    if not curves:
        raise ValueError("The 'curves' parameter of plot_froc_curves must map at least one regime label to its FROC "
                         "curve; got an empty mapping.")
    low, high = fps_range
    if not 0 < low < high:
        raise ValueError(f"The 'fps_range' parameter of plot_froc_curves must be (low, high) with 0 < low < high; "
                         f"got {fps_range!r}.")
    fig = new_figure()
    ax = fig.add_subplot()
    for i, (label, curve) in enumerate(curves.items()):
        ax.step(curve.fps_per_frame, curve.sensitivity, where="post", color=f"C{i}", label=label)
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel(f"false positives per {per}")
    ax.set_ylabel(f"sensitivity (share of {lesions} detected)")
    ax.set_title(f"FROC curves (test {per}s)")
    ax.legend(loc="lower right")
    return fig


def plot_boundary_errors(errors_by_label: Mapping[str, np.ndarray], *, unit: str) -> Figure:
    """Box plots of per-image boundary errors, one box per regime, in the paper's Fig. 9 form.

    Args:
        errors_by_label: regime label -> per-image mean boundary distances of shape (n_images,) (NaN ignored).
        unit: "px" or "um", written on the axis.

    Returns:
        A figure with one axes: box = quartiles, line = median, whiskers = Tukey's (the furthest image within 1.5
        inter-quartile ranges of the box), points beyond them drawn singly; above each box the mean ± SD as text
        (``ax.texts[i]`` for regime i).

    Raises:
        ValueError: if ``errors_by_label`` is empty or a regime has no finite value.

    Example:
        >>> fig = plot_boundary_errors({"scratch": np.array([1.0, 2.0, 3.0])}, unit="px")
        >>> fig.axes[0].texts[0].get_text()
        '2 ± 1'
    """
    if not errors_by_label:
        raise ValueError("The 'errors_by_label' parameter of plot_boundary_errors must map at least one regime label "
                         "to its per-image errors; got an empty mapping.")
    data = []
    for label, values in errors_by_label.items():
        finite = np.asarray(values, dtype=float)
        finite = finite[np.isfinite(finite)]
        if finite.size == 0:
            raise ValueError(f"plot_boundary_errors: regime {label!r} has no finite boundary error to draw.")
        data.append(finite)
    fig = new_figure()
    ax = fig.add_subplot()
    ax.boxplot(data, whis=1.5, tick_labels=list(errors_by_label))
    top = max(float(d.max()) for d in data)
    for i, d in enumerate(data, start=1):
        sd = float(d.std(ddof=1)) if d.size > 1 else float("nan")
        ax.text(i, top * 1.05, f"{d.mean():.3g} ± {sd:.3g}", ha="center", va="bottom", fontsize=8)
    ax.set_ylim(0, top * 1.15)
    symbol = "µm" if unit == "um" else unit
    ax.set_ylabel(f"mean boundary distance per image ({symbol})")
    ax.set_title("Boundary error on the test images (box: quartiles; whiskers: Tukey; text: mean ± SD)")
    ax.tick_params(axis="x", labelrotation=30)
    return fig


def plot_boundary_overlays(panels: Mapping[str, Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]]) -> Figure:
    """Test images with their reference and predicted boundaries, one row per regime.

    Args:
        panels: regime label -> a sequence of (image, reference, predicted): image uint8 of shape (H, W, 3),
            reference and predicted integer images of shape (H, W) with 0 background and k > 0 on boundary class k.

    Returns:
        A figure with one axes per image (rows: regimes, columns: images): the image, the reference boundary in
        green and the predicted one in red (a second class in cyan and magenta), drawn over it.

    Raises:
        ValueError: if ``panels`` is empty or a regime has no image.

    Example:
        >>> img = np.zeros((4, 4, 3), np.uint8); ref = np.eye(4, dtype=np.uint8); pred = np.zeros((4, 4), np.uint8)
        >>> len(plot_boundary_overlays({"scratch": [(img, ref, pred)]}).axes)
        1
    """
    if not panels or not all(len(p) for p in panels.values()):
        raise ValueError("The 'panels' parameter of plot_boundary_overlays must map each regime label to at least one "
                         "(image, reference, predicted) triple.")
    n_rows, n_cols = len(panels), max(len(p) for p in panels.values())
    fig = new_figure()
    fig.set_size_inches(2.4 * n_cols, 2.4 * n_rows + 0.4)
    colours = {("reference", 1): (0, 220, 0), ("reference", 2): (0, 200, 255),
               ("predicted", 1): (255, 40, 40), ("predicted", 2): (255, 0, 255)}
    for i, (label, triples) in enumerate(panels.items()):
        for j, (image, reference, predicted) in enumerate(triples):
            shown = np.array(image, dtype=np.uint8, copy=True)
            for name, drawn in (("reference", reference), ("predicted", predicted)):
                for k in (1, 2):
                    shown[np.asarray(drawn) == k] = colours[(name, k)]
            ax = fig.add_subplot(n_rows, n_cols, i * n_cols + j + 1)
            ax.imshow(shown, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(label, fontsize=8)
    fig.suptitle("Test images: reference boundary (green) and predicted (red)", fontsize=9)
    return fig


def plot_crops_vs_single(labels: Sequence[str], series: Mapping[str, Mapping[str, np.ndarray]]) -> Figure:
    """Test AUC of each regime under several ways of scoring a frame (e.g. crop-averaged and centre crop only), side
    by side with their intervals.

    Args:
        labels: the regimes, in x order (scratch first, then depth 1, 2, ...).
        series: name -> {"auc", "low", "high"}: arrays of one value per label (NaN bounds draw no bar).

    Returns:
        A figure with one axes: one error-bar series per entry of ``series`` (``ax.containers``), offset a little on
        x so that the bars do not overlap, labelled with the series' names.

    Raises:
        ValueError: if ``labels`` is empty or a series' arrays do not have one value per label.

    Example:
        >>> s = {"crop average": {"auc": np.array([0.9]), "low": np.array([0.85]), "high": np.array([0.95])}}
        >>> len(plot_crops_vs_single(["scratch"], s).axes[0].containers)
        1
    """
    n = len(labels)
    if not n or any(len(np.asarray(v[key])) != n for v in series.values() for key in ("auc", "low", "high")):
        got = {name: {key: len(np.asarray(a)) for key, a in v.items()} for name, v in series.items()}
        raise ValueError(f"The 'series' parameter of plot_crops_vs_single must give 'auc', 'low' and 'high' with one "
                         f"value per label ({n}); got lengths {got}.")
    fig = new_figure()
    ax = fig.add_subplot()
    x = np.arange(n, dtype=float)
    width = 0.25
    for i, (name, values) in enumerate(series.items()):
        auc = np.asarray(values["auc"], dtype=float)
        below = np.nan_to_num(np.clip(auc - np.asarray(values["low"], dtype=float), 0.0, None), nan=0.0)
        above = np.nan_to_num(np.clip(np.asarray(values["high"], dtype=float) - auc, 0.0, None), nan=0.0)
        offset = (i - (len(series) - 1) / 2) * width
        ax.errorbar(x + offset, auc, yerr=np.vstack([below, above]), marker="o", linestyle="none", capsize=3,
                    color=f"C{i}", label=name)
    ax.set_xticks(x, list(labels), rotation=30, ha="right")
    ax.set_ylabel("test AUC per frame")
    ax.legend(loc="lower right")
    return fig
