"""The training loop: plain PyTorch, CPU or CUDA, validation after every epoch.

Model selection follows the paper by default: keep the epoch with the best validation score (the
study passes ROC AUC; the loop itself is metric-agnostic, so training never imports evaluation);
stop early after ``patience`` epochs without improvement, within ``max_epochs``. With
``epoch_metric = "loss"`` the lowest validation loss decides instead. Every epoch appends a point
(mini-batches seen, validation score, losses, lr) to the convergence history, and the validation
(and, when given, test) log-odds of every epoch are returned, so the choice of epoch can be redone
later without retraining. On CPU the loop is deterministic for a fixed seed and thread count; on
CUDA it uses bf16 autocast.

:class:`Trainer` can also train a run in stages (:meth:`Trainer.run` up to an epoch, then on): a learning-rate
search by successive halving pauses its candidates between rungs. A paused trainer keeps its own optimizer,
schedule, shuffling generator and global RNG state (dropout), so training in stages gives exactly what training in
one go gives.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from tunedepth._seeding import torch_generator
from tunedepth.config import Regime
from tunedepth.data import ImageSet, augment_batch
from tunedepth.models import GroupedModel
from tunedepth.training.features import CachedInputs
from tunedepth.training.predict import autocast, forward_from_cut, memory_format, model_inputs, predict_log_odds
from tunedepth.tuning import LrPolicy, build_optimizer, build_scheduler
from tunedepth.tuning.methods import Layerwise, TuningMethod

logger = logging.getLogger(__name__)

__all__ = [
    "EpochRecord",
    "StoppingRule",
    "TrainResult",
    "Trainer",
    "TrainingDivergedError",
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
    """What a training run returns; the model itself holds the best epoch's weights.

    Attributes:
        best_epoch: the kept epoch (1-based).
        best_val_score: the validation score (e.g. AUC) of the kept epoch.
        epochs_run: epochs trained.
        history: one record per epoch.
        train_seconds: wall-clock time of the run.
        val_log_odds: the kept epoch's validation log-odds, of shape (n_val, n_classes).
        selection_score: what chose the kept epoch, higher is better: its validation score (``epoch_metric =
            "auc"``) or minus its validation loss (``"loss"``); learning rates are ranked by it.
        epoch_val_log_odds: every epoch's validation log-odds, of shape (epochs_run, n_val, n_classes) (per case
            with ``to_cases``).
        epoch_test_log_odds: likewise on the test inputs when given, else None; for scoring only, never for a
            choice.
    """

    best_epoch: int
    best_val_score: float
    epochs_run: int
    history: tuple[EpochRecord, ...]
    train_seconds: float
    val_log_odds: np.ndarray = field(repr=False)
    selection_score: float = math.nan
    epoch_val_log_odds: np.ndarray | None = field(default=None, repr=False)
    epoch_test_log_odds: np.ndarray | None = field(default=None, repr=False)


def _rank(score: float) -> float:
    """Comparison key: a NaN score (undefined metric) never beats a number."""
    return -math.inf if math.isnan(score) else score


def _val_loss(log_odds: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy: -log p_label = log(1 + exp(-log_odds_label)), computed stably."""
    return float(np.mean(np.logaddexp(0.0, -log_odds[np.arange(labels.size), labels])))


class Trainer:
    """One training run of a model (already frozen to its depth), which can be run in stages.

    :meth:`run` trains until the stopping rule says stop (or up to an epoch); :meth:`result` restores the best
    epoch's weights into the model and returns the summary. :func:`train_model` does both.

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
        label_smoothing: label smoothing of the training loss (0 = plain cross-entropy).
        epoch_metric: what keeps the best epoch and counts patience: "auc" (``val_score``, higher is better) or
            "loss" (the validation cross-entropy, lower is better).
        test_inputs: the test images (or, with ``cached``, their cached features), predicted after every epoch
            and returned in ``epoch_test_log_odds``; they never influence training or any choice.
        to_cases: maps the per-image log-odds of a validation or test split to per-case ones before they are kept
            per epoch (e.g. candidates averaged over their patches); None keeps them per image.
        train_views: fixed views of the training images, view-major (row ``v * n + i`` is view ``v`` of image
            ``i``; view 0 the image itself), used instead of ``train.images``; each epoch shows every image once, as
            a view drawn at random. With ``cached``, ``cached.train`` holds the views' features in that layout.
        epoch_images: with fewer training images than this, each epoch makes ``ceil(epoch_images / n)`` passes over
            them (a new order each pass) before it validates; patience, ``max_epochs``, the history, the per-epoch
            predictions and the per-epoch lr decay count these epochs. 0 (default) = one pass per epoch.
        method: the tuning method (:mod:`tunedepth.tuning.methods`), with the model already frozen by its
            :meth:`~tunedepth.tuning.methods.TuningMethod.freeze`: it builds the optimizer's parameter groups, and
            its penalty (added to the objective; the recorded training loss stays the cross-entropy) and step rule
            apply every mini-batch. None = the paper's layer-wise scheme.

    Raises:
        ValueError: if ``cached`` is given with ``augment``, or its sizes do not match ``train`` and ``val``.
    """

    def __init__(
        self,
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
        label_smoothing: float = 0.0,
        epoch_metric: Literal["auc", "loss"] = "auc",
        test_inputs: torch.Tensor | None = None,
        to_cases: Callable[[np.ndarray], np.ndarray] | None = None,
        train_views: torch.Tensor | None = None,
        epoch_images: int = 0,
        method: TuningMethod | None = None,
    ) -> None:
        self.cut = 0
        n = len(train)
        if epoch_images < 0:
            raise ValueError(f"The 'epoch_images' parameter of train_model must be >= 0; got {epoch_images}.")
        # An epoch (one validation, one history record, one step of the per-epoch schedule) makes enough passes over
        # a small training set to see at least epoch_images images; 1 pass when 0.
        self.passes = max(1, math.ceil(epoch_images / max(n, 1)))
        self.views = 1 if train_views is None else train_views.shape[0] // max(n, 1)
        if train_views is not None and (train_views.shape[0] != self.views * n or augment):
            raise ValueError(f"The 'train_views' parameter of train_model must hold k >= 1 views of each of the {n} "
                             f"training images, view-major, without augment=True; got {train_views.shape[0]} rows.")
        if cached is not None:
            if augment:
                raise ValueError("The 'cached' parameter of train_model cannot be used with augment=True: random "
                                 "augmentation changes the inputs every epoch, so frozen features cannot be cached.")
            if cached.train.shape[0] != self.views * n or cached.val.shape[0] != len(val):
                raise ValueError(f"The 'cached' parameter of train_model must hold features of the {self.views * n} "
                                 f"training inputs and {len(val)} validation images; got {cached.train.shape[0]} and "
                                 f"{cached.val.shape[0]}.")
            self.cut = cached.cut
        self.model, self.regime, self.policy, self.stopping = model, regime, policy, stopping
        self.batch_size, self.device, self.val_score, self.augment = batch_size, device, val_score, augment
        self.on_epoch_end, self.label_smoothing, self.epoch_metric = on_epoch_end, label_smoothing, epoch_metric
        self.test_inputs, self.to_cases = test_inputs, to_cases
        self.train_inputs = cached.train if cached is not None else train.images if train_views is None else train_views
        self.val_inputs = val.images if cached is None else cached.val
        self.train_labels = train.labels
        if device.type == "cuda":
            # Keep the (uint8 or cached) training inputs on the GPU for the whole run: no host-to-device copy per
            # mini-batch at all (better than pinned-memory transfers for data sets that fit, as these do).
            self.train_inputs, self.train_labels = self.train_inputs.to(device), self.train_labels.to(device)
        model.to(device)
        model.to(memory_format=memory_format(model))
        self.n = n
        steps_per_epoch = self.passes * max(1, math.ceil(self.n / batch_size))
        self.method = Layerwise() if method is None else method
        self.optimizer = build_optimizer(self.method.param_groups(model, regime=regime, policy=policy), policy=policy)
        self.hooks = self.method.start(model)
        self.schedule = build_scheduler(
            self.optimizer, policy=policy, steps_per_epoch=steps_per_epoch,
            total_steps=max(stopping.max_epochs * steps_per_epoch, stopping.min_iterations))
        self.generator = torch_generator(seed)
        self.weights = None if class_weights is None else class_weights.to(device)
        self.val_labels = val.labels.numpy()
        self.history: list[EpochRecord] = []
        self.epoch_val: list[np.ndarray] = []
        self.epoch_test: list[np.ndarray] = []
        self.best_rank, self.best_score, self.best_epoch = -math.inf, -math.inf, 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self.best_log_odds = np.empty((0, 0))
        self.iteration, self.seconds, self.stopped = 0, 0.0, False
        # The global RNG (dropout) as it is now, for this run alone: restored whenever it trains, saved when it
        # pauses, so that runs trained in turns do not share one stream.
        self.rng_state = _rng_state(device)

    @property
    def epochs_run(self) -> int:
        return len(self.history)

    @property
    def selection_score(self) -> float:
        """What ranks this run against others so far: the best epoch's ``val_score`` (``epoch_metric = "auc"``)
        or minus its validation loss (``"loss"``); -inf before the first epoch or when undefined."""
        return self.best_rank

    def run(self, *, until_epoch: int | None = None) -> None:
        """Train epochs until the stopping rule stops the run, or until ``until_epoch`` epochs have run.

        Raises:
            TrainingDivergedError: if the training loss becomes NaN or infinite.
        """
        if self.stopped:
            return
        _set_rng_state(self.rng_state, self.device)
        started = time.perf_counter()
        try:
            while until_epoch is None or self.epochs_run < until_epoch:
                self._epoch(started)
                if self.stopping.should_stop(epoch=self.epochs_run, best_epoch=self.best_epoch,
                                             iteration=self.iteration):
                    self.stopped = True
                    break
        finally:
            self.seconds += time.perf_counter() - started
            self.rng_state = _rng_state(self.device)

    def _epoch(self, started: float) -> None:
        model, policy, cut, device = self.model, self.policy, self.cut, self.device
        epoch = self.epochs_run + 1
        model.train()
        lr = _base_lr(policy, epoch=epoch, optimizer=self.optimizer)
        loss_sum, seen = 0.0, 0
        for _ in range(self.passes):
            loss, count = self._pass(epoch)
            loss_sum, seen = loss_sum + loss, seen + count
        self.schedule.step_epoch()
        predict_batch = max(self.batch_size, 256)
        log_odds = predict_log_odds(model, self.val_inputs, batch_size=predict_batch, device=device, cut=cut)
        keep = (lambda a: a) if self.to_cases is None else self.to_cases
        self.epoch_val.append(keep(log_odds))
        if self.test_inputs is not None:
            self.epoch_test.append(keep(predict_log_odds(model, self.test_inputs, batch_size=predict_batch,
                                                         device=device, cut=cut)))
        score = self.val_score(self.val_labels, log_odds)
        record = EpochRecord(
            epoch=epoch, iteration=self.iteration, lr=lr, train_loss=loss_sum / max(seen, 1),
            val_loss=_val_loss(log_odds, self.val_labels), val_score=score,
            seconds=self.seconds + time.perf_counter() - started,
        )
        self.history.append(record)
        if self.on_epoch_end is not None:
            self.on_epoch_end(record)
        logger.info("epoch %d: train loss %.4f, val score %.4f (%.0f s since the start)", epoch, record.train_loss,
                    score, record.seconds)
        rank = _rank(score) if self.epoch_metric == "auc" else _rank(-record.val_loss)
        if self.best_state is None or rank > self.best_rank:
            self.best_rank, self.best_score, self.best_epoch, self.best_log_odds = rank, score, epoch, log_odds
            self.best_state = copy.deepcopy(model.state_dict())

    def _pass(self, epoch: int) -> tuple[float, int]:
        """One pass over the training images in a new order; returns the summed loss and the images seen."""
        model, cut, device = self.model, self.cut, self.device
        order = torch.randperm(self.n, generator=self.generator)
        # With fixed views, each image is shown once per pass as one of its views (view 0 = the image itself).
        view = torch.randint(self.views, (self.n,), generator=self.generator) if self.views > 1 else None
        loss_sum, seen = 0.0, 0
        for start in range(0, self.n, self.batch_size):
            idx = order[start:start + self.batch_size]
            rows = idx if view is None else view[idx] * self.n + idx
            x = model_inputs(model, self.train_inputs[rows.to(self.train_inputs.device)], cut=cut, device=device)
            if self.augment:
                x = augment_batch(x, generator=self.generator).contiguous(memory_format=memory_format(model))
            y = self.train_labels[idx.to(self.train_labels.device)].to(device)
            with autocast(device):
                logits = forward_from_cut(model, x, cut)
            loss = F.cross_entropy(logits.float(), y, weight=self.weights, label_smoothing=self.label_smoothing)
            objective = loss if self.hooks.penalty is None else loss + self.hooks.penalty()
            if not torch.isfinite(objective):
                raise TrainingDivergedError(
                    f"training loss became {objective.item()} at epoch {epoch}, mini-batch {self.iteration + 1}; "
                    "try a lower learning rate"
                )
            self.optimizer.zero_grad(set_to_none=True)
            objective.backward()
            self.hooks.step(self.optimizer)
            self.schedule.step_batch()
            self.iteration += 1
            loss_sum += loss.item() * len(idx)
            seen += len(idx)
        return loss_sum, seen

    def result(self) -> TrainResult:
        """Restore the best epoch's weights into the model and return the summary (after at least one epoch)."""
        summary = self.summary()
        assert self.best_state is not None
        self.model.load_state_dict(self.best_state)
        return summary

    def summary(self) -> TrainResult:
        """The summary so far, leaving the model as it is (training can go on; after at least one epoch)."""
        if self.best_state is None:
            raise RuntimeError("Trainer.result() needs at least one epoch of Trainer.run().")
        return TrainResult(
            best_epoch=self.best_epoch, best_val_score=float(self.best_score), epochs_run=self.epochs_run,
            history=tuple(self.history), train_seconds=self.seconds, val_log_odds=self.best_log_odds,
            selection_score=float(self.best_rank), epoch_val_log_odds=np.stack(self.epoch_val),
            epoch_test_log_odds=np.stack(self.epoch_test) if self.epoch_test else None,
        )

    def release(self) -> None:
        """Drop the model, optimizer and best weights (a learning rate the search eliminated); keeps the record."""
        self.best_state = None
        del self.optimizer, self.schedule, self.model, self.hooks


def _rng_state(device: torch.device) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
    return torch.get_rng_state(), torch.cuda.get_rng_state_all() if device.type == "cuda" else None


def _set_rng_state(state: tuple[torch.Tensor, list[torch.Tensor] | None], device: torch.device) -> None:
    torch.set_rng_state(state[0])
    if state[1] is not None and device.type == "cuda":
        torch.cuda.set_rng_state_all(state[1])


def _base_lr(policy: LrPolicy, *, epoch: int, optimizer: torch.optim.Optimizer) -> float:
    """The base lr of this epoch as the history records it: the paper's ``lr x decay^(epoch - 1)``; for a per-batch
    schedule, the lr of the epoch's first mini-batch (the first group's lr scaled back to the base)."""
    if policy.schedule == "exponential":
        return policy.lr * policy.lr_decay_per_epoch ** (epoch - 1)
    group = optimizer.param_groups[0]
    return float(policy.lr * group["lr"] / group["initial_lr"])


def train_model(model: GroupedModel, **options: Any) -> TrainResult:
    """Train ``model`` (already frozen to its depth) and restore its best-validation-score weights.

    Args:
        model: the grouped model; trained in place.
        **options: the keyword arguments of :class:`Trainer` (data, regime, policy, stopping rule, ...).

    Returns:
        The training summary; ``model`` holds the weights of the best epoch.

    Raises:
        TrainingDivergedError: if the training loss becomes NaN or infinite.
        ValueError: if ``cached`` is given with ``augment``, or its sizes do not match ``train`` and ``val``.
    """
    trainer = Trainer(model, **options)
    trainer.run()
    return trainer.result()
