"""A run's identity: :class:`RunSpec` (which run of the grid) and its id, a hash of what changes its result.

A run's id hashes everything that changes its result (data, model, starting weights' sha256, training settings,
the task's own settings, regime, depth, train_fraction, seed) and nothing that does not (tunedepth version, git
SHA, device, thread count, output path, data folder location once the file's checksum is verified); those are
recorded beside the results.

**Run ids stay stable as the schema grows.** Run ids are users' data: a change of ids re-runs every existing study.
So a setting added after ids were first published is declared with :func:`~tunedepth.config.added_field`, whose
default reproduces the behaviour from before it existed; left at that default it stays out of the hash, so a study
folder written by an earlier version resumes with no run executed. Likewise a later tuning method enters the hash
only when a run has one (:attr:`RunSpec.method`). ``tests/golden/run_ids.json`` pins the ids of every example study
and ``tests/results/test_identity.py`` the rule.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from tunedepth.config import TASK_CONFIGS, Regime, StudyConfig, is_run_id_neutral

__all__ = ["Arm", "RunSpec", "hashed_config", "hashed_fields", "run_id"]

MethodParam = tuple[str, float | int | str | bool]


@dataclass(frozen=True)
class Arm:
    """What a run trains, apart from its share of the data and its seed: scratch, or fine-tuning at a depth.

    The analysis keys runs by ``(train_fraction, arm)``; labels ("ft:conv3-fc8") are for display only.

    Attributes:
        regime: "scratch" or "finetune".
        depth: trainable groups from the output (scratch: all groups).
        method: the tuning method, None for the paper's layer-wise fine-tuning (and for scratch).

    Example:
        >>> sorted([Arm("finetune", 2), Arm("scratch", 4), Arm("finetune", 1)], key=Arm.sort_key)[0]
        Arm(regime='scratch', depth=4, method=None)
    """

    regime: Regime
    depth: int
    method: str | None = None

    @property
    def is_scratch(self) -> bool:
        return self.regime == "scratch"

    def sort_key(self) -> tuple[bool, int, str]:
        """Scratch first, then by depth (then method)."""
        return (not self.is_scratch, self.depth, self.method or "")


@dataclass(frozen=True)
class RunSpec:
    """One run of the grid.

    Attributes:
        regime: "scratch" or "finetune".
        depth: trainable groups from the output; scratch runs have depth = n_groups.
        train_fraction: share of the training split, in (0, 1].
        seed: sets the training subset and the initialisation.
        label: user-facing label, "scratch" or e.g. "ft:conv3-fc8" (display only; never a key).
        method: a tuning method beyond plain layer-wise fine-tuning, by its registered name; None for the paper's
            (every run today).
        method_params: the method's parameters, as sorted (name, value) pairs.
    """

    regime: Regime
    depth: int
    train_fraction: float
    seed: int
    label: str
    method: str | None = None
    method_params: tuple[MethodParam, ...] = ()

    @property
    def arm(self) -> Arm:
        """What the run trains (see :class:`Arm`)."""
        return Arm(self.regime, self.depth, self.method)

    def to_json(self) -> dict[str, Any]:
        """The run as written to its ``config.json`` (the method only when it has one)."""
        out: dict[str, Any] = {"regime": self.regime, "depth": self.depth, "train_fraction": self.train_fraction,
                               "seed": self.seed, "label": self.label}
        if self.method is not None:
            out |= {"method": self.method, "method_params": dict(self.method_params)}
        return out


def hashed_fields(model: BaseModel, *, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A table's fields as hashed into run ids: every field but ``exclude`` and the fields declared with
    :func:`~tunedepth.config.added_field` that are at their default.

    Example:
        >>> from tunedepth.config import Frozen, added_field
        >>> class T(Frozen):
        ...     lr: float = 0.1
        ...     new: bool = added_field(False, description="a later option")
        >>> hashed_fields(T()), hashed_fields(T(new=True))
        ({'lr': 0.1}, {'lr': 0.1, 'new': True})
    """
    dumped = model.model_dump(mode="json", exclude=set(exclude))
    for name, info in type(model).model_fields.items():
        if name in dumped and is_run_id_neutral(info) and getattr(model, name) == info.default:
            del dumped[name]
    return dumped


def hashed_config(config: StudyConfig, spec: RunSpec, *, weights_sha256: str | None) -> dict[str, Any]:
    """The part of the configuration that a run's result depends on (what :func:`run_id` hashes)."""
    # The MedMNIST file is MD5-verified; a polyp folder's location is not hashed either (its content is the user's).
    data = hashed_fields(config.data, exclude=frozenset({"root", "mirror_url", "test_root"}))
    model: dict[str, Any] = {"architecture": config.model.architecture}
    if spec.regime == "finetune":
        model |= {"weights": config.model.weights, "weights_sha256": weights_sha256}
    run: dict[str, Any] = {"regime": spec.regime, "depth": spec.depth, "train_fraction": spec.train_fraction,
                           "seed": spec.seed}
    if spec.method is not None:
        run |= {"method": spec.method, "method_params": dict(spec.method_params)}
    hashed: dict[str, Any] = {
        "task": config.task,
        "data": data,
        "model": model,
        "training": hashed_fields(config.training),
        "run": run,
    }
    table = TASK_CONFIGS.get(config.task).table
    if table is not None and config.task_settings is not None:
        hashed[table] = hashed_fields(config.task_settings)
    return hashed


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
