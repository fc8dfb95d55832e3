"""Tests of tunedepth.report.plots: each figure is checked on the data it draws, not only that it renders."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from numpy.testing import assert_allclose

from tunedepth.report import (
    figure_to_png_bytes,
    plot_convergence,
    plot_pvalue_heatmap,
    plot_roc_curves,
    plot_score_vs_depth,
    plot_score_vs_fraction,
)


@pytest.fixture
def scores() -> pd.DataFrame:
    """A score table with two fractions: scratch and depths 1-3 (AlexNet-like group names)."""
    rows = []
    for fraction, shift in ((1.0, 0.0), (0.1, -0.1)):
        rows += [
            (fraction, "scratch", "scratch", 3, 0.70 + shift, 0.65 + shift, 0.75 + shift),
            (fraction, "ft:conv1-fc8", "finetune", 3, 0.90 + shift, 0.86 + shift, 0.93 + shift),
            (fraction, "ft:fc8", "finetune", 1, 0.80 + shift, 0.78 + shift, 0.84 + shift),
            (fraction, "ft:fc7-fc8", "finetune", 2, 0.85 + shift, 0.80 + shift, 0.88 + shift),
        ]
    return pd.DataFrame(rows, columns=["train_fraction", "label", "regime", "depth", "test_auc", "test_auc_low",
                                       "test_auc_high"])


def _bars(container: ErrorbarContainer) -> np.ndarray:
    """The (low, high) y of each error bar of one series, ordered by x."""
    (bars,) = container.lines[2]
    assert isinstance(bars, LineCollection)
    segments = sorted((np.asarray(s) for s in bars.get_segments()), key=lambda s: s[0, 0])
    return np.array([s[:, 1] for s in segments])


def test_score_vs_depth_plots_depths_sorted_with_group_ticks_and_intervals(scores: pd.DataFrame) -> None:
    fig = plot_score_vs_depth(scores, train_fraction=0.1)
    ax = fig.axes[0]
    (series,) = ax.containers
    assert_allclose(series[0].get_xdata(), [1, 2, 3])
    assert_allclose(series[0].get_ydata(), [0.70, 0.75, 0.80])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["fc8", "fc7-fc8", "conv1-fc8"]
    assert_allclose(_bars(series), [[0.68, 0.74], [0.70, 0.78], [0.76, 0.83]])


def test_score_vs_depth_draws_scratch_as_line_and_band(scores: pd.DataFrame) -> None:
    ax = plot_score_vs_depth(scores, train_fraction=1.0).axes[0]
    scratch = ax.lines[-1]
    assert scratch.get_label() == "scratch"
    assert_allclose(scratch.get_ydata(), [0.70, 0.70])
    (band,) = ax.patches
    extent = band.get_extents().transformed(ax.transData.inverted())
    assert_allclose([extent.y0, extent.y1], [0.65, 0.75], atol=1e-9)


def test_score_vs_depth_rejects_an_absent_fraction(scores: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"'train_fraction' parameter of plot_score_vs_depth .*\[1\.0, 0\.1\].*0\.5"):
        plot_score_vs_depth(scores, train_fraction=0.5)


def test_score_vs_fraction_has_log_x_one_line_per_label_and_recommended(scores: pd.DataFrame) -> None:
    fig = plot_score_vs_fraction(scores, labels=["scratch", "ft:conv1-fc8"],
                                 recommended={1.0: "ft:conv1-fc8", 0.1: "ft:fc8"})
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    scratch, full, best = ax.containers
    assert_allclose(scratch[0].get_xdata(), [0.1, 1.0])
    assert_allclose(scratch[0].get_ydata(), [0.60, 0.70])
    assert_allclose(_bars(scratch), [[0.55, 0.65], [0.65, 0.75]])
    assert_allclose(full[0].get_ydata(), [0.80, 0.90])
    assert_allclose(best[0].get_xdata(), [0.1, 1.0])
    assert_allclose(best[0].get_ydata(), [0.70, 0.90])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["scratch", "ft:conv1-fc8", "recommended"]


@pytest.mark.parametrize(("labels", "match"), [
    pytest.param([], "at least one regime", id="empty"),
    pytest.param(["ft:conv9"], r"\['ft:conv9'\] that the scores table lacks", id="unknown"),
])
def test_score_vs_fraction_rejects_bad_labels(scores: pd.DataFrame, labels: list[str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        plot_score_vs_fraction(scores, labels=labels)


def test_convergence_plots_val_auc_vs_iteration_on_log_x_for_the_chosen_lr() -> None:
    scratch = pd.DataFrame({"epoch": [1, 2, 1, 2], "iteration": [10, 20, 10, 20], "val_auc": [0.5, 0.6, 0.7, 0.8],
                            "base_lr": [0.1, 0.1, 0.01, 0.01]})
    finetune = pd.DataFrame({"iteration": [40, 20, 40, 20], "val_auc": [0.9, 0.8, 0.95, 0.85], "seed": [1, 1, 0, 0]})
    fig = plot_convergence({"scratch": scratch, "ft:fc8": finetune}, train_fraction=0.5, lrs={"scratch": 0.01})
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert_allclose(ax.lines[0].get_xdata(), [10, 20])
    assert_allclose(ax.lines[0].get_ydata(), [0.7, 0.8])
    assert_allclose(ax.lines[1].get_xdata(), [20, 40])  # seed 0, sorted by iteration
    assert_allclose(ax.lines[1].get_ydata(), [0.85, 0.95])
    assert_allclose(ax.lines[2].get_ydata(), [0.8, 0.9])  # seed 1
    assert ax.lines[1].get_color() == ax.lines[2].get_color() != ax.lines[0].get_color()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["scratch", "ft:fc8"]


def test_convergence_needs_the_chosen_lr_when_several_were_tried() -> None:
    history = pd.DataFrame({"iteration": [10, 10], "val_auc": [0.5, 0.6], "base_lr": [0.1, 0.01]})
    with pytest.raises(ValueError, match=r"several learning rates \[0\.01, 0\.1\]; pass the chosen one in the 'lrs'"):
        plot_convergence({"scratch": history}, train_fraction=1.0)


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


def test_pvalue_heatmap_is_symmetric_in_table_order_with_annotations() -> None:
    table = pd.DataFrame({
        "train_fraction": [0.5, 0.5, 0.5, 1.0],
        "label_a": ["ft:fc8", "ft:fc7-fc8", "ft:fc7-fc8", "ft:fc8"],
        "label_b": ["scratch", "scratch", "ft:fc8", "scratch"],
        "p_holm": [0.012, 0.3, float("nan"), 0.9],
    })
    ax = plot_pvalue_heatmap(table, train_fraction=0.5).axes[0]
    image = np.ma.filled(ax.images[0].get_array().astype(float), np.nan)
    expected = np.array([[np.nan, 0.012, 0.3], [0.012, np.nan, np.nan], [0.3, np.nan, np.nan]])
    assert_allclose(image, expected)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["scratch", "fc8", "fc7-fc8"]
    annotations = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
    assert annotations == {(0, 1): "0.012", (1, 0): "0.012", (0, 2): "0.300", (2, 0): "0.300", (1, 2): "nan",
                           (2, 1): "nan"}


def test_figure_to_png_bytes_renders_png_and_closes_the_figure() -> None:
    fig = plt.figure()
    fig.add_subplot().plot([0, 1], [0, 1])
    data = figure_to_png_bytes(fig)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert not plt.fignum_exists(fig.number)


def test_every_plot_renders_to_png_without_warnings(scores: pd.DataFrame) -> None:
    history = pd.DataFrame({"iteration": [1, 2], "val_auc": [0.5, 0.6]})
    significance = pd.DataFrame({"train_fraction": [1.0], "label_a": ["ft:fc8"], "label_b": ["scratch"],
                                 "p_holm": [0.04]})
    figures = [
        plot_score_vs_depth(scores, train_fraction=1.0),
        plot_score_vs_fraction(scores, labels=["scratch"]),
        plot_convergence({"scratch": history}, train_fraction=1.0),
        plot_roc_curves(np.array([0, 1, 2]), {"scratch": np.eye(3)}),
        plot_pvalue_heatmap(significance, train_fraction=1.0),
    ]
    for fig in figures:  # warnings are errors, so a layout or drawing warning fails here
        assert isinstance(fig, Figure)
        assert figure_to_png_bytes(fig).startswith(b"\x89PNG")
