"""A study's grid of runs: regime x depth x train_fraction x seed (each run's id: :func:`tunedepth.results.run_id`)."""

from __future__ import annotations

import difflib

from tunedepth.config import Regime
from tunedepth.errors import ConfigError
from tunedepth.results import RunSpec
from tunedepth.tuning import check_depth, regime_label

__all__ = ["expand_grid", "resolve_depth"]


def resolve_depth(entry: int | str, group_names: tuple[str, ...], *, architecture: str) -> int:
    """A depth given as an int, or as the first tuned group's name, as an int depth.

    Raises:
        ConfigError: for an out-of-range depth or an unknown group name (with a guess).

    Example:
        >>> resolve_depth("conv3", ("conv1", "conv2", "conv3", "fc8"), architecture="toy")
        2
    """
    if isinstance(entry, str):
        if entry not in group_names:
            guess = difflib.get_close_matches(entry, group_names, n=1)
            hint = f" Did you mean {guess[0]!r}?" if guess else ""
            raise ConfigError(
                f"Unknown group {entry!r} in grid.depths for {architecture!r}.{hint} "
                f"Groups (input to output): {', '.join(group_names)}."
            )
        return len(group_names) - group_names.index(entry)
    check_depth(entry, group_names, architecture=architecture)
    return entry


def expand_grid(
    *,
    regimes: tuple[Regime, ...],
    depths: tuple[int | str, ...] | str,
    train_fractions: tuple[float, ...],
    seeds: tuple[int, ...],
    group_names: tuple[str, ...],
    architecture: str,
) -> list[RunSpec]:
    """All runs of a study, largest fraction first, then scratch, then depth 1, 2, ...

    Args:
        regimes: regimes to run.
        depths: fine-tuning depths (ints, or group names meaning "tune from this group"), or
            "all" for 1..len(group_names); ignored by scratch.
        train_fractions: training-set shares in (0, 1].
        seeds: seeds.
        group_names: the architecture's groups, input to output.
        architecture: name used in error messages.

    Raises:
        ConfigError: if a depth is out of range or names no group, or two entries are the same depth.

    Example:
        >>> runs = expand_grid(regimes=("scratch", "finetune"), depths="all", train_fractions=(1.0,),
        ...                    seeds=(0,), group_names=("a", "b", "fc"), architecture="toy")
        >>> [r.label for r in runs]
        ['scratch', 'ft:fc', 'ft:b-fc', 'ft:a-fc']
    """
    n = len(group_names)
    if depths == "all":
        depth_list: tuple[int, ...] = tuple(range(1, n + 1))
    else:
        depth_list = tuple(resolve_depth(d, group_names, architecture=architecture) for d in depths)
        if len(set(depth_list)) != len(depth_list):
            raise ConfigError(f"grid.depths {list(depths)} name the same depth twice for {architecture!r}; "
                              "list each depth once.")
    runs: list[RunSpec] = []
    for train_fraction in sorted(train_fractions, reverse=True):
        for seed in seeds:
            if "scratch" in regimes:
                runs.append(RunSpec("scratch", n, train_fraction, seed, "scratch"))
            if "finetune" in regimes:
                for d in sorted(depth_list):
                    runs.append(RunSpec("finetune", d, train_fraction, seed, regime_label("finetune", d, group_names)))
    return runs
