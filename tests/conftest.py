"""Shared fixtures: a toy 4-group model and synthetic data.

The toy architecture ("toy4": conv1, conv2, conv3, fc; BatchNorm in conv1 and conv2) is
registered once per test session so study-level tests can run in seconds.
"""

from __future__ import annotations

import copy
import multiprocessing
import os
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from torch import nn

from tunedepth.data import DatasetSplits, ImageSet
from tunedepth.models import ARCHITECTURES, Architecture, GroupedModel, LayerGroup

TOY_GROUPS = (
    LayerGroup("conv1", ("0",)),
    LayerGroup("conv2", ("1",)),
    LayerGroup("conv3", ("2",)),
    LayerGroup("fc", ("3",)),
)


def _toy_net(num_classes: int) -> nn.Module:
    if os.environ.get("TUNEDEPTH_TEST_KILL_WORKERS") and multiprocessing.parent_process() is not None:
        os.kill(os.getpid(), signal.SIGKILL)  # a study worker killed by the system (tests/study/test_execution.py)
    return nn.Sequential(
        nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2)),
        nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2)),
        nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()),
        nn.Linear(8, num_classes),
    )


TOY = Architecture(
    name="toy4",
    description="test-only 4-group CNN (conv1, conv2 with BatchNorm; conv3; fc) for 16-px inputs",
    groups=TOY_GROUPS,
    build_net=_toy_net,
    first_conv="0.0",
    weight_sources={},
    mean=(0.5, 0.5, 0.5),
    std=(0.25, 0.25, 0.25),
    input_size=16,
)
if "toy4" not in ARCHITECTURES:
    ARCHITECTURES.register("toy4", TOY)


def build_toy(num_classes: int = 2) -> GroupedModel:
    """A 4-group CNN for 16-px inputs: two conv+BN blocks, a conv, a linear head."""
    return TOY.build(num_classes)


@pytest.fixture
def toy_model() -> GroupedModel:
    torch.manual_seed(0)
    return build_toy()


def synthetic_images(n: int, *, n_classes: int = 2, size: int = 16, seed: int = 0) -> ImageSet:
    """Learnable synthetic images: class k has a bright square in quadrant k (plus noise)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % n_classes
    images = rng.integers(0, 60, size=(n, 3, size, size), dtype=np.uint8)
    half = size // 2
    for i, k in enumerate(labels):
        r, c = divmod(int(k) % 4, 2)
        images[i, :, r * half:(r + 1) * half, c * half:(c + 1) * half] += 150
    return ImageSet(torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64)))


@pytest.fixture
def toy_splits() -> DatasetSplits:
    return DatasetSplits(
        name="synthetic", class_names=("a", "b"), train=synthetic_images(64, seed=1),
        val=synthetic_images(32, seed=2), test=synthetic_images(32, seed=3), split_origin="official",
    )


@pytest.fixture
def data_dir() -> Path:
    """The real-data folder ($TUNEDEPTH_DATA_DIR); skips, saying why, when unset."""
    value = os.environ.get("TUNEDEPTH_DATA_DIR")
    if not value:
        pytest.skip("TUNEDEPTH_DATA_DIR is not set; real-data integration tests need it (CI sets it).")
    return Path(value)


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    root = tmp_path / "images"
    images = synthetic_images(60, size=16, seed=5)
    for i, (img, label) in enumerate(zip(images.images, images.labels, strict=True)):
        folder = root / ("normal" if int(label) == 0 else "lesion")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.ascontiguousarray(img.permute(1, 2, 0).numpy())).save(folder / f"{i:03d}.png")
    return root


def write_faint_image_folder(root: Path, *, n: int = 60, seed: int = 5) -> Path:
    """An image folder ("normal", "lesion") of ``n`` 16-px images told apart by a faint square (+40 grey levels
    on noise in [0, 216)) in the top-left quadrant of the lesion images. Hard enough that toy4 runs reach
    different AUCs below 1; with the bright squares of :func:`synthetic_images` every run scores 1.0, so results
    could not tell runs apart."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        image = rng.integers(0, 216, size=(16, 16, 3), dtype=np.uint8)
        if i % 2:
            image[:8, :8] += 40
        folder = root / ("lesion" if i % 2 else "normal")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{i:03d}.png")
    return root


@pytest.fixture
def toy_checkpoint(tmp_path: Path) -> Path:
    torch.manual_seed(123)
    path = tmp_path / "toy.pt"
    torch.save(build_toy(num_classes=5).net.state_dict(), path)
    return path


@pytest.fixture
def study_raw(image_folder: Path, toy_checkpoint: Path) -> dict[str, Any]:
    raw = {
        "name": "toy",
        "data": {"source": "image_folder", "path": str(image_folder), "image_size": 16},
        "model": {"architecture": "toy4", "weights": "checkpoint", "checkpoint": str(toy_checkpoint)},
        "grid": {"regimes": ["scratch", "finetune"], "depths": [1, 4], "train_fractions": [1.0, 0.5],
                 "seeds": [0]},
        "training": {"lr": 0.05, "batch_size": 16, "max_epochs": 2, "patience": 2},
        "execution": {"num_threads": 1},
    }
    return copy.deepcopy(raw)


# The study runner flushes denormal floats (see tunedepth.study.runner); tests that call
# lower layers directly get the same CPU numerics and speed.
torch.set_flush_denormal(True)


# A synthetic finished study, written with the real StudyStore: one entry per run,
# (label, depth, train_fraction, seed, val_scores, test_scores). Scores of shape (n_cases,)
# are a binary positive-class score (any real number; mapped to a probability by a logistic
# function, which keeps every AUC); shape (n_cases, n_classes) are class probabilities.
SyntheticRun = tuple[str, int, float, int, np.ndarray, np.ndarray]


def _probabilities(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=float)
    if scores.ndim == 2:
        return scores
    with np.errstate(invalid="ignore"):
        p = 1.0 / (1.0 + np.exp(-scores))
    return np.column_stack([1.0 - p, p])


def write_synthetic_study(root: Path, runs: list[SyntheticRun], *, val_labels: np.ndarray,
                          test_labels: np.ndarray) -> Path:
    from tunedepth.evaluation import roc_auc_score
    from tunedepth.results import StudyStore

    def frame(labels: np.ndarray, probs: np.ndarray) -> pd.DataFrame:
        out = pd.DataFrame({"index": np.arange(len(labels)), "label": labels})
        for k in range(probs.shape[1]):
            out[f"prob_{k}"] = probs[:, k]
        return out

    def auc(labels: np.ndarray, probs: np.ndarray) -> float:
        return roc_auc_score(labels, probs) if np.isfinite(probs).all() else float("nan")

    store = StudyStore(root)
    store.create({"name": "synthetic"})
    ids = []
    for i, (label, depth, fraction, seed, val, test) in enumerate(runs):
        rid = f"run{i:03d}"
        pv, pt = _probabilities(val), _probabilities(test)
        metrics = {
            "run_id": rid, "regime": "scratch" if label == "scratch" else "finetune", "depth": depth, "label": label,
            "train_fraction": fraction, "seed": seed, "n_train": 10, "lr": 0.01, "val_auc": auc(val_labels, pv),
            "test_auc": auc(test_labels, pt), "test_acc": 0.5, "best_epoch": 1, "epochs_run": 1,
            "train_seconds": 0.0, "n_val": len(val_labels), "n_test": len(test_labels),
        }
        if label != "scratch" and not label.startswith("ft:"):  # a tuning method's arm: "llrd", "surgical:b", ...
            metrics["method"] = label.split(":")[0]
        store.write_run(rid, config={"run_id": rid}, metrics=metrics, history=pd.DataFrame({"epoch": [1]}),
                        predictions={"val": frame(val_labels, pv), "test": frame(test_labels, pt)})
        ids.append(rid)
    store.write_results(ids)
    return root


@pytest.fixture
def synthetic_study(tmp_path: Path) -> Any:
    """A factory: ``synthetic_study(runs, val_labels=..., test_labels=...)`` writes a study folder, returns its path."""
    counter = iter(range(1000))

    def make(runs: list[SyntheticRun], *, val_labels: np.ndarray, test_labels: np.ndarray) -> Path:
        return write_synthetic_study(tmp_path / f"study{next(counter)}", runs, val_labels=val_labels,
                                     test_labels=test_labels)

    return make


def write_kvasir_like(root: Path, n: int = 30, seed: int = 0, *, numbered: bool = False) -> Path:
    """A Kvasir-SEG-like folder: pale noisy frames with one dark-red disc (the polyp) each, and its mask."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    yy, xx = np.mgrid[:60, :80]
    for i in range(n):
        image = np.clip(rng.normal((200, 160, 150), 8, size=(60, 80, 3)), 0, 255).astype(np.uint8)
        cy, cx, r = rng.integers(14, 46), rng.integers(14, 66), rng.integers(7, 12)
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 < r ** 2
        image[disc] = (150, 40, 50)
        name = f"{i + 1}.png" if numbered else f"frame{i:03d}.png"  # CVC-ClinicDB names frames by number
        Image.fromarray(image).save(root / "images" / name)
        Image.fromarray((disc * 255).astype(np.uint8)).save(root / "masks" / name)
    return root


@pytest.fixture
def detection_raw(tmp_path: Path, toy_checkpoint: Path) -> dict[str, Any]:
    root = write_kvasir_like(tmp_path / "kvasir")
    return copy.deepcopy({
        "name": "toy-detection",
        "task": "detection",
        "data": {"source": "kvasir_seg", "root": str(root), "image_size": 16, "val_fraction": 0.2,
                 "test_fraction": 0.3},
        "model": {"architecture": "toy4", "weights": "checkpoint", "checkpoint": str(toy_checkpoint)},
        "grid": {"regimes": ["scratch", "finetune"], "depths": [1, 4], "train_fractions": [1.0, 0.5], "seeds": [0]},
        "detection": {"max_candidates": 6, "min_polyp_area_px": 20, "scales": [1.0, 1.5], "orientations": 2,
                      "train_patches": 200, "test_views": "scales"},
        "training": {"lr": 0.05, "batch_size": 16, "max_epochs": 2, "patience": 2},
        "analysis": {"n_boot": 200},
        "execution": {"num_threads": 1},
    })


def write_carotid_like(root: Path, n_sequences: int = 6, per_sequence: int = 4, seed: int = 0) -> Path:
    """Speckled grey frames with a dark disc (the artery) each, in the carotid data set's layout."""
    rng = np.random.default_rng(seed)
    (root / "US images").mkdir(parents=True)
    (root / "Expert mask images").mkdir()
    yy, xx = np.mgrid[:64, :60]
    for s in range(n_sequences):
        for k in range(per_sequence):
            grey = np.clip(rng.normal(150, 20, size=(64, 60)), 0, 255)
            cy, cx, r = 32 + rng.integers(-6, 7), 30 + rng.integers(-6, 7), rng.integers(9, 14)
            disc = (yy - cy) ** 2 + (xx - cx) ** 2 < r ** 2
            grey[disc] = np.clip(rng.normal(40, 10, size=int(disc.sum())), 0, 255)
            name = f"2022SEQ{s}VAS_slice_{k:03d}.png"
            Image.fromarray(np.repeat(grey.astype(np.uint8)[..., None], 3, axis=2)).save(root / "US images" / name)
            Image.fromarray((disc * 255).astype(np.uint8)).save(root / "Expert mask images" / name)
    return root


@pytest.fixture
def segmentation_raw(tmp_path: Path, toy_checkpoint: Path) -> dict[str, Any]:
    root = write_carotid_like(tmp_path / "carotid")
    return copy.deepcopy({
        "name": "toy-segmentation",
        "task": "segmentation",
        "data": {"source": "carotid", "root": str(root), "image_size": 16, "val_fraction": 0.2,
                 "test_fraction": 0.3},
        "model": {"architecture": "toy4", "weights": "checkpoint", "checkpoint": str(toy_checkpoint)},
        "grid": {"regimes": ["scratch", "finetune"], "depths": [4], "train_fractions": [1.0, 0.5], "seeds": [0]},
        "segmentation": {"work_size_px": 48, "pixels_per_class": 30, "val_pixels_per_class": 10, "stride": 2,
                         "roi_margin_px": 6, "n_rays": 36, "smoothing": 1.0},
        "training": {"lr": 0.05, "batch_size": 32, "max_epochs": 2, "patience": 2},
        "execution": {"num_threads": 1},
    })


@pytest.fixture(autouse=True)
def _study_runs_must_not_fail(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A run that raises is recorded as failed and the study goes on (tunedepth.study.runner), so a test could
    pass while its runs fail. Every run failure in this process fails the test, with the run's traceback, unless
    the test is marked ``run_failures_expected``."""
    if request.node.get_closest_marker("run_failures_expected"):
        yield
        return
    from tunedepth.results import StudyStore

    tracebacks: list[str] = []
    real = StudyStore.write_failure

    def recording(self: StudyStore, run_id: str, *, failure: dict[str, Any], traceback_text: str) -> None:
        tracebacks.append(traceback_text)
        real(self, run_id, failure=failure, traceback_text=traceback_text)

    monkeypatch.setattr(StudyStore, "write_failure", recording)
    yield
    if tracebacks:
        pytest.fail(f"{len(tracebacks)} study run(s) failed unexpectedly; the first:\n{tracebacks[0]}")
