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

__all__ = ["MODEL_FILE", "MODEL_FORMAT", "ExportedModel", "InputSpec", "OnnxCheck", "RunSource", "Threshold",
           "load_model", "load_weights", "write_model_json"]

MODEL_FILE = "model.json"
MODEL_FORMAT: Literal["tunedepth-model/1"] = "tunedepth-model/1"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InputSpec(_Record):
    """How an image becomes the model's input (:func:`tunedepth.data.prepare_images`, then normalisation)."""

    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    steps: str = ("uint8 image; grayscale repeated to 3 channels, an alpha channel dropped; resized to image_size x "
                  "image_size (stretched, not cropped) with bilinear interpolation, align_corners=False, antialiased "
                  "when an axis shrinks, rounded to uint8; then (x / 255 - mean) / std per channel")


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


class Threshold(_Record):
    """The decision threshold on the positive class's log-odds (binary tasks): a case is called positive when its
    log-odds are above ``value``. Chosen on the validation cases at ``fpr_target``; the test split's sensitivity
    and specificity at it are what to expect."""

    fpr_target: float
    value: float
    validation_sensitivity: float
    validation_specificity: float
    test_sensitivity: float
    test_specificity: float


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
    test_auc: float
    test_auc_low: float
    test_auc_high: float
    confidence: float
    n_val: int
    n_test: int
    threshold: Threshold | None
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

