"""Building a grouped model with its starting weights: the one entry point for studies.

:func:`resolve_weights` checks that the requested weights are available, without
building anything, so that a study can refuse before it writes any output.
:func:`build_model` builds the network with a new head and loads the weights into every
other group.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import torch
from torch import nn

from tunedepth._io import file_sha256
from tunedepth.errors import ConfigError, WeightsError
from tunedepth.models.architectures import get_architecture
from tunedepth.models.groups import GroupedModel
from tunedepth.models.loading import load_body_state_dict, pair_in_order, read_state_dict
from tunedepth.models.weights import WEIGHT_KINDS, WeightSource, fetch_weight_file

__all__ = ["HEAD_INITS", "HeadInit", "ResolvedWeights", "WeightsName", "build_model", "resolve_weights", "zero_head"]

logger = logging.getLogger(__name__)

WeightsName = Literal["imagenet", "none", "checkpoint"]
"""The names the ``weights`` argument accepts (see ``WEIGHT_KINDS``)."""


@dataclass(frozen=True)
class ResolvedWeights:
    """Starting weights located on disk and fingerprinted, before any model is built.

    Attributes:
        name: "none", "checkpoint" or a pretrained source name such as "imagenet".
        path: the local weight file; None for "none".
        sha256: hex sha256 of that file; None for "none". Recorded with every run.
        source: the pretrained source's metadata; None for "none" and "checkpoint".

    Example:
        >>> ResolvedWeights(name="none", path=None, sha256=None).sha256 is None
        True
    """

    name: str
    path: Path | None
    sha256: str | None
    source: WeightSource | None = None


def resolve_weights(
    architecture: str,
    *,
    weights: WeightsName,
    checkpoint_path: Path | None = None,
    checkpoint_sha256: str | None = None,
) -> ResolvedWeights:
    """Locate, verify and fingerprint the starting weights, without building the model.

    A pretrained source may be downloaded into torch's hub cache when missing and the
    machine is online (see :func:`tunedepth.models.weights.fetch_weight_file`).

    Args:
        architecture: registry name, e.g. "resnet18".
        weights: "imagenet" (the architecture's pretrained source), "none" (random
            initialisation: the scratch regime) or "checkpoint" (``checkpoint_path``).
        checkpoint_path: the state-dict file for ``weights="checkpoint"``; must be None
            otherwise.
        checkpoint_sha256: the expected hex sha256 of ``checkpoint_path`` (the study file's
            ``model.checkpoint_sha256``), or None to accept any file; only with
            ``weights="checkpoint"``.

    Returns:
        The resolved weights: name, local path and sha256.

    Raises:
        ConfigError: for an unknown architecture or weight name (with a guess and the
            full list), a pretrained name the architecture does not offer (listing those
            it does), or a ``checkpoint_path`` or ``checkpoint_sha256`` given or missing
            against ``weights``.
        WeightsError: if the weight file is missing and cannot be obtained, or its
            checksum is wrong (a declared source's, or ``checkpoint_sha256``); one line
            naming the file and how to get it.

    Example:
        >>> resolve_weights("alexnet", weights="none")
        ResolvedWeights(name='none', path=None, sha256=None, source=None)
        >>> resolve_weights("efficientnet_lite0", weights="imagenet").sha256[:8]
        '57934424'
    """
    arch = get_architecture(architecture)
    if weights not in WEIGHT_KINDS:
        raise ConfigError(WEIGHT_KINDS.unknown_message(weights))
    if weights == "checkpoint":
        if checkpoint_path is None:
            raise ConfigError(
                "The 'checkpoint_path' parameter of resolve_weights is required with "
                "weights='checkpoint'; got None. Pass the path of a state-dict file."
            )
        path = Path(checkpoint_path)
        if not path.is_file():
            raise WeightsError(
                f"Checkpoint file {path} does not exist; pass the path of a state dict saved "
                f"with torch.save(model.net.state_dict(), path) from a {architecture!r} model."
            )
        return ResolvedWeights(name="checkpoint", path=path, sha256=_checkpoint_sha256(path, checkpoint_sha256))
    for name, value in (("checkpoint_path", checkpoint_path), ("checkpoint_sha256", checkpoint_sha256)):
        if value is not None:
            raise ConfigError(
                f"The {name!r} parameter of resolve_weights is only used with "
                f"weights='checkpoint'; got {str(value)!r} with weights={weights!r}. "
                "Remove it or set weights='checkpoint'."
            )
    if weights == "none":
        return ResolvedWeights(name="none", path=None, sha256=None)
    source = arch.get_weight_source(weights)
    path = fetch_weight_file(source)
    return ResolvedWeights(name=weights, path=path, sha256=file_sha256(path), source=source)


def _checkpoint_sha256(path: Path, expected: str | None) -> str:
    """The checkpoint file's sha256, checked against ``expected`` when given."""
    actual = file_sha256(path)
    if expected is not None and actual != expected:
        raise WeightsError(
            f"Checkpoint file {path} has sha256 {actual} but model.checkpoint_sha256 expects {expected}: it is not "
            "the file the study was set up with (corrupt, or replaced). Point model.checkpoint at the right file, or "
            "set model.checkpoint_sha256 to the new sha256 if you replaced it on purpose."
        )
    return actual


HeadInit = Literal["architecture", "zero"]
HEAD_INITS: tuple[str, ...] = get_args(HeadInit)


def zero_head(model: GroupedModel) -> None:
    """Set the weights and bias of the head's output layer (its last layer with weights) to 0, in place.

    Only the output layer: a head of several layers keeps its hidden layers' init, which a zero output layer
    still passes gradients to once it has moved.

    Raises:
        ValueError: if the head has no layer with a weight.
    """
    layers = [m for m in model.group_modules(model.head) if isinstance(getattr(m, "weight", None), torch.Tensor)
              and not isinstance(m, nn.modules.batchnorm._NormBase)]
    if not layers:
        raise ValueError(f"head {model.head.name!r} of {model.architecture} has no layer with weights to zero.")
    output = layers[-1]
    with torch.no_grad():
        for name in ("weight", "bias"):
            tensor = getattr(output, name, None)
            if isinstance(tensor, torch.Tensor):
                tensor.zero_()


def build_model(
    architecture: str,
    *,
    num_classes: int,
    weights: WeightsName,
    checkpoint_path: Path | None = None,
    checkpoint_sha256: str | None = None,
    head_init: HeadInit = "architecture",
) -> GroupedModel:
    """Build a grouped model: a new head, and the requested weights in every other group.

    The head (last group) is always a new ``num_classes``-way classifier, as the paper replaces fc8, initialised
    by ``head_init``; the other groups get the weights (or keep their random initialisation for
    ``weights="none"``). Random initialisation draws from torch's global generator: seed it first for repeatable
    runs.

    Args:
        architecture: registry name, e.g. "alexnet".
        num_classes: number of outputs of the new head, at least 1.
        weights: "imagenet", "none" or "checkpoint" (see :func:`resolve_weights`).
        checkpoint_path: the state-dict file for ``weights="checkpoint"``; its tensor names
            are those of ``model.net.state_dict()`` and its head tensors are ignored.
        checkpoint_sha256: the expected hex sha256 of ``checkpoint_path``, or None (see
            :func:`resolve_weights`).
        head_init: "architecture" (the architecture's own init; timm's EfficientNet init draws the weights of
            a 2-class head from U(-0.71, 0.71), so its first logits are tens of units) or "zero" (the output
            layer's weights and bias set to 0, so every class starts at probability 1/num_classes, as BiT does,
            Kolesnikov et al. 2020); see :func:`zero_head`.

    Returns:
        The model, recording ``weights`` (the name) and ``weights_sha256`` (of the file
        loaded; None for "none"), and the input ``mean``/``std`` it expects.

    Raises:
        ConfigError: for an unknown architecture or weight name, an unsupported weight
            name, a misplaced ``checkpoint_path`` or a bad ``num_classes``.
        WeightsError: if the weight file is missing, corrupt, not a plain state dict, has
            another sha256 than ``checkpoint_sha256``, or does not fit the architecture (the
            offending tensors are listed).

    Example:
        >>> model = build_model("resnet18", num_classes=2, weights="none")
        >>> model.group_names, model.net.fc.out_features, model.weights_sha256
        (('stem', 'layer1', 'layer2', 'layer3', 'layer4', 'fc'), 2, None)
    """
    arch = get_architecture(architecture)
    resolved = resolve_weights(architecture, weights=weights, checkpoint_path=checkpoint_path,
                               checkpoint_sha256=checkpoint_sha256)
    model = arch.build(num_classes)
    if head_init == "zero":
        zero_head(model)
    elif head_init != "architecture":
        raise ConfigError(f"'head_init' parameter of build_model must be one of {list(HEAD_INITS)}; "
                          f"got {head_init!r} instead.")
    if resolved.path is None:
        logger.info("Built %s with %d classes, random initialisation", arch.name, num_classes)
        return model
    state = read_state_dict(resolved.path)
    source = resolved.source
    if source is not None and source.key_matching == "in_order":
        state = pair_in_order(state, model, source=source)
    origin = f"{source.label} weights" if source is not None else "checkpoint"
    load_body_state_dict(model, state, origin=f"{origin} {resolved.path}")
    mean, std = (source.mean, source.std) if source is not None else (arch.mean, arch.std)
    return GroupedModel(
        model.net,
        model.groups,
        architecture=arch.name,
        mean=mean,
        std=std,
        weights=resolved.name,
        weights_sha256=resolved.sha256,
        channels_last=model.channels_last,
        segments=arch.segments,
    )
