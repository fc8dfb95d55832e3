"""Prediction: per-class log-odds of a model in eval mode, from images or cached frozen features.

Shared by the training loop (validation after every epoch) and the study (test predictions). On CUDA prediction
uses bf16 autocast, as training does.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from tunedepth.data import normalize
from tunedepth.models import GroupedModel

__all__ = ["autocast", "forward_from_cut", "memory_format", "model_inputs", "predict_log_odds", "predict_proba"]


def memory_format(model: GroupedModel) -> torch.memory_format:
    """channels-last for models that run faster so, else contiguous."""
    return torch.channels_last if model.channels_last else torch.contiguous_format


def autocast(device: torch.device) -> torch.autocast:
    """bf16 autocast on CUDA; a no-op context on the CPU."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


def model_inputs(model: GroupedModel, batch: torch.Tensor, *, cut: int, device: torch.device) -> torch.Tensor:
    """A batch ready for the model: uint8 images normalised (cut 0), or cached features as float32."""
    x = batch.to(device, non_blocking=True)
    x = normalize(x, model.mean, model.std) if cut == 0 else x.float()
    return x.contiguous(memory_format=memory_format(model)) if x.dim() == 4 else x


def forward_from_cut(model: GroupedModel, x: torch.Tensor, cut: int) -> torch.Tensor:
    """The logits from images (cut 0) or from the features of the first ``cut`` groups."""
    return model(x) if cut == 0 else model.forward_from(cut, x)


def _log_odds(logits: torch.Tensor) -> torch.Tensor:
    """Per class, ``log(p_k / (1 - p_k)) = z_k - logsumexp(z_j, j != k)``, in float64.

    Unlike probabilities (exactly 1.0 in float32 beyond a logit gap of about 17) or log-probabilities (exactly 0.0
    in float64 beyond about 36, where ``z_k - logsumexp(z)`` cancels), this difference of two moderate numbers
    keeps the order of any finite logits; it is a monotone function of ``p_k``, so every rank-based statistic
    (AUC, DeLong, sensitivity at a false-positive rate) is that of the probabilities, without ties.
    """
    z = logits.double()
    k = z.shape[1]
    others = z.unsqueeze(1).expand(-1, k, -1).masked_fill(torch.eye(k, dtype=torch.bool), -math.inf)
    return z - torch.logsumexp(others, dim=2)


@torch.no_grad()
def predict_log_odds(
    model: GroupedModel,
    images: torch.Tensor,
    *,
    batch_size: int,
    device: torch.device,
    cut: int = 0,
) -> np.ndarray:
    """Per-class log-odds ``log(p_k / (1 - p_k))`` of shape (n_cases, n_classes), float64, in eval mode.

    These are what a study scores and stores: they rank cases exactly as the probabilities do, without the ties
    of saturated probabilities (measured on the demo study: more than half of the test cases had a float32
    probability of exactly 1.0). ``scipy.special.expit`` of them gives the probabilities.

    Args:
        model: the model (normalisation from its ``mean`` and ``std``).
        images: uint8 images (n, 3, s, s); or, with ``cut`` > 0, cached features of the first ``cut`` groups
            (see :class:`~tunedepth.training.FeatureStore`).
        batch_size: cases per forward pass.
        device: where to compute.
        cut: 0 for images; otherwise the number of leading groups ``images`` stands for.
    """
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, images.shape[0], batch_size):
        x = model_inputs(model, images[start:start + batch_size], cut=cut, device=device)
        with autocast(device):
            logits = forward_from_cut(model, x, cut)
        out.append(_log_odds(logits.float()).cpu())
    model.train(was_training)
    return torch.cat(out).numpy()


def predict_proba(
    model: GroupedModel,
    images: torch.Tensor,
    *,
    batch_size: int,
    device: torch.device,
    cut: int = 0,
) -> np.ndarray:
    """Class probabilities of shape (n_cases, n_classes), float64, from :func:`predict_log_odds` (same
    arguments). Near-certain predictions round to exactly 0 or 1; rank cases by the log-odds instead."""
    log_odds = predict_log_odds(model, images, batch_size=batch_size, device=device, cut=cut)
    return 1.0 / (1.0 + np.exp(-log_odds))
