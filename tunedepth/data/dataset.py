"""In-memory labelled image sets and their train/val/test splits.

Images are held as uint8 tensors of shape (n, 3, size, size), already resized to the
model input size: a 64-px PneumoniaMNIST training split is about 58 MB. Conversion to
float and normalisation happen per batch in the training loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch

from tunedepth.errors import DataError

__all__ = ["DatasetSplits", "ImageSet"]


@dataclass(frozen=True)
class ImageSet:
    """Images, integer labels and optional patient (or video) ids of one split.

    Attributes:
        images: uint8 tensor of shape (n, 3, size, size).
        labels: int64 tensor of shape (n,), values in [0, n_classes).
        patient_ids: one id per image, or None when the data has no grouping.
    """

    images: torch.Tensor
    labels: torch.Tensor
    patient_ids: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4 or self.images.shape[1] != 3:
            raise DataError(
                "ImageSet.images must be a uint8 tensor of shape (n, 3, size, size); "
                f"got dtype {self.images.dtype} and shape {tuple(self.images.shape)}."
            )
        if self.labels.ndim != 1 or self.labels.shape[0] != self.images.shape[0]:
            raise DataError(
                f"ImageSet.labels must have shape ({self.images.shape[0]},) to match the images; "
                f"got {tuple(self.labels.shape)}."
            )
        if self.patient_ids is not None and len(self.patient_ids) != self.images.shape[0]:
            raise DataError(
                f"ImageSet.patient_ids must have {self.images.shape[0]} entries to match the "
                f"images; got {len(self.patient_ids)}."
            )

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def subset(self, indices: Sequence[int] | torch.Tensor) -> ImageSet:
        """A new ImageSet with the given rows, in the given order."""
        idx = torch.as_tensor(indices, dtype=torch.long)
        ids = None if self.patient_ids is None else tuple(self.patient_ids[int(i)] for i in idx)
        return ImageSet(self.images[idx], self.labels[idx], ids)


@dataclass(frozen=True)
class DatasetSplits:
    """A data set split into train, validation and test sets.

    Attributes:
        name: data set name, e.g. "pneumoniamnist".
        class_names: one name per class, index = label.
        train, val, test: the three splits.
        split_origin: "official" when the data set ships its split, "seeded" when tunedepth made it.
    """

    name: str
    class_names: tuple[str, ...]
    train: ImageSet
    val: ImageSet
    test: ImageSet
    split_origin: Literal["official", "seeded"]

    @property
    def n_classes(self) -> int:
        return len(self.class_names)
