"""The report's figures: one pure function per figure, each taking tables or arrays and returning a Figure.

Every function draws on a new :class:`matplotlib.figure.Figure` built without pyplot (no global state, no
display: each figure is attached to an Agg canvas explicitly, so importing this module never switches the
process's matplotlib backend), so the caller saves it (``fig.savefig``) or embeds it (:func:`figure_to_png_bytes`).
The tables are those of :mod:`tunedepth.analysis`: :func:`~tunedepth.analysis.score_table`,
:func:`~tunedepth.analysis.significance_table` and each run's ``history.csv``. Figures drawn from case
predictions (ROC curves, the reliability diagram) are in :mod:`tunedepth.report.prediction_plots`.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = [
    "figure_to_png_bytes",
    "new_figure",
    "plot_convergence",
    "plot_pvalue_heatmap",
    "plot_score_vs_depth",
    "plot_score_vs_fraction",
]

_SCRATCH = "scratch"
_FT_PREFIX = "ft:"


def new_figure() -> Figure:
    """A new figure on its own Agg canvas, without pyplot (the size and layout every report figure uses)."""
    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _group_name(label: str) -> str:
    """Tick label of a regime label: "ft:conv3-fc8" -> "conv3-fc8"."""
    return label[len(_FT_PREFIX):] if label.startswith(_FT_PREFIX) else label


def _rows_at(table: pd.DataFrame, train_fraction: float, function: str, name: str) -> pd.DataFrame:
    missing = [c for c in ("train_fraction",) if c not in table.columns]
    if missing:
        raise ValueError(f"The {name!r} table passed to {function} must have a 'train_fraction' column; got columns "
                         f"{list(table.columns)}.")
    rows = table[np.isclose(table["train_fraction"].to_numpy(dtype=float), train_fraction)]
    if rows.empty:
        available = sorted(set(table["train_fraction"].astype(float)), reverse=True)
        raise ValueError(f"The 'train_fraction' parameter of {function} must be a fraction present in {name!r} "
                         f"({available}). Got {train_fraction} instead.")
    return rows


def _check_columns(table: pd.DataFrame, columns: Sequence[str], function: str, name: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"The {name!r} table passed to {function} lacks the column(s) {missing}; got "
                         f"{list(table.columns)}.")


def _yerr(auc: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    # A NaN bound (undefined interval) draws no bar; rounding can put a bound a hair past the point, never below 0.
    below = np.nan_to_num(np.clip(auc - low, 0.0, None), nan=0.0)
    above = np.nan_to_num(np.clip(high - auc, 0.0, None), nan=0.0)
    return np.vstack([below, above])


_SCORE_COLUMNS = ("train_fraction", "label", "regime", "depth", "test_auc", "test_auc_low", "test_auc_high")


def _runs_of_positions(positions: Sequence[int]) -> list[tuple[int, int]]:
    """Maximal runs of consecutive integers in sorted ``positions``, as (first, last) pairs."""
    runs: list[tuple[int, int]] = []
    for k in positions:
        if runs and runs[-1][1] == k - 1:
            runs[-1] = (runs[-1][0], k)
        else:
            runs.append((k, k))
    return runs


def plot_score_vs_depth(
    scores: pd.DataFrame, *, train_fraction: float, recommended: str | None = None,
    confidence_set: Sequence[str] = (),
) -> Figure:
    """Test AUC against fine-tuning depth at one training fraction, with scratch as a reference band.

    Args:
        scores: the score table (:func:`tunedepth.analysis.score_table`); needs the columns train_fraction, label,
            regime, depth, test_auc, test_auc_low, test_auc_high.
        train_fraction: the fraction to plot, one of ``scores.train_fraction``.
        recommended: label of the recommended fine-tuning regime at this fraction (``DepthRecommendation.label``),
            marked with a star; None marks nothing.
        confidence_set: labels of the fine-tuning regimes in the confidence set of depths
            (``DepthRecommendation.confidence_set``), shaded; empty shades nothing.

    Returns:
        A figure with one axes: the fine-tuned regimes' test AUC at x = depth (ticks named by the trained groups,
        e.g. "fc8" ... "conv1-fc8") with interval error bars (``ax.containers[0]``, an ErrorbarContainer whose
        ``lines[0]`` is the data line and ``lines[2][0]`` the bars); the recommended regime, if given, as a star
        marker at its AUC (a line labelled "recommended"); scratch, when present, as a horizontal line at its AUC
        (the last of ``ax.lines``, labelled "scratch") over a shaded band (``ax.patches[0]``) from its interval's
        low to high bound. Then the confidence set, if given, as vertical bands behind the points (the remaining
        ``ax.patches``, the first labelled "confidence set"): one per run of members that are neighbours on the
        x-axis, from its first member's depth - 0.5 to its last member's depth + 0.5. With a ``method`` column
        (a study with tuning methods), the line is the layer-wise depths and each other method is one more
        errorbar series (``ax.containers[1:]``, before scratch) labelled with its name, at its depth(s) shifted
        right by 0.12 per method.

    Raises:
        ValueError: if a column is missing, no row has ``train_fraction``, or ``recommended`` or a member of
            ``confidence_set`` is not a fine-tuning label at that fraction.

    Example:
        >>> table = pd.DataFrame({"train_fraction": [1.0, 1.0], "label": ["scratch", "ft:fc8"],
        ...     "regime": ["scratch", "finetune"], "depth": [8, 1], "test_auc": [0.8, 0.9],
        ...     "test_auc_low": [0.75, 0.85], "test_auc_high": [0.85, 0.95]})
        >>> [float(y) for y in plot_score_vs_depth(table, train_fraction=1.0).axes[0].containers[0][0].get_ydata()]
        [0.9]
    """
    _check_columns(scores, _SCORE_COLUMNS, "plot_score_vs_depth", "scores")
    rows = _rows_at(scores, train_fraction, "plot_score_vs_depth", "scores")
    others = rows.iloc[:0]
    if "method" in rows.columns:  # tuning methods beyond the paper's: their own markers, after the layer-wise line
        layerwise = (rows["regime"] == _SCRATCH) | rows["method"].isin(["layerwise", ""]) | rows["method"].isna()
        rows, others = rows[layerwise], rows[~layerwise]
    finetune = rows[rows["regime"] != _SCRATCH].sort_values("depth")
    scratch = rows[rows["regime"] == _SCRATCH]
    fig = new_figure()
    ax = fig.add_subplot()
    depth = finetune["depth"].to_numpy(dtype=float)
    auc = finetune["test_auc"].to_numpy(dtype=float)
    yerr = _yerr(auc, finetune["test_auc_low"].to_numpy(dtype=float), finetune["test_auc_high"].to_numpy(dtype=float))
    ax.errorbar(depth, auc, yerr=yerr, marker="o", capsize=4, color="C0", label="fine-tuned")
    labels = [str(label) for label in finetune["label"]]
    unknown = [label for label in ([recommended] if recommended is not None else []) + list(confidence_set)
               if label not in labels]
    if unknown:
        raise ValueError(f"The 'recommended' and 'confidence_set' parameters of plot_score_vs_depth must name "
                         f"fine-tuning regimes at {train_fraction:g} ({labels}); got {unknown}.")
    if recommended is not None:
        k = labels.index(recommended)
        ax.plot(depth[k:k + 1], auc[k:k + 1], linestyle="none", marker="*", markersize=18, color="C3",
                markeredgecolor="black", zorder=3, label="recommended")
    for k, (method, group) in enumerate(others.groupby("method", sort=False) if not others.empty else ()):
        group = group.sort_values("depth")
        x = group["depth"].to_numpy(dtype=float) + 0.12 * (k + 1)  # beside the layer-wise point of the same depth
        y = group["test_auc"].to_numpy(dtype=float)
        ax.errorbar(x, y, yerr=_yerr(y, group["test_auc_low"].to_numpy(dtype=float),
                                     group["test_auc_high"].to_numpy(dtype=float)),
                    marker="sdv^P<>"[k % 7], linestyle=":" if len(group) > 1 else "none", capsize=3,
                    color=f"C{4 + k % 6}", label=str(method))
    if not scratch.empty:
        s = scratch.iloc[0]
        ax.axhspan(float(s["test_auc_low"]), float(s["test_auc_high"]), color="C1", alpha=0.2,
                   label="scratch 95% CI")
        ax.axhline(float(s["test_auc"]), color="C1", linestyle="--", label="scratch")
    members = sorted(labels.index(label) for label in set(confidence_set))
    for i, (first, last) in enumerate(_runs_of_positions(members)):
        ax.axvspan(depth[first] - 0.5, depth[last] + 0.5, color="C2", alpha=0.15, zorder=0,
                   label="confidence set" if i == 0 else "_nolegend_")
    ax.set_xticks(depth, [_group_name(label) for label in labels], rotation=30, ha="right")
    ax.set_xlabel("fine-tuned layer groups (depth from the output)")
    ax.set_ylabel("test AUC")
    ax.set_title(f"Test AUC vs depth, {train_fraction * 100:g}% of the training data")
    ax.legend(loc="lower right")
    return fig


def plot_score_vs_fraction(
    scores: pd.DataFrame, *, labels: Sequence[str], recommended: Mapping[float, str] | None = None,
) -> Figure:
    """Test AUC against training fraction (log x-axis) for chosen regimes: the robustness to training size.

    Args:
        scores: the score table (:func:`tunedepth.analysis.score_table`); needs the columns train_fraction, label,
            test_auc, test_auc_low, test_auc_high.
        labels: the regime labels to draw, one line each, in this order (e.g. ``["scratch", "ft:conv1-fc8"]``);
            each must appear in ``scores``.
        recommended: optional map from train fraction to the recommended regime label there
            (:func:`tunedepth.analysis.recommend_depths`), drawn as one more line named "recommended" after ``labels``.

    Returns:
        A figure with one axes on a log x-axis: ``ax.containers[i]`` (an ErrorbarContainer: data line, caps,
        bars) is ``labels[i]``'s test AUC at its fractions (ascending) with interval error bars; the recommended
        series, if given, is last.

    Raises:
        ValueError: if ``labels`` is empty, a label is not in ``scores``, or a column is missing.

    Example:
        >>> table = pd.DataFrame({"train_fraction": [1.0, 0.1], "label": ["scratch"] * 2, "test_auc": [0.9, 0.7],
        ...     "test_auc_low": [0.85, 0.6], "test_auc_high": [0.95, 0.8]})
        >>> fig = plot_score_vs_fraction(table, labels=["scratch"])
        >>> [float(x) for x in fig.axes[0].containers[0][0].get_xdata()]
        [0.1, 1.0]
    """
    _check_columns(scores, ("train_fraction", "label", "test_auc", "test_auc_low", "test_auc_high"),
                   "plot_score_vs_fraction", "scores")
    if not labels:
        raise ValueError("The 'labels' parameter of plot_score_vs_fraction must name at least one regime label; got "
                         "an empty sequence.")
    known = list(dict.fromkeys(scores["label"].astype(str)))
    unknown = [label for label in labels if label not in known]
    if unknown:
        raise ValueError(f"The 'labels' parameter of plot_score_vs_fraction names regime(s) {unknown} that the "
                         f"scores table lacks; available: {known}.")
    series: list[tuple[str, pd.DataFrame]] = [(label, scores[scores["label"] == label]) for label in labels]
    if recommended:
        picked = [_rows_at(scores[scores["label"] == label], fraction, "plot_score_vs_fraction", "scores")
                  for fraction, label in recommended.items()]
        series.append(("recommended", pd.concat(picked)))
    fig = new_figure()
    ax = fig.add_subplot()
    for i, (name, rows) in enumerate(series):
        rows = rows.sort_values("train_fraction")
        auc = rows["test_auc"].to_numpy(dtype=float)
        yerr = _yerr(auc, rows["test_auc_low"].to_numpy(dtype=float), rows["test_auc_high"].to_numpy(dtype=float))
        ax.errorbar(rows["train_fraction"].to_numpy(dtype=float), auc, yerr=yerr, marker="o", capsize=4,
                    color=f"C{i}", label=name)
    ax.set_xscale("log")
    ax.set_xlabel("training fraction (log scale)")
    ax.set_ylabel("test AUC")
    ax.set_title("Test AUC vs training size")
    ax.legend(loc="lower right")
    return fig


def plot_convergence(
    histories: Mapping[str, pd.DataFrame], *, train_fraction: float, lrs: Mapping[str, float] | None = None,
) -> Figure:
    """Validation AUC against mini-batches seen (log x-axis), one line per regime at one training fraction.

    Args:
        histories: regime label -> that run's ``history.csv`` (columns iteration and val_auc; base_lr when the
            run tried several learning rates; seed when the frame holds several seeds' histories stacked).
        train_fraction: the fraction the histories belong to (used in the title).
        lrs: regime label -> the chosen learning rate (``metrics.json``'s "lr"); required for a history whose
            base_lr column holds several values, whose other rows are then dropped.

    Returns:
        A figure with one axes on a log x-axis, one line per (label, seed) in the order of ``histories`` and then
        of ascending seed: x = iteration, y = val_auc, sorted by iteration. Seeds of one regime share its colour
        and only the first carries the legend entry (one line per seed rather than a mean, so spread stays
        visible and runs stopped early at different epochs need no alignment). Scratch is black and dashed; the
        other labels take colours along the viridis colour map in the order given (pass them shallow to deep, as
        the report does), so that any number of depths keep distinct colours and the order reads as depth. The
        legend sits outside the axes, to their right, so it covers no curve.

    Raises:
        ValueError: if ``histories`` is empty, a column is missing, or a history has several base_lr values and
            ``lrs`` gives none (or one that it lacks) for its label.

    Example:
        >>> h = pd.DataFrame({"iteration": [10, 20], "val_auc": [0.6, 0.7]})
        >>> fig = plot_convergence({"scratch": h}, train_fraction=1.0)
        >>> fig.axes[0].get_xscale(), [float(y) for y in fig.axes[0].lines[0].get_ydata()]
        ('log', [0.6, 0.7])
    """
    if not histories:
        raise ValueError("The 'histories' parameter of plot_convergence must map at least one regime label to its "
                         "history; got an empty mapping.")
    fig = new_figure()
    fig.set_size_inches(8.4, 4.4)  # room for the legend on the right
    ax = fig.add_subplot()
    colours = _depth_colours([label for label in histories if label != _SCRATCH])
    for label, history in histories.items():
        _check_columns(history, ("iteration", "val_auc"), "plot_convergence", f"histories[{label!r}]")
        if "base_lr" in history.columns and history["base_lr"].nunique() > 1:
            tried = sorted(float(lr) for lr in history["base_lr"].unique())
            if lrs is None or label not in lrs:
                raise ValueError(f"The history of {label!r} passed to plot_convergence holds several learning rates "
                                 f"{tried}; pass the chosen one in the 'lrs' parameter (metrics.json's 'lr').")
            history = history[np.isclose(history["base_lr"].to_numpy(dtype=float), lrs[label])]
            if history.empty:
                raise ValueError(f"The 'lrs' parameter of plot_convergence gives {lrs[label]} for {label!r}, which "
                                 f"its history never tried ({tried}).")
        groups = history.groupby("seed", sort=True) if "seed" in history.columns else [(None, history)]
        for j, (_, rows) in enumerate(groups):
            rows = rows.sort_values("iteration")
            scratch = label == _SCRATCH
            ax.plot(rows["iteration"].to_numpy(dtype=float), rows["val_auc"].to_numpy(dtype=float), marker=".",
                    color="black" if scratch else colours[label], linestyle="--" if scratch else "-",
                    label=label if j == 0 else "_nolegend_")
    ax.set_xscale("log")
    ax.set_xlabel("mini-batches seen (log scale)")
    ax.set_ylabel("validation AUC")
    ax.set_title(f"Convergence, {train_fraction * 100:g}% of the training data")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize="small")
    return fig


def _depth_colours(labels: Sequence[str]) -> dict[str, tuple[float, float, float, float]]:
    """Colours along viridis for ``labels`` in order; its bright yellow end (hard to see on white) is left out."""
    cmap = mpl.colormaps["viridis"]
    stops = np.linspace(0.0, 0.85, len(labels)) if len(labels) > 1 else np.zeros(len(labels))
    out: dict[str, tuple[float, float, float, float]] = {}
    for label, stop in zip(labels, stops, strict=True):
        r, g, b, a = cmap(float(stop))
        out[label] = (float(r), float(g), float(b), float(a))
    return out


def plot_pvalue_heatmap(significance: pd.DataFrame, *, train_fraction: float) -> Figure:
    """Holm-adjusted p-values between every pair of regimes at one fraction, as an annotated heatmap.

    Args:
        significance: the significance table (:func:`tunedepth.analysis.significance_table`); needs the columns
            train_fraction, label_a, label_b and p_holm.
        train_fraction: the fraction to plot, one of ``significance.train_fraction``.

    Returns:
        A figure whose first axes shows a symmetric (n_regimes, n_regimes) image (``ax.images[0]``) of p_holm,
        regimes in the table's order (scratch, depth 1, 2, ...), the diagonal masked; each cell is annotated with
        its value (3 decimals, "nan" where undefined) and a colour bar is added. Ticks carry the regime labels.

    Raises:
        ValueError: if a column is missing or no row has ``train_fraction``.

    Example:
        >>> table = pd.DataFrame({"train_fraction": [1.0], "label_a": ["ft:fc8"], "label_b": ["scratch"],
        ...     "p_holm": [0.01]})
        >>> fig = plot_pvalue_heatmap(table, train_fraction=1.0)
        >>> float(fig.axes[0].images[0].get_array()[0, 1])
        0.01
    """
    _check_columns(significance, ("train_fraction", "label_a", "label_b", "p_holm"), "plot_pvalue_heatmap",
                   "significance")
    rows = _rows_at(significance, train_fraction, "plot_pvalue_heatmap", "significance")
    order = list(dict.fromkeys(str(x) for pair in zip(rows["label_b"], rows["label_a"], strict=True) for x in pair))
    index = {label: k for k, label in enumerate(order)}
    matrix = np.full((len(order), len(order)), np.nan)
    for a, b, p in zip(rows["label_a"], rows["label_b"], rows["p_holm"], strict=True):
        matrix[index[str(a)], index[str(b)]] = matrix[index[str(b)], index[str(a)]] = float(p)
    masked = np.ma.masked_invalid(matrix)
    fig = new_figure()
    ax = fig.add_subplot()
    image = ax.imshow(masked, cmap="viridis_r", vmin=0.0, vmax=1.0)
    for r in range(len(order)):
        for c in range(len(order)):
            if r != c:
                text = "nan" if np.isnan(matrix[r, c]) else f"{matrix[r, c]:.3f}"
                ax.text(c, r, text, ha="center", va="center", fontsize=8,
                        color="white" if matrix[r, c] < 0.5 else "black")
    names = [_group_name(label) for label in order]
    ax.set_xticks(range(len(order)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(order)), names)
    ax.set_title(f"Holm-adjusted p-values, {train_fraction * 100:g}% of the training data")
    fig.colorbar(image, ax=ax, label="Holm-adjusted p-value")
    return fig


def figure_to_png_bytes(fig: Figure, *, dpi: int = 100) -> bytes:
    """Render a figure to PNG bytes (for embedding in the HTML report) and close it.

    Args:
        fig: the figure; it is closed (released from pyplot if pyplot tracks it) after rendering.
        dpi: resolution in dots per inch.

    Returns:
        The PNG file's bytes (they start with the PNG signature ``b"\\x89PNG"``).

    Example:
        >>> figure_to_png_bytes(Figure())[:4]
        b'\\x89PNG'
    """
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=dpi)
    finally:
        _close(fig)
    return buffer.getvalue()


def _close(fig: Figure) -> None:
    # Figures from this module are not tracked by pyplot; one made with pyplot must be released from it too.
    import matplotlib.pyplot as plt

    plt.close(fig)
