"""A run's trained weights as a ``safetensors`` file (``weights.safetensors`` in its run folder).

Written by a run when ``execution.keep_checkpoints = "all"`` and by ``tunedepth rerun``; read by
``tunedepth export``. ``safetensors`` (the format of the Hugging Face hub and timm) stores named tensors and a
string-to-string header, and loading it runs no code, unlike a pickled ``torch.save`` file. The file holds the whole
network's state dict at the run's best epoch (frozen groups included, so it stands alone) and, in its header, the
architecture, the number of classes and the run id.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from tunedepth.errors import WeightsError

__all__ = ["read_run_weights", "run_weights_bytes"]


def run_weights_bytes(state_dict: dict[str, torch.Tensor], metadata: dict[str, str]) -> bytes:
    """The ``safetensors`` file of ``state_dict`` (copied to the CPU, contiguous) with ``metadata`` in its header.

    Example:
        >>> data = run_weights_bytes({"w": torch.ones(2, 3)}, {"run_id": "abc"})
        >>> import safetensors.torch; safetensors.torch.load(data)["w"].shape
        torch.Size([2, 3])
    """
    tensors = {name: value.detach().to("cpu").contiguous() for name, value in state_dict.items()}
    return save(tensors, metadata=dict(metadata))


def read_run_weights(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The state dict and header of a run's ``weights.safetensors``.

    Raises:
        WeightsError: the file is missing or is not a safetensors file (one line naming it).
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"The run weights {path} do not exist; keep them with execution.keep_checkpoints = "
                           "'all', or re-make them with tunedepth rerun.")
    try:
        with safe_open(str(path), framework="pt") as fh:
            tensors = {name: fh.get_tensor(name) for name in fh.keys()}  # noqa: SIM118 (not a dict)
            metadata = dict(fh.metadata() or {})
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"{path} is not a readable safetensors weights file ({exc}); re-make it with tunedepth "
                           "rerun.") from None
    return tensors, metadata
