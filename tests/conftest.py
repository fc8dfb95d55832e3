"""Shared fixtures: a toy 4-group model and synthetic data.

The toy architecture ("toy4": conv1, conv2, conv3, fc; BatchNorm in conv1 and conv2) is
registered once per test session so study-level tests can run in seconds.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from tunedepth.data import DatasetSplits, ImageSet
from tunedepth.models import GroupedModel, LayerGroup

TOY_GROUPS = (
    LayerGroup("conv1", ("0",)),
    LayerGroup("conv2", ("1",)),
    LayerGroup("conv3", ("2",)),
    LayerGroup("fc", ("3",)),
)


def build_toy(num_classes: int = 2) -> GroupedModel:
    """A 4-group CNN for 16-px inputs: two conv+BN blocks, a conv, a linear head."""
    net = nn.Sequential(
        nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2)),
        nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2)),
        nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()),
        nn.Linear(8, num_classes),
    )
    return GroupedModel(net, TOY_GROUPS, architecture="toy4")


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
