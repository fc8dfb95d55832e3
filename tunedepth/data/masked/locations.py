"""Where the data sets with masks are found when a study file gives no folder.

The rule, shared by detection, segmentation and ``tunedepth datasets``: an explicit ``data.root`` wins; otherwise
the data set's folder under ``$TUNEDEPTH_DATA_DIR`` (laid out as ``../shared/data``); otherwise a one-line error
naming both ways to fix it. Nothing is downloaded: these data sets are not redistributable by URL here.
"""

from __future__ import annotations

import os
from pathlib import Path

from tunedepth.data.masked.carotid import CAROTID_DATA_FOLDER
from tunedepth.data.masked.polyp import POLYP_DATA_FOLDERS
from tunedepth.errors import ConfigError

__all__ = ["MASK_DATA_FOLDERS", "default_mask_data_folder", "resolve_mask_data_root"]

MASK_DATA_FOLDERS: dict[str, str] = {**POLYP_DATA_FOLDERS, "carotid": CAROTID_DATA_FOLDER}
"""Data source with masks -> its folder name under ``$TUNEDEPTH_DATA_DIR``."""


def default_mask_data_folder(source: str) -> Path | None:
    """``$TUNEDEPTH_DATA_DIR/<folder of source>``, or None when the variable is unset.
    """
    data_dir = os.environ.get("TUNEDEPTH_DATA_DIR")
    return Path(data_dir) / MASK_DATA_FOLDERS[source] if data_dir else None


def resolve_mask_data_root(source: str, root: Path | None, *, parameter: str = "root") -> Path:
    """The folder to read ``source`` from: ``root`` when given, else its default folder.

    Args:
        source: a key of :data:`MASK_DATA_FOLDERS` ("kvasir_seg", "cvc_clinicdb", "carotid").
        root: the study file's ``data.<parameter>``, or None.
        parameter: the study-file key named in the error ("root", "test_root").

    Raises:
        ConfigError: neither ``root`` nor ``$TUNEDEPTH_DATA_DIR`` is set.

    Example:
        >>> resolve_mask_data_root("carotid", Path("/scans/carotid")).as_posix()
        '/scans/carotid'
    """
    if root is not None:
        return root
    folder = default_mask_data_folder(source)
    if folder is None:
        raise ConfigError(
            f"data.{parameter} is not set and TUNEDEPTH_DATA_DIR is unset; point data.{parameter} at the {source} "
            f"folder or set TUNEDEPTH_DATA_DIR to the folder holding {MASK_DATA_FOLDERS[source]}/."
        )
    return folder
