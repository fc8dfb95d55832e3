"""A model confidence set: the models that the data cannot tell apart from the best, at a stated level.

Hansen, Lunde & Nason, "The Model Confidence Set", Econometrica 79(2):453-497, 2011. Given a loss per case for every
model (the same cases for all, e.g. each validation case's log-loss), the set starts with every model and repeats:
test "all models in the set have equal expected loss"; if rejected at level ``alpha``, eliminate the model that is
worst relative to the set's average, and test again; stop at the first test not rejected. The survivors contain the
best model (lowest expected loss) with probability at least ``1 - alpha`` asymptotically.

The test is HLN's ``T_max``: with ``d_i`` the mean over cases of model i's loss minus the mean loss of the set on
that case, ``t_i = d_i / se(d_i)``, ``T_max = max_i t_i``; ``se`` and the null distribution of ``T_max`` come from a
bootstrap over cases (the same resamples at every step).

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

__all__ = ["ModelConfidenceSet", "model_confidence_set"]


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
        losses: per-case losses of shape (n_cases, n_models); the same cases in every column.
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
    x = np.asarray(losses, dtype=float)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
        raise ValueError(f"The 'losses' parameter of model_confidence_set must have shape (n_cases >= 2, n_models >= "
                         f"1); got {x.shape}.")
    if not np.isfinite(x).all():
        raise ValueError("The 'losses' parameter of model_confidence_set must be finite; got "
                         f"{int(x.size - np.isfinite(x).sum())} NaN or infinite value(s).")
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise ValueError(f"The 'alpha' parameter of model_confidence_set must be in (0, 1); got {alpha!r}.")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 100:
        raise ValueError(f"The 'n_boot' parameter of model_confidence_set must be an int >= 100; got {n_boot!r}.")
    n, m = x.shape
    resamples = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    boot_means = np.stack([x[idx].mean(axis=0) for idx in resamples])  # (n_boot, m): resampled mean losses
    means = x.mean(axis=0)
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
