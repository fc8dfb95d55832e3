"""Data sources of frames with masks or traced boundaries: Kvasir-SEG and CVC-ClinicDB (polyp masks), the carotid
ultrasound proxy (artery masks) and layered annotations (two traced interfaces per image).

Each is read by a task's run part (detection, segmentation) through :attr:`DataSource.load_frames`; the loaders
themselves live with the frames they make (:mod:`tunedepth.data.masked`, :mod:`tunedepth.data.boundaries`).
"""

from __future__ import annotations

from pathlib import Path

from tunedepth.data.boundaries import LayeredFrames, load_layered
from tunedepth.data.masked import (
    CAROTID_DATA_FOLDER,
    MIN_POLYP_AREA_PX,
    POLYP_DATA_FOLDERS,
    PolypFrames,
    SegmentationFrames,
    load_carotid,
    load_cvc_clinicdb,
    load_kvasir_seg,
)
from tunedepth.data.sources.base import DATA_SOURCES, DataSource

__all__ = ["load_carotid_frames", "load_cvc_clinicdb_frames", "load_kvasir_seg_frames", "load_layered_frames"]


def _first(frames: PolypFrames, max_frames: int | None) -> PolypFrames:
    return frames.subset(range(max_frames)) if max_frames is not None and max_frames < len(frames) else frames


def load_kvasir_seg_frames(root: Path, *, skip_bad_frames: bool = False, max_frames: int | None = None,
                           min_area_px: int = MIN_POLYP_AREA_PX, lazy: bool = False) -> PolypFrames:
    """Kvasir-SEG's frames in file order (reading only the first ``max_frames`` when set; ``lazy``: pixels read on
    demand)."""
    return load_kvasir_seg(root, min_area_px=min_area_px, skip_bad_frames=skip_bad_frames, max_frames=max_frames,
                           lazy=lazy)


def load_cvc_clinicdb_frames(root: Path, *, skip_bad_frames: bool = False, max_frames: int | None = None,
                             min_area_px: int = MIN_POLYP_AREA_PX, lazy: bool = False) -> PolypFrames:
    """CVC-ClinicDB's frames; its videos are derived from every frame, then the first ``max_frames`` are kept
    (``lazy``: pixels read on demand)."""
    frames = load_cvc_clinicdb(root, min_area_px=min_area_px, skip_bad_frames=skip_bad_frames, lazy=lazy)
    return _first(frames, max_frames)


def load_carotid_frames(root: Path, *, skip_bad_frames: bool = False,
                        max_frames: int | None = None) -> SegmentationFrames:
    """The carotid images with their artery masks (the first ``max_frames`` when set)."""
    frames = load_carotid(root, skip_bad_frames=skip_bad_frames)
    if max_frames is not None and max_frames < len(frames):
        frames = frames.subset(list(range(max_frames)))
    return frames


def load_layered_frames(root: Path, *, skip_bad_frames: bool = False, max_frames: int | None = None) -> LayeredFrames:
    """Images with two traced interfaces each (the first ``max_frames`` when set)."""
    frames = load_layered(root, skip_bad_frames=skip_bad_frames)
    if max_frames is not None and max_frames < len(frames):
        frames = frames.subset(list(range(max_frames)))
    return frames


for _source in (
    DataSource("carotid", "Carotid ultrasound (transverse) with expert artery masks, split by sequence",
               load_frames=load_carotid_frames, folder=CAROTID_DATA_FOLDER),
    DataSource("cvc_clinicdb", "CVC-ClinicDB colonoscopy frames with polyp masks, by video",
               load_frames=load_cvc_clinicdb_frames, folder=POLYP_DATA_FOLDERS["cvc_clinicdb"]),
    DataSource("kvasir_seg", "Kvasir-SEG colonoscopy images with polyp masks (and boxes)",
               load_frames=load_kvasir_seg_frames, folder=POLYP_DATA_FOLDERS["kvasir_seg"]),
    DataSource("layered", "Your images with two traced interfaces each (lumen-intima, media-adventitia)",
               load_frames=load_layered_frames),
):
    DATA_SOURCES.register(_source.name, _source)
