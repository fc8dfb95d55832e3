"""A folder of images with one sub-folder per class, split by a seeded stratified split.

Layout::

    path/
      benign/     img001.png  img002.jpg ...
      malignant/  ...

Class names are the sorted sub-folder names (label = position). Files with a suffix in
:data:`~tunedepth.data._image_file.IMAGE_SUFFIXES` (any case) are read; other
files and hidden entries are skipped and counted in the log.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from tunedepth.data._image_file import IMAGE_SUFFIXES, read_image_files
from tunedepth.data.dataset import DatasetSplits, ImageSet
from tunedepth.data.preprocess import check_image_size
from tunedepth.data.sources.base import DATA_SOURCES, DataSource
from tunedepth.data.splits import check_split_fractions, split_image_set
from tunedepth.errors import DataError

__all__ = ["load_image_folder"]

logger = logging.getLogger(__name__)


def load_image_folder(
    path: Path,
    *,
    image_size: int,
    val_fraction: float,
    test_fraction: float,
    split_seed: int,
) -> DatasetSplits:
    """Read a class-per-sub-folder image folder and split it into train, val and test.

    Args:
        path: the folder; each non-hidden sub-folder is one class.
        image_size: side of the model input; images are resized (bilinear) to it.
        val_fraction: share of each class held out for validation, in (0, 1).
        test_fraction: share of each class held out for testing, in (0, 1).
        split_seed: seed of the stratified split.

    Returns:
        The seeded split (``split_origin="seeded"``), named after the folder.

    Raises:
        DataError: if ``path`` is not a folder, has fewer than 2 class sub-folders, a class
            has no image, an image cannot be read, or the fractions leave a side empty.

    Example:
        >>> splits = load_image_folder(Path("data/xray"), image_size=64, val_fraction=0.2,
        ...                            test_fraction=0.2, split_seed=0)  # doctest: +SKIP
        >>> splits.class_names  # doctest: +SKIP
        ('normal', 'pneumonia')
    """
    check_image_size(image_size)
    check_split_fractions(val_fraction, test_fraction)
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataError(
            "The 'path' of the image_folder source must be a folder with one sub-folder per "
            f"class; {root} is not a folder. Point it (data.path in a study file) at that folder."
        )
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(class_dirs) < 2:
        found = ", ".join(p.name for p in class_dirs) or "none"
        raise DataError(
            f"The image folder {root} must have at least 2 class sub-folders; found "
            f"{len(class_dirs)} ({found}). Put each class's images in its own sub-folder."
        )
    files: list[Path] = []
    labels: list[int] = []
    for label, class_dir in enumerate(class_dirs):
        entries = sorted(p for p in class_dir.iterdir() if not p.name.startswith("."))
        images = [p for p in entries if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        if len(images) < len(entries):
            logger.info(
                "Skipped %d non-image entries in %s (read: %s)",
                len(entries) - len(images),
                class_dir,
                ", ".join(IMAGE_SUFFIXES),
            )
        if not images:
            raise DataError(
                f"Class folder {class_dir} has no image file ({', '.join(IMAGE_SUFFIXES)}); "
                "add images or remove the folder."
            )
        files.extend(images)
        labels.extend([label] * len(images))
    full = ImageSet(
        read_image_files(files, image_size=image_size), torch.tensor(labels, dtype=torch.int64)
    )
    logger.info("Read %d images in %d classes from %s", len(full), len(class_dirs), root)
    return split_image_set(
        full,
        name=root.name,
        class_names=tuple(p.name for p in class_dirs),
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        seed=split_seed,
    )


DATA_SOURCES.register(
    "image_folder",
    DataSource(
        name="image_folder",
        description=(
            "Your own images, one sub-folder per class; seeded stratified train/val/test split."
        ),
        load=load_image_folder,
        user_data=True,
    ),
)
