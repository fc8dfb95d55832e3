"""Training fractions over groups (videos, sequences, images) rather than over patches."""

from __future__ import annotations

import numpy as np

from tunedepth.data import train_subset_indices

__all__ = ["group_subset_rows"]


def group_subset_rows(row_groups: np.ndarray, train_fraction: float, *, seed: int) -> np.ndarray:
    """Rows whose group is in a nested, seeded ``train_fraction`` of the groups (sorted, as int64).

    The groups are sorted and subset with :func:`~tunedepth.data.train_subset_indices` (one class), so for one seed
    the 25% groups are inside the 50% groups, and every row of a chosen group is kept: fewer data means fewer
    videos, sequences or images, never a thinner sample of each.

    Example:
        >>> groups = np.array(["a", "a", "b", "c", "c", "d"])
        >>> rows = group_subset_rows(groups, 0.5, seed=0)
        >>> sorted({str(g) for g in groups[rows]})  # 2 of the 4 groups, with all their rows
        ['a', 'c']
        >>> rows.tolist()
        [0, 1, 3, 4]
    """
    unique = np.unique(row_groups)
    chosen = unique[train_subset_indices(np.zeros(unique.size, dtype=np.int64), train_fraction, seed=seed)]
    return np.flatnonzero(np.isin(row_groups, chosen)).astype(np.int64)
