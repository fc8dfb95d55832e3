"""Dense inference of a pixel-patch classifier: class probabilities at every pixel of a region of interest.

Segmentation by patch classification (Tajbakhsh et al., IEEE TMI 2016, the fourth application: carotid
intima-media boundaries) classifies the square patch centred on a pixel as background or boundary class k. This
module cuts those patches (:func:`cut_pixel_patches`, for training and for inference alike, so both see identical
patches) and applies the classifier densely (:func:`dense_class_probabilities`).

Patch geometry. The patch of side ``p`` centred on pixel (r, c) covers rows ``r - p // 2 .. r - p // 2 + p - 1``
and the same columns, so the centre pixel sits at index ``p // 2`` of the patch: in the middle for odd ``p``, and
for even ``p`` one pixel below and right of the middle (``p // 2`` pixels above and left of it, ``p // 2 - 1``
below and right). Parts of a patch outside the image are zero (black): the uint8 value 0, normalised like any
other pixel. The network gets the patch at side ``p``, not resized: a study sets the architecture's
``image_size`` to the patch size.

Dense inference. Patches are cut at the centres of a stride-``s`` grid (:func:`patch_centres`) and classified in
mini-batches of ``batch_size`` patches (memory is bounded by the batch, not the image); the grid's class
probabilities are then interpolated bilinearly to every pixel. The grid starts at the first row and column of the
region of interest's bounding box and always ends on its last row and column, so every pixel of the region lies
between grid centres and nothing is extrapolated; interpolation passes through the grid values, so a grid centre
gets exactly its own patch's probabilities. Only grid centres that carry interpolation weight for some pixel of
the region are evaluated: all centres of the bounding box for a rectangular region, and exactly the region's
pixels at ``s = 1``, which needs no interpolation. The cost is one forward pass per evaluated centre, about
``(roi height / s + 1) * (roi width / s + 1)`` for a rectangular region: a stride ``s`` divides the cost of
``s = 1`` by about ``s**2``. What this does to thin boundaries is an expectation, not a measurement: a boundary
one pixel wide is sampled by the grid only every ``s`` pixels, so bilinear interpolation smears its probability
over about ``s`` pixels across it, and a boundary position read as the per-column argmax of that probability can
move by up to about ``s / 2`` pixels. Choose ``s`` well below the thickness to resolve (for example the
intima-media thickness in pixels). Pixels outside the region of interest are not evaluated and get NaN.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from tunedepth._checks import check_int, check_shape
from tunedepth.models import GroupedModel
from tunedepth.training.predict import predict_proba

__all__ = ["cut_pixel_patches", "dense_class_probabilities", "patch_centres"]

logger = logging.getLogger(__name__)


def _roi_mask(func: str, roi: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    if roi is None:
        return np.ones(shape, dtype=bool)
    mask = np.asarray(roi)
    if mask.dtype != np.bool_ or mask.shape != shape:
        raise ValueError(
            f"The 'roi' parameter of {func} must be a bool mask of the image's shape {shape}, True on the pixels to "
            f"evaluate; got dtype {mask.dtype} and shape {mask.shape}. Crop or pad it to the image, or pass None for "
            "the whole image."
        )
    if not mask.any():
        raise ValueError(
            f"The 'roi' parameter of {func} selects no pixel (all False, shape {mask.shape}); pass a mask with at "
            "least one True pixel, or None for the whole image."
        )
    return mask


def _check_image(func: str, image: np.ndarray) -> np.ndarray:
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(
            f"The 'image' parameter of {func} must be a uint8 array of shape (height, width, 3), as held by "
            f"SegmentationFrames; got dtype {arr.dtype} and shape {arr.shape}."
        )
    return arr


def _axis(lo: int, hi: int, stride: int) -> np.ndarray:
    axis = np.arange(lo, hi + 1, stride, dtype=np.int64)
    return axis if axis[-1] == hi else np.append(axis, np.int64(hi))


def patch_centres(
    shape: tuple[int, int], *, stride: int, roi: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The axes of the stride-``stride`` grid of patch centres over an image or its region of interest.

    Each axis starts at the first row (column) of the region's bounding box (0 for the whole image), steps by
    ``stride`` and always ends on the box's last row (column), so the last step may be shorter than ``stride``
    and every pixel of the box lies between grid centres. The centres are all pairs ``(r, c)`` with ``r`` in
    ``rows`` and ``c`` in ``cols``.

    Args:
        shape: (height, width) of the image in pixels.
        stride: grid step in pixels, >= 1; 1 gives every pixel of the bounding box.
        roi: bool mask of shape (height, width), True on the pixels to evaluate; None for the whole image.

    Returns:
        ``(rows, cols)``: int64 arrays of shape (n_rows,) and (n_cols,), strictly increasing.

    Raises:
        ValueError: if ``shape`` is not two ints >= 1, ``stride`` is not an int >= 1, or ``roi`` is not a bool
            mask of ``shape`` or selects no pixel.

    Example:
        >>> rows, cols = patch_centres((5, 7), stride=3)
        >>> rows.tolist(), cols.tolist()
        ([0, 3, 4], [0, 3, 6])
        >>> roi = np.zeros((5, 7), bool); roi[1:3, 2] = True; roi[2, 5] = True
        >>> [a.tolist() for a in patch_centres((5, 7), stride=2, roi=roi)]
        [[1, 2], [2, 4, 5]]
    """
    size = check_shape(shape, "shape", "patch_centres")
    step = check_int(stride, "stride", "patch_centres", minimum=1)
    mask = _roi_mask("patch_centres", roi, size)
    inside_rows = np.flatnonzero(mask.any(axis=1))
    inside_cols = np.flatnonzero(mask.any(axis=0))
    return (
        _axis(int(inside_rows[0]), int(inside_rows[-1]), step),
        _axis(int(inside_cols[0]), int(inside_cols[-1]), step),
    )


def _patch_windows(image: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Every patch of a (3, H, W) uint8 image as a view of shape (3, H, W, p, p), zero-padded once.

    ``windows[:, r, c]`` is the patch centred on pixel (r, c) (centre at index ``p // 2``).
    """
    channels, height, width = image.shape
    before = patch_size // 2
    padded = torch.zeros(
        (channels, height + patch_size - 1, width + patch_size - 1), dtype=image.dtype, device=image.device
    )
    padded[:, before:before + height, before:before + width] = image
    return padded.unfold(1, patch_size, 1).unfold(2, patch_size, 1)


def _check_pixels(func: str, rows: np.ndarray, cols: np.ndarray, height: int, width: int) -> tuple[np.ndarray, ...]:
    r, c = np.asarray(rows), np.asarray(cols)
    if r.ndim != 1 or c.shape != r.shape or not (np.issubdtype(r.dtype, np.integer)
                                                   and np.issubdtype(c.dtype, np.integer)):
        raise ValueError(
            f"The 'rows' and 'cols' parameters of {func} must be 1-D int arrays of one shape (n_pixels,); got dtype "
            f"{r.dtype} shape {r.shape} and dtype {c.dtype} shape {c.shape}."
        )
    outside = np.flatnonzero((r < 0) | (r >= height) | (c < 0) | (c >= width))
    if outside.size:
        k = int(outside[0])
        raise ValueError(
            f"The 'rows' and 'cols' parameters of {func} must lie in the {height}x{width} image (0 <= row < {height}, "
            f"0 <= col < {width}); pixel {k} is at ({r[k]}, {c[k]}), and {outside.size} pixels lie outside."
        )
    return r.astype(np.int64), c.astype(np.int64)


def cut_pixel_patches(image: np.ndarray, rows: np.ndarray, cols: np.ndarray, *, patch_size: int) -> torch.Tensor:
    """The square patch centred on each given pixel, zero outside the image (geometry in the module docstring).

    The image is padded once and the patches are gathered from a strided view of it, without a loop over pixels.
    Training patches and :func:`dense_class_probabilities` both come from here, so they are cut identically.

    Args:
        image: uint8 array of shape (height, width, 3).
        rows: int array of shape (n_pixels,), the centre rows, in [0, height).
        cols: int array of shape (n_pixels,), the centre columns, in [0, width).
        patch_size: side of the patches in pixels, >= 1; the centre pixel is at index ``patch_size // 2``.

    Returns:
        uint8 tensor of shape (n_pixels, 3, patch_size, patch_size), on the CPU, in the order of ``rows``.

    Raises:
        ValueError: if ``image`` is not uint8 of shape (height, width, 3), ``rows`` and ``cols`` are not 1-D int
            arrays of one shape inside the image, or ``patch_size`` is not an int >= 1.

    Example:
        >>> image = np.arange(9, dtype=np.uint8).reshape(3, 3, 1).repeat(3, axis=2)
        >>> patches = cut_pixel_patches(image, np.array([0, 1]), np.array([0, 1]), patch_size=3)
        >>> patches.shape, patches[0, 0].tolist()
        (torch.Size([2, 3, 3, 3]), [[0, 0, 0], [0, 0, 1], [0, 3, 4]])
        >>> cut_pixel_patches(image, np.array([1]), np.array([1]), patch_size=2)[0, 0].tolist()
        [[0, 1], [3, 4]]
    """
    arr = _check_image("cut_pixel_patches", image)
    size = check_int(patch_size, "patch_size", "cut_pixel_patches", minimum=1)
    r, c = _check_pixels("cut_pixel_patches", rows, cols, arr.shape[0], arr.shape[1])
    tensor = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))
    windows = _patch_windows(tensor, size)
    return windows[:, torch.from_numpy(r), torch.from_numpy(c)].movedim(0, 1).contiguous()


def _axis_weights(axis: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For positions in [axis[0], axis[-1]]: the grid indices below and above each, and the weight of the upper one.

    A position on a grid point gets that point as the lower index and weight 0 (the last point: weight 1 on it).
    """
    if axis.size == 1:
        zeros = np.zeros(positions.shape, dtype=np.int64)
        return zeros, zeros, np.zeros(positions.shape)
    lower = np.clip(np.searchsorted(axis, positions, side="right") - 1, 0, axis.size - 2)
    upper = lower + 1
    return lower, upper, (positions - axis[lower]) / (axis[upper] - axis[lower])


def dense_class_probabilities(
    model: GroupedModel,
    image: np.ndarray,
    *,
    patch_size: int,
    stride: int,
    batch_size: int,
    device: torch.device,
    roi: np.ndarray | None = None,
) -> np.ndarray:
    """Class probabilities of the patch centred on every pixel of the region of interest.

    Patches of side ``patch_size`` are cut on the device at the centres of the :func:`patch_centres` grid, in
    mini-batches of ``batch_size``, classified by :func:`tunedepth.training.predict_proba` (the model's own
    normalisation, channels-last and autocast settings, as for any test case) and interpolated bilinearly to every
    pixel of ``roi`` (see the module docstring for the grid, the cost and the effect of ``stride``). With
    ``stride=1`` every pixel is classified from its own patch. The model runs in eval mode and is returned to its
    previous mode afterwards; it must already be on ``device``.

    Args:
        model: the patch classifier, of any number of classes; fed patches of side ``patch_size`` unresized.
        image: uint8 array of shape (height, width, 3).
        patch_size: side of the patches in pixels, >= 1 (the study's ``image_size``).
        stride: grid step in pixels, >= 1; 1 evaluates every pixel, larger strides interpolate between centres.
        batch_size: patches per forward pass, >= 1; bounds the memory, does not change the result.
        device: where to cut and classify the patches.
        roi: bool mask of shape (height, width), True on the pixels to evaluate; None for the whole image.

    Returns:
        float32 array of shape (n_classes, height, width): the probability of each class at each pixel, summing to
        1 over classes inside ``roi``; NaN outside ``roi`` (not evaluated).

    Raises:
        ValueError: if ``image`` is not uint8 of shape (height, width, 3), ``patch_size``, ``stride`` or
            ``batch_size`` is not an int >= 1, or ``roi`` is not a bool mask of the image's shape or selects no
            pixel.

    Example:
        >>> from torch import nn
        >>> from tunedepth.models import LayerGroup
        >>> net = nn.Sequential(nn.Sequential(nn.Conv2d(3, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten()),
        ...                     nn.Linear(2, 2))
        >>> model = GroupedModel(net, (LayerGroup("body", ("0",)), LayerGroup("head", ("1",))), architecture="tiny")
        >>> image = np.zeros((6, 7, 3), np.uint8)
        >>> probs = dense_class_probabilities(model, image, patch_size=5, stride=2, batch_size=4,
        ...                                   device=torch.device("cpu"))
        >>> probs.shape, probs.dtype, bool(np.allclose(probs.sum(axis=0), 1.0))
        ((2, 6, 7), dtype('float32'), True)
    """
    func = "dense_class_probabilities"
    arr = _check_image(func, image)
    size = check_int(patch_size, "patch_size", func, minimum=1)
    step = check_int(stride, "stride", func, minimum=1)
    batch = check_int(batch_size, "batch_size", func, minimum=1)
    height, width = arr.shape[:2]
    mask = _roi_mask(func, roi, (height, width))
    rows_axis, cols_axis = patch_centres((height, width), stride=step, roi=mask)

    pixel_rows, pixel_cols = np.nonzero(mask)
    r_lo, r_hi, r_t = _axis_weights(rows_axis, pixel_rows)
    c_lo, c_hi, c_t = _axis_weights(cols_axis, pixel_cols)
    # Evaluate only the grid centres that some roi pixel gives a nonzero weight; the others stay 0 and only ever
    # enter with weight 0 (never NaN, which would poison 0 * NaN).
    corners = [(r_index, c_index, r_weight * c_weight)
               for r_index, r_weight in ((r_lo, 1 - r_t), (r_hi, r_t))
               for c_index, c_weight in ((c_lo, 1 - c_t), (c_hi, c_t))]
    needed = np.zeros((rows_axis.size, cols_axis.size), dtype=bool)
    for r_index, c_index, weight in corners:
        needed[r_index[weight > 0], c_index[weight > 0]] = True
    grid_i, grid_j = np.nonzero(needed)
    centre_rows = torch.from_numpy(rows_axis[grid_i]).to(device)
    centre_cols = torch.from_numpy(cols_axis[grid_j]).to(device)
    logger.debug("dense inference: %d patches of %d px at stride %d for %d roi pixels", grid_i.size, size, step,
                 pixel_rows.size)

    tensor = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1))).to(device)
    windows = _patch_windows(tensor, size)
    was_training = model.training
    model.eval()
    try:
        chunks = []
        for start in range(0, grid_i.size, batch):
            patches = windows[:, centre_rows[start:start + batch], centre_cols[start:start + batch]].movedim(0, 1)
            chunks.append(predict_proba(model, patches.contiguous(), batch_size=batch, device=device))
    finally:
        model.train(was_training)
    probs = np.concatenate(chunks)

    grid = np.zeros((probs.shape[1], rows_axis.size, cols_axis.size))
    grid[:, grid_i, grid_j] = probs.T
    # Bilinear weights sum to 1; at a grid centre three of them are exactly 0, so the centre's value passes through.
    value = sum(weight * grid[:, r_index, c_index] for r_index, c_index, weight in corners)
    out = np.full((probs.shape[1], height, width), np.nan, dtype=np.float32)
    out[:, pixel_rows, pixel_cols] = value
    return out
