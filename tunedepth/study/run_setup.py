"""What one run trains: its network frozen to its depth, its training rows and inputs, its learning-rate policy and
the rest of its :class:`~tunedepth.training.Trainer`'s arguments.

:func:`run_setup` gathers them once per run (or per probe), so that every way of choosing the run's learning rate
trains the same thing: the in-process sweep or successive halving (:mod:`tunedepth.study.lr_search`, called from
:mod:`tunedepth.study.runner`) and ASHA's trials on Ray Tune (:mod:`tunedepth.study.asha`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from tunedepth.data import augmented_views
from tunedepth.models import GroupedModel, build_model, get_architecture
from tunedepth.results import RunSpec
from tunedepth.study.lr_search import ModelFactory, cached_inputs_of
from tunedepth.study.prepare import PreparedStudy
from tunedepth.training import CachedInputs, EpochRecord, FeatureStore, StoppingRule, run_cut
from tunedepth.tuning import LrPolicy
from tunedepth.tuning.methods import TuningMethod, make_method

__all__ = ["RunSetup", "build_frozen_model", "run_method", "run_rows", "run_setup"]


def build_frozen_model(prepared: PreparedStudy, spec: RunSpec) -> GroupedModel:
    """The run's network at its starting weights (random for scratch), frozen to its depth by its tuning method."""
    config, tc = prepared.config, prepared.config.training
    finetune_from_file = spec.regime == "finetune" and config.model.weights == "checkpoint"
    model = build_model(
        config.model.architecture, num_classes=prepared.data.n_classes,
        weights="none" if spec.regime == "scratch" else config.model.weights,
        checkpoint_path=config.model.checkpoint if finetune_from_file else None,
        # the digest hashed into the run ids: a checkpoint changed during the study is refused, not trained from
        checkpoint_sha256=prepared.weights.sha256 if finetune_from_file and prepared.weights else None,
        head_init=tc.head_init,
    )
    run_method(prepared, spec).freeze(model, spec.depth, bn_policy=tc.bn_policy)
    return model


def run_method(prepared: PreparedStudy, spec: RunSpec) -> TuningMethod:
    """The run's tuning method (the paper's layer-wise scheme for scratch and for runs without one)."""
    return make_method(spec.method or "layerwise", prepared.config.methods)


def run_rows(prepared: PreparedStudy, spec: RunSpec) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The rows of the training split the run trains on (its fraction, drawn from its seed) and its per-class loss
    weights (None when the study does not weight classes)."""
    rows = prepared.task_data.train_rows(prepared.data, train_fraction=spec.train_fraction, seed=spec.seed)
    return torch.from_numpy(rows), prepared.task_data.class_weights(prepared.data, rows)


def _cut(prepared: PreparedStudy, model: GroupedModel, spec: RunSpec, features: FeatureStore | None) -> tuple[int, str]:
    """How many leading groups this run takes from the feature cache (0 = none), and why not when 0."""
    execution = prepared.config.execution
    if features is None:
        return 0, "feature_cache = false" if not execution.feature_cache else "no feature store"
    return run_cut(model, features, regime=spec.regime, augment=prepared.config.training.augment,
                   max_gb=execution.feature_cache_max_gb)


def _train_views(prepared: PreparedStudy, spec: RunSpec, train_index: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """The run's training inputs when they are fixed views of the training images: the task's views (e.g. training
    crops, :meth:`~tunedepth.study.tasks.TaskData.train_views`) or the images, then, with ``augment_copies`` = k, k
    fixed augmented views of each of those drawn from the run's seed. Returns every view of the split (view-major),
    the rows of the run's images in it (view-major too) and the run's training inputs; without views: the split's
    images, the run's rows and None. The views of one seed are the same for every depth and fraction (a fraction's
    views are the views of its images), so the feature cache serves them like the images."""
    images, copies = prepared.data.train.images, prepared.config.training.augment_copies
    task_views = prepared.task_data.train_views(prepared.data, seed=spec.seed)
    if task_views is None and not copies:
        return images, train_index, None
    n_images = images.shape[0]
    everything = images if task_views is None else task_views
    if copies:
        fill = tuple(255.0 * m for m in get_architecture(prepared.config.model.architecture).mean)
        everything = torch.cat([everything, augmented_views(everything, views=copies, seed=spec.seed,
                                                            fill=(fill[0], fill[1], fill[2]))])
    rows = torch.cat([train_index + v * n_images for v in range(everything.shape[0] // n_images)])
    # The run's views: the tensor itself when the run has every image in order (no copy of the largest tensor of the
    # run, which the feature cache would not even read); otherwise its rows.
    every_row = rows.numel() == everything.shape[0] and bool(torch.equal(rows, torch.arange(rows.numel())))
    return everything, rows, everything if every_row else everything[rows]


@dataclass(frozen=True)
class RunSetup:
    """What every learning rate of a run trains (the arguments of :func:`~tunedepth.study.lr_search.search_lr`).

    Attributes:
        build: the run's model factory (its model at its starting weights, frozen, with its feature-cache cut).
        cached_inputs: ``(model, cut) -> (cached training and validation inputs or None, test inputs)``.
        policy: the learning-rate policy at a base lr.
        trainer_args: the other keyword arguments of :class:`~tunedepth.training.Trainer`.
        on_epoch_end: progress callback, or None.
    """

    build: ModelFactory
    cached_inputs: Callable[[GroupedModel, int], tuple[CachedInputs | None, torch.Tensor]]
    policy: Callable[[float], LrPolicy]
    trainer_args: dict[str, Any]
    on_epoch_end: Callable[[EpochRecord], None] | None


def run_setup(prepared: PreparedStudy, spec: RunSpec, *, device: torch.device, features: FeatureStore | None,
              head: dict[str, torch.Tensor] | None = None,
              on_epoch_end: Callable[[EpochRecord], None] | None = None) -> RunSetup:
    """The run's :class:`RunSetup`; ``head``: the head's starting weights (a probed head), names relative to the
    network."""
    tc, data, task = prepared.config.training, prepared.data, prepared.task_data
    train_index, class_weights = run_rows(prepared, spec)

    def build() -> tuple[GroupedModel, int, str]:
        model = build_frozen_model(prepared, spec)
        if head is not None:
            with torch.no_grad():
                for name, param in model.group_parameters(model.head):
                    param.copy_(head[name])
        cut, reason = _cut(prepared, model, spec, features)
        return model, cut, reason

    def policy(lr: float) -> LrPolicy:
        return LrPolicy(optimizer=tc.optimizer, lr=lr, head_lr_mult=tc.head_lr_mult, bias_lr_mult=tc.bias_lr_mult,
                        momentum=tc.momentum, weight_decay=tc.weight_decay, lr_decay_per_epoch=tc.lr_decay_per_epoch,
                        schedule=tc.schedule, warmup_epochs=tc.warmup_epochs)

    train_images, run_rows_, train_views = _train_views(prepared, spec, train_index)
    trainer_args = {
        "train": data.train.subset(train_index), "train_views": train_views, "val": data.val, "regime": spec.regime,
        "stopping": StoppingRule(tc.max_epochs, tc.patience, tc.min_iterations), "batch_size": tc.batch_size,
        "seed": spec.seed, "device": device, "val_score": task.val_score(data), "augment": tc.augment,
        "class_weights": class_weights, "label_smoothing": tc.label_smoothing, "epoch_metric": tc.epoch_metric,
        "to_cases": task.case_log_odds, "epoch_images": tc.epoch_images, "method": run_method(prepared, spec),
    }
    inputs = cached_inputs_of(features, (train_images, data.val.images, data.test.images), run_rows_)
    return RunSetup(build, inputs, policy, trainer_args, on_epoch_end)
