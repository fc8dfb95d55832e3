"""``task = "detection"``: polyp candidates in colonoscopy frames, classified from patches, scored by FROC.

Its table is ``[detection]`` (paper section II-A; paper-protocol.md section 1.3).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from tunedepth.config._base import Frozen, added_field
from tunedepth.config.tasks.base import TaskConfig, register_task_config

__all__ = ["DETECTION", "DetectionConfig"]


class DetectionConfig(Frozen):
    """Candidates and patches of ``task = "detection"`` (paper section II-A; paper-protocol.md section 1.3)."""

    max_candidates: Annotated[int, Field(ge=1)] = Field(
        default=50,
        description="Most candidates per frame from the handcrafted generator (tunedepth.data.masked.candidates).",
    )
    min_polyp_area_px: Annotated[int, Field(ge=1)] = Field(
        default=50, description="Smallest mask component counted as a polyp, in pixels."
    )
    scales: tuple[Annotated[float, Field(gt=0)], ...] = Field(
        default=(1.0, 1.2, 1.5), min_length=1, description="Box enlargements of a candidate's patches (paper)."
    )
    shift_fraction: Annotated[float, Field(ge=0, lt=0.5)] = Field(
        default=0.1,
        description="Translations by this share of the box left, right, up and down, plus the centre (paper: 10%); "
        "0 = centre only.",
    )
    orientations: Annotated[int, Field(ge=1, le=8)] = Field(
        default=8, description="Mirror/rotation copies of each patch, the first n of the 8 (paper: 8)."
    )
    train_patches: Annotated[int, Field(ge=2)] = Field(
        default=100_000,
        description="Size of the stratified training patch set at train_fraction 1 (half positive; paper: 100,000).",
    )
    test_views: Literal["all", "scales", "scales_orientations"] = Field(
        default="all",
        description="Patches averaged per candidate at validation and test: 'all' views (paper), one centred, "
        "unrotated patch per scale ('scales'), or the centred patch per scale in each of the first `orientations` "
        "orientations ('scales_orientations').",
    )
    hard_negatives: Annotated[float, Field(ge=0, le=1)] = added_field(
        0.0,
        description="Share of the negative training patches drawn from near-polyp negatives (background candidates "
        "whose box holds polyp pixels, at a polyp's edge), the rest from all negatives; 0 = every negative alike.",
    )

    @field_validator("scales")
    @classmethod
    def _scales_unique(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if len(set(v)) != len(v):
            raise ValueError(f"scales must be unique; got {list(v)}")
        return v


DETECTION = register_task_config(TaskConfig(
    name="detection",
    description="polyp candidates in colonoscopy frames, classified from patches and scored by FROC",
    data_sources=("kvasir_seg", "cvc_clinicdb"),
    table="detection",
    settings=DetectionConfig,
))
