"""``tunedepth export --refit``: the chosen configuration trained again on its training cases and the validation
cases together, for the epoch count its run chose on validation (the usual last step once a configuration is chosen).

A refit trains the run's network as the run did (starting weights, frozen groups, tuning method, learning rate kept
by the run's search, optimiser, schedule over the same epoch budget, seed), on the run's training rows followed by
every validation case, for exactly the run's ``best_epoch`` epochs, and keeps the last epoch's weights: nothing is
left to choose on. An epoch is a pass over the (larger) training set, or as many passes as ``epoch_images`` asks,
as in the study. The test cases are then scored by the refitted model; they never influence it.

Refused in one line: a run whose tuning method first probes its head on validation (LP-FT: the probe would have to
be refitted too), and a task whose runs train on fixed views (frame classification's training crops: its validation
frames are held as crops, not as frames to cut training crops from).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from tunedepth._seeding import seed_everything
from tunedepth.data import ImageSet
from tunedepth.errors import StudyFolderError
from tunedepth.study.prepare import PreparedStudy, resolve_device
from tunedepth.study.run_setup import run_method, run_rows, run_setup
from tunedepth.study.runner import weights_file_bytes
from tunedepth.training import StoppingRule, Trainer, predict_log_odds

__all__ = ["RefitResult", "refit_run"]


@dataclass(frozen=True)
class RefitResult:
    """A refitted run: its weights file (``weights.safetensors`` bytes), its per-case test log-odds, the epochs it
    trained, its training cases and the time it took."""

    weights: bytes
    test_log_odds: np.ndarray
    epochs: int
    n_train: int
    seconds: float


def refit_run(prepared: PreparedStudy, run_id: str, metrics: dict[str, Any]) -> RefitResult:
    """Refit run ``run_id`` of ``prepared`` (its ``metrics.json`` in ``metrics``) on training + validation cases.

    Raises:
        StudyFolderError: the run's method probes its head on validation first, or its task trains on fixed views.
    """
    started = time.perf_counter()
    index = prepared.run_ids.index(run_id)
    spec, data, task = prepared.runs[index], prepared.data, prepared.task_data
    if run_method(prepared, spec).probe:
        raise StudyFolderError(f"tunedepth export --refit cannot refit run {run_id} ({spec.label}): its method first "
                               "trains the head alone, chosen on the validation cases; export it without --refit.")
    if task.train_views(data, seed=spec.seed) is not None or prepared.config.training.augment_copies:
        raise StudyFolderError(f"tunedepth export --refit cannot refit run {run_id}: it trains on fixed views of its "
                               "training images (crops or augment_copies), which the validation cases do not have; "
                               "export it without --refit.")
    rows, _ = run_rows(prepared, spec)
    train = data.train.subset(rows)
    merged = ImageSet(torch.cat([train.images, data.val.images]), torch.cat([train.labels, data.val.labels]),
                      None if train.patient_ids is None or data.val.patient_ids is None
                      else (*train.patient_ids, *data.val.patient_ids))
    refit = dataclasses.replace(prepared, data=dataclasses.replace(data, train=merged))
    everything = dataclasses.replace(spec, train_fraction=1.0)  # every row of the merged split
    device = resolve_device(prepared.config.execution.device)
    setup = run_setup(refit, everything, device=device, features=None)
    seed_everything(spec.seed)  # the run's initialisation (the new head) and dropout stream, as the run had them
    model, _, _ = setup.build()
    tc, epochs = prepared.config.training, int(metrics["best_epoch"])
    # The run's epoch budget (its schedule's length) and no stopping before `epochs`: patience cannot run out.
    stopping = StoppingRule(max(tc.max_epochs, epochs), epochs + 1, tc.min_iterations)
    args = {**setup.trainer_args, "stopping": stopping}
    trainer = Trainer(model, policy=setup.policy(float(metrics["lr"])), **args)
    trainer.run(until_epoch=epochs)
    model.eval()
    test = task.case_log_odds(predict_log_odds(model, data.test.images, batch_size=256, device=device))
    return RefitResult(weights_file_bytes(model, run_id, data.n_classes), np.asarray(test, dtype=np.float64),
                       trainer.epochs_run, len(merged), time.perf_counter() - started)
