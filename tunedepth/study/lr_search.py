"""The learning rate of a run: every configured value in turn, or a search by successive halving (``lr = "auto"``).

Both train every candidate from the same initialisation, data order and dropout stream (the run's seed), rank
them on validation by the study's ``epoch_metric`` (the best epoch's AUC, or minus its loss), keep the better one
(the earlier learning rate among equals) and record every trial. Only the best candidate's model is kept once the
others are decided.

**Successive halving** (Jamieson & Talwalkar, AISTATS 2016; Li et al., "Hyperband", JMLR 2018): every candidate
of ``lr_grid`` trains ``lr_search_epochs`` epochs; the better half (rounded up) continues to twice as many epochs,
and so on until one is left, which trains on until the stopping rule stops it. A candidate continues where it
paused (its optimizer, schedule and random streams are kept), so the winner's training is exactly what a run at
that single learning rate would have been. With 4 candidates and a first round of 1 epoch the search costs 4 + 2 x
1 = 6 epochs before the winner's own epochs 3 onwards: about 1.3 to 1.5 times a single-lr run of 10 to 15 epochs.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from tunedepth._seeding import seed_everything
from tunedepth.models import GroupedModel
from tunedepth.results import RunSpec
from tunedepth.training import (
    CachedInputs,
    EpochRecord,
    FeatureStore,
    Trainer,
    TrainingDivergedError,
    TrainResult,
    rows_of,
    train_model,
)
from tunedepth.tuning import LrPolicy

logger = logging.getLogger(__name__)

__all__ = ["LrSearch", "ModelFactory", "Trial", "all_diverged", "cached_inputs_of", "search_lr", "start_trainer"]

ModelFactory = Callable[[], tuple[GroupedModel, int, str]]
"""Builds the run's model at its starting weights, frozen to its depth; returns it, its feature-cache cut and why
the cache is not used ("" when it is)."""


@dataclass(frozen=True)
class Trial:
    """One learning rate tried for a run.

    Attributes:
        lr: the base learning rate.
        result: its training (history, best epoch, per-epoch predictions).
        cut: the feature-cache cut it trained from.
        eliminated_in_round: for a search, the round (0 = first) after which it stopped; None for the kept one and
            for every trial of a plain sweep.
    """

    lr: float
    result: TrainResult
    cut: int
    eliminated_in_round: int | None = None

    @property
    def rank(self) -> float:
        # The epoch metric of the kept epoch (AUC, or minus the loss); a NaN never wins over a number.
        score = self.result.selection_score
        return score if math.isfinite(score) else -math.inf

    def record(self) -> dict[str, Any]:
        """The trial as ``metrics.json``'s ``lr_trials`` lists it."""
        out: dict[str, Any] = {"lr": self.lr, "val_auc": self.result.best_val_score,
                               "best_epoch": self.result.best_epoch, "epochs_run": self.result.epochs_run}
        if self.eliminated_in_round is not None:
            out["eliminated_in_round"] = self.eliminated_in_round
        return out


@dataclass(frozen=True)
class LrSearch:
    """What choosing a run's learning rate gave.

    Attributes:
        trials: every learning rate that trained (in the order of the study's ``lrs``).
        best: the kept trial.
        model: the kept trial's model, holding its best epoch's weights.
        diverged: learning rates whose training diverged -> why.
        reason_not_cached: why the feature cache was not used ("" when it was).
    """

    trials: tuple[Trial, ...]
    best: Trial
    model: GroupedModel
    diverged: dict[float, str]
    reason_not_cached: str


def search_lr(build: ModelFactory, *, spec: RunSpec, lrs: tuple[float, ...], successive_halving: bool,
              first_round_epochs: int, features: FeatureStore | None, cached_inputs: Callable[
                  [GroupedModel, int], tuple[CachedInputs | None, torch.Tensor]],
              policy: Callable[[float], LrPolicy], trainer_args: dict[str, Any],
              on_epoch_end: Callable[[EpochRecord], None] | None) -> LrSearch:
    """Train the run at each learning rate of ``lrs`` (every one to the end, or by successive halving) and keep
    the best on validation.

    Args:
        build: the run's model factory (see :data:`ModelFactory`).
        spec: the run (its seed starts every candidate alike).
        lrs: the candidates, in order (the earlier wins ties).
        successive_halving: search (``lr = "auto"``) instead of training every candidate to the end.
        first_round_epochs: epochs of the search's first round.
        features: the feature cache (for the trials' cached inputs), or None.
        cached_inputs: ``(model, cut) -> (cached training and validation inputs or None, test inputs)``.
        policy: the learning-rate policy at a base lr.
        trainer_args: the other keyword arguments of :class:`~tunedepth.training.Trainer` (train, val, regime, a
            :class:`~tunedepth.training.StoppingRule`, ...).
        on_epoch_end: progress callback.

    Raises:
        TrainingDivergedError: when training diverged at every learning rate.
    """
    if successive_halving and len(lrs) > 1:
        return _halving(build, spec, lrs, first_round_epochs, cached_inputs, policy, trainer_args, on_epoch_end)
    return _each(build, spec, lrs, cached_inputs, policy, trainer_args, on_epoch_end)


def _each(build: ModelFactory, spec: RunSpec, lrs: tuple[float, ...],
          cached_inputs: Callable[[GroupedModel, int], tuple[CachedInputs | None, torch.Tensor]],
          policy: Callable[[float], LrPolicy], trainer_args: dict[str, Any],
          on_epoch_end: Callable[[EpochRecord], None] | None) -> LrSearch:
    trials: list[Trial] = []
    best: tuple[Trial, GroupedModel] | None = None
    diverged: dict[float, str] = {}
    reason = ""
    for lr in lrs:
        seed_everything(spec.seed)  # same initialisation (and data order) for every lr
        model, cut, reason = build()
        cached, test_inputs = cached_inputs(model, cut)
        try:
            result = train_model(model, policy=policy(lr), cached=cached, test_inputs=test_inputs,
                                 on_epoch_end=on_epoch_end, **trainer_args)
        except TrainingDivergedError as exc:
            if len(lrs) == 1:
                raise
            diverged[lr] = str(exc)
            logger.warning("run %s at lr %g: %s; the other learning rates go on", spec.label, lr, exc)
            continue
        trial = Trial(lr, result, cut)
        trials.append(trial)
        if best is None or trial.rank > best[0].rank:
            best = (trial, model)
        del model
    if best is None:
        raise all_diverged(diverged)
    return LrSearch(tuple(trials), best[0], best[1], diverged, reason)


def _halving(build: ModelFactory, spec: RunSpec, lrs: tuple[float, ...], first_round_epochs: int,
             cached_inputs: Callable[[GroupedModel, int], tuple[CachedInputs | None, torch.Tensor]],
             policy: Callable[[float], LrPolicy], trainer_args: dict[str, Any],
             on_epoch_end: Callable[[EpochRecord], None] | None) -> LrSearch:
    trainers: dict[float, tuple[Trainer, int]] = {}
    reason = ""
    for lr in lrs:
        trainer, cut, reason = start_trainer(build, spec, lr, cached_inputs=cached_inputs, policy=policy,
                                             trainer_args=trainer_args, on_epoch_end=on_epoch_end)
        trainers[lr] = (trainer, cut)
    alive, decided, diverged = list(lrs), {}, {}
    budget, round_ = first_round_epochs, 0
    while len(alive) > 1:
        for lr in list(alive):
            try:
                trainers[lr][0].run(until_epoch=budget)
            except TrainingDivergedError as exc:
                diverged[lr] = str(exc)
                alive.remove(lr)
                trainers[lr][0].release()
                logger.warning("run %s at lr %g: %s; the search goes on", spec.label, lr, exc)
        if len(alive) <= 1:
            break
        ranked = sorted(alive, key=lambda lr: (-_rank(trainers[lr][0]), lrs.index(lr)))
        keep = math.ceil(len(ranked) / 2)
        for lr in ranked[keep:]:
            trainer, cut = trainers[lr]
            decided[lr] = Trial(lr, trainer.result(), cut, eliminated_in_round=round_)
            trainer.release()
        logger.info("run %s: learning rates %s continue after round %d (%d epochs); %s stop", spec.label,
                    [f"{lr:g}" for lr in ranked[:keep]], round_, budget, [f"{lr:g}" for lr in ranked[keep:]])
        alive = [lr for lr in lrs if lr in ranked[:keep]]
        budget, round_ = budget * 2, round_ + 1
    if not alive:
        raise all_diverged(diverged)
    winner, cut = trainers[alive[0]]
    winner.run()  # to the stopping rule (raises if it diverges now: the run fails, as a single-lr run would)
    best = Trial(alive[0], winner.result(), cut)
    trials = tuple(best if lr == best.lr else decided[lr] for lr in lrs if lr == best.lr or lr in decided)
    return LrSearch(trials, best, winner.model, diverged, reason)


def start_trainer(build: ModelFactory, spec: RunSpec, lr: float, *,
                  cached_inputs: Callable[[GroupedModel, int], tuple[CachedInputs | None, torch.Tensor]],
                  policy: Callable[[float], LrPolicy], trainer_args: dict[str, Any],
                  on_epoch_end: Callable[[EpochRecord], None] | None) -> tuple[Trainer, int, str]:
    """A trainer of the run at ``lr``, before its first epoch, from the run's seed (the same initialisation, data
    order and dropout stream for every lr); returns it, its feature-cache cut and why the cache is not used."""
    seed_everything(spec.seed)
    model, cut, reason = build()
    cached, test_inputs = cached_inputs(model, cut)
    return (Trainer(model, policy=policy(lr), cached=cached, test_inputs=test_inputs, on_epoch_end=on_epoch_end,
                    **trainer_args), cut, reason)


def _rank(trainer: Trainer) -> float:
    score = trainer.selection_score
    return score if math.isfinite(score) else -math.inf


def all_diverged(diverged: dict[float, str]) -> TrainingDivergedError:
    """The error of a run whose training diverged at every learning rate (lr -> why)."""
    return TrainingDivergedError("training diverged at every learning rate ("
                                 + "; ".join(f"lr {lr:g}: {why}" for lr, why in diverged.items()) + ")")


def cached_inputs_of(features: FeatureStore | None, data_images: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
                     train_index: torch.Tensor) -> Callable[[GroupedModel, int], tuple[CachedInputs | None,
                                                                                         torch.Tensor]]:
    """The cached inputs of a trial at ``cut`` (none at cut 0), and its test inputs (images, or their features)."""
    train_images, val_images, test_images = data_images

    def inputs(model: GroupedModel, cut: int) -> tuple[CachedInputs | None, torch.Tensor]:
        if not cut or features is None:
            return None, test_images
        cached = CachedInputs(cut, rows_of(features.get(model, cut, train_images), train_index),
                              features.get(model, cut, val_images))
        return cached, features.get(model, cut, test_images)

    return inputs

