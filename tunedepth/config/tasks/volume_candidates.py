"""``task = "volume_candidates"``: candidates in 3D volumes (CT, MR), each seen as 2.5D patches, scored per candidate
and by FROC per volume (the paper's pulmonary-embolism application, section II-D; paper-protocol.md).

Its table is ``[volume_candidates]``; the sections themselves are :mod:`tunedepth.data.volumes`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from tunedepth.config._base import Frozen
from tunedepth.config.tasks.base import TaskConfig, register_task_config

__all__ = ["VOLUME_CANDIDATES", "VolumeCandidatesConfig"]


class VolumeCandidatesConfig(Frozen):
    """How a candidate becomes the network's 3-channel patches.

    A patch's three channels are sections through the candidate, ``data.image_size`` pixels on a side spanning
    ``width`` (in ``unit``): the cross-section perpendicular to an axis, then two longitudinal sections along it at
    ``angle`` and ``angle + 90°`` about it. ``views = "vessel_aligned"`` takes the local vessel axis (Hessian at
    ``vessel_sigma``; where no tube is found, the volume's z axis, counted in the study's summary);
    ``"orthogonal"`` always takes the z axis, which gives the usual axial / coronal / sagittal 2.5D triple at angle 0;
    ``"both"`` gives every candidate both kinds of patches. A candidate's views are its widths x angles (x kinds);
    its score is the mean probability over its test views.
    """

    views: Literal["vessel_aligned", "orthogonal", "both"] = Field(
        default="vessel_aligned",
        description="Axis of the sections: the local vessel axis ('vessel_aligned', the paper's), the volume's z "
        "axis ('orthogonal': axial/coronal/sagittal) or both kinds of patches per candidate.",
    )
    widths: tuple[Annotated[float, Field(gt=0)], ...] = Field(
        default=(10.0, 15.0, 20.0), min_length=1,
        description="Physical side of each patch, in unit (paper: 10, 15 and 20 mm); one view per width.",
    )
    unit: Literal["auto", "mm", "voxel"] = Field(
        default="auto",
        description="Unit of widths and vessel_sigma: 'mm' needs the voxel spacing of every volume (refused "
        "otherwise), 'voxel' ignores it, 'auto' takes mm when every volume has a spacing and voxels when none has.",
    )
    slab_thickness: Annotated[float, Field(ge=0)] = Field(
        default=0.0,
        description="Thickness of a slab around each section, in unit: each pixel is the maximum over it (thick-slab "
        "maximum intensity projection, as CT angiography is read). 0: thin sections (the paper's).",
    )
    vessel_sigma: Annotated[float, Field(gt=0)] = Field(
        default=1.5, description="Scale of the Hessian that finds the vessel axis (a vessel radius), in unit."
    )
    min_tubularity: Annotated[float, Field(ge=0, le=0.865)] = Field(
        default=0.5,
        description="Frangi shape term below which a candidate has no vessel axis (tube 0.865, ball 0.117) and "
        "falls back to the z axis.",
    )
    train_angles: Annotated[int, Field(ge=1, le=16)] = Field(
        default=4,
        description="Rotations about the axis per training candidate and width, drawn once per seed in [0, 180) "
        "degrees (so the feature cache serves them).",
    )
    test_angles: Annotated[int, Field(ge=1, le=16)] = Field(
        default=2, description="Fixed rotations averaged at validation and test: k angles evenly spaced in [0, 180)."
    )
    intensity_window: tuple[float, float] | None = Field(
        default=None,
        description="Values [low, high] mapped to 0-255 (clipped), e.g. [-100, 700] HU for CT angiography; None "
        "maps the data set's range (0-255 for 8-bit volumes).",
    )

    @field_validator("widths")
    @classmethod
    def _widths_unique(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if len(set(v)) != len(v):
            raise ValueError(f"widths must be unique; got {list(v)}")
        return v

    @field_validator("intensity_window")
    @classmethod
    def _window_increasing(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and not v[0] < v[1]:
            raise ValueError(f"intensity_window must be [low, high] with low < high; got {list(v)}")
        return v


VOLUME_CANDIDATES = register_task_config(TaskConfig(
    name="volume_candidates",
    description="candidates in 3D volumes, seen as vessel-aligned or orthogonal 2.5D patches, scored by FROC per "
    "volume",
    data_sources=("medmnist3d", "volume_table", "generated_cta"),
    table="volume_candidates",
    settings=VolumeCandidatesConfig,
))
