"""What data can be read: the registered sources and the MedMNIST flags, with local availability.

Backs the ``tunedepth datasets`` command. Availability means the file exists where
:func:`~tunedepth.data.sources.medmnist.load_medmnist` would look; its MD5 is checked only
when it is loaded (hashing every large file here would be slow).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from tunedepth.config import TASK_CONFIGS
from tunedepth.data.masked.locations import default_mask_data_folder
from tunedepth.data.sources import DATA_SOURCES
from tunedepth.data.sources._medmnist_info import MEDMNIST_INFO, MEDMNIST_SIZES
from tunedepth.data.sources.medmnist import find_medmnist_file, medmnist_search_paths
from tunedepth.data.sources.medmnist3d import MEDMNIST3D_CLASSES

__all__ = ["DatasetListing", "list_datasets"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatasetListing:
    """One line of ``tunedepth datasets``.

    Attributes:
        source: registry key of the data source, e.g. "medmnist".
        name: the data set ("pneumoniamnist") or, for user-data sources, the source name.
        description: one line.
        task: MedMNIST task ("binary-class", ...), "user data", or the tasks a mask data set serves ("detection",
            "segmentation").
        n_classes: number of classes, or None for user-data sources.
        supported: False where the source cannot read it yet (multi-label chestmnist).
        local_files: (image size, path) of each file found locally; empty for user-data sources; (0, folder) for a
            detection data set whose default folder exists (its frames vary in size).
    """

    source: str
    name: str
    description: str
    task: str
    n_classes: int | None
    supported: bool
    local_files: tuple[tuple[int, Path], ...]


def list_datasets(
    *, root: Path | None = None, cache_dir: Path | None = None
) -> list[DatasetListing]:
    """Describe every registered source and every MedMNIST 2D flag, with the files found locally.

    Args:
        root: MedMNIST folder to look in instead of ``$TUNEDEPTH_DATA_DIR``/the cache.
        cache_dir: the user cache folder; default ``$TUNEDEPTH_CACHE_DIR``, else
            ``~/.cache/tunedepth``.

    Returns:
        One entry per user-data source (sorted by name), then the data sets with masks (carotid, CVC-ClinicDB,
        Kvasir-SEG; found under ``$TUNEDEPTH_DATA_DIR``), the frame-quality proxy and the generated volumes, the
        binary MedMNIST 3D flags, then one per MedMNIST 2D flag (sorted).

    Example:
        >>> [d.name for d in list_datasets(root=Path("/nonexistent"))][:6]
        ['csv_manifest', 'image_folder', 'volume_table', 'carotid', 'cvc_clinicdb', 'kvasir_seg']
    """
    def tasks_of(name: str) -> str:
        return ", ".join(task for task in TASK_CONFIGS if name in TASK_CONFIGS.get(task).data_sources)

    listings = [
        DatasetListing(source=name, name=name, description=DATA_SOURCES.get(name).description,
                       task=f"user data ({tasks_of(name)})" if name == "volume_table" else "user data",
                       n_classes=None, supported=True, local_files=())
        for name in DATA_SOURCES.names() if DATA_SOURCES.get(name).user_data
    ]
    for source in (DATA_SOURCES.get(name) for name in DATA_SOURCES.names()):
        if source.folder is None:
            continue
        tasks = [name for name in TASK_CONFIGS if source.name in TASK_CONFIGS.get(name).data_sources]
        folder = default_mask_data_folder(source.name)
        exists = folder is not None and folder.is_dir()
        listings.append(DatasetListing(source=source.name, name=source.name, description=source.description,
                                       task=", ".join(tasks), n_classes=None, supported=True,
                                       local_files=((0, folder),) if folder is not None and exists else ()))
    for name in ("colonoscopy_frame_quality", "generated_cta"):  # built from other data sets, or generated
        if name in DATA_SOURCES.names():
            listings.append(DatasetListing(source=name, name=name, description=DATA_SOURCES.get(name).description,
                                           task=tasks_of(name), n_classes=None, supported=True, local_files=()))
    for flag, classes in MEDMNIST3D_CLASSES.items():
        found3d = []
        for size in (28, 64):
            name = f"{flag}.npz" if size == 28 else f"{flag}_{size}.npz"
            path = next((p for p in medmnist_search_paths(name, root, cache_dir) if p.is_file()), None)
            if path is not None:
                found3d.append((size, path))
        listings.append(DatasetListing(source="medmnist3d", name=flag, description=(
            f"MedMNIST 3D {flag}: {classes[0]} vs {classes[1]}, one candidate per volume (no download)"),
            task=tasks_of("medmnist3d"), n_classes=2, supported=True, local_files=tuple(found3d)))
    for flag in sorted(MEDMNIST_INFO):
        info = MEDMNIST_INFO[flag]
        found = []
        for size in MEDMNIST_SIZES:
            path = find_medmnist_file(flag, size=size, root=root, cache_dir=cache_dir)
            if path is not None:
                found.append((size, path))
        supported = not info.task.startswith("multi-label")
        listings.append(
            DatasetListing(
                source="medmnist",
                name=flag,
                description=(
                    f"MedMNIST {flag}: {len(info.class_names)} classes, train/val/test = "
                    f"{'/'.join(str(n) for n in info.n_samples)}, {info.license}"
                    + ("" if supported else " (multi-label: not supported yet)")
                ),
                task=info.task,
                n_classes=len(info.class_names),
                supported=supported,
                local_files=tuple(found),
            )
        )
    return listings
