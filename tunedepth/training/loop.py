"""The training loop: plain PyTorch, CPU or CUDA, validation after every epoch.

Model selection follows the paper: keep the epoch with the best validation score (the study
passes ROC AUC; the loop itself is metric-agnostic, so training never imports evaluation);
stop early after ``patience`` epochs without improvement, within ``max_epochs``. Every epoch
appends a point (mini-batches seen, validation score, losses, lr) to the convergence history. On CPU
the loop is deterministic for a fixed seed and thread count; on CUDA it uses bf16 autocast.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from tunedepth._seeding import torch_generator
from tunedepth.config import Regime
from tunedepth.data import ImageSet, augment_batch, normalize
from tunedepth.models import GroupedModel
from tunedepth.training.features import CachedInputs
from tunedepth.tuning import LrPolicy, build_optimizer, build_param_groups, build_scheduler

logger = logging.getLogger(__name__)

__all__ = [
    "EpochRecord",
    "StoppingRule",
    "TrainResult",
    "TrainingDivergedError",
    "predict_log_odds",
    "predict_proba",
    "train_model",
]


class TrainingDivergedError(RuntimeError):
    """The training loss became NaN or infinite."""


@dataclass(frozen=True)
class StoppingRule:
    """When training stops.

    After ``patience`` epochs without a better validation score, or after ``max_epochs``,
    whichever comes first -- but never before ``min_iterations`` mini-batches, so that runs
    on small training fractions (a few mini-batches per epoch) still get enough updates to
    converge; ``max_epochs`` is exceeded when needed to reach ``min_iterations``.
    """

    max_epochs: int
    patience: int
    min_iterations: int = 0

    def should_stop(self, *, epoch: int, best_epoch: int, iteration: int) -> bool:
        """True when training stops after ``epoch`` (1-based).

        Example:
            >>> rule = StoppingRule(max_epochs=10, patience=2, min_iterations=100)
            >>> rule.should_stop(epoch=4, best_epoch=2, iteration=80)  # patience spent, too few mini-batches
            False
            >>> rule.should_stop(epoch=5, best_epoch=2, iteration=100)
            True
        """
        if iteration < self.min_iterations:
            return False
        return epoch >= self.max_epochs or epoch - best_epoch >= self.patience


@dataclass(frozen=True)
class EpochRecord:
    """One point of the convergence history (``iteration`` = mini-batches seen so far)."""

    epoch: int
    iteration: int
    lr: float
    train_loss: float
    val_loss: float
    val_score: float
    seconds: float


@dataclass(frozen=True)
class TrainResult:
    """What a training run returns; the model itself holds the best epoch's weights."""

    best_epoch: int
    best_val_score: float
    epochs_run: int
    history: tuple[EpochRecord, ...]
    train_seconds: float
    val_log_odds: np.ndarray = field(repr=False)


def _memory_format(model: GroupedModel) -> torch.memory_format:
    return torch.channels_last if model.channels_last else torch.contiguous_format


def _autocast(device: torch.device) -> torch.autocast:
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


def _inputs(model: GroupedModel, batch: torch.Tensor, *, cut: int, device: torch.device) -> torch.Tensor:
    """A batch ready for the model: uint8 images normalised (cut 0), or cached features as float32."""
    x = batch.to(device, non_blocking=True)
    x = normalize(x, model.mean, model.std) if cut == 0 else x.float()
    return x.contiguous(memory_format=_memory_format(model)) if x.dim() == 4 else x


def _forward(model: GroupedModel, x: torch.Tensor, cut: int) -> torch.Tensor:
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
        x = _inputs(model, images[start:start + batch_size], cut=cut, device=device)
        with _autocast(device):
            logits = _forward(model, x, cut)
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


def _rank(score: float) -> float:
    """Comparison key: a NaN score (undefined metric) never beats a number."""
    return -math.inf if math.isnan(score) else score


def _val_loss(log_odds: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy: -log p_label = log(1 + exp(-log_odds_label)), computed stably."""
    return float(np.mean(np.logaddexp(0.0, -log_odds[np.arange(labels.size), labels])))


def train_model(
    model: GroupedModel,
    *,
    train: ImageSet,
    val: ImageSet,
    regime: Regime,
    policy: LrPolicy,
    stopping: StoppingRule,
    batch_size: int,
    seed: int,
    device: torch.device,
    val_score: Callable[[np.ndarray, np.ndarray], float],
    augment: bool = False,
    class_weights: torch.Tensor | None = None,
    on_epoch_end: Callable[[EpochRecord], None] | None = None,
    cached: CachedInputs | None = None,
) -> TrainResult:
    """Train ``model`` (already frozen to its depth) and restore its best-validation-score weights.

    Args:
        model: the grouped model; trained in place.
        train: training images and labels.
        val: validation images and labels (model selection and early stopping).
        regime: "scratch" or "finetune" (decides the head's lr multiplier).
        policy: optimizer, learning rates and per-epoch decay.
        stopping: max epochs and patience.
        batch_size: mini-batch size.
        seed: seeds the shuffling and augmentation generator.
        device: where to train.
        val_score: ``f(labels (n,), log_odds (n, n_classes)) -> float``, higher is better (e.g. ROC AUC, which
            depends on the order of the scores only); it gets float64 per-class log-odds (see
            :func:`predict_log_odds`).
        augment: random online augmentation of training batches.
        class_weights: per-class loss weights of shape (n_classes,), or None.
        on_epoch_end: called with each epoch's record (progress display).
        cached: the frozen prefix's features of ``train`` and ``val`` (see
            :mod:`tunedepth.training.features`); the model then runs from group ``cached.cut`` on. Refused with
            ``augment`` (the cached inputs are fixed). Mini-batches, shuffling and the rest are unchanged.

    Returns:
        The training summary; ``model`` holds the weights of the best epoch.

    Raises:
        TrainingDivergedError: if the training loss becomes NaN or infinite.
        ValueError: if ``cached`` is given with ``augment``, or its sizes do not match ``train`` and ``val``.
    """
    cut = 0
    if cached is not None:
        if augment:
            raise ValueError("The 'cached' parameter of train_model cannot be used with augment=True: random "
                             "augmentation changes the inputs every epoch, so frozen features cannot be cached.")
        if cached.train.shape[0] != len(train) or cached.val.shape[0] != len(val):
            raise ValueError(f"The 'cached' parameter of train_model must hold features of the {len(train)} training "
                             f"and {len(val)} validation images; got {cached.train.shape[0]} and "
                             f"{cached.val.shape[0]}.")
        cut = cached.cut
    train_inputs = train.images if cached is None else cached.train
    val_inputs = val.images if cached is None else cached.val
    train_labels = train.labels
    if device.type == "cuda":
        # Keep the (uint8 or cached) training inputs on the GPU for the whole run: no host-to-device copy per
        # mini-batch at all (better than pinned-memory transfers for data sets that fit, as these do).
        train_inputs, train_labels = train_inputs.to(device), train_labels.to(device)
    model.to(device)
    model.to(memory_format=_memory_format(model))
    optimizer = build_optimizer(build_param_groups(model, regime=regime, policy=policy), policy=policy)
    scheduler = build_scheduler(optimizer, policy=policy)
    generator = torch_generator(seed)
    weights = None if class_weights is None else class_weights.to(device)
    val_labels = val.labels.numpy()
    n = len(train)
    history: list[EpochRecord] = []
    best_score, best_epoch, best_state, best_log_odds = -math.inf, 0, None, np.empty((0, 0))
    iteration, started = 0, time.perf_counter()
    epoch = 0
    while True:
        epoch += 1
        model.train()
        lr = policy.lr * policy.lr_decay_per_epoch ** (epoch - 1)  # base lr this epoch
        order = torch.randperm(n, generator=generator)
        loss_sum, seen = 0.0, 0
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            x = _inputs(model, train_inputs[idx.to(train_inputs.device)], cut=cut, device=device)
            if augment:
                x = augment_batch(x, generator=generator).contiguous(memory_format=_memory_format(model))
            y = train_labels[idx.to(train_labels.device)].to(device)
            with _autocast(device):
                logits = _forward(model, x, cut)
            loss = F.cross_entropy(logits.float(), y, weight=weights)
            if not torch.isfinite(loss):
                raise TrainingDivergedError(
                    f"training loss became {loss.item()} at epoch {epoch}, mini-batch {iteration + 1}; "
                    "try a lower learning rate"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            iteration += 1
            loss_sum += loss.item() * len(idx)
            seen += len(idx)
        scheduler.step()
        log_odds = predict_log_odds(model, val_inputs, batch_size=max(batch_size, 256), device=device, cut=cut)
        score = val_score(val_labels, log_odds)
        record = EpochRecord(
            epoch=epoch, iteration=iteration, lr=lr, train_loss=loss_sum / max(seen, 1),
            val_loss=_val_loss(log_odds, val_labels), val_score=score, seconds=time.perf_counter() - started,
        )
        history.append(record)
        if on_epoch_end is not None:
            on_epoch_end(record)
        logger.info("epoch %d: train loss %.4f, val score %.4f (%.0f s since the start)", epoch, record.train_loss,
                    score, record.seconds)
        if best_state is None or _rank(score) > _rank(best_score):
            best_score, best_epoch, best_log_odds = score, epoch, log_odds
            best_state = copy.deepcopy(model.state_dict())
        if stopping.should_stop(epoch=epoch, best_epoch=best_epoch, iteration=iteration):
            break
    assert best_state is not None  # the loop runs at least one epoch
    model.load_state_dict(best_state)
    return TrainResult(
        best_epoch=best_epoch, best_val_score=float(best_score), epochs_run=len(history), history=tuple(history),
        train_seconds=time.perf_counter() - started, val_log_odds=best_log_odds,
    )
