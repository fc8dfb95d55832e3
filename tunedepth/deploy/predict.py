"""``tunedepth predict``: an exported model's scores for new images, one row per image.

Images go through the exported input steps (:class:`~tunedepth.deploy.model_folder.InputSpec`:
:func:`~tunedepth.data.prepare_images`, then the model's normalisation), in batches, on the CPU or a GPU. A model
whose task scores an image through crops (frame classification) resizes it to its ``frame_size``, cuts the exported
crops (:func:`~tunedepth.data.crops.apply_crops`) and averages their probabilities
(:func:`~tunedepth.data.crops.average_over_crops`), as the study scored its test frames.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.special import expit

from tunedepth._io import atomic_write_text
from tunedepth.data import prepare_images
from tunedepth.data.crops import CropSpec, apply_crops, average_over_crops
from tunedepth.deploy.inputs import collect_inputs
from tunedepth.deploy.model_folder import ExportedModel, load_model
from tunedepth.errors import DataError
from tunedepth.models import GroupedModel
from tunedepth.training import predict_log_odds

__all__ = ["PredictProgress", "predict_arrays", "predict_inputs", "scores_frame"]

PredictProgress = Callable[[int, int], None]
"""Called with (images scored so far, images in all) after each batch."""


def predict_arrays(model_dir: Path, images: np.ndarray | list[np.ndarray], *, batch_size: int = 64,
                   device: str = "cpu") -> pd.DataFrame:
    """Scores of uint8 images (an array (n, h, w[, c]) or a list of (h, w[, c]) arrays) by the model exported in
    ``model_dir``: :func:`scores_frame`'s columns, one row per image in order.

    Raises:
        WeightsError: the model folder is not an export or changed since.
        DataError: an image is not uint8 or has an unsupported shape.
    """
    model, info = load_model(model_dir)
    _check_images_model(info, model_dir)
    size = source_size(info)
    batches = [images] if isinstance(images, np.ndarray) else [np.asarray(image)[None] for image in images]
    inputs = torch.cat([prepare_images(batch, image_size=size) for batch in batches]) \
        if batches else torch.empty((0, 3, size, size), dtype=torch.uint8)
    return scores_frame(_log_odds(model, inputs, info, batch_size, torch.device(device)), info)


def _check_images_model(info: ExportedModel, model_dir: Path) -> None:
    if info.input.volumes is not None:
        raise DataError(f"The model in {model_dir} scores candidates in volumes; give it a candidate table and the "
                        "folder of the volumes it names (tunedepth predict MODEL_DIR CANDIDATES.csv --volumes FOLDER).")


def source_size(info: ExportedModel) -> int:
    """The side images are resized to first: the crops' frame size, or the network's input size."""
    return info.input.frame_size if info.input.crops is not None and info.input.frame_size else \
        info.input.image_size


def _log_odds(model: GroupedModel, inputs: torch.Tensor, info: ExportedModel, batch_size: int,
              device: torch.device) -> np.ndarray:
    """Per-image log-odds of ``inputs`` (uint8, at :func:`source_size`): one forward pass, or the crops' mean."""
    if info.input.crops is None or inputs.shape[0] == 0:
        return predict_log_odds(model.to(device), inputs, batch_size=batch_size, device=device)
    crops = tuple(CropSpec(**c.model_dump()) for c in info.input.crops)
    cut = apply_crops(inputs, [crops] * inputs.shape[0], info.input.image_size)
    per_crop = predict_log_odds(model.to(device), cut, batch_size=batch_size, device=device)
    return average_over_crops(per_crop, inputs.shape[0], len(crops))


def scores_frame(log_odds: np.ndarray, info: ExportedModel) -> pd.DataFrame:
    """One row per image: ``log_odds_<k>`` and ``probability_<k>`` per class k (the probability is the logistic
    function of the log-odds), and ``decision``: the class name chosen (binary tasks: the positive class when its
    log-odds are above the exported threshold; otherwise the class of largest log-odds)."""
    frame = pd.DataFrame(index=pd.RangeIndex(log_odds.shape[0], name="image"))
    for k in range(log_odds.shape[1]):
        frame[f"log_odds_{k}"] = log_odds[:, k]
    for k in range(log_odds.shape[1]):
        frame[f"probability_{k}"] = expit(log_odds[:, k])
    names = np.asarray(info.class_names, dtype=object)
    if info.threshold is not None and log_odds.shape[1] == 2:
        chosen = (log_odds[:, 1] > info.threshold.value).astype(int)
    else:
        chosen = np.argmax(log_odds, axis=1) if log_odds.size else np.zeros(0, dtype=int)
    frame["decision"] = names[chosen] if len(chosen) else np.asarray([], dtype=object)
    return frame


def predict_inputs(model_dir: Path, inputs: list[str], out_csv: Path, *, batch_size: int = 64, device: str = "cpu",
                   progress: PredictProgress | None = None) -> pd.DataFrame:
    """Score every image ``inputs`` name (:func:`~tunedepth.deploy.inputs.collect_inputs`) with the model exported
    in ``model_dir`` and write ``out_csv`` whole (nothing when anything fails): ``image`` (the file, or
    ``FILE.npz:SPLIT[i]``), ``label`` when a manifest gives it, then :func:`scores_frame`'s columns.

    Raises:
        WeightsError: the model folder is not an export or changed since.
        DataError: an input is missing, unreadable or not an 8-bit image (one line naming it).
    """
    model, info = load_model(model_dir)
    _check_images_model(info, model_dir)
    sources = collect_inputs(inputs)  # every input checked before any image is read
    total = sum(len(s) for s in sources)
    model = model.to(torch.device(device))
    frames, done = [], 0
    for source in sources:
        log_odds = []
        for batch in source.batches(source_size(info), batch_size):
            log_odds.append(_log_odds(model, batch, info, batch_size, torch.device(device)))
            done += batch.shape[0]
            if progress is not None:
                progress(done, total)
        frame = scores_frame(np.concatenate(log_odds), info).reset_index(drop=True)
        frame.insert(0, "image", source.names)
        if source.labels is not None:
            frame.insert(1, "label", source.labels)
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(out_csv), out.to_csv(index=False, float_format="%.17g"))
    return out
