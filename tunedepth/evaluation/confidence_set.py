"""A model confidence set: the models that the data cannot tell apart from the best, at a stated level.

Hansen, Lunde & Nason, "The Model Confidence Set", Econometrica 79(2):453-497, 2011. Given a loss per case for every
model (the same cases for all, e.g. each validation case's log-loss), the set starts with every model and repeats:
test "all models in the set have equal expected loss"; if rejected at level ``alpha``, eliminate the model that is
worst relative to the set's average, and test again; stop at the first test not rejected. The survivors contain the
best model (lowest expected loss) with probability at least ``1 - alpha`` asymptotically.

The test is HLN's ``T_max``: with ``d_i`` the mean over cases of model i's loss minus the mean loss of the set on
that case, ``t_i = d_i / se(d_i)``, ``T_max = max_i t_i``; ``se`` and the null distribution of ``T_max`` come from a
bootstrap over cases (the same resamples at every step).

With several training runs (seeds) of every model, ``losses`` has shape (n_seeds, n_cases, n_models), runs paired by
seed (same training subset) and all scored on the same cases; each bootstrap resample then draws the seeds and the
cases (independently, with replacement), so the set reflects both what a new test set and what new training runs
would change.

Notes:
    * Cases are treated as independent, so the bootstrap resamples single cases (HLN's block bootstrap is for time
      series); resample at the level of independent units (patients, videos) if cases are grouped.
    * A model whose deviation has zero bootstrap variance (it equals the set's average on every case) has ``t = 0``.
      A set of models with identical losses is never reduced.
    * The MCS p-value of a model is the largest test p-value up to its elimination (HLN, Definition 2); the last
      model standing gets 1. A model is in the ``alpha`` confidence set iff its MCS p-value >= ``alpha``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import norm

__all__ = ["ModelConfidenceSet", "PairedLossTest", "model_confidence_set", "paired_loss_test"]


@dataclass(frozen=True)
class ModelConfidenceSet:
    """What :func:`model_confidence_set` found.

    Attributes:
        members: indices (columns of ``losses``) of the models in the set, ascending.
        eliminated: indices of the eliminated models, in the order they left.
        p_values: each model's MCS p-value, of shape (n_models,).
        alpha: the level.
    """

    members: tuple[int, ...]
    eliminated: tuple[int, ...]
    p_values: np.ndarray
    alpha: float


def model_confidence_set(losses: npt.ArrayLike, *, alpha: float = 0.1, n_boot: int = 2000,
                         seed: int = 0) -> ModelConfidenceSet:
    """The set of models not significantly worse than the best (lower loss is better).

    Args:
        losses: per-case losses of shape (n_cases, n_models), the same cases in every column; or, with several
            seeds, (n_seeds, n_cases, n_models) (see the module docstring).
        alpha: the level, in (0, 1): the set contains the best model with probability about ``1 - alpha``.
        n_boot: bootstrap resamples of the cases, >= 100.
        seed: seed of the resampling.

    Returns:
        The set, the elimination order and every model's MCS p-value.

    Raises:
        ValueError: for a malformed ``losses``, non-finite losses, or a bad ``alpha`` or ``n_boot``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> base = rng.normal(size=300)
        >>> losses = np.c_[base, base + 0.01 * rng.normal(size=300), base + 1.0]  # model 2 is clearly worse
        >>> result = model_confidence_set(losses, alpha=0.1, n_boot=500)
        >>> result.members, result.eliminated
        ((0, 1), (2,))
    """
    x = _check_losses(losses, "model_confidence_set")
    alpha = _check_alpha(alpha, "model_confidence_set")
    boot_means = _bootstrap_means(x, n_boot, seed, "model_confidence_set")  # (n_boot, m): resampled mean losses
    means = x.mean(axis=(0, 1))
    m = x.shape[2]
    # Run the elimination to the last model: each model's MCS p-value is the largest test p-value up to its
    # elimination; the set at level alpha is the models whose MCS p-value is >= alpha (equivalently, those left
    # after the first test that does not reject).
    alive = list(range(m))
    order: list[int] = []
    p_values = np.ones(m)
    running = 0.0
    while len(alive) > 1:
        p, worst = _t_max_test(means[alive], boot_means[:, alive])
        running = max(running, p)
        leaving = alive.pop(worst)
        order.append(leaving)
        p_values[leaving] = running
    members = tuple(sorted(int(i) for i in np.flatnonzero(p_values >= alpha)))
    eliminated = tuple(i for i in order if p_values[i] < alpha)
    return ModelConfidenceSet(members, eliminated, p_values, float(alpha))


def _check_losses(losses: npt.ArrayLike, func: str) -> np.ndarray:
    """``losses`` as (n_seeds, n_cases, n_models) floats."""
    x = np.asarray(losses, dtype=float)
    if x.ndim not in (2, 3) or x.shape[-2] < 2 or x.shape[-1] < 1 or (x.ndim == 3 and x.shape[0] < 1):
        raise ValueError(f"The 'losses' parameter of {func} must have shape (n_cases >= 2, n_models >= 1) or "
                         f"(n_seeds, n_cases >= 2, n_models >= 1); got {x.shape}.")
    if not np.isfinite(x).all():
        raise ValueError(f"The 'losses' parameter of {func} must be finite; got "
                         f"{int(x.size - np.isfinite(x).sum())} NaN or infinite value(s).")
    return x if x.ndim == 3 else x[None]


def _check_alpha(alpha: float, func: str) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise ValueError(f"The 'alpha' parameter of {func} must be in (0, 1); got {alpha!r}.")
    return float(alpha)


def _bootstrap_means(x: np.ndarray, n_boot: int, seed: int, func: str) -> np.ndarray:
    """Mean loss per model under ``n_boot`` resamples of the seeds and the cases: shape (n_boot, n_models)."""
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 100:
        raise ValueError(f"The 'n_boot' parameter of {func} must be an int >= 100; got {n_boot!r}.")
    k, n, _ = x.shape
    rng = np.random.default_rng(seed)
    cases = rng.integers(0, n, size=(n_boot, n))
    # a resample's mean over its cases is (case counts / n) @ losses: one matrix product per seed
    weights = np.zeros((n_boot, n))
    np.add.at(weights, (np.repeat(np.arange(n_boot), n), cases.ravel()), 1.0 / n)
    per_seed = np.stack([weights @ x[s] for s in range(k)])  # (k, n_boot, m)
    if k == 1:
        return per_seed[0]
    seeds = rng.integers(0, k, size=(n_boot, k))
    return per_seed[seeds, np.arange(n_boot)[:, None]].mean(axis=1)


@dataclass(frozen=True)
class PairedLossTest:
    """Paired comparison of two models' mean per-case losses (lower is better).

    Attributes:
        mean_a: model a's mean loss.
        mean_b: model b's mean loss.
        difference: ``mean_a - mean_b`` (negative when a is better).
        low: lower bound of the difference's bootstrap percentile interval.
        high: upper bound.
        p_value: two-sided p-value of "equal expected loss" (normal approximation with the bootstrap SE); NaN when
            the difference does not vary.
        confidence: the interval's level.
    """

    mean_a: float
    mean_b: float
    difference: float
    low: float
    high: float
    p_value: float
    confidence: float


def paired_loss_test(losses_a: npt.ArrayLike, losses_b: npt.ArrayLike, *, confidence: float = 0.95,
                     n_boot: int = 2000, seed: int = 0) -> PairedLossTest:
    """Paired bootstrap comparison of two models' per-case losses, over the cases (and the seeds, when the losses
    have a seed axis: shape (n_seeds, n_cases)), the same resampling as :func:`model_confidence_set`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> a = rng.normal(size=400)
        >>> result = paired_loss_test(a, a + 0.5 + 0.1 * rng.normal(size=400))  # b is about 0.5 worse
        >>> round(result.difference, 1), result.p_value < 0.001
        (-0.5, True)
    """
    func = "paired_loss_test"
    a, b = np.asarray(losses_a, dtype=float), np.asarray(losses_b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"{func} compares two models on the same cases: 'losses_a' and 'losses_b' must have the "
                         f"same shape; got {a.shape} and {b.shape}.")
    if isinstance(confidence, bool) or not isinstance(confidence, int | float) or not 0 < confidence < 1:
        raise ValueError(f"The 'confidence' parameter of {func} must be in (0, 1); got {confidence!r}.")
    x = _check_losses(np.stack([a, b], axis=-1), func)
    boot = _bootstrap_means(x, n_boot, seed, func)
    mean_a, mean_b = (float(v) for v in x.mean(axis=(0, 1)))
    difference = mean_a - mean_b
    d_boot = boot[:, 0] - boot[:, 1]
    low, high = (float(v) for v in np.quantile(d_boot, [0.5 - confidence / 2, 0.5 + confidence / 2]))
    se = float(d_boot.std(ddof=1))
    p_value = float(2 * norm.sf(abs(difference) / se)) if se > 1e-12 * max(1.0, abs(mean_a)) else float("nan")
    return PairedLossTest(mean_a, mean_b, difference, low, high, p_value, float(confidence))


def _t_max_test(means: np.ndarray, boot_means: np.ndarray) -> tuple[float, int]:
    """HLN's T_max test of equal expected loss among the given models: its p-value and the index (among them) of
    the model with the largest t statistic."""
    d = means - means.mean()
    d_boot = boot_means - boot_means.mean(axis=1, keepdims=True)
    se = np.sqrt(np.mean((d_boot - d) ** 2, axis=0))
    # A deviation that is zero on every case varies only by rounding: it has no spread to test.
    spread = se > 1e-12 * max(1.0, float(np.abs(means).max()))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(spread, d / se, 0.0)
        t_boot = np.where(spread, (d_boot - d) / se, 0.0)
    t_max = t.max()
    p = float(np.mean(t_boot.max(axis=1) >= t_max))
    return p, int(np.argmax(t))
