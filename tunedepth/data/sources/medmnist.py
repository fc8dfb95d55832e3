"""MedMNIST v3 2D data sets, with their official train/val/test split and MD5-checked files.

Where a file is looked for, in order:

1. ``root/<file>`` when ``root`` is given (nothing is downloaded there);
2. ``$TUNEDEPTH_DATA_DIR/medmnist/<file>`` when that variable is set and the file exists;
3. the user cache, ``<cache>/medmnist/<file>`` with ``<cache>`` = ``cache_dir``, else
   ``$TUNEDEPTH_CACHE_DIR``, else ``~/.cache/tunedepth``; a missing file is downloaded
   there from the official Zenodo record (or ``mirror_url``), to a temp file whose MD5 is
   checked before it is renamed into place.

Every load checks the file's MD5 against the official table
(:mod:`tunedepth.data.sources._medmnist_info`), so a run reads the official bytes or fails.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import os
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import IO

import numpy as np
import torch

from tunedepth._io import atomic_write, file_md5
from tunedepth.data.dataset import DatasetSplits, ImageSet
from tunedepth.data.preprocess import check_image_size, prepare_images
from tunedepth.data.sources._medmnist_info import (
    MEDMNIST_INFO,
    MEDMNIST_RECORD_URL,
    MEDMNIST_SIZES,
    MedmnistInfo,
)
from tunedepth.data.sources.base import DATA_SOURCES, DataSource
from tunedepth.errors import DataError

__all__ = ["find_medmnist_file", "get_medmnist_info", "load_medmnist", "medmnist_cache_dir", "medmnist_search_paths"]

logger = logging.getLogger(__name__)

_SPLITS = ("train", "val", "test")
_KEYS = tuple(f"{s}_{kind}" for s in _SPLITS for kind in ("images", "labels"))
_DOWNLOAD_TIMEOUT_S = 60.0
_CHUNK_BYTES = 1 << 20


def get_medmnist_info(flag: str) -> MedmnistInfo:
    """The official table entry of a MedMNIST 2D flag.

    Args:
        flag: MedMNIST name, e.g. "pneumoniamnist".

    Returns:
        The entry: class names, task, counts and MD5s.

    Raises:
        DataError: if ``flag`` is unknown; the message has a guess and the list of flags.

    Example:
        >>> get_medmnist_info("breastmnist").class_names
        ('malignant', 'normal, benign')
        >>> get_medmnist_info("pneumonia")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        tunedepth.errors.DataError: ... got 'pneumonia'. Did you mean 'pneumoniamnist'? ...
    """
    try:
        return MEDMNIST_INFO[flag]
    except KeyError:
        names = sorted(MEDMNIST_INFO)
        guess = difflib.get_close_matches(str(flag), names, n=1)
        hint = f" Did you mean {guess[0]!r}?" if guess else ""
        raise DataError(
            f"The 'flag' parameter of load_medmnist must be a MedMNIST 2D flag; got {flag!r}."
            f"{hint} Available: {', '.join(names)}."
        ) from None


def medmnist_cache_dir(cache_dir: Path | None = None) -> Path:
    """The folder that downloaded MedMNIST files go to.

    Args:
        cache_dir: the user cache folder; default ``$TUNEDEPTH_CACHE_DIR``, else
            ``~/.cache/tunedepth``.

    Returns:
        ``<cache>/medmnist`` (not created).

    Example:
        >>> medmnist_cache_dir(Path("/tmp/c")).as_posix()
        '/tmp/c/medmnist'
    """
    if cache_dir is None:
        env = os.environ.get("TUNEDEPTH_CACHE_DIR")
        cache_dir = Path(env) if env else Path.home() / ".cache" / "tunedepth"
    return Path(cache_dir).expanduser() / "medmnist"


def find_medmnist_file(
    flag: str, *, size: int = 28, root: Path | None = None, cache_dir: Path | None = None
) -> Path | None:
    """Where the file of ``flag`` at ``size`` is found locally, without downloading or checking it.

    Args:
        flag: MedMNIST name.
        size: official image size, one of 28, 64, 128, 224.
        root: folder holding the files; when given, the only place looked at.
        cache_dir: the user cache folder (see :func:`medmnist_cache_dir`).

    Returns:
        The first existing path in the lookup order, or None.

    Raises:
        DataError: if ``flag`` or ``size`` is unknown.

    Example:
        >>> find_medmnist_file("breastmnist", root=Path("/nonexistent")) is None
        True
    """
    name = get_medmnist_info(flag).file_name(_check_size(size))
    for candidate in medmnist_search_paths(name, root, cache_dir):
        if candidate.is_file():
            return candidate
    return None


def load_medmnist(
    flag: str,
    *,
    size: int = 28,
    image_size: int,
    root: Path | None = None,
    mirror_url: str | None = None,
    cache_dir: Path | None = None,
) -> DatasetSplits:
    """Read a MedMNIST 2D data set with its official split, downloading it if needed.

    Args:
        flag: MedMNIST name, e.g. "pneumoniamnist". Multi-label "chestmnist" is refused.
        size: which official file to read (28, 64, 128 or 224 px); 28 -> '<flag>.npz',
            others -> '<flag>_<size>.npz'.
        image_size: side of the model input; images are resized (bilinear) to it.
        root: folder holding the files; when given, the only place looked at.
        mirror_url: base URL used instead of the Zenodo record, e.g. a hospital mirror
            ('http://host/medmnist' or 'file:///srv/medmnist'); the file name is appended.
        cache_dir: the user cache folder; default ``$TUNEDEPTH_CACHE_DIR``, else
            ``~/.cache/tunedepth``.

    Returns:
        The official split (``split_origin="official"``) named after the file stem, e.g.
        "pneumoniamnist" or "pneumoniamnist_64", with uint8 images of shape
        (n, 3, image_size, image_size) and int64 labels of shape (n,).

    Raises:
        DataError: unknown flag or size, multi-label task, file missing under ``root``,
            download failure, MD5 mismatch, unreadable file, missing keys, bad shapes or
            labels out of range.

    Example:
        >>> splits = load_medmnist("breastmnist", image_size=28)  # doctest: +SKIP
        >>> len(splits.train), len(splits.val), len(splits.test)  # doctest: +SKIP
        (546, 78, 156)
    """
    info = get_medmnist_info(flag)
    _check_size(size)
    if info.task.startswith("multi-label"):
        raise DataError(
            f"The 'flag' parameter of load_medmnist is {flag!r}, a {info.task} data set; "
            "multi-label classification is not supported yet. Choose a single-label flag such "
            "as 'pneumoniamnist'."
        )
    check_image_size(image_size)
    path = _locate_or_download(info, size, root, mirror_url, cache_dir)
    return _read_npz(path, info, size, image_size)


def _check_size(size: int) -> int:
    if size not in MEDMNIST_SIZES:
        raise DataError(
            f"The 'size' parameter of load_medmnist must be one of {list(MEDMNIST_SIZES)} (the "
            f"official image sizes); got {size!r}. Use 'image_size' for the model input size."
        )
    return size


def medmnist_search_paths(name: str, root: Path | None, cache_dir: Path | None = None) -> list[Path]:
    """Where a MedMNIST file called ``name`` is looked for, in order: ``root`` alone when given; else
    ``$TUNEDEPTH_DATA_DIR/medmnist`` (when set), then the user cache, the download target."""
    if root is not None:
        return [Path(root).expanduser() / name]
    found = []
    data_dir = os.environ.get("TUNEDEPTH_DATA_DIR")
    if data_dir:
        found.append(Path(data_dir).expanduser() / "medmnist" / name)
    found.append(medmnist_cache_dir(cache_dir) / name)
    return found


def _official_url(name: str) -> str:
    return f"{MEDMNIST_RECORD_URL}/{name}?download=1"


def _locate_or_download(
    info: MedmnistInfo,
    size: int,
    root: Path | None,
    mirror_url: str | None,
    cache_dir: Path | None,
) -> Path:
    """The MD5-checked local path of the file, downloading it into the cache if absent."""
    name = info.file_name(size)
    candidates = medmnist_search_paths(name, root, cache_dir)
    for candidate in candidates:
        if candidate.is_file():
            in_cache = root is None and candidate == candidates[-1]
            _verify_md5(candidate, info.md5[size], in_cache=in_cache)
            return candidate
    if root is not None:
        raise DataError(
            f"MedMNIST file {name} was not found in 'root' ({candidates[0].parent}). Download "
            f"{_official_url(name)} and place it there, or leave 'root' unset to download it "
            "into the cache."
        )
    target = candidates[-1]
    _download(name, target, info.md5[size], mirror_url)
    return target


def _download(name: str, target: Path, expected_md5: str, mirror_url: str | None) -> None:
    """Download into ``target`` atomically; the MD5 is checked before the rename."""
    url = f"{mirror_url.rstrip('/')}/{name}" if mirror_url else _official_url(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    logger.info("Downloading %s to %s", url, target)

    def write(fh: IO[bytes]) -> None:
        digest = hashlib.md5()
        with urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as response:
            for chunk in iter(lambda: response.read(_CHUNK_BYTES), b""):
                digest.update(chunk)
                fh.write(chunk)
        got = digest.hexdigest()
        if got != expected_md5:
            raise DataError(
                f"Downloaded {url} has MD5 {got}, expected {expected_md5} (official MedMNIST "
                f"table); nothing was kept at {target}. Check 'mirror_url' or run again; if it "
                f"persists, download {_official_url(name)} by hand and place it at {target}."
            )

    try:
        atomic_write(target, write)
    except (urllib.error.URLError, OSError) as exc:
        if isinstance(exc, urllib.error.HTTPError):
            reason: object = f"HTTP {exc.code} {exc.reason}"
        else:
            reason = getattr(exc, "reason", None) or exc
        raise DataError(
            f"Could not download MedMNIST file {name} from {url}: {reason}. Without internet, "
            f"download {_official_url(name)} elsewhere and place it at {target} (or set 'root' "
            "or 'mirror_url')."
        ) from exc
    logger.info("Downloaded %s (%d bytes)", target, target.stat().st_size)


def _verify_md5(path: Path, expected: str, *, in_cache: bool) -> None:
    got = file_md5(path)
    if got != expected:
        fix = (
            "delete it and run again to re-download"
            if in_cache
            else f"replace it with the official file from {_official_url(path.name)}"
        )
        raise DataError(
            f"MedMNIST file {path} has MD5 {got}, expected {expected} (official MedMNIST "
            f"table): it is corrupt or not the official release; {fix}."
        )


def _read_npz(path: Path, info: MedmnistInfo, size: int, image_size: int) -> DatasetSplits:
    try:
        npz = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(
            f"MedMNIST file {path} could not be read as .npz ({exc}); replace it with the "
            "official file."
        ) from exc
    with npz:
        missing = [k for k in _KEYS if k not in npz.files]
        if missing:
            raise DataError(
                f"MedMNIST file {path} lacks the key(s) {', '.join(missing)}; expected "
                f"{', '.join(_KEYS)} and found {', '.join(sorted(npz.files)) or 'none'}. "
                "Replace it with the official file."
            )
        parts = {
            s: _read_split(npz[f"{s}_images"], npz[f"{s}_labels"], s, path, info, image_size)
            for s in _SPLITS
        }
    logger.info(
        "Read %s: train/val/test = %d/%d/%d",
        path,
        len(parts["train"]),
        len(parts["val"]),
        len(parts["test"]),
    )
    return DatasetSplits(
        name=info.flag if size == 28 else path.stem,
        class_names=info.class_names,
        train=parts["train"],
        val=parts["val"],
        test=parts["test"],
        split_origin="official",
    )


def _read_split(
    images: np.ndarray,
    labels: np.ndarray,
    split: str,
    path: Path,
    info: MedmnistInfo,
    image_size: int,
) -> ImageSet:
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise DataError(
            f"MedMNIST file {path}: '{split}_images' must be uint8 of shape (n, h, w) or "
            f"(n, h, w, 3); got dtype {images.dtype} and shape {images.shape}. Replace it with "
            "the official file."
        )
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    n = images.shape[0]
    if labels.ndim != 1 or labels.shape[0] != n or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(
            f"MedMNIST file {path}: '{split}_labels' must be integers of shape ({n},) or "
            f"({n}, 1) to match '{split}_images'; got dtype {labels.dtype} and shape "
            f"{labels.shape}. Replace it with the official file."
        )
    n_classes = len(info.class_names)
    bad = (labels < 0) | (labels >= n_classes)
    if bad.any():
        values = sorted(set(labels[bad].tolist()))[:5]
        raise DataError(
            f"MedMNIST file {path}: '{split}_labels' must be in [0, {n_classes}) for "
            f"{info.flag}; got {int(bad.sum())} label(s) outside, e.g. {values}. Replace it with "
            "the official file."
        )
    return ImageSet(
        prepare_images(images, image_size=image_size),
        torch.from_numpy(labels.astype(np.int64)),
    )


DATA_SOURCES.register(
    "medmnist",
    DataSource(
        name="medmnist",
        description=(
            "MedMNIST v3 2D data sets: official split, MD5-checked, downloaded to the cache "
            "when absent."
        ),
        load=load_medmnist,
    ),
)
