"""Everything a study checks before it creates any output: data, grid, weights, output folder.

Bad input is refused here, with one line, before a single run folder exists.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from tunedepth.config import StudyConfig
from tunedepth.data import DatasetSplits, check_no_leakage
from tunedepth.errors import ConfigError, DataError
from tunedepth.models import ResolvedWeights, build_model, get_architecture, resolve_weights
from tunedepth.results import RunSpec, run_id
from tunedepth.study.grid import expand_grid
from tunedepth.study.tasks import STUDY_TASKS, TaskData
from tunedepth.tuning.methods import TuningMethod, make_method

logger = logging.getLogger(__name__)

__all__ = ["PreparedStudy", "prepare_study", "resolve_device", "study_methods"]


@dataclass(frozen=True)
class PreparedStudy:
    """A validated study, ready to run.

    Attributes:
        config: the study configuration.
        data: the image splits the network trains on and scores (whole images, or a task's patches).
        runs: the grid's runs, in order.
        run_ids: each run's id.
        weights: the fine-tuning regime's starting weights; None without fine-tuning runs.
        group_names: the architecture's layer groups, input to output.
        task_data: what the task's runs need beyond ``data`` (:class:`~tunedepth.study.tasks.TaskData`).
    """

    config: StudyConfig
    data: DatasetSplits
    runs: tuple[RunSpec, ...]
    run_ids: tuple[str, ...]
    weights: ResolvedWeights | None
    group_names: tuple[str, ...]
    task_data: TaskData


def _check_classes(data: DatasetSplits) -> None:
    for split in ("train", "val", "test"):
        labels = getattr(data, split).labels
        present = set(torch.unique(labels).tolist())
        missing = [data.class_names[k] for k in range(data.n_classes) if k not in present]
        if missing:
            raise DataError(
                f"Data set {data.name!r}: class(es) {missing} have no case in the {split} split; every class "
                f"must appear in train, val and test for AUC to be defined. Fix the split or the labels."
            )


def _check_output(out_dir: Path) -> None:
    probe = out_dir
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"Output folder {str(out_dir)!r} cannot be created or written (checked {str(probe)!r}); "
                          "choose another --out.")


def resolve_device(device: str) -> torch.device:
    """'auto' -> CUDA when present, else CPU; 'cuda' without CUDA is refused."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("execution.device = 'cuda' but no CUDA device is available; use 'auto' or 'cpu'.")
    return torch.device(device)


def study_methods(config: StudyConfig) -> tuple[TuningMethod, ...]:
    """The study's fine-tuning methods with their ``[methods]`` settings; empty for the paper's layer-wise scheme
    alone (``grid.methods`` at its default).

    Raises:
        ConfigError: methods other than ``layerwise`` without the ``finetune`` regime to run them.
    """
    names = config.grid.methods
    if names == ("layerwise",):
        return ()
    if "finetune" not in config.grid.regimes:
        raise ConfigError(f"grid.methods {list(names)} are ways of fine-tuning, but grid.regimes "
                          f"{list(config.grid.regimes)} has no 'finetune'; add it to grid.regimes.")
    return tuple(make_method(name, config.methods) for name in names)


def prepare_study(config: StudyConfig, out_dir: Path) -> PreparedStudy:
    """Validate a study completely, without writing anything.

    Args:
        config: the study configuration.
        out_dir: where results will go (checked for writability).

    Raises:
        TunedepthError: for any bad input (config, data, weights, output folder).
    """
    arch = get_architecture(config.model.architecture)
    resolve_device(config.execution.device)
    if config.execution.executor == "ray":
        from tunedepth.study.ray_executor import check_ray_installed

        check_ray_installed()
    _check_output(out_dir)
    runs = expand_grid(
        regimes=config.grid.regimes, depths=config.grid.depths, train_fractions=config.grid.train_fractions,
        seeds=config.grid.seeds, group_names=arch.group_names, architecture=arch.name,
        methods=study_methods(config),
    )
    weights = None
    if "finetune" in config.grid.regimes:
        model = config.model
        weights = resolve_weights(arch.name, weights=model.weights, checkpoint_path=model.checkpoint,
                                  checkpoint_sha256=model.checkpoint_sha256)
        if weights.name == "checkpoint":
            # Load it once now, so that a file that is not a plain state dict (a pickle payload is refused by
            # weights_only=True, unexecuted) or holds the wrong tensors is refused before the study folder exists,
            # not in every run. The head is new and never loaded: its number of classes does not matter here.
            build_model(arch.name, num_classes=2, weights="checkpoint", checkpoint_path=weights.path,
                        checkpoint_sha256=weights.sha256)
    data, task_data = STUDY_TASKS.get(config.task).prepare(config)
    _check_classes(data)
    check_no_leakage(data)
    sha = None if weights is None else weights.sha256
    ids = tuple(run_id(config, spec, weights_sha256=sha if spec.regime == "finetune" else None) for spec in runs)
    logger.info("study %s: %d runs on %s (%s split)", config.name, len(runs), data.name, data.split_origin)
    return PreparedStudy(config, data, tuple(runs), ids, weights, arch.group_names, task_data)
