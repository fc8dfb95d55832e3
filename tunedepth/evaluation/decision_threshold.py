"""The decision threshold of an operating point: where a deployed model calls a case positive.

:func:`~tunedepth.evaluation.operating_points.sensitivity_at_fpr` reads the sensitivity at a target false-positive
rate off the empirical ROC curve; :func:`threshold_at_fpr` gives the threshold that achieves it, so that it can be
chosen on validation cases and applied to new ones (``tunedepth export``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tunedepth.evaluation._inputs import check_binary
from tunedepth.evaluation.operating_points import _check_targets, _point

__all__ = ["threshold_at_fpr"]


def threshold_at_fpr(labels: npt.ArrayLike, scores: npt.ArrayLike, *, fpr_target: float) -> float:
    """The decision threshold behind :func:`sensitivity_at_fpr` at one target false-positive rate: calling a case
    positive when its score is strictly above it gives a false-positive rate of at most ``fpr_target`` on these
    cases, with the largest sensitivity any such threshold gives (the (k + 1)-th highest negative score, k =
    floor(t x negatives)). Chosen on validation cases, it is the threshold a deployed model uses.

    Args:
        labels: binary labels of shape (n_cases,), 1 for positive and 0 for negative.
        scores: the positive class's score of shape (n_cases,).
        fpr_target: the target false-positive rate, in (0, 1).

    Returns:
        The threshold; NaN, with an :class:`~tunedepth.errors.UndefinedMetricWarning`, when the target is
        unreachable or one class is absent (see the module docstring).

    Raises:
        ValueError: as :func:`sensitivity_at_fpr`.

    Example:
        The 10% FPR point of :func:`sensitivity_at_fpr`'s example: above the second-highest negative.

        >>> labels = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        >>> scores = [.95, .8, .6, .3, .9, .7, .5, .4, .35, .2, .15, .1, .05, .01]
        >>> threshold_at_fpr(labels, scores, fpr_target=0.1)
        0.7
    """
    func = "threshold_at_fpr"
    targets = _check_targets((fpr_target,), func)
    y, s = check_binary(labels, scores, func)
    point = _point(y, s, targets, func)
    if point is None or not np.isfinite(point[0][0]):
        return float("nan")
    negatives = np.sort(s[~y])[::-1]
    return float(negatives[int(point[1][0])])
