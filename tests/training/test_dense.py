from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.interpolate import RegularGridInterpolator

from tests.conftest import build_toy
from tunedepth.data import normalize
from tunedepth.models import GroupedModel
from tunedepth.training import cut_pixel_patches, dense_class_probabilities, patch_centres, predict_proba

CPU = torch.device("cpu")
PATCH = 16  # the toy architecture's input size


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _model(num_classes: int = 3) -> GroupedModel:
    torch.manual_seed(0)
    model = build_toy(num_classes)
    # Non-trivial BatchNorm statistics, so that eval mode (running statistics) and train mode (batch statistics)
    # give different outputs.
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return model.eval()


def _image(height: int = 13, width: int = 17, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def _patch_by_patch(model: GroupedModel, image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Reference: softmax of the model on each patch alone, shape (n_pixels, n_classes)."""
    out = []
    with torch.no_grad():
        for r, c in zip(rows, cols, strict=True):
            patch = cut_pixel_patches(image, np.array([r]), np.array([c]), patch_size=PATCH)
            out.append(torch.softmax(model(normalize(patch, model.mean, model.std)), dim=1)[0].numpy())
    return np.stack(out)


# --- (a) dense output equals patch-by-patch classification ---


def test_stride_1_equals_patch_by_patch_classification():
    model, image = _model(), _image()
    dense = dense_class_probabilities(model, image, patch_size=PATCH, stride=1, batch_size=32, device=CPU)
    rng = np.random.default_rng(1)
    rows = np.concatenate([[0, 0, 12, 12], rng.integers(0, 13, 20)])  # the four corners, then random pixels
    cols = np.concatenate([[0, 16, 0, 16], rng.integers(0, 17, 20)])
    assert dense.shape == (3, 13, 17) and dense.dtype == np.float32
    np.testing.assert_allclose(dense[:, rows, cols].T, _patch_by_patch(model, image, rows, cols), rtol=0, atol=1e-5)


def test_grid_centres_get_their_own_patch_probabilities_exactly():
    model, image, stride, batch = _model(), _image(), 4, 5
    dense = dense_class_probabilities(model, image, patch_size=PATCH, stride=stride, batch_size=batch, device=CPU)
    rows_axis, cols_axis = patch_centres(image.shape[:2], stride=stride)
    rows, cols = (a.ravel() for a in np.meshgrid(rows_axis, cols_axis, indexing="ij"))
    # The same patches in the same mini-batches as the dense pass, so the forward passes are bit-identical.
    same_batches = predict_proba(model, cut_pixel_patches(image, rows, cols, patch_size=PATCH), batch_size=batch,
                                 device=CPU)
    np.testing.assert_array_equal(dense[:, rows, cols], same_batches.T.astype(np.float32))
    np.testing.assert_allclose(dense[:, rows, cols].T, _patch_by_patch(model, image, rows, cols), rtol=0, atol=1e-5)


@pytest.mark.parametrize("stride", [2, 3, 5, 40], ids=lambda s: f"stride{s}")
def test_between_centres_is_bilinear_interpolation_of_the_grid(stride):
    model, image = _model(), _image()
    every = dense_class_probabilities(model, image, patch_size=PATCH, stride=1, batch_size=64, device=CPU)
    dense = dense_class_probabilities(model, image, patch_size=PATCH, stride=stride, batch_size=64, device=CPU)
    rows_axis, cols_axis = patch_centres(image.shape[:2], stride=stride)
    # Independent reference: scipy's bilinear interpolation of the stride-1 values at the grid centres.
    pixels = np.stack(np.meshgrid(np.arange(13), np.arange(17), indexing="ij"), axis=-1).astype(float)
    for k in range(3):
        grid = every[k][np.ix_(rows_axis, cols_axis)]
        expected = RegularGridInterpolator((rows_axis, cols_axis), grid, method="linear")(pixels)
        np.testing.assert_allclose(dense[k], expected, rtol=0, atol=1e-5)
    np.testing.assert_allclose(dense.sum(axis=0), 1.0, rtol=0, atol=1e-5)
    if stride < 13:  # a pixel between centres is not its own patch's value (the interpolation is not a no-op)
        assert np.abs(dense - every).max() > 1e-3


# --- (b) patch cutting ---


def _coded_image(height: int, width: int) -> np.ndarray:
    """Pixel (r, c) of channel ch holds 100 * ch + 10 * r + c + 1 (never 0, so the zero padding is recognisable)."""
    r, c = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    return np.stack([100 * ch + 10 * r + c + 1 for ch in range(3)], axis=-1).astype(np.uint8)


def test_patches_hold_the_pixels_around_the_centre_and_zeros_outside():
    image = _coded_image(4, 5)
    patches = cut_pixel_patches(image, np.array([0, 3, 1]), np.array([0, 4, 2]), patch_size=3)
    assert patches.shape == (3, 3, 3, 3) and patches.dtype == torch.uint8
    assert patches[0, 0].tolist() == [[0, 0, 0], [0, 1, 2], [0, 11, 12]]  # top-left corner
    assert patches[1, 0].tolist() == [[24, 25, 0], [34, 35, 0], [0, 0, 0]]  # bottom-right corner
    assert patches[2, 0].tolist() == [[2, 3, 4], [12, 13, 14], [22, 23, 24]]  # inside
    assert patches[2, 2].tolist() == [[202, 203, 204], [212, 213, 214], [222, 223, 224]]  # channel 2
    # Even side: the centre pixel at index 2 of 4, two pixels above and left of it, one below and right.
    even = cut_pixel_patches(image, np.array([1]), np.array([1]), patch_size=4)[0, 0]
    assert even.tolist() == [[0, 0, 0, 0], [0, 1, 2, 3], [0, 11, 12, 13], [0, 21, 22, 23]]
    assert int(even[2, 2]) == image[1, 1, 0]


@pytest.mark.parametrize("patch_size", [1, 2, 3, 4, 7, 12], ids=lambda p: f"side{p}")
def test_patches_equal_a_naive_per_pixel_loop(patch_size):
    image = _image(5, 6, seed=2)
    rows, cols = (a.ravel() for a in np.meshgrid(np.arange(5), np.arange(6), indexing="ij"))
    order = np.random.default_rng(3).permutation(rows.size)  # any order, repeats allowed
    rows, cols = np.concatenate([rows[order], rows[:3]]), np.concatenate([cols[order], cols[:3]])
    expected = np.zeros((rows.size, 3, patch_size, patch_size), dtype=np.uint8)
    half = patch_size // 2
    for n, (r, c) in enumerate(zip(rows, cols, strict=True)):
        for i in range(patch_size):
            for j in range(patch_size):
                y, x = r - half + i, c - half + j
                if 0 <= y < 5 and 0 <= x < 6:
                    expected[n, :, i, j] = image[y, x]
    np.testing.assert_array_equal(cut_pixel_patches(image, rows, cols, patch_size=patch_size).numpy(), expected)


def test_no_pixels_give_no_patches():
    patches = cut_pixel_patches(_image(), np.array([], dtype=np.int64), np.array([], dtype=np.int64), patch_size=5)
    assert patches.shape == (0, 3, 5, 5)


# --- (c) grid and region of interest ---


@pytest.mark.parametrize(
    ("shape", "stride", "rows", "cols"),
    [
        ((5, 7), 1, list(range(5)), list(range(7))),
        ((5, 7), 2, [0, 2, 4], [0, 2, 4, 6]),
        ((5, 7), 3, [0, 3, 4], [0, 3, 6]),
        ((5, 7), 10, [0, 4], [0, 6]),
        ((1, 1), 4, [0], [0]),
    ],
    ids=["stride1-every-pixel", "stride2-ends-on-edge", "stride3-short-last-step", "stride-beyond-image",
         "single-pixel"],
)
def test_grid_covers_the_image_edge_to_edge(shape, stride, rows, cols):
    got_rows, got_cols = patch_centres(shape, stride=stride)
    assert (got_rows.tolist(), got_cols.tolist()) == (rows, cols)
    assert got_rows.dtype == np.int64 and got_cols.dtype == np.int64


def test_grid_is_restricted_to_the_roi_bounding_box():
    roi = np.zeros((12, 14), bool)
    roi[3:9, 2] = True
    roi[5, 2:11] = True  # an L-shape: bounding box rows 3..8, cols 2..10
    rows, cols = patch_centres((12, 14), stride=4, roi=roi)
    assert (rows.tolist(), cols.tolist()) == ([3, 7, 8], [2, 6, 10])


def _count_patches(model: GroupedModel) -> list[int]:
    seen: list[int] = []
    model.register_forward_pre_hook(lambda module, args: seen.append(args[0].shape[0]))
    return seen


def test_roi_pixels_only_are_evaluated_and_the_rest_is_nan():
    model, image = _model(), _image()
    roi = np.zeros((13, 17), bool)
    roi[2:10, 3] = True
    roi[6, 3:15] = True  # L-shape of 8 + 11 = 19 pixels
    seen = _count_patches(model)
    dense = dense_class_probabilities(model, image, patch_size=PATCH, stride=1, batch_size=8, device=CPU, roi=roi)
    assert sum(seen) == 19  # stride 1: exactly the roi's pixels, not its bounding box
    assert np.isnan(dense[:, ~roi]).all() and np.isfinite(dense[:, roi]).all()
    whole = dense_class_probabilities(model, image, patch_size=PATCH, stride=1, batch_size=64, device=CPU)
    np.testing.assert_allclose(dense[:, roi], whole[:, roi], rtol=0, atol=1e-5)


def test_strided_roi_evaluates_the_grid_of_its_bounding_box():
    model, image = _model(), _image()
    roi = np.zeros((13, 17), bool)
    roi[2:11, 4:13] = True  # 9 x 9, grid rows 2, 5, 8, 10 and cols 4, 7, 10, 12 at stride 3
    seen = _count_patches(model)
    dense = dense_class_probabilities(model, image, patch_size=PATCH, stride=3, batch_size=64, device=CPU, roi=roi)
    assert sum(seen) == 16
    assert np.isnan(dense[:, ~roi]).all()
    np.testing.assert_allclose(dense[:, roi].sum(axis=0), 1.0, rtol=0, atol=1e-5)
    centres = _patch_by_patch(model, image, np.array([2, 10, 5]), np.array([4, 12, 7]))
    np.testing.assert_allclose(dense[:, [2, 10, 5], [4, 12, 7]].T, centres, rtol=0, atol=1e-5)


def _dense(**overrides):
    kwargs = {"patch_size": PATCH, "stride": 2, "batch_size": 8, "device": CPU, "roi": None}
    image = overrides.pop("image", _image(6, 7))
    kwargs.update(overrides)
    return dense_class_probabilities(_model(), image, **kwargs)


def _cut(**overrides):
    kwargs = {"image": _image(6, 7), "rows": np.array([0, 5]), "cols": np.array([1, 6]), "patch_size": 3}
    kwargs.update(overrides)
    image, rows, cols = kwargs.pop("image"), kwargs.pop("rows"), kwargs.pop("cols")
    return cut_pixel_patches(image, rows, cols, **kwargs)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: _dense(roi=np.ones((6, 8), bool)), r"'roi' parameter of dense_class_probabilities .* shape \(6, 8\)"),
        (lambda: _dense(roi=np.ones((6, 7), int)), r"'roi' parameter .* bool mask .* dtype int64"),
        (lambda: _dense(roi=np.zeros((6, 7), bool)), r"'roi' parameter of dense_class_probabilities selects no pixel"),
        (lambda: patch_centres((6, 7), stride=2, roi=np.zeros((6, 7), bool)),
         r"'roi' parameter of patch_centres selects no pixel"),
        (lambda: patch_centres((6, 7), stride=2, roi=np.ones((7, 6), bool)), r"'roi' parameter of patch_centres"),
        (lambda: patch_centres((6, 0), stride=2), r"'shape' parameter of patch_centres .* got \(6, 0\)"),
        (lambda: patch_centres((6, 7), stride=0), r"'stride' parameter of patch_centres must be an int >= 1; got 0"),
        (lambda: _dense(stride=1.5), r"'stride' parameter of dense_class_probabilities .* got 1.5"),
        (lambda: _dense(stride=True), r"'stride' parameter .* got True"),
        (lambda: _dense(batch_size=0), r"'batch_size' parameter of dense_class_probabilities .* got 0"),
        (lambda: _dense(patch_size=0), r"'patch_size' parameter of dense_class_probabilities .* got 0"),
        (lambda: _dense(image=np.zeros((6, 7), np.uint8)), r"'image' parameter .* shape \(6, 7\)"),
        (lambda: _dense(image=np.zeros((6, 7, 3), np.float32)), r"'image' parameter .* dtype float32"),
        (lambda: _cut(rows=np.array([0, 6])), r"'rows' and 'cols' .* pixel 1 is at \(6, 6\)"),
        (lambda: _cut(cols=np.array([-1, 0])), r"'rows' and 'cols' .* pixel 0 is at \(0, -1\)"),
        (lambda: _cut(rows=np.array([0.0, 1.0])), r"'rows' and 'cols' .* 1-D int arrays .* dtype float64"),
        (lambda: _cut(cols=np.array([0, 1, 2])), r"'rows' and 'cols' .* of one shape .* shape \(3,\)"),
        (lambda: _cut(patch_size=0), r"'patch_size' parameter of cut_pixel_patches must be an int >= 1"),
    ],
    ids=["roi-wrong-shape", "roi-not-bool", "roi-empty", "centres-roi-empty", "centres-roi-wrong-shape",
         "centres-bad-shape", "centres-stride-0", "stride-float", "stride-bool", "batch-size-0", "patch-size-0",
         "image-2d", "image-float", "row-outside", "col-negative", "rows-float", "rows-cols-lengths",
         "cut-patch-size-0"],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --- (d) batch size and (e) model mode ---


@pytest.mark.parametrize("stride", [1, 3], ids=lambda s: f"stride{s}")
def test_batch_size_does_not_change_the_output(stride):
    model, image = _model(), _image()
    outputs = [dense_class_probabilities(model, image, patch_size=PATCH, stride=stride, batch_size=b, device=CPU)
               for b in (1, 7, 1000)]
    for out in outputs[1:]:
        np.testing.assert_allclose(out, outputs[0], rtol=0, atol=1e-6)


@pytest.mark.parametrize("training", [True, False], ids=["from-train-mode", "from-eval-mode"])
def test_model_runs_in_eval_mode_and_gets_its_mode_back(training):
    model, image = _model(), _image()
    expected = dense_class_probabilities(model, image, patch_size=PATCH, stride=2, batch_size=16, device=CPU)
    model.train(training)
    modes: list[bool] = []
    model.register_forward_pre_hook(lambda module, args: modes.append(module.training))
    got = dense_class_probabilities(model, image, patch_size=PATCH, stride=2, batch_size=16, device=CPU)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    assert modes and not any(modes)
    assert all(m.training == training for m in model.modules())


def test_model_mode_is_restored_when_the_forward_pass_fails():
    model = _model().train()
    # A 1-px patch cannot pass the toy model's two 2x2 max-pools.
    with pytest.raises(RuntimeError):
        dense_class_probabilities(model, _image(), patch_size=1, stride=4, batch_size=16, device=CPU)
    assert all(m.training for m in model.modules())
