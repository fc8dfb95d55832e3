"""``task = "detection"``: polyp frames -> candidates -> patch classification data, and candidate scores -> FROC.

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
  curves are computed (:func:`candidate_hits`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from tunedepth._io import atomic_write_json, atomic_write_text
from tunedepth.config import DetectionConfig, PolypDataConfig
from tunedepth.data import (
    CandidateSet,
    DatasetSplits,
    PatchSet,
    PolypFrames,
    SplitIndices,
    evaluation_patches,
    find_candidates,
    load_cvc_clinicdb,
    load_kvasir_seg,
    patch_views,
    resolve_mask_data_root,
    split_by_video,
    training_patches,
)
from tunedepth.errors import DataError, StudyFolderError
from tunedepth.evaluation import CandidateHits, candidate_hits_from_table
from tunedepth.study._groups import group_subset_rows

logger = logging.getLogger(__name__)

__all__ = [
    "DETECTION_CLASS_NAMES",
    "DetectionData",
    "candidate_hits",
    "candidate_log_odds",
    "load_polyp_frames",
    "prepare_detection",
    "write_detection_tables",
]

DETECTION_CLASS_NAMES = ("background", "polyp")

_LOADERS = {"kvasir_seg": load_kvasir_seg, "cvc_clinicdb": load_cvc_clinicdb}


def load_polyp_frames(data: PolypDataConfig, *, min_area_px: int) -> tuple[PolypFrames, PolypFrames | None]:
    """The frames of ``data.source`` (first ``data.max_frames`` when set) and, in cross-data-set mode, every frame
    of ``data.test_source``."""
    root = resolve_mask_data_root(data.source, data.root)
    if data.source == "kvasir_seg":  # reads only the frames it keeps
        frames = load_kvasir_seg(root, min_area_px=min_area_px, skip_bad_frames=data.skip_bad_frames,
                                 max_frames=data.max_frames)
    else:  # CVC-ClinicDB derives its videos from every frame, then keeps the first max_frames
        frames = load_cvc_clinicdb(root, min_area_px=min_area_px, skip_bad_frames=data.skip_bad_frames)
    if data.max_frames is not None and data.max_frames < len(frames):
        frames = frames.subset(range(data.max_frames))
    test = None
    if data.test_source is not None:
        test_root = resolve_mask_data_root(data.test_source, data.test_root, parameter="test_root")
        test = _LOADERS[data.test_source](test_root, min_area_px=min_area_px, skip_bad_frames=data.skip_bad_frames)
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
class DetectionData:
    """Candidates and patch sets of a detection study.

    Attributes:
        candidates: the candidates of the "train", "val" and "test" frames.
        patches: the patch sets of the same splits ("train": the stratified training set; "val" and "test": every
            evaluation view of every candidate, candidate-major).
        n_eval_views: patches per candidate in the "val" and "test" sets.
        skipped: "<file>: <reason>" for every frame left out (``data.skip_bad_frames``).
    """

    candidates: dict[str, CandidateSet]
    patches: dict[str, PatchSet]
    n_eval_views: int
    skipped: tuple[str, ...]

    def train_rows(self, fraction: float, *, seed: int) -> np.ndarray:
        """Rows of the training patch set from a nested, seeded ``fraction`` of the training groups."""
        train = self.candidates["train"]
        patch_frames = train.frame_index[self.patches["train"].candidate]
        return group_subset_rows(np.asarray(train.frames.group_ids)[patch_frames], fraction, seed=seed)


def prepare_detection(data: PolypDataConfig, detection: DetectionConfig) -> tuple[DatasetSplits, DetectionData]:
    """Load, split, find candidates and cut patches: the patch classification data of a detection study.

    Returns:
        The patch sets as :class:`~tunedepth.data.DatasetSplits` (classes background, polyp; patient ids = the
        frames' groups, prefixed with the data set's name), and the candidates behind them.

    Raises:
        TunedepthError: for a missing or bad data set, or a split without positive or negative candidates.
    """
    frames, cross = load_polyp_frames(data, min_area_px=detection.min_polyp_area_px)
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
        detection.scales, shift_fraction=0.0, orientations=1)
    patches = {"train": training_patches(candidates["train"], train_views, n_patches=detection.train_patches,
                                         size=data.image_size, seed=data.split_seed)}
    for split in ("val", "test"):
        patches[split] = evaluation_patches(candidates[split], eval_views, size=data.image_size)
    skipped = tuple(f"{s.path}: {s.reason}" for f in (frames, cross) if f is not None for s in f.skipped)
    name = frames.name if cross is None else f"{frames.name}->{cross.name}"
    splits = DatasetSplits(name, DETECTION_CLASS_NAMES, patches["train"].images, patches["val"].images,
                           patches["test"].images, split_origin="seeded")
    logger.info("detection data %s: %d/%d/%d frames, %d training patches, %d views per evaluated candidate", name,
                len(split_frames["train"]), len(split_frames["val"]), len(split_frames["test"]),
                len(patches["train"].images), len(eval_views))
    return splits, DetectionData(candidates, patches, len(eval_views), skipped)


def candidate_log_odds(patch_log_odds: np.ndarray, n_views: int) -> np.ndarray:
    """Log-odds of each candidate's mean patch probability (the paper averages probabilities over patches).

    Computed in log space: with ``z`` a patch's log-odds, ``log p = -log(1 + e^-z)`` and ``log(1 - p) =
    -log(1 + e^z)``, so the log-odds of the mean is ``logsumexp(log p) - logsumexp(log(1 - p))`` over the candidate's
    patches (the 1/n cancels). Unlike averaging float probabilities, this never saturates, so confident candidates
    keep their order.

    Args:
        patch_log_odds: float array of shape (n_candidates * n_views,), candidate-major (see
            :func:`~tunedepth.data.evaluation_patches`).
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


def write_detection_tables(det: DetectionData, folder: Path) -> None:
    """Write ``frames.csv``, ``candidates_val.csv``, ``candidates_test.csv`` and ``summary.json`` to ``folder``.

    ``candidates_<split>.csv`` has one row per candidate, in the order of the runs' prediction files: index,
    frame (row of that split in ``frames.csv``), polyp (0 = background), x0, y0, x1, y1.
    """
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "frames.csv", _frames_table(det).to_csv(index=False))
    for split in ("val", "test"):
        c = det.candidates[split]
        table = pd.DataFrame({"index": np.arange(len(c)), "frame": c.frame_index, "polyp": c.polyp_index})
        table[["x0", "y0", "x1", "y1"]] = c.boxes
        atomic_write_text(folder / f"candidates_{split}.csv", table.to_csv(index=False, float_format="%.2f"))
    summary: dict[str, Any] = {
        split: {"frames": len(c.frames), "polyps": int(c.n_polyps.sum()), "candidates": len(c),
                "candidates_per_frame": len(c) / max(1, len(c.frames)), "candidate_recall": c.recall,
                "positive_candidates": int(c.labels.sum()), "patches": len(det.patches[split].images)}
        for split, c in det.candidates.items()
    }
    summary["views_per_evaluated_candidate"] = det.n_eval_views
    summary["skipped_frames"] = list(det.skipped)
    atomic_write_json(folder / "summary.json", summary)


def candidate_hits(study_dir: Path, split: str, scores: np.ndarray) -> CandidateHits:
    """The FROC inputs of one run's candidate scores on ``split`` ("val" or "test") of a detection study folder.

    Raises:
        StudyFolderError: if the detection tables are missing or do not match the scores.
    """
    folder = Path(study_dir) / "detection"
    try:
        frames = pd.read_csv(folder / "frames.csv")
        cands = pd.read_csv(folder / f"candidates_{split}.csv")
    except (OSError, pd.errors.ParserError) as exc:
        raise StudyFolderError(
            f"Study folder {str(study_dir)!r} lacks readable detection tables ({exc}); re-run `tunedepth study` on it."
        ) from None
    if len(cands) != len(scores):
        raise StudyFolderError(
            f"{folder / f'candidates_{split}.csv'} lists {len(cands)} candidates but the run scored {len(scores)}; "
            "the study folder is inconsistent: re-run the study in a new folder."
        )
    n_polyps = frames.loc[frames["split"] == split, "n_polyps"].to_numpy(dtype=np.int64)
    return candidate_hits_from_table(cands["frame"].to_numpy(), cands["polyp"].to_numpy(), np.asarray(scores),
                                     n_polyps)
