"""``task = "frame_classification"``: one label per frame, trained on crops of each frame and scored by the average
over a fixed set of test crops (the paper's colonoscopy-frame protocol, section II-C; paper-protocol.md).

Its table is ``[frame_classification]``; the crops themselves are :mod:`tunedepth.data.crops`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, field_validator

from tunedepth.config._base import Frozen
from tunedepth.config.tasks.base import TaskConfig, register_task_config

if TYPE_CHECKING:
    from tunedepth.config.schema import StudyConfig

__all__ = ["FRAME_CLASSIFICATION", "FrameClassificationConfig"]


class FrameClassificationConfig(Frozen):
    """Training crops and test crops of ``task = "frame_classification"``.

    Frames are loaded at ``frame_size`` (default ``data.image_size``); every crop is cut from the frame and resized
    to ``data.image_size``, the network's input.
    """

    crops_per_image: Annotated[int, Field(ge=1, le=64)] = Field(
        default=8,
        description="Training crops per frame, drawn once per seed (so the feature cache serves them); each epoch "
        "shows every training frame once, as one of its crops drawn at random.",
    )
    crop_scales: tuple[Annotated[float, Field(gt=0, le=1)], ...] = Field(
        default=(0.75, 0.875, 1.0), min_length=1,
        description="Sides of the training crops as fractions of the frame's shorter side; each crop takes one at "
        "random, and a random position inside the frame.",
    )
    crop_flip: bool = Field(default=True, description="Training crops are mirrored left-right with probability 1/2.")
    crop_rotate: bool = Field(
        default=True,
        description="Training crops are turned by 0-3 quarter turns at random (colonoscopy frames have no upright; "
        "set false for images that do, e.g. ultrasound with the probe at the top).",
    )
    test_crops: Literal["centre", "five", "five_flips"] = Field(
        default="five",
        description="Crops averaged per validation and test frame: 'centre', 'five' (centre + 4 corners) or "
        "'five_flips' (those and their mirrors). The centre crop alone is the single-view score.",
    )
    test_crop_scale: Annotated[float, Field(gt=0, le=1)] = Field(
        default=0.875, description="Side of every test crop as a fraction of the frame's shorter side."
    )
    frame_size: Annotated[int, Field(ge=16, le=1024)] | None = Field(
        default=None,
        description="Side the frames are resized to before cropping, in pixels. Default: data.image_size (crops "
        "smaller than the frame are then enlarged to the input size).",
    )

    @field_validator("crop_scales")
    @classmethod
    def _scales_unique(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if len(set(v)) != len(v):
            raise ValueError(f"crop_scales must be unique; got {list(v)}")
        return v


def _check(config: StudyConfig) -> None:
    training = config.training
    if training.augment or training.augment_copies:
        raise ValueError(
            "task = 'frame_classification' augments by its training crops ([frame_classification] "
            f"crops_per_image, crop_scales, crop_flip, crop_rotate); got training.augment = {training.augment} and "
            f"training.augment_copies = {training.augment_copies}. Set both to their defaults (false, 0).")


FRAME_CLASSIFICATION = register_task_config(TaskConfig(
    name="frame_classification",
    description="one label per frame, trained on random crops and scored by the mean over fixed test crops",
    data_sources=("medmnist", "image_folder", "csv_manifest", "colonoscopy_frame_quality"),
    table="frame_classification",
    settings=FrameClassificationConfig,
    needs="image labels",
    check=_check,
))
