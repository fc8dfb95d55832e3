"""``tunedepth export --onnx``: the exported model as ONNX (``model.onnx``), checked against PyTorch.

The ONNX graph takes what :func:`tunedepth.data.prepare_images` gives — images of shape (n, 3, image_size,
image_size) holding the uint8 values 0..255, as float32 — and returns the per-class log-odds of shape
(n, n_classes) (``log(p_k / (1 - p_k))``, as the study stores them), so normalisation is inside the graph and a
runtime without tunedepth only resizes. It is written with PyTorch's ``torch.export``-based exporter (onnxscript)
and checked with onnxruntime on the study's test images: the largest log-odds difference to PyTorch's is recorded in
``model.json`` and must be at most :data:`ONNX_TOLERANCE` relative to max(1, |log-odds|). Needs
``pip install 'tunedepth[onnx]'``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tunedepth.errors import ConfigError, WeightsError
from tunedepth.models import GroupedModel
from tunedepth.training import predict_log_odds

__all__ = ["ONNX_FILE", "ONNX_TOLERANCE", "check_onnx_installed", "write_onnx"]

ONNX_FILE = "model.onnx"

ONNX_TOLERANCE = 1e-4
"""The largest accepted difference between the ONNX model's log-odds and PyTorch's on the test images, relative to
max(1, |log-odds|): log-odds reach ±35 and two float32 runtimes (oneDNN, onnxruntime's MLAS) differ in the last
digits of every convolution — measured on the demo's EfficientNet-Lite0, up to 5.9e-4 absolute, 2.6e-5 relative —
so an absolute 1e-4 would refuse sound exports of confident models."""


def check_onnx_installed() -> None:
    """Raise a one-line :class:`~tunedepth.errors.ConfigError` naming the extra when onnx or onnxruntime is
    missing."""
    missing = [name for name in ("onnx", "onnxruntime") if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(f"tunedepth export --onnx needs {' and '.join(missing)}, not installed; install them with "
                          "pip install 'tunedepth[onnx]', or export without --onnx.")


class _Scoring(nn.Module):
    """Images as float32 0..255 -> per-class log-odds, the model's normalisation included."""

    def __init__(self, model: GroupedModel) -> None:
        super().__init__()
        self.model = model
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.register_buffer("mean", torch.tensor(model.mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(model.std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        z = self.model((images / 255.0 - self.mean) / self.std).float()
        columns = []
        for k in range(z.shape[1]):
            others = torch.cat([z[:, :k], z[:, k + 1:]], dim=1)
            columns.append(z[:, k] - torch.logsumexp(others, dim=1))
        return torch.stack(columns, dim=1)


def write_onnx(model: GroupedModel, path: Path, *, image_size: int,
               check_images: torch.Tensor) -> tuple[float, float]:
    """Write ``model`` as ONNX to ``path`` and return the largest log-odds difference to PyTorch on
    ``check_images`` (uint8, (n, 3, image_size, image_size)): absolute, and relative to max(1, |log-odds|).

    Raises:
        ConfigError: onnx or onnxruntime is not installed.
        WeightsError: the ONNX model's log-odds differ from PyTorch's by more than :data:`ONNX_TOLERANCE` relative
            to max(1, |log-odds|).
    """
    check_onnx_installed()
    import onnxruntime

    model = model.to("cpu").eval()
    scoring = _Scoring(model).eval()
    example = torch.zeros((1, 3, image_size, image_size), dtype=torch.float32)
    with torch.no_grad():
        program = torch.onnx.export(scoring, (example,), input_names=["images"], output_names=["log_odds"],
                                    dynamic_shapes={"images": {0: torch.export.Dim("n")}}, dynamo=True,
                                    verbose=False)
    if program is None:
        raise WeightsError("PyTorch's ONNX exporter returned no program; export without --onnx, and report it.")
    program.save(str(path))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = np.concatenate([session.run(None, {"images": check_images[i:i + 256].float().numpy()})[0]
                          for i in range(0, check_images.shape[0], 256)]) if check_images.shape[0] else np.zeros(0)
    want = predict_log_odds(model, check_images, batch_size=256, device=torch.device("cpu"))
    absolute = np.abs(got - want)
    relative = float(np.max(absolute / np.maximum(1.0, np.abs(want)), initial=0.0))
    if not relative <= ONNX_TOLERANCE:
        raise WeightsError(f"The ONNX model's log-odds differ from PyTorch's by up to {relative:.3g} (relative to "
                           f"max(1, |log-odds|)) on {check_images.shape[0]} test images (tolerance "
                           f"{ONNX_TOLERANCE:g}); export without --onnx, and report it.")
    return float(np.max(absolute, initial=0.0)), relative
