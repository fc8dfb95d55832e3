"""The frozen-prefix feature cache: compute the frozen groups' output once, train the rest on it.

A fine-tuning run at depth ``d`` trains the last ``d`` layer groups; the first ``n - d`` are frozen. When the
frozen groups compute a fixed function of a fixed input (no gradient, BatchNorm in eval mode, no active dropout)
their output for each image is the same in every epoch, every run and every seed that starts from the same
weights. This module computes it once and serves it:

* :func:`cache_cut` says how many leading groups of a frozen model can be served from the cache (the *cut*), or
  why none can. The cut stops at the first group that is trainable, has BatchNorm in train mode
  (``bn_policy = "train"``) or an active dropout / drop-path (AlexNet's fc6 and fc7 start with dropout, so a run at
  depth 1 or 2 caches conv1-conv5 and runs fc6/fc7 live, with their dropout, as the uncached run does). Scratch
  and depth = all have nothing frozen.
* :class:`FeatureStore` holds the features of each split at each cut, keyed by a content hash of everything
  they depend on: architecture, starting weights' sha256, cut (and the frozen groups' names), input
  normalisation, the images' own sha256 and the storage dtype. Any change gives a new key, so a stale entry is
  never served. Entries live in memory up to a budget, then on disk as memory-mapped ``.npy`` files.
  :meth:`FeatureStore.prepare` computes several cuts in one pass over the images (each batch runs through the
  prefix once, and the output is taken at every requested cut), so the work is shared across depths.
* :class:`CachedInputs` is what :func:`~tunedepth.training.train_model` takes instead of recomputing the prefix.

Every cached value is the frozen prefix's output in eval mode computed in float32 on fixed batches of
``batch_size`` images in split order, so it does not depend on which other cuts or runs came first. It is stored
as float32 by default: on the demo study every cached run then had the same test AUC as its uncached twin, while
float16 storage (half the memory) changed test AUCs by up to 0.09, because training at the demo's learning rate
amplifies the rounding (docs/benchmarks.md).

The decision whether the cache may be used also depends on the data: random online augmentation changes the
input every epoch, so the caller (the study runner) never uses the cache then.

Written by hand: none of timm, fastai, Lightning or MONAI caches frozen features across epochs or depths.
"""

from __future__ import annotations

import hashlib
import json
import logging
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn

from tunedepth._io import atomic_write
from tunedepth.config import Regime
from tunedepth.data import normalize
from tunedepth.models import GroupedModel
from tunedepth.tuning import BnPolicy, freeze_to_depth

logger = logging.getLogger(__name__)

__all__ = ["CacheDtype", "CachedInputs", "FeatureStore", "cache_cut", "plan_cached_cuts", "rows_of", "run_cut"]

CacheDtype = Literal["float16", "float32"]

_BN_TYPES = (nn.modules.batchnorm._BatchNorm,)
_DROPOUT_TYPES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout)


def _stochastic_reason(segment: nn.Module) -> str | None:
    """Why a segment, in its current mode, is not a fixed function of its input; None when it is."""
    if any(p.requires_grad for p in segment.parameters()):
        return "trains"
    for module in segment.modules():
        if not module.training:
            continue
        if isinstance(module, _BN_TYPES):
            return "has BatchNorm in train mode (bn_policy = 'train')"
        if isinstance(module, _DROPOUT_TYPES) and module.p > 0:
            return "has active dropout"
        if type(module).__name__ == "DropPath" and float(getattr(module, "drop_prob", 0.0)) > 0:
            return "has active drop-path"
    return None


def cache_cut(model: GroupedModel) -> tuple[int, str]:
    """How many leading layer groups of ``model``, as frozen now, can be served from the cache.

    Call it after :func:`~tunedepth.tuning.freeze_to_depth`. The model's modes are inspected as they are in
    training (``model.train()``) and restored afterwards.

    Args:
        model: the grouped model, frozen to its depth.

    Returns:
        ``(cut, reason)``: the cut (0 = nothing cacheable) and, when the cut stops before the first trainable
        group, why (empty otherwise).

    Example:
        >>> import torch
        >>> from tunedepth.models import GroupedModel, LayerGroup
        >>> from tunedepth.tuning import freeze_to_depth
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.5), torch.nn.Linear(4, 2))
        >>> groups = (LayerGroup("a", ("0",)), LayerGroup("drop", ("1",)), LayerGroup("b", ("2",)))
        >>> model = GroupedModel(net, groups, architecture="toy")
        >>> freeze_to_depth(model, 1, bn_policy="freeze")
        >>> cache_cut(model)
        (1, "group 'drop' has active dropout")
    """
    if not model.can_split:
        return 0, f"architecture {model.architecture!r} cannot be run group by group"
    was_training = model.training
    model.train()
    try:
        for index, (group, segment) in enumerate(zip(model.groups, model.segments, strict=True)):
            reason = _stochastic_reason(segment)
            if reason == "trains":
                return index, "" if index else "every group trains (scratch or depth = all)"
            if reason is not None:
                return index, f"group {group.name!r} {reason}"
        return model.n_groups, ""  # unreachable for a trainable model: its head trains
    finally:
        model.train(was_training)


@dataclass(frozen=True)
class CachedInputs:
    """Cached frozen-prefix features for one training run.

    Attributes:
        cut: the number of leading groups the features stand for; the model runs groups ``cut`` onwards.
        train: features of the run's training images, in the order of its ``train`` ImageSet.
        val: features of the validation images, in order.
    """

    cut: int
    train: torch.Tensor
    val: torch.Tensor


def _images_sha256(images: torch.Tensor, memo: dict[int, tuple[weakref.ref[torch.Tensor], int, str]]) -> str:
    """sha256 of a uint8 image tensor, remembered per tensor object (by identity, while it lives and its
    version counter, bumped by any in-place change, is unchanged)."""
    entry = memo.get(id(images))
    if entry is not None and entry[0]() is images and entry[1] == images._version:
        return entry[2]
    digest = hashlib.sha256(str((tuple(images.shape), str(images.dtype))).encode())
    digest.update(images.contiguous().numpy().tobytes())
    memo[id(images)] = (weakref.ref(images), images._version, digest.hexdigest())
    return digest.hexdigest()


class FeatureStore:
    """Frozen-prefix features by content key, in memory up to a budget, then memory-mapped from disk.

    Args:
        dtype: storage dtype, "float32" (default) or "float16"; features are computed in float32.
        memory_budget_bytes: entries are kept in memory while their total stays within this; later ones are
            written to ``directory`` and memory-mapped. 0 puts every entry on disk (what parallel workers
            share: the parent computes, the workers map the same files).
        directory: where entries over the budget go, and where entries are looked up before computing them;
            None keeps every entry in memory.
        batch_size: images per forward pass when computing features (part of what fixes their values).
        device: where features are computed; stored on the CPU.

    Attributes:
        computed: the keys computed by this store, in order (a key computed twice would appear twice).
        allowed_cuts: the cuts a study decided to cache (size limit), or None for every cut.
    """

    def __init__(self, *, dtype: CacheDtype = "float32", memory_budget_bytes: int = 2 << 30,
                 directory: Path | None = None, batch_size: int = 256,
                 device: torch.device | None = None) -> None:
        if dtype not in ("float16", "float32"):
            raise ValueError(f"The 'dtype' parameter of FeatureStore must be 'float16' or 'float32'; got {dtype!r}.")
        self.dtype: CacheDtype = dtype
        self.memory_budget_bytes = int(memory_budget_bytes)
        self.directory = None if directory is None else Path(directory)
        self.batch_size = int(batch_size)
        self.device = device or torch.device("cpu")
        self.computed: list[str] = []
        self.allowed_cuts: set[int] | None = None
        self._entries: dict[str, torch.Tensor] = {}
        self._memory_bytes = 0
        self._image_digests: dict[int, tuple[weakref.ref[torch.Tensor], int, str]] = {}

    def feature_bytes_per_image(self, model: GroupedModel, cut: int, image_size: int) -> int:
        """Bytes one image's features at ``cut`` take in this store (one forward pass of a blank image)."""
        was_training = model.training
        model.eval()
        model.to(self.device)
        try:
            with torch.no_grad():
                x = torch.zeros(1, 3, image_size, image_size, device=self.device)
                for segment in model.segments[:cut]:
                    x = segment(x)
        finally:
            model.train(was_training)
        return int(x.numel()) * getattr(torch, self.dtype).itemsize

    @property
    def memory_bytes(self) -> int:
        """Bytes of the entries held in memory (memory-mapped entries not counted)."""
        return self._memory_bytes

    def key(self, model: GroupedModel, cut: int, images: torch.Tensor) -> str:
        """The content key of ``images``' features at ``cut`` for ``model``'s frozen prefix.

        Raises:
            ValueError: if the model has no recorded starting weights (random initialisation is not a fixed
                prefix), or the cut is outside [1, n_groups - 1].
        """
        if model.weights_sha256 is None:
            raise ValueError("The frozen-prefix cache needs a model with recorded starting weights (weights_sha256); "
                             "a randomly initialised model has none.")
        if not 1 <= cut < model.n_groups:
            raise ValueError(f"The 'cut' parameter must be in [1, {model.n_groups - 1}]; got {cut}.")
        parts = {
            "architecture": model.architecture, "weights_sha256": model.weights_sha256, "cut": cut,
            "groups": list(model.group_names[:cut]), "mean": list(model.mean), "std": list(model.std),
            "images_sha256": _images_sha256(images, self._image_digests), "dtype": self.dtype,
            "batch_size": self.batch_size,
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]

    def get(self, model: GroupedModel, cut: int, images: torch.Tensor) -> torch.Tensor:
        """The features of ``images`` (uint8, (n, 3, s, s)) at ``cut``, computed on first request.

        Returns:
            A CPU tensor of shape (n, ...) in the store's dtype (read-only when memory-mapped).
        """
        key = self.key(model, cut, images)
        if key not in self._entries and not self._load(key):
            self.prepare(model, (cut,), images)
        return self._entries[key]

    def _load(self, key: str) -> bool:
        """Memory-map an entry another process (or an earlier call) wrote to ``directory``; False if none."""
        path = None if self.directory is None else self.directory / f"{key}.npy"
        if path is None or not path.is_file():
            return False
        # Copy-on-write mapping: pages are read from disk on demand and never written back.
        self._entries[key] = torch.from_numpy(np.load(path, mmap_mode="c", allow_pickle=False))
        return True

    @torch.no_grad()
    def prepare(self, model: GroupedModel, cuts: tuple[int, ...] | list[int] | set[int],
                images: torch.Tensor) -> None:
        """Compute the features of ``images`` at every cut in ``cuts`` not yet stored, in one pass.

        Each batch runs through the frozen prefix once, up to the largest missing cut, and its output is taken at
        every missing cut on the way. The model is put in eval mode for this and restored afterwards.
        """
        missing = sorted({c for c in cuts
                          if (key := self.key(model, c, images)) not in self._entries and not self._load(key)})
        if not missing:
            return
        keys = {c: self.key(model, c, images) for c in missing}
        dtype = getattr(torch, self.dtype)
        was_training = model.training
        model.eval()
        model.to(self.device)
        memory_format = torch.channels_last if model.channels_last else torch.contiguous_format
        # each cut's features are written into one tensor allocated at the first batch: no list of chunks to
        # concatenate, so the peak is the features once, not twice
        filled: dict[int, torch.Tensor] = {}
        try:
            for start in range(0, images.shape[0], self.batch_size):
                x = normalize(images[start:start + self.batch_size].to(self.device), model.mean, model.std)
                x = x.contiguous(memory_format=memory_format)
                done = 0
                for cut in missing:
                    for segment in model.segments[done:cut]:
                        x = segment(x)
                    done = cut
                    if cut not in filled:
                        filled[cut] = torch.empty((images.shape[0], *x.shape[1:]), dtype=dtype)
                    filled[cut][start:start + x.shape[0]] = x.to("cpu", dtype)
        finally:
            model.train(was_training)
        for cut in missing:
            self._store(keys[cut], filled.pop(cut))
            self.computed.append(keys[cut])
            logger.debug("feature cache: %s at cut %d (%s), %d images", model.architecture, cut,
                         model.group_names[cut - 1], images.shape[0])

    def _store(self, key: str, features: torch.Tensor) -> None:
        size = features.numel() * features.element_size()
        if self.directory is None or self._memory_bytes + size <= self.memory_budget_bytes:
            self._entries[key] = features
            self._memory_bytes += size
            return
        path = self.directory / f"{key}.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        array = features.numpy()
        atomic_write(path, lambda fh: np.save(fh, array, allow_pickle=False))
        self._load(key)
        logger.info("feature cache over its memory budget: %s (%.0f MB) memory-mapped from %s", key, size / 2**20,
                    path)

    def clear(self) -> None:
        """Drop every entry (memory-mapped files stay where they are; the caller owns ``directory``)."""
        self._entries.clear()
        self._memory_bytes = 0


# Planning: which cut each run takes from the cache, and which cuts a study computes up front.


def run_cut(model: GroupedModel, features: FeatureStore, *, regime: Regime, augment: bool,
            max_gb: float) -> tuple[int, str]:
    """How many leading groups a run of ``model`` (frozen to its depth) takes from ``features`` (0 = none), and why
    not, or what it does instead, as one phrase ("" when it takes its own cut).

    A run with random online augmentation never uses the cache (its inputs change every epoch), nor does a scratch
    run (every group trains). A cut the study could not cache within ``max_gb`` (see :func:`plan_cached_cuts`)
    falls back to the deepest cached cut before it (still exact: the groups in between run live, frozen), or to
    none.
    """
    if augment:
        return 0, "random online augmentation (augment = true) changes the inputs every epoch"
    if regime == "scratch":
        return 0, "scratch: every group trains"
    cut, reason = cache_cut(model)
    allowed = features.allowed_cuts
    if cut and allowed is not None and cut not in allowed:
        fallback = max((c for c in allowed if c < cut), default=0)
        if not fallback:
            return 0, f"the features at cut {cut} did not fit in feature_cache_max_gb = {max_gb:g}"
        return fallback, (f"cut {cut} did not fit in feature_cache_max_gb = {max_gb:g}; cut {fallback} used, "
                          f"groups {fallback + 1}-{cut} run live (frozen)")
    return cut, reason


def plan_cached_cuts(model: GroupedModel, depths: list[int], features: FeatureStore, *, bn_policy: BnPolicy,
                     n_images: int, image_size: int, max_gb: float) -> set[int]:
    """The cuts a study caches for its fine-tuning runs at ``depths``, smallest first while they fit in ``max_gb``
    for ``n_images`` images; sets ``features.allowed_cuts`` to them (when any run has a cut) and returns them.

    Args:
        model: the fine-tuning model (any depth; it is frozen to each of ``depths`` in turn).
        depths: the depths of the pending fine-tuning runs.
        features: the store the cuts will be computed into.
        bn_policy: the study's BatchNorm policy (a cut exists only where frozen BatchNorm is exact).
        n_images: images of all splits together.
        image_size: side of the (square) input images.
        max_gb: the budget, ``execution.feature_cache_max_gb``.
    """
    cuts: set[int] = set()
    for depth in sorted(set(depths)):
        freeze_to_depth(model, depth, bn_policy=bn_policy)
        cut, _ = cache_cut(model)
        if cut:
            cuts.add(cut)
    if not cuts:
        return cuts  # no run takes features from the cache: allowed_cuts stays as it was
    budget = max_gb * 2**30
    allowed: set[int] = set()
    for need, cut in sorted((features.feature_bytes_per_image(model, c, image_size) * n_images, c) for c in cuts):
        if need <= budget:
            allowed.add(cut)
            budget -= need
        else:
            logger.warning("feature cache: cut %d (%s) would need %.1f GB for %d images, over feature_cache_max_gb; "
                           "runs there use a shallower cached cut or none", cut, model.group_names[cut - 1],
                           need / 2**30, n_images)
    features.allowed_cuts = allowed
    return allowed


def rows_of(features: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``features[index]``, without a copy when ``index`` is every row in order (a run on the whole split): at the
    demo's shallowest cut that copy is 600 MB."""
    if index.numel() == features.shape[0] and torch.equal(index, torch.arange(features.shape[0])):
        return features
    return features[index]
