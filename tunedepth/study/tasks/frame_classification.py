"""``task = "frame_classification"``, run part: labelled frames, trained on random crops and scored per frame by the
mean over a fixed set of test crops (the paper's colonoscopy-frame protocol; :mod:`tunedepth.data.crops`).

The network's validation and test splits are the crops (crop-major: row ``c * n + i`` is crop ``c`` of frame ``i``);
a case is a frame, scored by :func:`~tunedepth.data.crops.average_over_crops` (the mean probability). Training
frames stay whole in ``data.train``; a run trains on their crops, drawn once per seed
(:meth:`FrameData.train_views`), one random crop of each frame per epoch. Each run keeps every test crop's
log-odds (``crops_test.npz``) and records the single-view test AUC (the centre crop alone) beside the crop-averaged
one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from tunedepth.config import FrameClassificationConfig, StudyConfig, settings_of
from tunedepth.data import DatasetSplits, ImageSet
from tunedepth.data.crops import CropSpec, apply_crops, average_over_crops, evaluation_crops, training_crops
from tunedepth.evaluation import roc_auc_score
from tunedepth.models import GroupedModel
from tunedepth.results import CROPS_TEST, Split
from tunedepth.study.tasks.base import STUDY_TASKS, TaskData, TaskOutputs, TaskRun
from tunedepth.study.tasks.classification import ClassificationData, load_labelled_images

__all__ = ["CROPS_TEST", "FRAME_CLASSIFICATION_RUN", "FrameData", "prepare_frames"]


class FrameData(ClassificationData):
    """Frames are the cases; the network sees their crops.

    Args:
        balance: ``data.balance``, as for classification (on frames).
        settings: the study's ``[frame_classification]`` table.
        image_size: side of the crops fed to the network (``data.image_size``).
        labels: the frame labels of "val" and "test".
        test_crops: the fixed crops of every validation and test frame, centre crop first.
    """

    def __init__(self, *, balance: str, settings: FrameClassificationConfig, image_size: int,
                 labels: dict[str, np.ndarray], test_crops: tuple[CropSpec, ...]) -> None:
        super().__init__(balance=balance)
        self.settings, self.image_size, self.labels, self.test_crops = settings, image_size, labels, test_crops

    @property
    def n_test_crops(self) -> int:
        return len(self.test_crops)

    def scoring_crops(self) -> tuple[int, tuple[CropSpec, ...]]:
        """The frames' side before cutting (``frame_size``) and the fixed test crops."""
        return self.settings.frame_size or self.image_size, self.test_crops

    def train_views(self, data: DatasetSplits, *, seed: int) -> torch.Tensor:
        """The training crops of every training frame, ``crops_per_image`` per frame drawn from ``seed``,
        crop-major."""
        s = self.settings
        specs = training_crops(len(data.train), s.crops_per_image, s.crop_scales, seed, flip=s.crop_flip,
                               rotate=s.crop_rotate)
        return apply_crops(data.train.images, specs, self.image_size)

    def case_labels(self, data: DatasetSplits, split: Split) -> np.ndarray:
        if split == "train":
            return super().case_labels(data, split)
        return self.labels[split]

    def case_log_odds(self, log_odds: np.ndarray) -> np.ndarray:
        n_rows = len(log_odds)
        return average_over_crops(log_odds, n_rows // self.n_test_crops, self.n_test_crops)

    def val_score(self, data: DatasetSplits) -> Callable[[np.ndarray, np.ndarray], float]:
        return TaskData.val_score(self, data)

    def test_outputs(self, model: GroupedModel, test_log_odds: np.ndarray, *, device: torch.device,
                     image_log_odds: np.ndarray) -> TaskOutputs:
        """Every test crop's log-odds, and the test AUC of the centre crop alone (``test_auc_single_view``)."""
        per_crop = np.asarray(image_log_odds, dtype=np.float64).reshape(self.n_test_crops, len(test_log_odds), -1)
        single = roc_auc_score(self.labels["test"], per_crop[0])
        return TaskOutputs(metrics={"test_auc_single_view": single}, arrays={CROPS_TEST: {"log_odds": per_crop}})


def _crops_of(images: ImageSet, crops: tuple[CropSpec, ...], size: int) -> ImageSet:
    """The fixed crops of every image of a split, crop-major, with the labels and groups repeated alike."""
    n = len(images)
    patches = apply_crops(images.images, [crops] * n, size)
    groups = None if images.patient_ids is None else tuple(images.patient_ids) * len(crops)
    return ImageSet(patches, images.labels.repeat(len(crops)), groups)


def prepare_frames(config: StudyConfig) -> tuple[DatasetSplits, FrameData]:
    """Load the frames at ``frame_size`` and cut the fixed crops of the validation and test frames."""
    settings = settings_of(config, FrameClassificationConfig)
    image_size = config.data.image_size
    frame_size = settings.frame_size or image_size
    frames = load_labelled_images(config.model_copy(update={"data": config.data.model_copy(
        update={"image_size": frame_size})}))
    crops = evaluation_crops(settings.test_crops, scale=settings.test_crop_scale)
    data = DatasetSplits(frames.name, frames.class_names, frames.train, _crops_of(frames.val, crops, image_size),
                         _crops_of(frames.test, crops, image_size), frames.split_origin)
    labels = {"val": frames.val.labels.numpy(), "test": frames.test.labels.numpy()}
    task = FrameData(balance=str(getattr(config.data, "balance", "none")), settings=settings, image_size=image_size,
                     labels=labels, test_crops=crops)
    return data, task


FRAME_CLASSIFICATION_RUN = TaskRun(name="frame_classification", prepare=prepare_frames, scores_images=True)
STUDY_TASKS.register(FRAME_CLASSIFICATION_RUN.name, FRAME_CLASSIFICATION_RUN)
