"""Reading state-dict files and loading them into a model's non-head layer groups.

The head (last group) is never loaded: each data set gets a new classifier with its own
number of classes, initialised by the architecture's own init (the paper replaces fc8).
Every other group must be loaded completely: missing, unexpected and shape-mismatched
tensors are errors that list the offenders, never silently skipped.
"""

from __future__ import annotations

import logging
import pickle
import re
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from tunedepth.errors import WeightsError
from tunedepth.models.groups import GroupedModel
from tunedepth.models.weights import WeightSource

__all__ = ["load_body_state_dict", "pair_in_order", "read_state_dict"]

logger = logging.getLogger(__name__)

# Batch-norm layers whose step counter may be absent from a legacy file: PyTorch itself
# accepts such files and sets the counter to 0; it only matters when momentum is None.
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)

_MAX_LISTED = 8

_SAVE_HINT = "Save the weights with torch.save(model.net.state_dict(), path) and point to that file."
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_REFUSED_GLOBAL = re.compile(r"[Uu]nsupported (?:global: )?GLOBAL (\S+)")


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Read a state-dict file safely (``torch.load(weights_only=True)``) onto the CPU.

    Args:
        path: a file written by ``torch.save(state_dict, path)``.

    Returns:
        Tensor name -> tensor, in the file's order.

    Raises:
        WeightsError: if the file is missing, is not a readable PyTorch file, holds
            arbitrary Python objects (refused by ``weights_only=True``), or holds something
            other than a mapping of names to tensors. The message is one line naming the file.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = Path(folder) / "tiny.pt"
        ...     torch.save({"w": torch.zeros(2)}, path)
        ...     read_state_dict(path)
        {'w': tensor([0., 0.])}
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(
            f"Weight file {path} does not exist; pass the path of a state dict saved with "
            "torch.save(model.net.state_dict(), path)."
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad files; all mean the same here
        raise WeightsError(
            f"Weight file {path} is not a readable PyTorch state dict ({_load_failure(exc)}); only plain state "
            f"dicts are loaded (torch.load with weights_only=True). {_SAVE_HINT}"
        ) from exc
    if not isinstance(obj, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()
    ):
        raise WeightsError(
            f"Weight file {path} holds a {type(obj).__name__} that is not a state dict (a mapping "
            "of tensor names to tensors); save one with torch.save(model.net.state_dict(), path)."
        )
    return dict(obj)


def _load_failure(exc: Exception) -> str:
    """Why torch.load refused a file, in a few words on one line.

    torch's own message for a refused unpickle is several lines long and advises loading with
    ``weights_only=False``, the unsafe load this module exists to avoid; only the global it refused is kept.
    """
    text = " ".join(_ANSI.sub("", str(exc)).split())
    refused = _REFUSED_GLOBAL.search(text)
    if isinstance(exc, pickle.UnpicklingError):
        what = f"unpickling it needs the Python global {refused.group(1)!r}" if refused else "it holds Python objects"
        return (f"{what}, which weights_only=True refuses, so nothing in it was run: it is no checkpoint or holds "
                "more than tensors")
    sentence = text.split(". ")[0].rstrip(".")
    return f"{type(exc).__name__}: {sentence}" if sentence else f"{type(exc).__name__}: the file is empty or truncated"


def pair_in_order(
    state_dict: Mapping[str, torch.Tensor], model: GroupedModel, *, source: WeightSource
) -> dict[str, torch.Tensor]:
    """Rename a state dict from another implementation's tensor names to the network's.

    Some files were written by another implementation of the same network, with other
    module names (EfficientNet-Lite-PyTorch's ``_blocks.0._depthwise_conv.weight`` is
    timm's ``blocks.0.0.conv_dw.weight``). Both enumerate the same tensors in the same
    order, so tensor i of the file is paired with tensor i of ``model.net.state_dict()``.
    Pairing by position is only safe with strict checks on every pair, so all of these
    must hold or nothing is loaded:

    * the file and the network hold the same number of tensors;
    * each pair has the same tensor kind (the name after the last dot: ``weight``,
      ``bias``, ``running_mean``, ...), which catches a swapped weight and bias;
    * each pair has the same shape; for head tensors, the shape the source's own
      ``num_classes``-way classifier has (the head itself is not loaded).

    Args:
        state_dict: the file's tensors, in the file's order.
        model: the network the tensors are for.
        source: the weight source (for its ``num_classes`` and messages).

    Returns:
        The same tensors under the network's names.

    Raises:
        WeightsError: naming every failing pair by position and both names.

    Example:
        >>> from tunedepth.models.architectures import get_architecture
        >>> arch = get_architecture("efficientnet_lite0")
        >>> model = arch.build(num_classes=1000)
        >>> theirs = {"their." + k: v for k, v in model.net.state_dict().items()}
        >>> list(pair_in_order(theirs, model, source=arch.get_weight_source("imagenet")))[:3]
        ['conv_stem.weight', 'bn1.weight', 'bn1.bias']
    """
    target = model.net.state_dict()
    if len(state_dict) != len(target):
        raise WeightsError(
            f"The {source.label} weight file holds {len(state_dict)} tensors but the "
            f"{model.architecture} network has {len(target)}; tensors are paired in order, so "
            "the counts must match: the file is for another network."
        )
    problems = []
    renamed: dict[str, torch.Tensor] = {}
    for i, ((src_name, tensor), (name, own)) in enumerate(
        zip(state_dict.items(), target.items(), strict=True)
    ):
        expected = tuple(own.shape)
        if model.head.owns(name) and expected:
            expected = (source.num_classes, *expected[1:])
        if src_name.rpartition(".")[2] != name.rpartition(".")[2]:
            problems.append(f"#{i} {src_name} -> {name} (tensor kinds differ)")
        elif tuple(tensor.shape) != expected:
            problems.append(f"#{i} {src_name} {tuple(tensor.shape)} -> {name} {expected}")
        renamed[name] = tensor
    if problems:
        raise WeightsError(
            f"The {source.label} weight file does not pair in order with the "
            f"{model.architecture} network: {_listing(problems)}."
        )
    return renamed


def load_body_state_dict(
    model: GroupedModel, state_dict: Mapping[str, torch.Tensor], *, origin: str
) -> None:
    """Load tensors into every group of ``model`` except the head, strictly.

    Tensor names are those of ``model.net.state_dict()``. Tensors of the head group in
    ``state_dict`` are ignored, since the head is always new. The only tolerated absence
    is a batch-norm layer's ``num_batches_tracked`` counter, as in PyTorch's own loader.

    Args:
        model: the model to load into, in place; its head keeps its own initialisation.
        state_dict: tensors named as in ``model.net.state_dict()``.
        origin: what the tensors are, for messages, e.g. "checkpoint /data/ck.pt".

    Raises:
        WeightsError: listing the missing, unexpected and shape-mismatched tensors.

    Example:
        >>> from tunedepth.models.architectures import get_architecture
        >>> model = get_architecture("resnet18").build(num_classes=2)
        >>> donor = get_architecture("resnet18").build(num_classes=1000)
        >>> load_body_state_dict(model, donor.net.state_dict(), origin="a donor")
        >>> bool(torch.equal(model.net.conv1.weight, donor.net.conv1.weight))
        True
    """
    target = model.net.state_dict()
    head = model.head
    provided = {k: v for k, v in state_dict.items() if not head.owns(k)}
    missing = [
        k for k in target if not head.owns(k) and k not in provided and not _is_bn_counter(model, k)
    ]
    unexpected = [k for k in provided if k not in target]
    mismatched = [
        f"{k} {tuple(v.shape)} in file vs {tuple(target[k].shape)} in model"
        for k, v in provided.items()
        if k in target and v.shape != target[k].shape
    ]
    if missing or unexpected or mismatched:
        parts = []
        if missing:
            parts.append(f"missing: {_listing(missing)}")
        if unexpected:
            parts.append(f"unexpected: {_listing(unexpected)}")
        if mismatched:
            parts.append(f"shape mismatches: {_listing(mismatched)}")
        hint = (
            f" Use a checkpoint saved from a {model.architecture} model with "
            "torch.save(model.net.state_dict(), path)."
        )
        if state_dict and all(k.startswith("net.") for k in state_dict):
            hint = (
                " Its names start with 'net.' (a GroupedModel's state dict); save "
                "model.net.state_dict() instead."
            )
        body = "-".join((model.group_names[0], model.group_names[-2]))
        raise WeightsError(
            f"The tensors of {origin} do not fit the {model.architecture} groups {body} "
            f"(head {head.name!r} ignored): {'; '.join(parts)}.{hint}"
        )
    result = model.net.load_state_dict(provided, strict=False)
    leftover = [k for k in result.missing_keys if not head.owns(k)]
    if leftover or result.unexpected_keys:  # internal invariant, checked above
        raise RuntimeError(f"Partial load despite checks: {leftover}, {result.unexpected_keys}")
    logger.info(
        "Loaded %d tensors of %s into %s groups %s; head %r newly initialised",
        len(provided),
        origin,
        model.architecture,
        ", ".join(model.group_names[:-1]),
        head.name,
    )


def _is_bn_counter(model: GroupedModel, name: str) -> bool:
    """True when ``name`` is the ``num_batches_tracked`` buffer of a batch-norm layer."""
    module_name, _, attribute = name.rpartition(".")
    if attribute != "num_batches_tracked":
        return False
    return isinstance(model.net.get_submodule(module_name), _BATCH_NORMS)


def _listing(items: list[str]) -> str:
    """The first few items, comma-separated, with a count of the rest."""
    shown = ", ".join(items[:_MAX_LISTED])
    rest = len(items) - _MAX_LISTED
    return f"{shown} (and {rest} more)" if rest > 0 else shown
