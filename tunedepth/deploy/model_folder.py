"""An exported model folder: ``model.json`` (what the model is, how to feed it, where it came from, how good it
is, its decision threshold) beside ``weights.safetensors``, every file's sha256 recorded and checked on loading.

Written by :func:`~tunedepth.deploy.export.export_model`, read by :func:`load_model`
(:mod:`tunedepth.deploy.predict`). The folder stands alone: it needs tunedepth and torch, not the study folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from tunedepth._io import file_sha256
from tunedepth.errors import WeightsError
from tunedepth.models import GroupedModel, build_model
from tunedepth.models.checkpoints import read_run_weights

__all__ = ["CARD_FILE", "MODEL_FILE", "MODEL_FORMAT", "Calibration", "CropRecord", "DataSummary", "ExportedModel",
           "InputSpec", "OnnxCheck", "Refit", "RunSource", "Threshold", "VolumeScoring", "load_model",
           "load_weights", "write_model_json"]

MODEL_FILE = "model.json"
CARD_FILE = "MODEL_CARD.md"
MODEL_FORMAT: Literal["tunedepth-model/1"] = "tunedepth-model/1"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CropRecord(_Record):
    """One fixed test-time crop (:class:`tunedepth.data.crops.CropSpec`'s fields)."""

    scale: float
    offset_x: float
    offset_y: float
    flip: bool
    quarter_turns: int


class VolumeScoring(_Record):
    """How a candidate in a volume becomes the patches whose probabilities are averaged (a ``volume_candidates``
    study's ``[volume_candidates]`` settings, the unit its widths are in, the intensity window mapped to 0..255, the
    patch side): :func:`tunedepth.study.tasks.volume_candidates.candidate_scorer` rebuilds it."""

    settings: dict[str, object]
    unit: str
    window: tuple[float, float]
    image_size: int
    steps: str = ("each candidate's axis is found again (the local vessel axis from the Hessian at vessel_sigma, or "
                  "the z axis where no tube is found or views = 'orthogonal'); patches of every width at test_angles "
                  "evenly spaced rotations about it, for each kind of axis; the candidate's score is the mean of its "
                  "patches' probabilities")


class InputSpec(_Record):
    """How an image becomes the model's input (:func:`tunedepth.data.prepare_images`, then normalisation), and,
    for a task that scores an image through crops, the crops whose probabilities are averaged."""

    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    steps: str = ("uint8 image; grayscale repeated to 3 channels, an alpha channel dropped; resized to image_size x "
                  "image_size (stretched, not cropped) with bilinear interpolation, align_corners=False, antialiased "
                  "when an axis shrinks, rounded to uint8; then (x / 255 - mean) / std per channel")
    frame_size: int | None = None
    crops: tuple[CropRecord, ...] | None = None
    crop_steps: str | None = None
    volumes: VolumeScoring | None = None


class RunSource(_Record):
    """The study run the model is."""

    study_dir: str
    study_name: str
    run_id: str
    label: str
    regime: str
    depth: int
    train_fraction: float
    seed: int
    lr: float
    best_epoch: int
    why: str
    method: str | None = None
    starting_weights: str | None = None


class Threshold(_Record):
    """The decision threshold on the positive class's log-odds (binary tasks): a case is called positive when its
    log-odds are above ``value``. Chosen on the validation cases at ``fpr_target``; the test split's sensitivity
    and specificity at it are what to expect (with Wilson intervals at the model's ``confidence``)."""

    fpr_target: float
    value: float
    validation_sensitivity: float
    validation_specificity: float
    test_sensitivity: float
    test_specificity: float
    test_sensitivity_interval: tuple[float, float]
    test_specificity_interval: tuple[float, float]


class DataSummary(_Record):
    """The data the model was trained, validated and tested on: the study's resolved ``[data]`` table and the cases
    per class of each split (``train``: the run's own training cases, at its training fraction)."""

    settings: dict[str, object]
    class_counts: dict[str, tuple[int, ...]]
    split_origin: str


class Calibration(_Record):
    """How well the model's probabilities match the test labels (:mod:`tunedepth.evaluation.calibration`):
    top-label expected calibration error over ``n_bins`` equal-width bins, Brier loss, log-loss."""

    expected_calibration_error: float
    brier: float
    log_loss: float
    n_bins: int


class Refit(_Record):
    """``--refit``: the chosen configuration trained again on the run's training cases and the validation cases
    together, for the run's best epoch count, keeping the last epoch (nothing was left to choose on). The test
    metrics are the refitted model's; the threshold is the original run's, chosen on its validation predictions."""

    epochs: int
    n_train: int
    train_seconds: float


class OnnxCheck(_Record):
    """The ONNX copy of the model (``model.onnx``) and how closely its log-odds matched PyTorch's on the study's
    test images: the largest absolute difference, and relative to max(1, |log-odds|) (what ``tolerance`` bounds)."""

    file: str
    max_abs_difference: float
    max_relative_difference: float
    n_images: int
    tolerance: float


class ExportedModel(_Record):
    """``model.json`` (see the module docstring)."""

    format: Literal["tunedepth-model/1"] = MODEL_FORMAT
    task: str
    architecture: str
    groups: tuple[str, ...]
    class_names: tuple[str, ...]
    input: InputSpec
    source: RunSource
    data: DataSummary
    test_auc: float
    test_auc_low: float
    test_auc_high: float
    test_accuracy: float
    confidence: float
    n_val: int
    n_test: int
    calibration: Calibration
    threshold: Threshold | None
    refit: Refit | None = None
    onnx: OnnxCheck | None = None
    files: dict[str, str]
    versions: dict[str, str]


def load_model(model_dir: Path) -> tuple[GroupedModel, ExportedModel]:
    """The exported model in ``model_dir``, in eval mode on the CPU, and its description.

    Raises:
        WeightsError: ``model.json`` is missing or not a model description of this format, or a file's sha256
            differs from the one recorded at export (the folder changed since).
    """
    model_dir = Path(model_dir)
    path = model_dir / MODEL_FILE
    try:
        info = ExportedModel.model_validate(json.loads(path.read_text()))
    except FileNotFoundError:
        raise WeightsError(f"{model_dir} is not an exported model (no {MODEL_FILE}); make one with tunedepth "
                           "export.") from None
    except (ValueError, ValidationError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise WeightsError(f"{path} is not a {MODEL_FORMAT} description ({first}); export the model again.") \
            from None
    for name, digest in info.files.items():
        if not (model_dir / name).is_file() or file_sha256(model_dir / name) != digest:
            raise WeightsError(f"{model_dir / name} is missing or changed since the export (sha256 differs from "
                               f"{MODEL_FILE}'s); export the model again.")
    model, _ = load_weights(model_dir / "weights.safetensors", info.architecture, len(info.class_names))
    return model, info


def load_weights(path: Path, architecture: str, n_classes: int) -> tuple[GroupedModel, dict[str, str]]:
    """A model of ``architecture`` with ``n_classes`` classes holding the weights of the run weights file ``path``,
    in eval mode on the CPU, and the file's header."""
    tensors, header = read_run_weights(path)
    model = build_model(architecture, num_classes=n_classes, weights="none")
    model.net.load_state_dict(tensors)
    return model.eval(), header


def write_model_json(folder: Path, info: ExportedModel) -> None:
    """Write ``model.json`` into ``folder`` (inside an atomic folder write)."""
    from tunedepth._io import atomic_write_text

    atomic_write_text(folder / MODEL_FILE, json.dumps(info.model_dump(mode="json"), indent=2) + "\n")

