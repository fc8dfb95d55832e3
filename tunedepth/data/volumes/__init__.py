"""Volumes: spacing-aware sections of 3D volumes, the local vessel axis, and generated tube phantoms.

Groundwork for the volume-candidate task (issue 16, part 2): the vessel-aligned cross-section and longitudinal
section of the paper's PE application (Tajbakhsh et al., IEEE TMI 2016), the orthogonal 2.5D fallback, and
volumes with known truth to test them on.

Every public name is imported explicitly below and listed in ``__all__``.
"""

from __future__ import annotations

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
    "FillingDefect",
    "TubePhantom",
    "VesselAxis",
    "ball_phantom",
    "cross_section",
    "estimate_vessel_axis",
    "hessian_at",
    "longitudinal_section",
    "orthogonal_views",
    "perpendicular_basis",
    "sample_plane",
    "tube_phantom",
]
