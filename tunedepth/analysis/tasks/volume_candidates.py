"""``task = "volume_candidates"``, analysis part: FROC per volume per regime, FROC curves and the volumes summary.

The FROC statistics are detection's (:func:`~tunedepth.analysis.tasks.froc_table`) with the volume as the unit:
sensitivity (share of lesions hit by a candidate above the threshold) at each ``analysis.fps_targets`` false
positives per volume, with a bootstrap over volumes, and each regime's paired difference from scratch (the same
resampled volumes), Holm-adjusted over the regimes. A MedMNIST 3D study has one candidate per volume, so its FROC is
the ROC read at false-positive counts per volume; its AUC tables are the study's main result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tunedepth.analysis.tasks.base import ANALYSIS_TASKS, FigureData, TaskAnalysis, TaskTable
from tunedepth.analysis.tasks.detection import froc_curves, froc_summary, froc_table
from tunedepth.config import AnalysisConfig
from tunedepth.errors import StudyFolderError
from tunedepth.evaluation import CandidateHits, candidate_hits_from_table
from tunedepth.results import FinishedStudy

if TYPE_CHECKING:
    from tunedepth.analysis.analyze import StudyAnalysis

__all__ = ["VOLUME_CANDIDATES_ANALYSIS", "volume_froc_table", "volume_hits"]


def volume_hits(study: FinishedStudy, split: str, scores: np.ndarray) -> CandidateHits:
    """The FROC inputs of one run's candidate scores on ``split`` of a volume study: its ``volumes.csv`` and
    ``candidates_<split>.csv`` (written when the study ran), with the volume as the unit.

    Raises:
        StudyFolderError: if the tables are missing or do not match the scores.
    """
    volumes = study.task_table("volumes.csv")
    cands = study.task_table(f"candidates_{split}.csv")
    if len(cands) != len(scores):
        raise StudyFolderError(f"The table candidates_{split}.csv of {str(study.root)!r} lists {len(cands)} "
                               f"candidates but the run scored {len(scores)}; the study folder is inconsistent: re-run "
                               "the study in a new folder.")
    n_lesions = volumes.loc[volumes["split"] == split, "n_lesions"].to_numpy(dtype=np.int64)
    return candidate_hits_from_table(cands["volume"].to_numpy(), cands["lesion"].to_numpy(), np.asarray(scores),
                                     n_lesions)


def volume_froc_table(study: FinishedStudy, *, fps_targets: tuple[float, ...], confidence: float, n_boot: int,
                      bootstrap_seed: int) -> pd.DataFrame:
    """:func:`~tunedepth.analysis.tasks.froc_table` per volume: its columns, with ``fps_per_volume`` for
    ``fps_per_frame``."""
    table = froc_table(study, fps_targets=fps_targets, confidence=confidence, n_boot=n_boot,
                       bootstrap_seed=bootstrap_seed, hits_of=volume_hits)
    return table.rename(columns={"fps_per_frame": "fps_per_volume"})


def _froc_table(study: FinishedStudy, settings: AnalysisConfig) -> pd.DataFrame:
    return volume_froc_table(study, fps_targets=settings.fps_targets, confidence=settings.confidence,
                             n_boot=settings.n_boot, bootstrap_seed=settings.bootstrap_seed)


def _figures(study: FinishedStudy, analysis: StudyAnalysis, train_fraction: float) -> list[FigureData]:
    seed = min(study.seeds_at(train_fraction))
    curves = froc_curves(study, train_fraction=train_fraction, seed=seed, hits_of=volume_hits)
    title = f"FROC per volume on the test volumes (seed {seed}), {train_fraction * 100:g}% of the training data"
    return [FigureData("froc", title, train_fraction, {"curves": curves, "per": "volume", "lesions": "lesions"})] \
        if curves else []


def _header(study: FinishedStudy) -> list[tuple[str, str]]:
    summary = study.task_summary("summary.json")
    if summary is None:
        return []
    parts = [f"{split}: {s['volumes']} volumes, {s['lesions']} lesions, {s['candidates']} candidates "
             f"({s['positive_candidates']} positive), vessel axis found for {s['vessel_axis_found']:.0%}"
             for split, s in ((k, summary[k]) for k in ("train", "val", "test") if k in summary)]
    widths = ", ".join(f"{w:g}" for w in summary.get("widths", []))
    parts.append(f"views {summary.get('views')}: widths {widths} {summary.get('unit')}, "
                 f"{summary.get('train_angles')} training / {summary.get('test_angles')} test rotations, "
                 f"{summary.get('patches_per_evaluated_candidate')} patches averaged per candidate")
    return [("Volumes (candidates, patches)", "; ".join(parts))]


def _summary(tables: Mapping[str, pd.DataFrame]) -> tuple[str, pd.DataFrame]:
    return ("volumes: test sensitivity at FP per volume (rows: regime)",
            froc_summary(tables["froc_per_volume"], per="volume"))


VOLUME_CANDIDATES_ANALYSIS = TaskAnalysis(
    name="volume_candidates",
    tables=(TaskTable(
        "froc_per_volume", "Volumes: sensitivity at false positives per volume",
        "Per run: test sensitivity (share of lesions hit) at each FP/volume target with its volume-bootstrap "
        "interval, and the paired volume-bootstrap difference from scratch (same fraction and seed) with its "
        "p-value, Holm-adjusted over the regimes at each target. Cases of the other tables are candidates.",
        _froc_table),),
    figures=_figures,
    header=_header,
    summary=_summary,
)
ANALYSIS_TASKS.register(VOLUME_CANDIDATES_ANALYSIS.name, VOLUME_CANDIDATES_ANALYSIS)
