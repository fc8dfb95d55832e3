"""The study report: one self-contained ``report.html`` with the header, recommendation, tables and figures.

The page embeds its figures as base64 PNG ``<img>`` tags and its style inline, so it opens without a network.
It is rendered with a jinja2 template (``templates/report.html.j2``) with autoescaping on: every value from the
study (labels, paths, notes) is escaped.
"""

from __future__ import annotations

import json
import logging
import math
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

import tunedepth
from tunedepth.analysis import ANALYSIS_TASKS, StudyAnalysis, analyze_study, recommendation_table
from tunedepth.report._figures import build_figures
from tunedepth.results import FinishedStudy, StudyLayout, StudyStore, load_finished_study

logger = logging.getLogger(__name__)

__all__ = ["REPORT_FILE", "write_report"]

REPORT_FILE = StudyLayout(Path(".")).report_html.name
"""The report's file name in the study folder."""

_RULE_TEXT = {
    "lookahead": ("from depth 1, the walk compares the current depth with every deeper depth on the validation "
                  "cases (Holm-adjusted) and moves to the shallowest that is significantly better, until none is"),
    "stepwise": ("from depth 1, the walk moves to the next depth while it is significantly better than the current "
                 "one on the validation cases"),
    "best": "the depth of best validation score is chosen",
    "shallowest_in_set": ("the shallowest depth not significantly worse than the best on the validation cases (the "
                          "confidence set of depths) is chosen"),
}


def _cell(value: Any) -> tuple[str, bool]:
    """A table cell's text, and whether it is text (left-aligned) rather than a number."""
    if isinstance(value, bool):
        return str(value), True
    if isinstance(value, float):
        return ("nan" if math.isnan(value) else f"{value:.4g}"), False
    if isinstance(value, int):
        return str(value), False
    return ("" if value is None else str(value)), True


def _table(frame: pd.DataFrame, table_id: str, title: str, caption: str) -> dict[str, Any]:
    rows = [[_cell(v.item() if hasattr(v, "item") else v) for v in row] for row in frame.itertuples(index=False)]
    return {"id": table_id, "title": title, "caption": caption, "columns": [str(c) for c in frame.columns],
            "rows": rows}


def _header(study: FinishedStudy, study_config: dict[str, Any]) -> dict[str, Any]:
    data = study_config.get("data", {})
    model = study_config.get("model", {})
    if data.get("source") == "medmnist":
        dataset = (f"medmnist: {data.get('flag', '?')} ({data.get('size', '?')} px, resized to "
                   f"{data.get('image_size', '?')} px)")
    else:
        dataset = f"{data.get('source', '?')}: {data.get('path', '?')}"
    results = study.results
    train = ", ".join(f"{int(results.loc[results['train_fraction'] == f, 'n_train'].max())} at {f:g}"
                      for f in study.train_fractions if "n_train" in results.columns)
    sizes = f"train {train or '?'}; validation {len(study.val_labels)}; test {len(study.test_labels)}"
    weights: dict[tuple[str, str], None] = {}
    versions: dict[str, None] = {}
    for run in study.runs:
        config = study.run_config(run.run_id) or {}
        if isinstance(config.get("weights"), dict):
            weights[(str(config["weights"].get("name")), str(config["weights"].get("sha256")))] = None
        if "tunedepth_version" in config:
            versions[str(config["tunedepth_version"])] = None
    source = str(model.get("weights", "?"))
    if model.get("checkpoint"):
        source += f" ({model['checkpoint']})"
    sha = "; ".join(f"{name}: {digest}" for name, digest in weights) or "none (no fine-tuning run)"
    fields = [
        ("Data set", dataset), ("Split sizes (cases)", sizes), ("Classes", str(study.n_classes)),
        ("Architecture", str(model.get("architecture", "?"))), ("Weight source", source),
        ("Weights sha256", sha), ("tunedepth version (runs)", ", ".join(versions) or "unknown"),
        ("tunedepth version (report)", tunedepth.__version__), ("Finished runs", str(len(study.runs))),
    ]
    task = ANALYSIS_TASKS.get(study.task)
    if task.header is not None:
        fields += task.header(study)
    fields.append(("Uncertainty", _uncertainty(study)))
    name = str(study_config.get("name", study.root.name))
    return {"name": name, "fields": fields, "config": json.dumps(study_config, indent=2, sort_keys=True)}


def _uncertainty(study: FinishedStudy) -> str:
    """Which intervals the tables use: within the test set with one seed, cases and seeds with several."""
    seeds = study.results.groupby(["label", "train_fraction"])["seed"].nunique()
    if seeds.max() < 2:
        return ("one seed per regime: intervals and paired tests are DeLong's, within the test (or validation) "
                "set; they show the uncertainty due to the finite set of cases, not the variation between "
                "training runs (run several seeds for that)")
    low, high = int(seeds.min()), int(seeds.max())
    k = f"{low}" if low == high else f"{low} to {high}"
    return (f"{k} seeds per regime: AUCs are means over seeds; their intervals and the paired tests between regimes "
            "count both the finite set of cases (DeLong) and the variation between training runs (the between-seed "
            "variance); the ci_method / method columns say which, row by row")


def _nan_runs(study: FinishedStudy) -> list[str]:
    out = []
    for run in study.runs:
        which = [split for split in ("val", "test") if math.isnan(run.auc(split))]
        if which:
            out.append(f"{run.label} at {run.train_fraction:g}, seed {run.seed} (run {run.run_id}): NaN "
                       f"{' and '.join(which)} AUC")
    return out


def _failed_runs(study: FinishedStudy) -> list[str]:
    failures = study.failures()
    return [f"{row.label} at {float(row.train_fraction):g}, seed {row.seed} (run {row.run_id}): {row.error}: "
            f"{row.reason}" for row in failures.itertuples(index=False)]


def _template() -> jinja2.Template:
    text = (files("tunedepth.report") / "templates" / "report.html.j2").read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string(text)


def write_report(study_dir: Path, *, alpha: float | None = None, depth_rule: str | None = None,
                 depth_metric: str | None = None, cross_fit: bool | None = None,
                 analysis: StudyAnalysis | None = None) -> Path:
    """Write a finished study's self-contained HTML report, ``report.html``, into its folder.

    The page holds: a header (data set, split sizes, architecture, weight source and sha256, tunedepth version,
    the study configuration from ``study.json``); the recommendation, one sentence per training fraction, with the
    rule that chose it; the score, significance and recommendation tables; the figures (per fraction: test AUC vs
    depth, convergence, ROC curves, p-value heatmap; then test AUC vs training fraction), embedded as base64
    PNGs; the runs with a NaN AUC; and the failed runs (``failures.csv``), which every table leaves out. Figures
    that cannot be drawn are listed with the reason instead.

    Args:
        study_dir: the folder written by :func:`tunedepth.study.run_study`.
        alpha: significance level of the analysis; None takes the study's own (see
            :func:`~tunedepth.analysis.analyze_study`).
        depth_rule: the recommendation's rule (:data:`~tunedepth.analysis.DEPTH_RULES`); None takes the study's
            own.
        depth_metric: what depths are compared on ("auc", "log_loss", "brier"); None takes the study's own.
        cross_fit: choose epochs and depths on disjoint validation halves; None takes the study's own.
        analysis: the study's analysis when already computed (e.g. by ``tunedepth study``); None computes it
            (with the settings above), which also writes the CSV tables. When given, the settings given must equal
            its own.

    Returns:
        The path of the written ``report.html`` (written atomically).

    Raises:
        StudyFolderError: if ``study_dir`` is not a study or has no finished runs.
        ConfigError: if a setting is invalid.
        ValueError: if ``analysis`` belongs to another folder or was computed with other settings.

    Example:
        See ``tests/report/test_html.py``; a study folder is needed.
    """
    study = load_finished_study(study_dir)
    if analysis is None:
        analysis = analyze_study(study.root, alpha=alpha, depth_rule=depth_rule, depth_metric=depth_metric,
                                 cross_fit=cross_fit)
    else:
        wanted = {"alpha": alpha, "depth_rule": depth_rule, "depth_metric": depth_metric, "cross_fit": cross_fit}
        used = {key: getattr(analysis.settings, key) for key in wanted}
        if Path(analysis.study_dir).resolve() != study.root.resolve() or any(
                value is not None and value != used[key] for key, value in wanted.items()):
            raise ValueError(f"The 'analysis' parameter of write_report must be the analysis of {str(study.root)!r} "
                             f"with {wanted}; got that of {str(analysis.study_dir)!r} with {used}. "
                             "Pass analysis=None to recompute it.")
    settings = analysis.settings
    figures, figure_notes = build_figures(study, analysis)
    tables = [
        _table(analysis.scores, "scores", "Scores",
               "Test AUC per regime and training fraction, with its interval (see ci_method)."),
        _table(analysis.significance, "significance", "Significance",
               f"Every pair of regimes per training fraction: AUC difference (a - b), its interval, p-value and "
               f"Holm-adjusted p-value; significant at alpha = {settings.alpha}."),
        _table(recommendation_table(analysis.recommendations), "recommendation-details", "Recommendation details",
               "Per training fraction: the recommended depth, its test AUC and comparison with scratch, and every "
               "validation comparison the walk made (validation_steps)."),
    ]
    task = ANALYSIS_TASKS.get(study.task)
    tables[1:1] = [_table(analysis.task_tables[t.name], t.name.replace("_", "-"), t.title, t.caption)
                   for t in task.tables]
    if not analysis.methods.empty:
        tables.insert(1, _table(
            analysis.methods, "methods", "Tuning methods",
            "Each tuning method beyond the paper's scheme, per training fraction: its test AUC, and its difference "
            "from the paper's best depth (the depth rule's choice on validation) and from full fine-tuning, with "
            f"intervals, p-values and Holm-adjusted p-values (one family per fraction; alpha = {settings.alpha}); "
            "in_confidence_set and chosen: the method choice on validation."))
    html = _template().render(
        header=_header(study, study.study_config()), alpha=settings.alpha,
        rule=_RULE_TEXT[settings.depth_rule], sentences=analysis.sentences, tables=tables, figures=figures,
        figure_notes=figure_notes, nan_runs=_nan_runs(study), failed_runs=_failed_runs(study),
        version=tunedepth.__version__,
    )
    path = StudyStore(study.root).write_text(REPORT_FILE, html)
    logger.info("wrote %s (%d figures)", path, len(figures))
    return path
