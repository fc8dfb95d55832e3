"""``task = "detection"``, run part: polyp frames -> candidates -> patch classification data; candidate scores.

A detection study runs the same grid as a classification study (scratch vs every depth x fractions x seeds): the
network classifies patches, so the runner trains on :func:`prepare_detection`'s patch sets. What differs:

* Frames are split by group (video for CVC-ClinicDB, image for Kvasir-SEG), seeded by ``data.split_seed``; in
  cross-data-set mode (``data.test_source``) the other data set is the test split.
* The training patch set is drawn once per study (``data.split_seed``), half positive; a run at train_fraction f
  trains on the patches of a nested, seeded subset of the training *groups* (:meth:`DetectionData.train_rows`), so
  fewer data means fewer videos / images, as a user with less data has.
* Validation and test cases are *candidates*: a candidate's score is the log-odds of the mean probability over its
  patches (the paper's average, computed in log space so it never saturates; :func:`candidate_log_odds`). The
  validation AUC that stops training and picks the learning rate is the candidate-level AUC, and the prediction
  files hold one row per candidate, so the recommendation and its DeLong tests work on candidates unchanged.
* The study folder holds ``detection/candidates_{val,test}.csv`` (each candidate's frame and the polyp its centre
  hits) and ``detection/frames.csv`` (polyps per frame, including polyps no candidate reaches), from which FROC
  curves are computed (:func:`tunedepth.analysis.tasks.candidate_hits`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.special import logsumexp

from tunedepth.config import DetectionConfig, PolypDataConfig, StudyConfig, settings_of
from tunedepth.data import DATA_SOURCES, DatasetSplits, SplitIndices
from tunedepth.data.masked import (
    CandidateSet,
    PatchSet,
    PolypFrames,
    evaluation_patches,
    find_candidates,
    patch_views,
    resolve_mask_data_root,
    split_by_video,
    training_patches,
)
from tunedepth.errors import ConfigError, DataError
from tunedepth.evaluation import candidate_hits_from_table, sensitivity_at_fps
from tunedepth.models import GroupedModel
from tunedepth.results import Split, StudyStore
from tunedepth.study.tasks._groups import group_subset_rows
from tunedepth.study.tasks.base import STUDY_TASKS, TaskData, TaskOutputs, TaskRun

logger = logging.getLogger(__name__)

__all__ = [
    "DETECTION_CLASS_NAMES",
    "DETECTION_RUN",
    "DetectionData",
    "candidate_log_odds",
    "load_polyp_frames",
    "prepare_detection",
    "write_detection_tables",
]

DETECTION_CLASS_NAMES = ("background", "polyp")


def _load_frames(source: str, root: Any, *, min_area_px: int, skip_bad_frames: bool,
                 max_frames: int | None, lazy: bool) -> PolypFrames:
    load = DATA_SOURCES.get(source).load_frames
    frames = None if load is None else load(root, min_area_px=min_area_px, skip_bad_frames=skip_bad_frames,
                                            max_frames=max_frames, lazy=lazy)
    if not isinstance(frames, PolypFrames):
        raise ConfigError(f"data source {source!r} does not hold polyp frames with masks; task = 'detection' reads "
                          "kvasir_seg or cvc_clinicdb.")
    return frames


def load_polyp_frames(data: PolypDataConfig, *, min_area_px: int, lazy: bool = True
                      ) -> tuple[PolypFrames, PolypFrames | None]:
    """The frames of ``data.source`` (first ``data.max_frames`` when set) and, in cross-data-set mode, every frame
    of ``data.test_source``. ``lazy`` (default): every frame is read and checked, then only its files are kept and its
    pixels read again when needed (:class:`~tunedepth.data.masked.FrameFiles`), so the frames are never all in
    memory; False holds them."""
    root = resolve_mask_data_root(data.source, data.root)
    frames = _load_frames(data.source, root, min_area_px=min_area_px, skip_bad_frames=data.skip_bad_frames,
                          max_frames=data.max_frames, lazy=lazy)
    test = None
    if data.test_source is not None:
        test_root = resolve_mask_data_root(data.test_source, data.test_root, parameter="test_root")
        test = _load_frames(data.test_source, test_root, min_area_px=min_area_px,
                            skip_bad_frames=data.skip_bad_frames, max_frames=None, lazy=lazy)
    return frames, test


def _train_val_split(groups: tuple[str, ...], val_fraction: float, seed: int) -> SplitIndices:
    """Whole groups, in seeded random order, go to validation until it holds ``val_fraction`` of the frames."""
    ids = np.asarray(groups)
    order = np.random.default_rng(seed).permutation(np.unique(ids))
    val_groups: set[str] = set()
    n_val = 0
    for g in order[:-1]:  # the last group always trains
        if n_val >= val_fraction * len(ids):
            break
        val_groups.add(str(g))
        n_val += int((ids == g).sum())
    is_val = np.isin(ids, list(val_groups))
    if not is_val.any():
        raise DataError(f"Too few frame groups ({order.size}) to hold out a validation split; use more frames.")
    return SplitIndices(np.flatnonzero(~is_val), np.flatnonzero(is_val), np.zeros(0, dtype=np.int64))


@dataclass(frozen=True, eq=False)
class DetectionData(TaskData):
    """Candidates and patch sets of a detection study; its cases are candidates.

    Attributes:
        candidates: the candidates of the "train", "val" and "test" frames.
        patches: the patch sets of the same splits ("train": the stratified training set; "val" and "test": every
            evaluation view of every candidate, candidate-major).
        n_eval_views: patches per candidate in the "val" and "test" sets.
        skipped: "<file>: <reason>" for every frame left out (``data.skip_bad_frames``).
        fps_targets: false positives per frame at which each run's test sensitivity is recorded
            (``analysis.fps_targets``).
    """

    candidates: dict[str, CandidateSet]
    patches: dict[str, PatchSet]
    n_eval_views: int
    skipped: tuple[str, ...]
    fps_targets: tuple[float, ...] = (0.01, 0.1, 1.0)

    def train_rows(self, data: DatasetSplits, *, train_fraction: float, seed: int) -> np.ndarray:
        """Rows of the training patch set from a nested, seeded ``train_fraction`` of the training groups."""
        train = self.candidates["train"]
        patch_frames = train.frame_index[self.patches["train"].candidate]
        return group_subset_rows(np.asarray(train.frames.group_ids)[patch_frames], train_fraction, seed=seed)

    def case_labels(self, data: DatasetSplits, split: Split) -> np.ndarray:
        return np.asarray(self.candidates[split].labels)

    def case_log_odds(self, log_odds: np.ndarray) -> np.ndarray:
        """Per candidate: the log-odds of its mean patch probability, as columns (background, polyp)."""
        polyp = candidate_log_odds(log_odds[:, 1], self.n_eval_views)
        return np.c_[-polyp, polyp]

    def test_outputs(self, model: GroupedModel, test_log_odds: np.ndarray, *, device: torch.device,
                     image_log_odds: np.ndarray) -> TaskOutputs:
        """FROC sensitivity of the test candidates at each of :attr:`fps_targets`."""
        cands = self.candidates["test"]
        hits = candidate_hits_from_table(cands.frame_index, cands.polyp_index, test_log_odds[:, 1], cands.n_polyps)
        sens = sensitivity_at_fps(hits, fps_targets=self.fps_targets)
        metrics: dict[str, Any] = {f"test_sensitivity_at_{t:g}_fps": float(v)
                                   for t, v in zip(self.fps_targets, sens, strict=True)}
        metrics |= {"n_test_frames": len(cands.frames), "n_test_polyps": int(cands.n_polyps.sum()),
                    "test_candidate_recall": cands.recall}
        return TaskOutputs(metrics=metrics)

    def write_study_files(self, store: StudyStore) -> None:
        write_detection_tables(self, store)


def prepare_detection(data: PolypDataConfig, detection: DetectionConfig, *,
                      fps_targets: tuple[float, ...] = (0.01, 0.1, 1.0), lazy: bool = True
                      ) -> tuple[DatasetSplits, DetectionData]:
    """Load, split, find candidates and cut patches: the patch classification data of a detection study.

    The frames are streamed (``lazy``, default): each is read to be checked, once more to find its candidates and
    once more to cut its patches, and only the patches (and the candidates' boxes) are kept; ``lazy=False`` holds
    every frame in memory and gives the same candidates and patches.

    Returns:
        The patch sets as :class:`~tunedepth.data.DatasetSplits` (classes background, polyp; patient ids = the
        frames' groups, prefixed with the data set's name), and the candidates behind them.

    Raises:
        TunedepthError: for a missing or bad data set, or a split without positive or negative candidates.
    """
    frames, cross = load_polyp_frames(data, min_area_px=detection.min_polyp_area_px, lazy=lazy)
    if cross is None:
        parts = split_by_video(frames.group_ids, val_fraction=data.val_fraction, test_fraction=data.test_fraction,
                               seed=data.split_seed)
        split_frames = {"train": frames.subset(parts.train.tolist()), "val": frames.subset(parts.val.tolist()),
                        "test": frames.subset(parts.test.tolist())}
    else:
        parts = _train_val_split(frames.group_ids, data.val_fraction, data.split_seed)
        split_frames = {"train": frames.subset(parts.train.tolist()), "val": frames.subset(parts.val.tolist()),
                        "test": cross}
    candidates = {
        split: find_candidates(f, max_candidates=detection.max_candidates, min_area_px=detection.min_polyp_area_px)
        for split, f in split_frames.items()
    }
    train_views = patch_views(detection.scales, shift_fraction=detection.shift_fraction,
                              orientations=detection.orientations)
    eval_views = train_views if detection.test_views == "all" else patch_views(
        detection.scales, shift_fraction=0.0,
        orientations=detection.orientations if detection.test_views == "scales_orientations" else 1)
    patches = {"train": training_patches(candidates["train"], train_views, n_patches=detection.train_patches,
                                         size=data.image_size, seed=data.split_seed,
                                         hard_negatives=detection.hard_negatives)}
    for split in ("val", "test"):
        patches[split] = evaluation_patches(candidates[split], eval_views, size=data.image_size)
    skipped = tuple(f"{s.path}: {s.reason}" for f in (frames, cross) if f is not None for s in f.skipped)
    name = frames.name if cross is None else f"{frames.name}->{cross.name}"
    splits = DatasetSplits(name, DETECTION_CLASS_NAMES, patches["train"].images, patches["val"].images,
                           patches["test"].images, split_origin="seeded")
    logger.info("detection data %s: %d/%d/%d frames, %d training patches, %d views per evaluated candidate", name,
                len(split_frames["train"]), len(split_frames["val"]), len(split_frames["test"]),
                len(patches["train"].images), len(eval_views))
    return splits, DetectionData(candidates, patches, len(eval_views), skipped, tuple(fps_targets))


def candidate_log_odds(patch_log_odds: np.ndarray, n_views: int) -> np.ndarray:
    """Log-odds of each candidate's mean patch probability (the paper averages probabilities over patches).

    Computed in log space: with ``z`` a patch's log-odds, ``log p = -log(1 + e^-z)`` and ``log(1 - p) =
    -log(1 + e^z)``, so the log-odds of the mean is ``logsumexp(log p) - logsumexp(log(1 - p))`` over the candidate's
    patches (the 1/n cancels). Unlike averaging float probabilities, this never saturates, so confident candidates
    keep their order.

    Args:
        patch_log_odds: float array of shape (n_candidates * n_views,), candidate-major (see
            :func:`~tunedepth.data.masked.evaluation_patches`).
        n_views: patches per candidate.

    Returns:
        float64 array of shape (n_candidates,).

    Example:
        >>> z = np.array([0.0, np.log(3), 100.0, 200.0])
        >>> candidate_log_odds(z, 2).round(4).tolist()  # mean of 0.5 and 0.75 is 0.625: log(0.625 / 0.375)
        [0.5108, 100.6931]
    """
    z = np.asarray(patch_log_odds, dtype=np.float64).reshape(-1, n_views)
    log_p, log_q = -np.logaddexp(0.0, -z), -np.logaddexp(0.0, z)
    out: np.ndarray = logsumexp(log_p, axis=1) - logsumexp(log_q, axis=1)
    return out


def _frames_table(det: DetectionData) -> pd.DataFrame:
    rows = []
    for split, cands in det.candidates.items():
        counts = np.bincount(cands.frame_index, minlength=len(cands.frames))
        for f, (fid, gid) in enumerate(zip(cands.frames.frame_ids, cands.frames.group_ids, strict=True)):
            rows.append({"split": split, "frame": f, "frame_id": fid, "group_id": gid,
                         "n_polyps": int(cands.n_polyps[f]), "n_candidates": int(counts[f])})
    return pd.DataFrame(rows)


def write_detection_tables(det: DetectionData, store: StudyStore) -> None:
    """Write ``frames.csv``, ``candidates_val.csv``, ``candidates_test.csv`` and ``summary.json`` into the study
    folder's ``detection/``.

    ``candidates_<split>.csv`` has one row per candidate, in the order of the runs' prediction files: index,
    frame (row of that split in ``frames.csv``), polyp (0 = background), x0, y0, x1, y1.
    """
    tables = {"frames.csv": _frames_table(det).to_csv(index=False)}
    for split in ("val", "test"):
        c = det.candidates[split]
        table = pd.DataFrame({"index": np.arange(len(c)), "frame": c.frame_index, "polyp": c.polyp_index})
        table[["x0", "y0", "x1", "y1"]] = c.boxes
        tables[f"candidates_{split}.csv"] = table.to_csv(index=False, float_format="%.2f")
    summary: dict[str, Any] = {
        split: {"frames": len(c.frames), "polyps": int(c.n_polyps.sum()), "candidates": len(c),
                "candidates_per_frame": len(c) / max(1, len(c.frames)), "candidate_recall": c.recall,
                "positive_candidates": int(c.labels.sum()), "patches": len(det.patches[split].images)}
        for split, c in det.candidates.items()
    }
    summary["views_per_evaluated_candidate"] = det.n_eval_views
    summary["skipped_frames"] = list(det.skipped)
    store.write_task_files("detection", tables=tables, json_files={"summary.json": summary})


def _prepare(config: StudyConfig) -> tuple[DatasetSplits, TaskData]:
    if not isinstance(config.data, PolypDataConfig):
        raise ConfigError(f"task = 'detection' reads polyp frames (kvasir_seg, cvc_clinicdb); got data.source "
                          f"{config.data.source!r}.")
    return prepare_detection(config.data, settings_of(config, DetectionConfig),
                             fps_targets=config.analysis.fps_targets)


DETECTION_RUN = TaskRun(name="detection", prepare=_prepare)
STUDY_TASKS.register(DETECTION_RUN.name, DETECTION_RUN)
