"""Seeding and thread control, so that a run is reproducible on CPU for a fixed thread count."""

from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["seed_everything", "torch_generator"]


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) global generators with ``seed``."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def torch_generator(seed: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed``, for shuffling and sampling."""
    g = torch.Generator()
    g.manual_seed(seed)
    return g
