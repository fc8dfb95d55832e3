"""A task registered from outside the package, as a user's plug-in would be: its three parts in one module.

``task = "toy_views"`` classifies labelled images with test-time augmentation: every validation and test image is
scored as the mean of the network's log-odds on ``n_views`` views of it (the image, then mirrored copies), the way
the detection task scores a candidate by its patches. Its own table ``[toy_views]`` sets the number of views; its
runs record how often the views agree; its analysis adds a table, a header line and a figure of a plot kind it
registers. Nothing in ``tunedepth/`` knows about it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from pydantic import Field

from tunedepth.analysis import ANALYSIS_TASKS, FigureData, StudyAnalysis, TaskAnalysis, TaskTable
from tunedepth.config import AnalysisConfig, Frozen, StudyConfig, TaskConfig, register_task_config, settings_of
from tunedepth.data import DatasetSplits, ImageSet, train_subset_indices
from tunedepth.models import GroupedModel
from tunedepth.report import PLOT_KINDS
from tunedepth.report.plots import new_figure
from tunedepth.results import FinishedStudy, Split
from tunedepth.study.tasks import STUDY_TASKS, TaskData, TaskOutputs, TaskRun, load_labelled_images

NAME = "toy_views"


# 1. Config part: the task's own table and the data sources it reads.

class ToyViewsConfig(Frozen):
    n_views: int = Field(default=2, ge=1, le=4, description="Views per evaluated image: itself, then mirrored.")


register_task_config(TaskConfig(name=NAME, description="labelled images scored with test-time views",
                                data_sources=("image_folder", "csv_manifest"), table=NAME, settings=ToyViewsConfig,
                                needs="image labels"))


# 2. Run part: the views behind the cases, and what a run's test yields beyond the AUC.

def _views(images: ImageSet, n_views: int) -> ImageSet:
    """Each image followed by its mirrored copies (view-major within an image)."""
    flips = [images.images, images.images.flip(-1), images.images.flip(-2), images.images.flip(-1, -2)]
    stacked = torch.stack(flips[:n_views], dim=1).flatten(0, 1)
    labels = images.labels.repeat_interleave(n_views)
    groups = None if images.patient_ids is None else tuple(g for g in images.patient_ids for _ in range(n_views))
    return ImageSet(stacked, labels, groups)


class ToyViewsData(TaskData):
    def __init__(self, labels: dict[str, np.ndarray], n_views: int) -> None:
        self.labels, self.n_views = labels, n_views

    def train_rows(self, data: DatasetSplits, *, train_fraction: float, seed: int) -> np.ndarray:
        return train_subset_indices(data.train.labels.numpy(), train_fraction, seed=seed)

    def case_labels(self, data: DatasetSplits, split: Split) -> np.ndarray:
        return self.labels[split]

    def case_log_odds(self, log_odds: np.ndarray) -> np.ndarray:
        return np.asarray(log_odds, dtype=np.float64).reshape(-1, self.n_views, log_odds.shape[1]).mean(axis=1)

    def test_outputs(self, model: GroupedModel, test_log_odds: np.ndarray, *, device: torch.device,
                     image_log_odds: np.ndarray) -> TaskOutputs:
        predicted = test_log_odds.argmax(axis=1)
        table = pd.DataFrame({"case": np.arange(len(predicted)), "label": self.labels["test"],
                              "predicted": predicted})
        return TaskOutputs(metrics={"test_view_accuracy": float((predicted == self.labels["test"]).mean())},
                           tables={"views_test": table})


PREPARE_LOG = "TUNEDEPTH_TEST_PREPARE_LOG"
"""When set, every preparation of a toy study appends its process id to this file (tests count them)."""


def _prepare(config: StudyConfig) -> tuple[DatasetSplits, TaskData]:
    if log := os.environ.get(PREPARE_LOG):
        with open(log, "a") as fh:
            fh.write(f"{os.getpid()}\n")
    images = load_labelled_images(config)
    n_views = settings_of(config, ToyViewsConfig).n_views
    data = DatasetSplits(images.name, images.class_names, images.train, _views(images.val, n_views),
                         _views(images.test, n_views), images.split_origin)
    labels = {"val": images.val.labels.numpy(), "test": images.test.labels.numpy()}
    return data, ToyViewsData(labels, n_views)


STUDY_TASKS.register(NAME, TaskRun(name=NAME, prepare=_prepare))


# 3. Analysis part: a table, a header line and a figure of its own plot kind.

def _accuracy_table(study: FinishedStudy, settings: AnalysisConfig) -> pd.DataFrame:
    rows = []
    for run in study.runs:
        views = study.run_table(run.run_id, "views_test")
        rows.append({"train_fraction": run.train_fraction, "label": run.label, "seed": run.seed,
                     "view_accuracy": float((views["predicted"] == views["label"]).mean())})
    return pd.DataFrame(rows)


def _figures(study: FinishedStudy, analysis: StudyAnalysis, train_fraction: float) -> list[FigureData]:
    table = analysis.task_tables["view_accuracy"]
    rows = table[table["train_fraction"] == train_fraction]
    return [FigureData("toy_bars", f"View accuracy at {train_fraction:g}", train_fraction,
                       {"values": dict(zip(rows["label"], rows["view_accuracy"], strict=True))})]


def plot_toy_bars(values: Mapping[str, float]) -> Figure:
    fig = new_figure()
    ax = fig.add_subplot()
    ax.bar(list(values), list(values.values()))
    return fig


def _header(study: FinishedStudy) -> list[tuple[str, Any]]:
    return [("Test-time views", str(study.study_config()[NAME]["n_views"]))]


PLOT_KINDS.register("toy_bars", plot_toy_bars)
ANALYSIS_TASKS.register(NAME, TaskAnalysis(
    name=NAME,
    tables=(TaskTable("view_accuracy", "Toy views: accuracy of the view-averaged prediction",
                      "Per run: share of test images whose mean over views predicts their class.", _accuracy_table),),
    figures=_figures,
    header=_header,
))
