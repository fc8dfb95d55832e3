"""``task = "volume_candidates"``, run part: candidates in volumes, each seen as 3-channel 2.5D patches (widths x
rotations about its axis x kinds of axis), scored by the mean probability over its test patches and by FROC per
volume (:mod:`tunedepth.data.volumes.cases`).

The network's validation and test splits are the candidates' fixed patches, view-major (row ``v * n + i`` is view
``v`` of candidate ``i``): every width at ``test_angles`` evenly spaced rotations, for each kind of axis. Training
candidates are trained on ``train_angles`` random rotations per width (and kind), drawn once per seed
(:meth:`VolumeData.train_views`), one random view per candidate per epoch; ``data.train`` holds each training
candidate's first view (first width, angle 0). A training fraction keeps a nested, seeded share of the training
volumes, stratified by label when every volume holds one candidate.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from tunedepth.config import StudyConfig, VolumeCandidatesConfig, settings_of
from tunedepth.data import DATA_SOURCES, DatasetSplits, ImageSet, train_subset_indices
from tunedepth.data.crops import average_over_crops
from tunedepth.data.volumes import resolve_unit
from tunedepth.data.volumes.cases import (
    CandidateAxes,
    VolumeCases,
    candidate_axes,
    candidate_patches,
    evenly_spaced_angles,
    patch_views,
    random_angles,
)
from tunedepth.errors import ConfigError, DataError
from tunedepth.evaluation import candidate_hits_from_table, sensitivity_at_fps
from tunedepth.models import GroupedModel
from tunedepth.results import Split, StudyStore
from tunedepth.study.tasks._groups import group_subset_rows
from tunedepth.study.tasks.base import STUDY_TASKS, TaskData, TaskOutputs, TaskRun

__all__ = ["VOLUME_CANDIDATES_RUN", "VolumeData", "candidate_scorer", "prepare_volumes"]

logger = logging.getLogger(__name__)

_KINDS = {"vessel_aligned": (True,), "orthogonal": (False,), "both": (True, False)}


@dataclass(frozen=True, eq=False)
class VolumeData(TaskData):
    """Candidates of a volume study and how their patches are cut; its cases are candidates.

    Attributes:
        cases: the candidates of "train", "val" and "test".
        axes: per split, one :class:`CandidateAxes` per kind of axis (vessel-aligned first with ``views = "both"``).
        settings: the ``[volume_candidates]`` table.
        image_size: patch side in pixels.
        unit: "mm" or "voxel": the unit of widths and vessel_sigma.
        window: the intensities mapped to 0 and 255.
        fps_targets: false positives per volume at which each run's test sensitivity is recorded.
    """

    cases: dict[str, VolumeCases]
    axes: dict[str, tuple[CandidateAxes, ...]]
    settings: VolumeCandidatesConfig
    image_size: int
    unit: str
    window: tuple[float, float]
    fps_targets: tuple[float, ...] = (0.01, 0.1, 1.0)

    @property
    def n_eval_views(self) -> int:
        return len(self.axes["test"]) * len(self.settings.widths) * self.settings.test_angles

    def patches(self, split: str, angles: np.ndarray) -> torch.Tensor:
        """Every candidate's patches of ``split`` at its own ``angles`` (n, k), for each kind and width, view-major:
        kind, then width, then angle."""
        cases, widths = self.cases[split], self.settings.widths
        n, k = angles.shape
        n_views = len(self.axes[split]) * len(widths) * k
        out = np.empty((n_views, n, 3, self.image_size, self.image_size), dtype=np.uint8)
        for i in range(n):
            v = int(cases.volume_index[i])
            spacing = cases.spacings[v] if self.unit == "mm" else None
            views = patch_views(widths, angles[i])
            for j, kind in enumerate(self.axes[split]):
                out[j * len(views):(j + 1) * len(views), i] = candidate_patches(
                    cases.volumes[v], spacing or (1.0, 1.0, 1.0), cases.centers[i], kind.axes[i], views,
                    size=self.image_size, window=self.window, slab=self.settings.slab_thickness)
        return torch.from_numpy(out.reshape(n_views * n, 3, self.image_size, self.image_size))

    def scoring_volumes(self) -> dict[str, Any]:
        return {"settings": self.settings.model_dump(mode="json"), "unit": self.unit, "window": list(self.window),
                "image_size": self.image_size}

    def test_patches(self, split: str) -> torch.Tensor:
        """The fixed patches of every candidate of ``split``: each width at ``test_angles`` evenly spaced
        rotations, for each kind of axis, view-major (what :meth:`case_log_odds` averages)."""
        angles = np.asarray(evenly_spaced_angles(self.settings.test_angles))
        return self.patches(split, np.tile(angles, (len(self.cases[split]), 1)))

    def train_rows(self, data: DatasetSplits, *, train_fraction: float, seed: int) -> np.ndarray:
        cases = self.cases["train"]
        if len(cases.volumes) == len(cases):  # one candidate per volume: stratify by label
            return train_subset_indices(cases.labels, train_fraction, seed=seed)
        return group_subset_rows(np.asarray(cases.volume_ids)[cases.volume_index], train_fraction, seed=seed)

    def train_views(self, data: DatasetSplits, *, seed: int) -> torch.Tensor:
        """Each training candidate's patches at ``train_angles`` rotations drawn from ``seed``, per width and
        kind."""
        return self.patches("train", random_angles(len(self.cases["train"]), self.settings.train_angles, seed))

    def case_labels(self, data: DatasetSplits, split: Split) -> np.ndarray:
        return np.asarray(self.cases[split].labels)

    def case_log_odds(self, log_odds: np.ndarray) -> np.ndarray:
        n_views = self.n_eval_views
        return average_over_crops(log_odds, len(log_odds) // n_views, n_views)

    def test_outputs(self, model: GroupedModel, test_log_odds: np.ndarray, *, device: torch.device,
                     image_log_odds: np.ndarray) -> TaskOutputs:
        """Test sensitivity at each false-positive-per-volume target (FROC per volume)."""
        cases = self.cases["test"]
        hits = candidate_hits_from_table(cases.volume_index, cases.lesion, test_log_odds[:, 1], cases.n_lesions)
        sens = sensitivity_at_fps(hits, fps_targets=self.fps_targets)
        metrics: dict[str, Any] = {f"test_sensitivity_at_{t:g}_fpv": float(v)
                                   for t, v in zip(self.fps_targets, sens, strict=True)}
        metrics |= {"n_test_volumes": len(cases.volumes), "n_test_lesions": int(cases.n_lesions.sum())}
        return TaskOutputs(metrics=metrics)

    def write_study_files(self, store: StudyStore) -> None:
        """``volumes.csv`` (split, volume, id, lesions, candidates), ``candidates_<split>.csv`` (in the order of the
        runs' prediction files: volume, lesion, centre, label, axis and whether it is a vessel axis) and
        ``summary.json`` into the study folder's ``volume_candidates/``."""
        rows = []
        for split, cases in self.cases.items():
            counts = np.bincount(cases.volume_index, minlength=len(cases.volumes))
            rows += [{"split": split, "volume": v, "volume_id": vid, "n_lesions": int(cases.n_lesions[v]),
                      "n_candidates": int(counts[v])} for v, vid in enumerate(cases.volume_ids)]
        tables = {"volumes.csv": pd.DataFrame(rows).to_csv(index=False)}
        for split in ("val", "test"):
            c, first = self.cases[split], self.axes[split][0]
            table = pd.DataFrame({"index": np.arange(len(c)), "volume": c.volume_index, "lesion": c.lesion,
                                  "z": c.centers[:, 0], "y": c.centers[:, 1], "x": c.centers[:, 2], "label": c.labels,
                                  "vessel_axis": first.tubular, "axis_z": first.axes[:, 0],
                                  "axis_y": first.axes[:, 1], "axis_x": first.axes[:, 2]})
            tables[f"candidates_{split}.csv"] = table.to_csv(index=False, float_format="%.4f")
        summary: dict[str, Any] = {
            split: {"volumes": len(c.volumes), "lesions": int(c.n_lesions.sum()), "candidates": len(c),
                    "positive_candidates": int(c.labels.sum()),
                    "vessel_axis_found": float(np.mean(self.axes[split][0].tubular)) if len(c) else 0.0}
            for split, c in self.cases.items()
        }
        s = self.settings
        summary |= {"views": s.views, "widths": list(s.widths), "unit": self.unit, "vessel_sigma": s.vessel_sigma,
                    "slab_thickness": s.slab_thickness,
                    "train_angles": s.train_angles, "test_angles": s.test_angles, "window": list(self.window),
                    "patches_per_evaluated_candidate": self.n_eval_views}
        store.write_task_files("volume_candidates", tables=tables, json_files={"summary.json": summary})


def _unit(cases: dict[str, VolumeCases], unit: str) -> str:
    spacings = [s for c in cases.values() for s in c.spacings]
    known = [s is not None for s in spacings]
    if unit == "auto" and any(known) and not all(known):
        raise ConfigError(f"volume_candidates.unit = 'auto' needs the voxel spacing of every volume or of none; "
                          f"{sum(known)} of {len(known)} volumes have one. Set unit = 'voxel', or give every "
                          "volume its spacing.")
    if unit == "voxel":
        return "voxel"
    if unit == "auto" and not any(known):
        return "voxel"
    ids = [vid for c in cases.values() for vid in c.volume_ids]
    missing = [vid for vid, k in zip(ids, known, strict=True) if not k]
    if missing:
        raise ConfigError(f"volume_candidates.unit = 'mm' needs the voxel spacing of every volume, but {len(missing)} "
                          f"of {len(ids)} have none (e.g. {missing[0]!r}; MedMNIST 3D files record none); set unit = "
                          "'voxel' (or 'auto') to give widths in voxels, or read volumes that carry their spacing.")
    for s in spacings:
        resolve_unit("mm", s)  # checks the spacing itself
    return "mm"


def _window(settings: VolumeCandidatesConfig, train: VolumeCases) -> tuple[float, float]:
    if settings.intensity_window is not None:
        return settings.intensity_window
    low = min(float(np.min(v)) for v in train.volumes)
    high = max(float(np.max(v)) for v in train.volumes)
    if all(np.asarray(v).dtype == np.uint8 for v in train.volumes) or (low >= 0 and high <= 255 and high > 1):
        return (0.0, 255.0)
    return (low, high if high > low else low + 1.0)


def prepare_volumes(config: StudyConfig) -> tuple[DatasetSplits, VolumeData]:
    """Load the volumes and candidates, find the axes and cut the fixed patches of validation and test."""
    settings = settings_of(config, VolumeCandidatesConfig)
    source = DATA_SOURCES.get(config.data.source)
    if source.load_frames is None:
        raise ConfigError(f"data.source {config.data.source!r} holds no volumes; task = 'volume_candidates' reads "
                          "medmnist3d or generated_cta.")
    loaded = source.load_frames(**config.data.model_dump(exclude={"source", "image_size"}))
    cases: dict[str, VolumeCases] = {split: loaded[split] for split in ("train", "val", "test")}
    unit = _unit(cases, settings.unit)
    kinds = _KINDS[settings.views]
    axes = {split: tuple(candidate_axes(c, vessel_aligned=k, sigma=settings.vessel_sigma,
                                        min_tubularity=settings.min_tubularity, unit_spacing=unit == "voxel")
                         for k in kinds) for split, c in cases.items()}
    task = VolumeData(cases, axes, settings, config.data.image_size, unit, _window(settings, cases["train"]),
                      tuple(config.analysis.fps_targets))

    def fixed(split: str) -> ImageSet:
        c = cases[split]
        patches = task.test_patches(split)
        n_views = patches.shape[0] // max(1, len(c))
        groups = tuple(np.asarray(c.volume_ids)[c.volume_index].tolist())
        return ImageSet(patches, torch.tensor(c.labels, dtype=torch.int64).repeat(n_views), groups * n_views)

    train = cases["train"]
    first = task.patches("train", np.zeros((len(train), 1)))[:len(train)]
    train_groups = tuple(np.asarray(train.volume_ids)[train.volume_index].tolist())
    train_set = ImageSet(first, torch.tensor(train.labels, dtype=torch.int64), train_groups)
    data = DatasetSplits(loaded["name"], tuple(loaded["class_names"]), train_set, fixed("val"), fixed("test"),
                         split_origin=loaded.get("split_origin", "official"))
    logger.info("volume candidates %s: %s candidates (train/val/test), %s; vessel axis found for %s", data.name,
                "/".join(str(len(c)) for c in cases.values()), settings.views,
                "/".join(f"{np.mean(axes[s][0].tubular):.0%}" for s in cases))
    return data, task


def candidate_scorer(protocol: dict[str, Any], cases: VolumeCases) -> VolumeData:
    """The task data that cuts the test patches of new ``cases`` (one split, "test") as a study did, from what
    :meth:`VolumeData.scoring_volumes` recorded (an exported model's ``input.volumes``): the vessel axes are found
    again at each candidate, with the study's settings.

    Raises:
        DataError: the model's widths are in mm and a volume has no spacing.
    """
    settings = VolumeCandidatesConfig.model_validate(protocol["settings"])
    unit = str(protocol["unit"])
    if unit == "mm" and (missing := [vid for vid, s in zip(cases.volume_ids, cases.spacings, strict=True)
                                     if s is None]):
        raise DataError(f"The model cuts patches {settings.widths} mm wide, but volume {missing[0]!r} has no voxel "
                        "spacing (a .npy array); give NIfTI files or DICOM series, which record it.")
    axes = tuple(candidate_axes(cases, vessel_aligned=k, sigma=settings.vessel_sigma,
                                min_tubularity=settings.min_tubularity, unit_spacing=unit == "voxel")
                 for k in _KINDS[settings.views])
    low, high = protocol["window"]
    return VolumeData({"test": cases}, {"test": axes}, settings, int(protocol["image_size"]), unit,
                      (float(low), float(high)))


VOLUME_CANDIDATES_RUN = TaskRun(name="volume_candidates", prepare=prepare_volumes, scores_volume_candidates=True)
STUDY_TASKS.register(VOLUME_CANDIDATES_RUN.name, VOLUME_CANDIDATES_RUN)
