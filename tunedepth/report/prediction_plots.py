"""Figures drawn from the cases' predictions rather than from a table: ROC curves and the reliability diagram.

Like :mod:`tunedepth.report.plots`, one pure function per figure, each on a new pyplot-free Figure.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from tunedepth.evaluation import ReliabilityCurve
from tunedepth.report.plots import new_figure

__all__ = ["plot_reliability", "plot_roc_curves"]


def _macro_roc(labels_true: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    grid = np.linspace(0.0, 1.0, 201)
    tprs = []
    for k in range(probs.shape[1]):
        fpr, tpr, _ = roc_curve(labels_true == k, probs[:, k])
        tprs.append(np.interp(grid, fpr, tpr))
    return grid, np.mean(tprs, axis=0)


def plot_roc_curves(labels_true: np.ndarray, scores_by_label: Mapping[str, np.ndarray]) -> Figure:
    """ROC curves of several regimes scored on the same cases (e.g. every regime at one training fraction).

    Args:
        labels_true: class labels of the cases, of shape (n_cases,), in 0 .. n_classes - 1.
        scores_by_label: regime label -> predicted class probabilities of shape (n_cases, n_classes), with
            n_classes >= 2 (as in ``predictions_test.csv``), or positive-class scores of shape (n_cases,).

    Returns:
        A figure with one axes: line i (``ax.lines[i]``) is the i-th regime's curve (x = false-positive rate,
        y = true-positive rate), then the chance diagonal last. Binary: the curve of the positive class (column 1)
        from :func:`sklearn.metrics.roc_curve`. Multi-class: the one-vs-rest macro average, each class's curve
        interpolated on 201 evenly spaced false-positive rates and the true-positive rates averaged (the curve
        matching MedMNIST's macro AUC).

    Raises:
        ValueError: if ``scores_by_label`` is empty, shapes disagree, or ``labels_true`` holds one class only.

    Example:
        >>> fig = plot_roc_curves(np.array([0, 1]), {"scratch": np.array([0.2, 0.8])})
        >>> [float(y) for y in fig.axes[0].lines[0].get_ydata()]
        [0.0, 1.0, 1.0]
    """
    labels_true = np.asarray(labels_true)
    if not scores_by_label:
        raise ValueError("The 'scores_by_label' parameter of plot_roc_curves must map at least one regime label to "
                         "its scores; got an empty mapping.")
    if np.unique(labels_true).size < 2:
        raise ValueError("The 'labels_true' parameter of plot_roc_curves must hold at least two classes (a ROC "
                         f"curve is undefined otherwise); got classes {np.unique(labels_true).tolist()}.")
    fig = new_figure()
    ax = fig.add_subplot()
    for i, (label, scores) in enumerate(scores_by_label.items()):
        scores = np.asarray(scores, dtype=float)
        if scores.shape[0] != labels_true.shape[0] or scores.ndim not in (1, 2):
            raise ValueError(f"The scores of {label!r} passed to plot_roc_curves must have shape (n_cases,) or "
                             f"(n_cases, n_classes) with n_cases = {labels_true.shape[0]}; got {scores.shape}.")
        if scores.ndim == 1 or scores.shape[1] == 2:
            positive = scores if scores.ndim == 1 else scores[:, 1]
            fpr, tpr, _ = roc_curve(labels_true, positive)
        else:
            fpr, tpr = _macro_roc(labels_true, scores)
        ax.plot(fpr, tpr, color=f"C{i}", label=label)
    ax.plot([0.0, 1.0], [0.0, 1.0], color="grey", linestyle=":", label="chance")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate (sensitivity)")
    ax.set_title("ROC curves (test set)")
    ax.legend(loc="lower right")
    return fig


def plot_reliability(curves_by_label: Mapping[str, ReliabilityCurve]) -> Figure:
    """Reliability diagram: top-label confidence against accuracy per confidence bin, for several regimes.

    Args:
        curves_by_label: legend label -> the regime's reliability curve on the same cases
            (:func:`tunedepth.evaluation.reliability_curve`); the curves must share their bins.

    Returns:
        A figure with two axes. The first: line i (``ax.lines[i]``) is the i-th curve's non-empty bins, x = mean
        confidence, y = accuracy, labelled "<label> (ECE <value>)" with its expected calibration error; the
        diagonal (perfect calibration) last. The second, below: the share of cases in each bin, one step outline
        per curve (``ax.patches[i]``, a StepPatch), so a point resting on few cases can be told apart. Both
        x-axes start at the lowest edge of a non-empty bin (0.5 with two classes) and end at 1.

    Raises:
        ValueError: if ``curves_by_label`` is empty, the curves' bins differ, or a curve holds no case.

    Example:
        >>> from tunedepth.evaluation import reliability_curve
        >>> curve = reliability_curve([1, 0], [[-2.0, 2.0], [-2.0, 2.0]], n_bins=4)
        >>> fig = plot_reliability({"scratch": curve})
        >>> [float(y) for y in fig.axes[0].lines[0].get_ydata()], fig.axes[0].lines[0].get_label()
        ([0.5], 'scratch (ECE 0.381)')
    """
    if not curves_by_label:
        raise ValueError("The 'curves_by_label' parameter of plot_reliability must map at least one label to its "
                         "reliability curve; got an empty mapping.")
    edges = next(iter(curves_by_label.values())).bin_edges
    for label, curve in curves_by_label.items():
        if not np.array_equal(curve.bin_edges, edges):
            raise ValueError(f"The curves passed to plot_reliability must share their bins; {label!r} has "
                             f"{curve.bin_edges.size - 1} bins from {curve.bin_edges.tolist()[:3]}..., the first "
                             f"{edges.size - 1} from {edges.tolist()[:3]}....")
        if curve.counts.sum() == 0:
            raise ValueError(f"The reliability curve of {label!r} passed to plot_reliability holds no case.")
    lowest = min(int(np.flatnonzero(c.counts)[0]) for c in curves_by_label.values())
    x0 = float(edges[lowest])
    fig = new_figure()
    fig.set_size_inches(6.4, 5.4)
    ax, hist = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    for i, (label, curve) in enumerate(curves_by_label.items()):
        used = curve.counts > 0
        ax.plot(curve.confidence[used], curve.accuracy[used], marker="o", color=f"C{i}",
                label=f"{label} (ECE {curve.expected_calibration_error:.3f})")
        hist.stairs(curve.counts / curve.counts.sum(), edges, color=f"C{i}", alpha=0.8)
    ax.plot([x0, 1.0], [x0, 1.0], color="grey", linestyle=":", label="perfect calibration")
    ax.set_xlim(x0, 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.set_ylabel("accuracy")
    ax.set_title("Reliability: top-label confidence vs accuracy")
    ax.legend(loc="upper left", fontsize="small")
    hist.set_ylim(0.0, 1.0)
    hist.set_xlabel("confidence (largest class probability)")
    hist.set_ylabel("share of cases")
    return fig
