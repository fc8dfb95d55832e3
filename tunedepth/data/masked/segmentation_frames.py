"""Images with one region mask each, for segmentation by patch classification (the paper's boundary application).

:class:`SegmentationFrames` is the container the segmentation loaders (for example
:func:`tunedepth.data.masked.carotid.load_carotid`) return: colour images, one bool mask per image, frame ids and group
ids. Images are 3-channel uint8, as the ImageNet-pretrained CNNs consume them; a loader of greyscale data replicates
the grey value into the three channels. Boundary targets are derived from the masks by
:func:`tunedepth.data.boundaries.closed_boundary`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tunedepth.data.masked._frame_files import SkippedFrame
from tunedepth.errors import DataError

__all__ = ["SegmentationFrames"]


@dataclass(frozen=True, eq=False)
class SegmentationFrames:
    """Images, their region masks and ids; sizes may differ between frames.

    Attributes:
        name: data set name, e.g. "carotid-cca-us-subset".
        images: one read-only uint8 array of shape (height, width, 3) per frame.
        masks: one read-only bool array of shape (height, width) per frame, True inside the annotated region.
        frame_ids: one id per frame (file stem), unique.
        group_ids: one group id per frame; frames of one group must stay on one side of a split (for example the
            acquisition sequence of an ultrasound cine loop).
        skipped: the bad frames the load left out (``skip_bad_frames=True``), in the order found; empty otherwise.
            It describes the load, so :meth:`subset` keeps it unchanged.

    Raises:
        DataError: if the per-frame tuples differ in length, a frame id repeats, an image is not uint8 of shape
            (height, width, 3) or a mask is not bool of its image's height and width.

    Example:
        >>> image = np.zeros((4, 5, 3), np.uint8); mask = np.zeros((4, 5), bool); mask[1:3, 1:4] = True
        >>> frames = SegmentationFrames("toy", (image, image), (mask, mask), ("a", "b"), ("g", "g"))
        >>> len(frames), frames.subset([1]).frame_ids
        (2, ('b',))
    """

    name: str
    images: tuple[np.ndarray, ...]
    masks: tuple[np.ndarray, ...]
    frame_ids: tuple[str, ...]
    group_ids: tuple[str, ...]
    skipped: tuple[SkippedFrame, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.images)
        lengths = {"masks": len(self.masks), "frame_ids": len(self.frame_ids), "group_ids": len(self.group_ids)}
        wrong = {k: v for k, v in lengths.items() if v != n}
        if wrong:
            raise DataError(f"SegmentationFrames {self.name!r} has {n} images but {wrong}; give one entry per frame.")
        if len(set(self.frame_ids)) != n:
            raise DataError(
                f"SegmentationFrames {self.name!r} has repeated frame ids; every frame id must be unique."
            )
        for image, mask, fid in zip(self.images, self.masks, self.frame_ids, strict=True):
            if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
                raise DataError(
                    f"SegmentationFrames {self.name!r}: image {fid!r} must be uint8 of shape (height, width, 3); "
                    f"got dtype {image.dtype} and shape {image.shape}."
                )
            if mask.dtype != np.bool_ or mask.shape != image.shape[:2]:
                raise DataError(
                    f"SegmentationFrames {self.name!r}: mask {fid!r} must be bool of shape {image.shape[:2]}; got "
                    f"dtype {mask.dtype} and shape {mask.shape}."
                )

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, indices: Sequence[int]) -> SegmentationFrames:
        """A new SegmentationFrames with the given rows, in the given order (arrays shared; ``skipped`` kept).

        Args:
            indices: frame positions, each in [0, len(self)); repeats are refused (frame ids must stay unique).

        Returns:
            The selected frames.

        Raises:
            IndexError: if an index is out of range.
            DataError: if an index repeats.
        """
        idx = [int(i) for i in indices]
        return SegmentationFrames(
            name=self.name,
            images=tuple(self.images[i] for i in idx),
            masks=tuple(self.masks[i] for i in idx),
            frame_ids=tuple(self.frame_ids[i] for i in idx),
            group_ids=tuple(self.group_ids[i] for i in idx),
            skipped=self.skipped,
        )
