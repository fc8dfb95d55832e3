"""A study's grid of runs: regime x (method x depth) x train_fraction x seed (each run's id:
:func:`tunedepth.results.run_id`)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from tunedepth.config import Regime
from tunedepth.errors import ConfigError
from tunedepth.results import RunSpec
from tunedepth.tuning import check_depth, regime_label
from tunedepth.tuning.methods import TuningMethod, default_surgical_depths

__all__ = ["expand_grid", "method_label", "resolve_depth"]


def method_label(method: TuningMethod, depth: int, group_names: tuple[str, ...]) -> str:
    """The display label of a fine-tuning run of ``method`` at ``depth``: the paper's "ft:<first>-<last>" for
    ``layerwise``; "<method>:<first>-<last>" for a method with a prefix depth axis (lp_ft), "<method>:<group>" for
    one group (surgical), the method's name alone for a method without a depth axis.

    Example:
        >>> from tunedepth.tuning.methods import make_method
        >>> names = ("conv1", "conv2", "conv3", "fc8")
        >>> [method_label(make_method(m), d, names) for m, d in [("layerwise", 2), ("surgical", 3), ("llrd", 4)]]
        ['ft:conv3-fc8', 'surgical:conv2', 'llrd']
    """
    if method.name == "layerwise":
        return regime_label("finetune", depth, group_names)
    if method.depth_axis == "none":
        return method.name
    if method.depth_axis == "single":
        return f"{method.name}:{group_names[-depth]}"
    return f"{method.name}:{regime_label('finetune', depth, group_names).removeprefix('ft:')}"


def _method_depths(method: TuningMethod, depth_list: tuple[int, ...], group_names: tuple[str, ...],
                   architecture: str) -> tuple[int, ...]:
    """The depths a method runs at: none (all groups) without a depth axis; its own ``depths`` setting when it has
    one ("default": surgical's early, middle, late); else the grid's, from the method's ``min_depth`` up."""
    n = len(group_names)
    if method.depth_axis == "none":
        return (n,)
    own = getattr(method.settings, "depths", None)
    if own is None or own == "grid":
        return tuple(d for d in depth_list if d >= method.min_depth)
    if own == "default":
        return default_surgical_depths(n)
    depths = tuple(resolve_depth(d, group_names, architecture=architecture) for d in own)
    if len(set(depths)) != len(depths) or min(depths) < 2:
        raise ConfigError(f"methods.{method.name}.depths {list(own)} must name distinct groups other "
                          f"than the head (depths in [2, {n}]) for {architecture!r}; groups (input to output): "
                          f"{', '.join(group_names)}.")
    return tuple(sorted(depths))


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
    methods: Sequence[TuningMethod] = (),
) -> list[RunSpec]:
    """All runs of a study, largest fraction first, then scratch, then depth 1, 2, ..., then the other methods in
    the order given.

    Args:
        regimes: regimes to run.
        depths: fine-tuning depths (ints, or group names meaning "tune from this group"), or
            "all" for 1..len(group_names); ignored by scratch.
        train_fractions: training-set shares in (0, 1].
        seeds: seeds.
        group_names: the architecture's groups, input to output.
        architecture: name used in error messages.
        methods: the fine-tuning methods (:func:`~tunedepth.tuning.methods.make_method`); empty = ``layerwise``
            alone. A ``layerwise`` run has no method in its spec (so today's run ids); another method's runs carry
            its name and parameters.

    Raises:
        ConfigError: if a depth is out of range or names no group, two entries are the same depth, or a surgical
            depth names the head or a group twice.

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
    chosen = tuple(methods)
    arms: list[tuple[TuningMethod | None, int]] = []
    if not chosen or any(m.name == "layerwise" for m in chosen):
        arms += [(None, d) for d in sorted(depth_list)]
    for other in chosen:
        if other.name != "layerwise":
            arms += [(other, d) for d in _method_depths(other, tuple(sorted(depth_list)), group_names, architecture)]
    runs: list[RunSpec] = []
    for train_fraction in sorted(train_fractions, reverse=True):
        for seed in seeds:
            if "scratch" in regimes:
                runs.append(RunSpec("scratch", n, train_fraction, seed, "scratch"))
            if "finetune" in regimes:
                for method, d in arms:
                    if method is None:
                        runs.append(RunSpec("finetune", d, train_fraction, seed,
                                            regime_label("finetune", d, group_names)))
                    else:
                        runs.append(RunSpec("finetune", d, train_fraction, seed, method_label(method, d, group_names),
                                            method=method.name, method_params=method.params()))
    return runs
