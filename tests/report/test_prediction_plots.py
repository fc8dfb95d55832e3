"""Tests of tunedepth.report.prediction_plots: ROC curves and the reliability diagram, checked on the data they
draw."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.patches import StepPatch
from numpy.testing import assert_allclose

from tunedepth.evaluation import reliability_curve
from tunedepth.report import figure_to_png_bytes, plot_reliability, plot_roc_curves


def test_roc_curves_binary_uses_the_positive_class() -> None:
    y = np.array([0, 0, 1, 1])
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.65, 0.35], [0.2, 0.8]])
    fig = plot_roc_curves(y, {"scratch": probs, "ft:fc8": np.array([0.9, 0.8, 0.2, 0.1])})
    ax = fig.axes[0]
    # Positive scores 0.1, 0.4, 0.35, 0.8: thresholds 0.8 -> (0, .5), 0.4 -> (.5, .5), 0.35 -> (.5, 1), 0.1 -> (1, 1).
    assert_allclose(ax.lines[0].get_xdata(), [0.0, 0.0, 0.5, 0.5, 1.0])
    assert_allclose(ax.lines[0].get_ydata(), [0.0, 0.5, 0.5, 1.0, 1.0])
    # 1-d scores ranking every positive below every negative: all FPR is spent before any TPR.
    assert_allclose(ax.lines[1].get_xdata(), [0.0, 0.5, 1.0, 1.0])
    assert_allclose(ax.lines[1].get_ydata(), [0.0, 0.0, 0.0, 1.0])
    assert_allclose(ax.lines[2].get_xdata(), [0.0, 1.0])  # chance diagonal


def test_roc_curves_multiclass_is_the_one_vs_rest_macro_average() -> None:
    y = np.array([0, 1, 2])
    perfect = np.eye(3)
    ax = plot_roc_curves(y, {"perfect": perfect, "wrong": 1.0 - perfect}).axes[0]
    fpr = ax.lines[0].get_xdata()
    assert fpr[0] == 0.0 and fpr[-1] == 1.0 and len(fpr) == 201
    assert_allclose(ax.lines[0].get_ydata()[1:], 1.0)  # every class separated perfectly
    # Each class's true case scores 0 and a negative scores 1, so the TPR stays 0 until FPR reaches 1.
    assert_allclose(ax.lines[1].get_ydata()[:-1], 0.0)


def test_roc_curves_reject_a_single_class() -> None:
    with pytest.raises(ValueError, match=r"at least two classes .*got classes \[1\]"):
        plot_roc_curves(np.array([1, 1]), {"scratch": np.array([0.2, 0.8])})


def test_reliability_draws_each_curve_the_diagonal_and_the_bin_shares() -> None:
    labels = [1, 1, 0, 1]
    # confidences 0.731, 0.731 (both right), 0.953 (wrong), 0.881 (right); 4 bins: (0.5, 0.75] and (0.75, 1]
    curve = reliability_curve(labels, [[-1.0, 1.0], [-1.0, 1.0], [-3.0, 3.0], [-2.0, 2.0]], n_bins=4)
    flat = reliability_curve(labels, np.zeros((4, 2)), n_bins=4)  # every case at 0.5, predicting class 0
    fig = plot_reliability({"ft:fc8 (recommended)": curve, "scratch": flat})
    ax, hist = fig.axes
    first, second, diagonal = ax.lines
    assert_allclose(first.get_xdata(), [0.7311, 0.9167], atol=1e-4)  # empty bins are left out
    assert_allclose(first.get_ydata(), [1.0, 0.5])
    assert first.get_label() == "ft:fc8 (recommended) (ECE 0.343)"  # the module's hand-computed 0.3428
    assert_allclose(second.get_xdata(), [0.5])
    assert_allclose(second.get_ydata(), [0.25])  # class 0 is right for 1 case of 4
    assert second.get_label() == "scratch (ECE 0.250)"
    assert_allclose(diagonal.get_xdata(), diagonal.get_ydata())
    assert ax.get_xlim() == (0.25, 1.0)  # from the lowest non-empty bin: 0.5 falls in (0.25, 0.5]
    shares = [patch for patch in hist.patches if isinstance(patch, StepPatch)]
    assert_allclose(shares[0].get_data().values, [0.0, 0.0, 0.5, 0.5])
    assert_allclose(shares[1].get_data().values, [0.0, 1.0, 0.0, 0.0])


def test_reliability_rejects_curves_with_other_bins() -> None:
    a = reliability_curve([0, 1], [[1.0, -1.0], [-1.0, 1.0]], n_bins=4)
    b = reliability_curve([0, 1], [[1.0, -1.0], [-1.0, 1.0]], n_bins=5)
    with pytest.raises(ValueError, match="must share their bins; 'b' has 5 bins"):
        plot_reliability({"a": a, "b": b})


def test_prediction_plots_render_to_png_without_warnings() -> None:
    figures = [
        plot_reliability({"scratch": reliability_curve([0, 1, 1], [[1.0, -1.0], [-1.0, 1.0], [2.0, -2.0]])}),
        plot_roc_curves(np.array([0, 1, 2]), {"scratch": np.eye(3)}),
    ]
    for fig in figures:  # warnings are errors, so a layout or drawing warning fails here
        assert figure_to_png_bytes(fig).startswith(b"\x89PNG")
