"""A study's grid of runs: regime x depth x train_fraction x seed, and each run's id.

A run's id is a hash of everything that changes its result (data, model, starting
weights' sha256, training settings, regime, depth, fraction, seed) and of nothing that
does not (tunedepth version, git SHA, device, thread count, output path, data folder
location once the file's checksum is verified); those are recorded beside the results.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from tunedepth.config import StudyConfig
from tunedepth.errors import ConfigError
from tunedepth.tuning import Regime, check_depth, regime_label

__all__ = ["RunSpec", "expand_grid", "hashed_config", "resolve_depth", "run_id"]


@dataclass(frozen=True)
class RunSpec:
    """One run of the grid.

    Attributes:
        regime: "scratch" or "finetune".
        depth: trainable groups from the output; scratch runs have depth = n_groups.
        train_fraction: share of the training split, in (0, 1].
        seed: sets the training subset and the initialisation.
        label: user-facing label, "scratch" or e.g. "ft:conv3-fc8".
    """

    regime: Regime
    depth: int
    train_fraction: float
    seed: int
    label: str


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
    for fraction in sorted(train_fractions, reverse=True):
        for seed in seeds:
            if "scratch" in regimes:
                runs.append(RunSpec("scratch", n, fraction, seed, "scratch"))
            if "finetune" in regimes:
                for d in sorted(depth_list):
                    runs.append(RunSpec("finetune", d, fraction, seed, regime_label("finetune", d, group_names)))
    return runs


def run_id(config: StudyConfig, spec: RunSpec, *, weights_sha256: str | None) -> str:
    """A 12-hex-digit hash of everything that changes the run's result.

    Args:
        config: the resolved study configuration.
        spec: the run.
        weights_sha256: sha256 of the starting weights of a finetune run (None for scratch).
    """
    payload = hashed_config(config, spec, weights_sha256=weights_sha256)
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def hashed_config(config: StudyConfig, spec: RunSpec, *, weights_sha256: str | None) -> dict[str, Any]:
    """The part of the configuration that a run's result depends on (what ``run_id`` hashes)."""
    # The MedMNIST file is MD5-verified; a polyp folder's location is not hashed either (its content is the user's).
    data = config.data.model_dump(mode="json", exclude={"root", "mirror_url", "test_root"})
    training = config.training.model_dump(mode="json")
    model: dict[str, Any] = {"architecture": config.model.architecture}
    if spec.regime == "finetune":
        model |= {"weights": config.model.weights, "weights_sha256": weights_sha256}
    hashed: dict[str, Any] = {
        "task": config.task,
        "data": data,
        "model": model,
        "training": training,
        "run": {"regime": spec.regime, "depth": spec.depth, "train_fraction": spec.train_fraction, "seed": spec.seed},
    }
    if config.task == "detection":
        hashed["detection"] = config.detection_settings.model_dump(mode="json")
    if config.task == "segmentation":
        hashed["segmentation"] = config.segmentation_settings.model_dump(mode="json")
    return hashed
