"""``tunedepth predict MODEL_DIR CANDIDATES.csv --volumes FOLDER``: a volume-candidate model's scores for new
candidates, one row per candidate.

The candidate table is the study's format (:func:`~tunedepth.data.volumes.read_candidate_table`: ``volume_id`` and
``z, y, x`` voxel or ``world_x, world_y, world_z`` LPS-mm coordinates; ``label`` optional here, copied when given;
``candidate_id`` copied when given); the volumes it names are read from the folder as a ``volume_table`` study reads
them (NIfTI files, DICOM series folders, ``.npy`` arrays). Each candidate's patches are cut as the study cut its test
candidates' (:func:`~tunedepth.study.tasks.volume_candidates.candidate_scorer`) and its score is the mean of their
probabilities.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch

from tunedepth._io import atomic_write_text
from tunedepth.data.crops import average_over_crops
from tunedepth.data.sources.volume_table import read_named_volumes, table_volume_ids
from tunedepth.data.volumes import read_candidate_table
from tunedepth.data.volumes.cases import VolumeCases
from tunedepth.deploy.model_folder import load_model
from tunedepth.deploy.predict import PredictProgress, scores_frame
from tunedepth.errors import DataError
from tunedepth.study.tasks.volume_candidates import VolumeData, candidate_scorer
from tunedepth.training import predict_log_odds

__all__ = ["predict_candidates"]


def predict_candidates(model_dir: Path, candidates: Path, volumes: Path, out_csv: Path, *,
                       coordinates: Literal["voxel", "world"] = "voxel", batch_size: int = 64, device: str = "cpu",
                       progress: PredictProgress | None = None, chunk: int = 32) -> pd.DataFrame:
    """Score every candidate of the table ``candidates`` in the volumes of the folder ``volumes`` with the model
    exported in ``model_dir`` and write ``out_csv`` whole (nothing when anything fails): ``volume_id``,
    ``candidate_id`` and ``label`` when the table has them, ``z, y, x`` (voxels), then
    :func:`~tunedepth.deploy.predict.scores_frame`'s columns. ``chunk`` candidates are cut at a time.

    Raises:
        WeightsError: the model folder is not an export or changed since.
        DataError: the model does not score volume candidates, a volume is missing or unreadable, a table row is
            wrong, or the model's widths are in mm and a volume has no spacing (one line naming it).
    """
    model, info = load_model(model_dir)
    if info.input.volumes is None:
        raise DataError(f"The model in {model_dir} scores {info.task!r} images, not candidates in volumes; give it "
                        "images, without --volumes.")
    read = read_named_volumes(Path(volumes), table_volume_ids(Path(candidates), name="the candidate table"),
                              name="--volumes")
    table = read_candidate_table(candidates, read, coordinates=coordinates, labelled=False)
    ids = sorted(read)
    position = {vid: k for k, vid in enumerate(ids)}
    n = len(table)
    cases = VolumeCases(volumes=[read[v].array for v in ids], spacings=tuple(read[v].spacing for v in ids),
                        volume_ids=tuple(ids), volume_index=np.array([position[v] for v in table.volume_id]),
                        centers=table.centers, labels=np.zeros(n, dtype=np.int64), lesion=np.zeros(n, dtype=np.int64),
                        n_lesions=np.zeros(len(ids), dtype=np.int64))
    scorer = candidate_scorer(info.input.volumes.model_dump(), cases)
    model = model.to(torch.device(device))
    log_odds = []
    for start in range(0, n, chunk):
        part = _rows(scorer, start, min(start + chunk, n))
        patches = part.test_patches("test")
        per_patch = predict_log_odds(model, patches, batch_size=batch_size, device=torch.device(device))
        log_odds.append(average_over_crops(per_patch, len(part.cases["test"]), part.n_eval_views))
        if progress is not None:
            progress(min(start + chunk, n), n)
    frame = scores_frame(np.concatenate(log_odds), info).reset_index(drop=True)
    front = pd.DataFrame({"volume_id": table.volume_id})
    if table.candidate_id is not None:
        front["candidate_id"] = table.candidate_id
    if (table.label >= 0).all():
        front["label"] = table.label
    front["z"], front["y"], front["x"] = table.z, table.y, table.x
    out = pd.concat([front, frame], axis=1)
    Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(out_csv), out.to_csv(index=False, float_format="%.17g"))
    return out


def _rows(scorer: VolumeData, start: int, stop: int) -> VolumeData:
    """``scorer`` restricted to candidates ``start:stop`` (their volumes and axes kept)."""
    cases, rows = scorer.cases["test"], slice(start, stop)
    part = dataclasses.replace(cases, volume_index=cases.volume_index[rows], centers=cases.centers[rows],
                               labels=cases.labels[rows], lesion=cases.lesion[rows])
    axes = tuple(dataclasses.replace(a, axes=a.axes[rows], tubular=a.tubular[rows]) for a in scorer.axes["test"])
    return dataclasses.replace(scorer, cases={"test": part}, axes={"test": axes})
