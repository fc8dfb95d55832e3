"""The task-run plug-in type and its registry: how a task's runs get their data and score their cases."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from tunedepth._registry import Registry
from tunedepth.config import StudyConfig
from tunedepth.data import DatasetSplits
from tunedepth.data.crops import CropSpec
from tunedepth.evaluation import roc_auc_score
from tunedepth.models import GroupedModel
from tunedepth.results import Split, StudyStore

__all__ = ["STUDY_TASKS", "TaskData", "TaskOutputs", "TaskRun"]


@dataclass(frozen=True)
class TaskOutputs:
    """What a run of a task leaves beyond the metrics every run has.

    Attributes:
        metrics: the task's test metrics, by ``results.csv`` column (e.g. ``test_sensitivity_at_1_fps``).
        tables: per-run tables, written as ``<name>.csv`` in the run folder (e.g. ``boundary_errors_test``).
        arrays: per-run groups of arrays, written as ``<name>.npz`` (e.g. ``overlays_test``).
    """

    metrics: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    arrays: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


class TaskData(ABC):
    """A prepared study's task data: what its runs need beyond the image splits the network trains on.

    The network always classifies the images of :class:`~tunedepth.data.DatasetSplits` (whole images, patches
    around candidates, pixel patches); a task says which training rows a run at a ``train_fraction`` and seed
    takes, what its validation and test *cases* are (images, candidates, pixels) and their scores, and what else
    a run's test yields.
    """

    @abstractmethod
    def train_rows(self, data: DatasetSplits, *, train_fraction: float, seed: int) -> np.ndarray:
        """Rows of ``data.train`` a run at ``train_fraction`` and ``seed`` trains on (nested across fractions)."""

    def train_views(self, data: DatasetSplits, *, seed: int) -> torch.Tensor | None:
        """Fixed views of every training image that a run with ``seed`` trains on instead of the images, or None
        for the images themselves (default).

        A uint8 tensor of shape (k * n, 3, s, s), view-major: row ``v * n + i`` is view ``v`` of ``data.train``'s
        image ``i`` (e.g. the training crops of frame classification, drawn once per seed). Each epoch shows every
        training image once, as one of its views drawn at random; the same seed must give the same views, so the
        frozen-feature cache serves them at every depth and fraction.
        """
        return None

    def scoring_crops(self) -> tuple[int, tuple[CropSpec, ...]] | None:
        """For a task that scores an image by the mean probability over fixed crops of it: the side the image is
        resized to before it is cut, and the crops (the first is the centre crop); None (default) when the network
        scores the cases' images as they are."""
        return None

    def scoring_volumes(self) -> dict[str, Any] | None:
        """For a task whose cases are candidates in volumes, scored by the mean probability over fixed patches cut
        around each: what cuts them (the task's settings, the unit, the intensity window, the patch side), as
        :func:`~tunedepth.study.tasks.volume_candidates.candidate_scorer` rebuilds it; None (default) otherwise."""
        return None

    def class_weights(self, data: DatasetSplits, rows: np.ndarray) -> torch.Tensor | None:
        """Per-class loss weights for the training rows, or None for an unweighted loss."""
        return None

    @abstractmethod
    def case_labels(self, data: DatasetSplits, split: Split) -> np.ndarray:
        """Class labels of the scored cases of ``split``, of shape (n_cases,)."""

    def case_log_odds(self, log_odds: np.ndarray) -> np.ndarray:
        """Per-case class log-odds, of shape (n_cases, n_classes), from the network's per-image ones (the images
        of a validation or test split, in order). Default: each image is a case."""
        return log_odds

    def val_score(self, data: DatasetSplits) -> Callable[[np.ndarray, np.ndarray], float]:
        """The validation score that stops training and picks the learning rate, from the images' labels and
        log-odds: the ROC AUC of the cases."""
        labels = self.case_labels(data, "val")
        return lambda _image_labels, log_odds: roc_auc_score(labels, self.case_log_odds(log_odds))

    def test_outputs(self, model: GroupedModel, test_log_odds: np.ndarray, *, device: torch.device,
                     image_log_odds: np.ndarray) -> TaskOutputs:
        """The task's own test outputs of a trained run, given its per-case test log-odds and the per-image ones
        they came from (:meth:`case_log_odds`'s input). Default: none."""
        return TaskOutputs()

    def write_study_files(self, store: StudyStore) -> None:  # noqa: B027 (optional hook; default: none)
        """Write the task's study-wide files (e.g. the candidates of a detection study) before the runs."""


@dataclass(frozen=True)
class TaskRun:
    """A task's run part.

    Attributes:
        name: the task's name (as in :data:`tunedepth.config.TASK_CONFIGS`).
        prepare: loads and checks the study's data: the image splits the network trains on and the task data.
        scores_images: a test case is one image, scored by one forward pass or by the mean over fixed crops of it
            (:meth:`TaskData.scoring_crops`), not candidates or pixels; so an exported model scores a new image as
            the study scored its test images (``tunedepth export``, :mod:`tunedepth.deploy`).
        scores_volume_candidates: a test case is a candidate in a volume, scored by the mean over fixed patches cut
            around it (:meth:`TaskData.scoring_volumes`); an exported model scores new candidates from volumes and a
            candidate table.
    """

    name: str
    prepare: Callable[[StudyConfig], tuple[DatasetSplits, TaskData]]
    scores_images: bool = False
    scores_volume_candidates: bool = False


STUDY_TASKS: Registry[TaskRun] = Registry("task (run part)")
"""Every task's run part, by task name."""
