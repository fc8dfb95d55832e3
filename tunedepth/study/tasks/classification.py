"""``task = "classification"``, run part: the labelled images of a registered data source, one case per image."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from tunedepth.config import StudyConfig
from tunedepth.data import DATA_SOURCES, DatasetSplits, balance_indices, class_weights, train_subset_indices
from tunedepth.errors import ConfigError
from tunedepth.evaluation import roc_auc_score
from tunedepth.results import Split
from tunedepth.study.tasks.base import STUDY_TASKS, TaskData, TaskRun

__all__ = ["CLASSIFICATION_RUN", "ClassificationData", "load_labelled_images"]


class ClassificationData(TaskData):
    """Whole images are the cases; a training fraction is a nested, stratified subset of the training images.

    Args:
        balance: ``data.balance``: "none", "downsample" (drop majority-class training images) or "weighted_loss".
    """

    def __init__(self, *, balance: str) -> None:
        self.balance = balance

    def train_rows(self, data: DatasetSplits, *, train_fraction: float, seed: int) -> np.ndarray:
        labels = data.train.labels.numpy()
        rows = train_subset_indices(labels, train_fraction, seed=seed)
        if self.balance == "downsample":
            rows = balance_indices(labels, rows, policy="downsample", seed=seed)
        return rows

    def class_weights(self, data: DatasetSplits, rows: np.ndarray) -> torch.Tensor | None:
        if self.balance != "weighted_loss":
            return None
        weights = class_weights(data.train.labels.numpy()[rows], data.n_classes)
        return torch.as_tensor(weights, dtype=torch.float32)

    def case_labels(self, data: DatasetSplits, split: Split) -> np.ndarray:
        labels: np.ndarray = getattr(data, split).labels.numpy()
        return labels

    def val_score(self, data: DatasetSplits) -> Callable[[np.ndarray, np.ndarray], float]:
        return roc_auc_score


def load_labelled_images(config: StudyConfig) -> DatasetSplits:
    """Load the labelled images a study's ``[data]`` table names (the config -> loader boundary).

    Raises:
        ConfigError: for a data source that does not hold labelled images.
    """
    data = config.data
    source = DATA_SOURCES.get(data.source)
    if source.load is None:
        raise ConfigError(f"data.source {data.source!r} holds {type(data).holds}, not image labels; it cannot be "
                          "loaded as labelled images.")
    kwargs = data.model_dump(exclude={"source", "balance"})
    return source.load(**kwargs)


def _prepare(config: StudyConfig) -> tuple[DatasetSplits, TaskData]:
    return load_labelled_images(config), ClassificationData(balance=str(getattr(config.data, "balance", "none")))


CLASSIFICATION_RUN = TaskRun(name="classification", prepare=_prepare, scores_images=True)
STUDY_TASKS.register(CLASSIFICATION_RUN.name, CLASSIFICATION_RUN)
