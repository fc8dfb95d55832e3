"""What the choice of depth looks at: every fine-tuning depth's per-case validation losses at one training fraction,
optionally cross-fitted, and the set of depths the validation cases cannot tell apart from the best.

A depth is chosen on validation cases that already chose each run's epoch (and learning rate): its validation
AUC is the maximum over epochs of a noisy curve, so the depth whose curve happened to peak highest wins (winner's
curse), and with a few hundred cases the AUC of every good depth saturates near 1. Three remedies, each a setting
of the study file's ``[analysis]`` table:

* ``depth_metric``: what the depths are compared on, per validation case: ``"auc"`` (the AUC split into one term
  per case, :func:`~tunedepth.evaluation.roc_auc_case_losses`; mean = 1 - AUC), ``"log_loss"`` or ``"brier"``
  (:func:`~tunedepth.evaluation.case_losses`), which keep discriminating after the ranking saturates. The same
  vocabulary as the training side's ``epoch_metric`` ("auc" or "loss").
* ``cross_fit``: with the per-epoch predictions every run keeps, the validation cases are split in two halves
  (stratified by label, seeded by ``bootstrap_seed``); each run's epoch and learning rate are re-chosen on one half
  by the run's own criterion (``[training] epoch_metric``), and the depth is compared on the other half with the
  predictions of that epoch; then the halves swap. So the cases that choose an epoch never choose the depth.
  Studies written before runs kept per-epoch predictions cannot be cross-fitted: the evidence says so in its
  notes and uses each run's own validation predictions.
* Several seeds: a depth's per-case losses are kept per seed (runs paired by seed), and the set and the tests
  resample seeds as well as cases.

The **confidence set** (:func:`~tunedepth.evaluation.model_confidence_set`, Hansen, Lunde & Nason 2011) holds the
depths not significantly worse than the best at level ``alpha``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tunedepth.evaluation import case_losses, model_confidence_set, roc_auc_case_losses
from tunedepth.results import Arm, FinishedRun, FinishedStudy

__all__ = ["DEPTH_METRICS", "ValidationEvidence", "confidence_set", "validation_evidence"]

DEPTH_METRICS = ("auc", "log_loss", "brier")
"""What depths are compared on (see the module docstring)."""


@dataclass(frozen=True)
class ValidationEvidence:
    """Per-case validation losses of the fine-tuning depths at one training fraction.

    Attributes:
        train_fraction: the fraction.
        arms: the depths compared, shallowest first (those with a usable run for every seed in ``seeds``).
        labels: their display labels.
        losses: shape (n_seeds, n_cases, n_arms), lower is better; the mean over seeds and cases is the metric's
            loss (1 - AUC for "auc").
        seeds: the seeds used (shared by every arm).
        metric: "auc", "log_loss" or "brier".
        cross_fitted: whether epoch choice and depth choice used disjoint validation cases.
        notes: what was left out or could not be done, empty when nothing.
    """

    train_fraction: float
    arms: tuple[Arm, ...]
    labels: tuple[str, ...]
    losses: np.ndarray
    seeds: tuple[int, ...]
    metric: str
    cross_fitted: bool
    notes: tuple[str, ...]

    def score(self, arm: Arm) -> float:
        """The arm's validation score, higher is better: its AUC (mean of the case terms) for "auc", minus its mean
        loss otherwise."""
        loss = float(self.losses[:, :, self.arms.index(arm)].mean())
        return 1.0 - loss if self.metric == "auc" else -loss

    @property
    def best(self) -> Arm | None:
        """The arm of highest score (the shallowest among ties); None without arms."""
        if not self.arms:
            return None
        means = self.losses.mean(axis=(0, 1))
        return self.arms[int(np.argmin(means))]


def _terms(labels: np.ndarray, log_odds: np.ndarray, metric: str) -> np.ndarray:
    if metric == "auc":
        return roc_auc_case_losses(labels, log_odds)
    return case_losses(labels, log_odds, metric=metric)


def _halves(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two halves of the cases, stratified by label, as sorted index arrays."""
    rng = np.random.default_rng(seed)
    first = np.zeros(labels.size, dtype=bool)
    for label in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == label))
        first[idx[: (idx.size + 1) // 2]] = True
    return np.flatnonzero(first), np.flatnonzero(~first)


def _epoch_criterion(labels: np.ndarray, log_odds: np.ndarray, epoch_metric: str) -> float:
    """Higher is better: the AUC, or minus the mean log-loss (the training side's ``epoch_metric``)."""
    if epoch_metric == "loss":
        return -float(np.mean(case_losses(labels, log_odds, metric="log_loss")))
    auc = 1.0 - float(np.mean(roc_auc_case_losses(labels, log_odds)))  # the AUC, from ranks (fast)
    return -math.inf if math.isnan(auc) else auc


def _cross_fitted_terms(study: FinishedStudy, run: FinishedRun, halves: tuple[np.ndarray, np.ndarray],
                        metric: str, epoch_metric: str) -> np.ndarray | None:
    """The run's per-case terms with every case scored by the epoch (and lr) chosen on the other half; None when
    the run kept no per-epoch predictions."""
    per_lr = study.run_epoch_log_odds(run.run_id, "val")
    if not per_lr:
        return None
    labels = study.val_labels
    out = np.empty(labels.size)
    for choose, apply in (halves, halves[::-1]):
        # the (lr, epoch) of best criterion on this half; the first one on ties, as training keeps it
        candidates = [(lr, e) for lr, epochs in per_lr.items() for e in range(epochs.shape[0])]
        values = [_epoch_criterion(labels[choose], per_lr[lr][e, choose], epoch_metric) for lr, e in candidates]
        lr, epoch = candidates[int(np.argmax(values))]
        # AUC terms are computed within the half (one model's ranking: their mean is the half's 1 - AUC)
        out[apply] = _terms(labels[apply], per_lr[lr][epoch, apply], metric)
    return out


CROSS_FIT_MIN_SEEDS = 3
"""``cross_fit = "auto"`` cross-fits a training fraction with at least this many seeds (docs/recommendation.md)."""


def resolve_cross_fit(cross_fit: bool | str, study: FinishedStudy, train_fraction: float) -> bool:
    """Whether to cross-fit at ``train_fraction``: ``cross_fit`` itself, or for ``"auto"`` whether the fraction
    has at least :data:`CROSS_FIT_MIN_SEEDS` seeds."""
    if cross_fit == "auto":
        return len(study.seeds_at(train_fraction)) >= CROSS_FIT_MIN_SEEDS
    return bool(cross_fit)


def validation_evidence(study: FinishedStudy, train_fraction: float, *, metric: str = "auc",
                        cross_fit: bool = False, split_seed: int = 0,
                        arms: Sequence[Arm] | None = None) -> ValidationEvidence:
    """The fine-tuning depths' per-case validation losses at ``train_fraction`` (see the module docstring).

    Args:
        study: the finished study.
        train_fraction: a fraction with finished runs.
        metric: one of :data:`DEPTH_METRICS`.
        cross_fit: re-choose each run's epoch on one half of the validation cases and score the other half.
        split_seed: seed of the halves.
        arms: the arms to compare, in order (e.g. the chosen depth and the other tuning methods); default: the
            layer-wise depths (:meth:`~tunedepth.results.FinishedStudy.depth_arms_at`).

    Returns:
        The evidence; its ``notes`` say which depths or seeds were left out and whether cross-fitting was possible.
    """
    notes: list[str] = []
    depths = list(study.depth_arms_at(train_fraction) if arms is None else arms)
    runs = {arm: {s: r for s, r in study.runs_of(arm, train_fraction=train_fraction).items()
                  if np.isfinite(r.val_scores).all()} for arm in depths}
    usable = [arm for arm in depths if runs[arm]]
    if skipped := [study.label_of(arm) for arm in depths if arm not in usable]:
        notes.append(f"skipped {skipped}: no run with finite validation predictions")
    seeds = sorted(set.intersection(*(set(runs[arm]) for arm in usable))) if usable else []
    every = sorted(set().union(*(set(runs[arm]) for arm in usable))) if usable else []
    if left := [s for s in every if s not in seeds]:
        notes.append(f"seeds {left} were not run (or not usable) for every depth and are left out of the choice")
    if not seeds:
        usable = []
    labels = study.val_labels
    losses = np.empty((len(seeds), labels.size, len(usable)))
    fitted = False
    if cross_fit and usable:
        epoch_metric = str((study.study_config().get("training") or {}).get("epoch_metric") or "auc")
        halves = _halves(labels, split_seed)
        fitted = True
        for j, arm in enumerate(usable):
            for i, seed in enumerate(seeds):
                terms = _cross_fitted_terms(study, runs[arm][seed], halves, metric, epoch_metric)
                if terms is None:
                    fitted = False
                    notes.append("cross-fitting needs the per-epoch predictions that runs keep since tunedepth "
                                 f"stores them; run {runs[arm][seed].run_id} has none, so the depths were compared "
                                 "on each run's own validation predictions")
                    break
                losses[i, :, j] = terms
            if not fitted:
                break
    if not fitted:
        for j, arm in enumerate(usable):
            for i, seed in enumerate(seeds):
                losses[i, :, j] = _terms(labels, runs[arm][seed].log_odds("val"), metric)
    if usable and not np.isfinite(losses).all():
        notes.append(f"the validation {metric} is undefined (a class is missing from a validation half or split)")
    return ValidationEvidence(train_fraction, tuple(usable), tuple(study.label_of(a) for a in usable), losses,
                              tuple(seeds), metric, fitted, tuple(notes))


def confidence_set(evidence: ValidationEvidence, *, alpha: float, n_boot: int = 2000,
                   seed: int = 0) -> tuple[Arm, ...]:
    """The depths not significantly worse than the best on validation at level ``alpha`` (shallowest first): the
    model confidence set of :func:`~tunedepth.evaluation.model_confidence_set` on ``evidence.losses``. Empty when
    there is no depth or the losses are undefined."""
    if not evidence.arms or not np.isfinite(evidence.losses).all():
        return ()
    if len(evidence.arms) == 1:
        return evidence.arms
    result = model_confidence_set(evidence.losses, alpha=alpha, n_boot=n_boot, seed=seed)
    return tuple(evidence.arms[i] for i in result.members)
