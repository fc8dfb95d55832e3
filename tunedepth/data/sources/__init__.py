"""Data-source plug-ins. Importing this package registers every source in :data:`DATA_SOURCES`.

Adding a source means one new module here that calls ``DATA_SOURCES.register`` and one
import line below; nothing is discovered by scanning.
"""

from __future__ import annotations

from tunedepth.data.sources.base import DATA_SOURCES, DataSource

# Each import below registers its source.
from tunedepth.data.sources.csv_manifest import load_csv_manifest
from tunedepth.data.sources.frame_quality import load_colonoscopy_frame_quality
from tunedepth.data.sources.generated_cta import load_generated_cta
from tunedepth.data.sources.image_folder import load_image_folder
from tunedepth.data.sources.masked import (
    load_carotid_frames,
    load_cvc_clinicdb_frames,
    load_kvasir_seg_frames,
    load_layered_frames,
)
from tunedepth.data.sources.medmnist import find_medmnist_file, get_medmnist_info, load_medmnist
from tunedepth.data.sources.medmnist3d import load_medmnist3d
from tunedepth.data.sources.volume_table import load_volume_table

__all__ = [
    "DATA_SOURCES",
    "DataSource",
    "find_medmnist_file",
    "get_medmnist_info",
    "load_carotid_frames",
    "load_colonoscopy_frame_quality",
    "load_csv_manifest",
    "load_cvc_clinicdb_frames",
    "load_generated_cta",
    "load_image_folder",
    "load_kvasir_seg_frames",
    "load_layered_frames",
    "load_medmnist",
    "load_medmnist3d",
    "load_volume_table",
]
