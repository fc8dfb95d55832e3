"""Tests of tunedepth.report.plots: each figure is checked on the data it draws, not only that it renders."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection
from matplotlib.colors import to_rgba
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from numpy.testing import assert_allclose

from tunedepth.report import (
    figure_to_png_bytes,
    plot_convergence,
    plot_pvalue_heatmap,
    plot_score_vs_depth,
    plot_score_vs_fraction,
)
from tunedepth.report.plots import new_figure


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


def _x_extent(ax, patch) -> list[float]:
    extent = patch.get_extents().transformed(ax.transData.inverted())
    return [extent.x0, extent.x1]


def test_score_vs_depth_stars_the_recommended_depth_and_shades_the_confidence_set(scores: pd.DataFrame) -> None:
    ax = plot_score_vs_depth(scores, train_fraction=1.0, recommended="ft:fc7-fc8",
                             confidence_set=("ft:conv1-fc8", "ft:fc7-fc8")).axes[0]
    (star,) = [line for line in ax.lines if line.get_label() == "recommended"]
    assert star.get_marker() == "*"
    assert_allclose(star.get_xdata(), [2])  # ft:fc7-fc8 is depth 2
    assert_allclose(star.get_ydata(), [0.85])
    scratch_band, *bands = ax.patches
    assert_allclose([_x_extent(ax, band) for band in bands], [[1.5, 3.5]], atol=1e-9)  # depths 2 and 3, +-0.5
    assert bands[0].get_label() == "confidence set"
    assert ax.lines[-1].get_label() == "scratch"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "recommended" in legend and "confidence set" in legend


def test_score_vs_depth_shades_one_band_per_run_of_neighbouring_depths(scores: pd.DataFrame) -> None:
    ax = plot_score_vs_depth(scores, train_fraction=1.0, confidence_set=("ft:fc8", "ft:conv1-fc8")).axes[0]
    assert_allclose([_x_extent(ax, band) for band in ax.patches[1:]], [[0.5, 1.5], [2.5, 3.5]], atol=1e-9)
    assert [line.get_label() for line in ax.lines if line.get_label() == "recommended"] == []


def test_score_vs_depth_with_an_empty_confidence_set_shades_only_scratch(scores: pd.DataFrame) -> None:
    ax = plot_score_vs_depth(scores, train_fraction=1.0, recommended="ft:fc8", confidence_set=()).axes[0]
    (scratch_band,) = ax.patches
    assert_allclose([scratch_band.get_extents().transformed(ax.transData.inverted()).y0], [0.65], atol=1e-9)
    assert "confidence set" not in [t.get_text() for t in ax.get_legend().get_texts()]


@pytest.mark.parametrize(("kwargs", "match"), [
    pytest.param({"recommended": "scratch"}, r"fine-tuning regimes at 1 .*got \['scratch'\]", id="scratch"),
    pytest.param({"confidence_set": ("ft:fc6-fc8",)}, r"got \['ft:fc6-fc8'\]", id="unknown-member"),
])
def test_score_vs_depth_rejects_labels_that_are_not_depths(scores: pd.DataFrame, kwargs, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        plot_score_vs_depth(scores, train_fraction=1.0, **kwargs)


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


def _eleven_regimes() -> dict[str, pd.DataFrame]:
    """Scratch and ten depths, as in the demo (EfficientNet-Lite0): one more than matplotlib's colour cycle."""
    names = ["scratch"] + [f"ft:g{k}" for k in range(1, 11)]
    return {name: pd.DataFrame({"iteration": [10, 20, 40], "val_auc": [0.6, 0.7 + k / 100, 0.8]})
            for k, name in enumerate(names)}


def test_convergence_gives_every_depth_its_own_colour_and_scratch_another() -> None:
    ax = plot_convergence(_eleven_regimes(), train_fraction=1.0).axes[0]
    colours = [to_rgba(line.get_color()) for line in ax.lines]
    assert len(ax.lines) == 11 and len(set(colours)) == 11
    scratch, depths = colours[0], colours[1:]
    assert scratch not in depths
    assert ax.lines[0].get_linestyle() == "--" and {line.get_linestyle() for line in ax.lines[1:]} == {"-"}
    # depths run along one sequential map: the shallowest is the darkest, the deepest the lightest
    luminance = [0.2126 * r + 0.7152 * g + 0.0722 * b for r, g, b, _ in depths]
    assert luminance == sorted(luminance)


def test_convergence_legend_is_outside_the_axes_and_inside_the_figure() -> None:
    fig = plot_convergence(_eleven_regimes(), train_fraction=1.0)
    fig.canvas.draw()
    ax = fig.axes[0]
    axes_box, legend_box = ax.get_window_extent(), ax.get_legend().get_window_extent()
    assert legend_box.x0 > axes_box.x1  # to the right of the axes: it covers no curve
    assert legend_box.x1 <= fig.bbox.x1 and legend_box.y0 >= fig.bbox.y0  # not cut off when saved
    plain = new_figure()
    plain_axes = plain.add_subplot()
    plain.canvas.draw()
    assert axes_box.width >= plain_axes.get_window_extent().width  # the figure widens; the curves keep their room
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(_eleven_regimes())


def test_convergence_needs_the_chosen_lr_when_several_were_tried() -> None:
    history = pd.DataFrame({"iteration": [10, 10], "val_auc": [0.5, 0.6], "base_lr": [0.1, 0.01]})
    with pytest.raises(ValueError, match=r"several learning rates \[0\.01, 0\.1\]; pass the chosen one in the 'lrs'"):
        plot_convergence({"scratch": history}, train_fraction=1.0)


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
        plot_score_vs_depth(scores, train_fraction=1.0, recommended="ft:fc8", confidence_set=("ft:fc8",)),
        plot_score_vs_fraction(scores, labels=["scratch"]),
        plot_convergence({"scratch": history}, train_fraction=1.0),
        plot_convergence(_eleven_regimes(), train_fraction=1.0),
        plot_pvalue_heatmap(significance, train_fraction=1.0),
    ]
    for fig in figures:  # warnings are errors, so a layout or drawing warning fails here
        assert isinstance(fig, Figure)
        assert figure_to_png_bytes(fig).startswith(b"\x89PNG")


def test_score_vs_depth_draws_each_tuning_method_as_its_own_series_beside_the_layerwise_line(
        scores: pd.DataFrame) -> None:
    table = scores.assign(method=np.where(scores["regime"] == "scratch", "", "layerwise"))
    extra = pd.DataFrame([(1.0, "llrd", "finetune", 3, "llrd", 0.95, 0.93, 0.97),
                          (1.0, "surgical:fc7", "finetune", 2, "surgical", 0.88, 0.85, 0.9),
                          (1.0, "surgical:conv1", "finetune", 3, "surgical", 0.86, 0.83, 0.9)],
                         columns=["train_fraction", "label", "regime", "depth", "method", "test_auc", "test_auc_low",
                                  "test_auc_high"])
    ax = plot_score_vs_depth(pd.concat([table, extra], ignore_index=True), train_fraction=1.0).axes[0]
    layerwise, llrd, surgical = ax.containers
    assert_allclose(layerwise[0].get_xdata(), [1, 2, 3])  # the methods are not on the layer-wise line
    assert [c.get_label() for c in (llrd, surgical)] == ["llrd", "surgical"]
    assert_allclose(llrd[0].get_xdata(), [3.12])
    assert_allclose(surgical[0].get_xdata(), [2.24, 3.24])
    assert_allclose(surgical[0].get_ydata(), [0.88, 0.86])
    assert ax.lines[-1].get_label() == "scratch"
