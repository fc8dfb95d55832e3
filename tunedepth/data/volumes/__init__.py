"""Volumes: reading them, candidates in them, spacing-aware sections, the local vessel axis, and tube phantoms.

Groundwork for the volume-candidate task (issue 16, part 2): the vessel-aligned cross-section and longitudinal
section of the paper's PE application (Tajbakhsh et al., IEEE TMI 2016), the orthogonal 2.5D fallback, volumes
with known truth to test them on, and the input layer: NIfTI, DICOM series and MedMNIST 3D files read as (Z, Y, X)
volumes with their spacing, and candidate tables in voxel or world coordinates.

Every public name is imported explicitly below and listed in ``__all__``.
"""

from __future__ import annotations

from tunedepth.data.volumes.candidate_table import (
    UNITS,
    VOXEL_COLUMNS,
    WORLD_COLUMNS,
    CandidateTable,
    read_candidate_table,
    resolve_unit,
)
from tunedepth.data.volumes.geometry import (
    ORTHOGONAL_VIEW_NAMES,
    OUTSIDE_FILL,
    cross_section,
    longitudinal_section,
    orthogonal_views,
    perpendicular_basis,
    sample_plane,
)
from tunedepth.data.volumes.phantoms import EDGE_VOXELS, FillingDefect, TubePhantom, ball_phantom, tube_phantom
from tunedepth.data.volumes.readers import (
    SLICE_STEP_TOLERANCE,
    Volume,
    VolumeStack,
    read_dicom_series,
    read_nifti,
    read_npz_volumes,
    read_volume,
)
from tunedepth.data.volumes.vessel_axis import (
    FRANGI_ALPHA,
    FRANGI_BETA,
    MIN_TUBULARITY,
    VesselAxis,
    estimate_vessel_axis,
    hessian_at,
)

__all__ = [
    "EDGE_VOXELS",
    "FRANGI_ALPHA",
    "FRANGI_BETA",
    "MIN_TUBULARITY",
    "ORTHOGONAL_VIEW_NAMES",
    "OUTSIDE_FILL",
    "SLICE_STEP_TOLERANCE",
    "UNITS",
    "VOXEL_COLUMNS",
    "WORLD_COLUMNS",
    "CandidateTable",
    "FillingDefect",
    "TubePhantom",
    "VesselAxis",
    "Volume",
    "VolumeStack",
    "ball_phantom",
    "cross_section",
    "estimate_vessel_axis",
    "hessian_at",
    "longitudinal_section",
    "orthogonal_views",
    "perpendicular_basis",
    "read_candidate_table",
    "read_dicom_series",
    "read_nifti",
    "read_npz_volumes",
    "read_volume",
    "resolve_unit",
    "sample_plane",
    "tube_phantom",
]
