"""Tests of tunedepth.data.sources.medmnist: lookup, MD5 checks, download, errors, real data."""

from __future__ import annotations

import hashlib
import os
import re
import socket
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from tunedepth._io import file_md5
from tunedepth.data.sources import medmnist as medmnist_module
from tunedepth.data.sources._medmnist_info import MEDMNIST_INFO, MEDMNIST_SIZES
from tunedepth.data.sources.medmnist import find_medmnist_file, load_medmnist
from tunedepth.errors import DataError

from ._fakes import TEST_FLAG, LoopbackServer, synthetic_arrays

MakeFlag = Callable[..., Path]

# Read before the autouse fixture below clears it for the synthetic tests.
REAL_DATA_DIR = os.environ.get("TUNEDEPTH_DATA_DIR")


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests choose the data and cache folders themselves."""
    monkeypatch.delenv("TUNEDEPTH_DATA_DIR", raising=False)
    monkeypatch.delenv("TUNEDEPTH_CACHE_DIR", raising=False)


# --- reading a local file -------------------------------------------------------------------


def test_reads_official_split_from_root(tmp_path: Path, make_test_flag: MakeFlag) -> None:
    make_test_flag(tmp_path / "root")
    splits = load_medmnist(TEST_FLAG, image_size=8, root=tmp_path / "root")
    assert splits.name == TEST_FLAG
    assert splits.split_origin == "official"
    assert splits.class_names == ("negative", "positive")
    assert [len(splits.train), len(splits.val), len(splits.test)] == [12, 4, 6]
    # Labels (n, 1) become (n,) int64; images are gray repeated to 3 channels, values intact.
    assert splits.train.labels.dtype == torch.int64
    assert splits.train.labels.tolist() == [i % 2 for i in range(12)]
    assert splits.train.images.shape == (12, 3, 8, 8)
    assert splits.train.images[5, :, 3, 4].tolist() == [51, 51, 51]
    assert splits.test.images[:, 0, 0, 0].tolist() == [10 * i + i % 2 for i in range(6)]


def test_resizes_rgb_images(tmp_path: Path, make_test_flag: MakeFlag) -> None:
    make_test_flag(tmp_path, arrays=synthetic_arrays(rgb=True))
    splits = load_medmnist(TEST_FLAG, image_size=20, root=tmp_path)
    assert splits.val.images.shape == (4, 3, 20, 20)
    # A constant image stays constant under bilinear resizing.
    assert torch.unique(splits.val.images[3]).tolist() == [31]


def test_size_picks_file_and_name(tmp_path: Path, make_test_flag: MakeFlag) -> None:
    path = make_test_flag(tmp_path, size=64)
    assert path.name == "testmnist_64.npz"
    splits = load_medmnist(TEST_FLAG, size=64, image_size=8, root=tmp_path)
    assert splits.name == "testmnist_64"
    with pytest.raises(DataError, match=r"testmnist\.npz was not found in 'root'"):
        load_medmnist(TEST_FLAG, size=28, image_size=8, root=tmp_path)


def test_data_dir_is_used_before_cache(
    tmp_path: Path, make_test_flag: MakeFlag, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_test_flag(tmp_path / "data" / "medmnist")
    monkeypatch.setenv("TUNEDEPTH_DATA_DIR", str(tmp_path / "data"))
    splits = load_medmnist(TEST_FLAG, image_size=8, cache_dir=tmp_path / "cache")
    assert len(splits.train) == 12
    assert not (tmp_path / "cache").exists()
    found = find_medmnist_file(TEST_FLAG, cache_dir=tmp_path / "cache")
    assert found == tmp_path / "data" / "medmnist" / "testmnist.npz"


def test_data_dir_wins_over_a_cached_copy(
    tmp_path: Path, make_test_flag: MakeFlag, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_test_flag(tmp_path / "data" / "medmnist")
    (tmp_path / "cache" / "medmnist").mkdir(parents=True)
    (tmp_path / "cache" / "medmnist" / "testmnist.npz").write_bytes(b"stale copy")
    monkeypatch.setenv("TUNEDEPTH_DATA_DIR", str(tmp_path / "data"))
    assert find_medmnist_file(TEST_FLAG, cache_dir=tmp_path / "cache") == (
        tmp_path / "data" / "medmnist" / "testmnist.npz"
    )
    assert len(load_medmnist(TEST_FLAG, image_size=8, cache_dir=tmp_path / "cache").test) == 6


def test_root_is_the_only_place_when_given(
    tmp_path: Path, make_test_flag: MakeFlag, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_test_flag(tmp_path / "data" / "medmnist")
    monkeypatch.setenv("TUNEDEPTH_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"was not found in 'root'.*records/10519652"):
        load_medmnist(TEST_FLAG, image_size=8, root=tmp_path / "empty")


def test_cache_dir_from_environment(
    tmp_path: Path, make_test_flag: MakeFlag, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_test_flag(tmp_path / "envcache" / "medmnist")
    monkeypatch.setenv("TUNEDEPTH_CACHE_DIR", str(tmp_path / "envcache"))
    assert find_medmnist_file(TEST_FLAG) == tmp_path / "envcache" / "medmnist" / "testmnist.npz"
    assert len(load_medmnist(TEST_FLAG, image_size=8).val) == 4


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param(
            {"flag": "pneumonia"},
            r"'flag' .* got 'pneumonia'\. Did you mean 'pneumoniamnist'\? Available: bloodmnist",
            id="unknown-flag",
        ),
        pytest.param(
            {"flag": "chestmnist"}, r"multi-label classification is not supported", id="multilabel"
        ),
        pytest.param(
            {"flag": "breastmnist", "size": 32},
            r"'size' .* one of \[28, 64, 128, 224\] \(the official image sizes\); got 32",
            id="size",
        ),
        pytest.param(
            {"flag": "breastmnist", "image_size": 0},
            r"'image_size' parameter must be an int >= 1 .*; got 0\.",
            id="image-size",
        ),
    ],
)
def test_argument_errors(kwargs: dict[str, object], match: str, tmp_path: Path) -> None:
    args: dict[str, object] = {"image_size": 28, "root": tmp_path, **kwargs}
    with pytest.raises(DataError, match=match):
        load_medmnist(**args)  # type: ignore[arg-type]


def test_md5_mismatch_in_cache_says_delete(tmp_path: Path, make_test_flag: MakeFlag) -> None:
    path = make_test_flag(tmp_path / "cache" / "medmnist", md5="f" * 32)
    got = file_md5(path)
    with pytest.raises(
        DataError,
        match=rf"has MD5 {got}, expected f{{32}} .*delete it and run again to re-download",
    ):
        load_medmnist(TEST_FLAG, image_size=8, cache_dir=tmp_path / "cache")


def test_md5_mismatch_in_root_says_replace(tmp_path: Path, make_test_flag: MakeFlag) -> None:
    make_test_flag(tmp_path, md5="f" * 32)
    with pytest.raises(DataError, match=r"expected f{32} .*replace it with the official file"):
        load_medmnist(TEST_FLAG, image_size=8, root=tmp_path)


def test_missing_keys_are_listed(tmp_path: Path, make_test_flag: MakeFlag) -> None:
    arrays = synthetic_arrays()
    del arrays["val_labels"], arrays["test_images"]
    make_test_flag(tmp_path, arrays=arrays)
    with pytest.raises(DataError, match=r"lacks the key\(s\) val_labels, test_images;"):
        load_medmnist(TEST_FLAG, image_size=8, root=tmp_path)


def test_labels_out_of_range(tmp_path: Path, make_test_flag: MakeFlag) -> None:
    arrays = synthetic_arrays()
    arrays["val_labels"][2, 0] = 2
    make_test_flag(tmp_path, arrays=arrays)
    with pytest.raises(
        DataError, match=r"'val_labels' must be in \[0, 2\) .* 1 label\(s\) outside, e\.g\. \[2\]"
    ):
        load_medmnist(TEST_FLAG, image_size=8, root=tmp_path)


def test_labels_in_range_pass(tmp_path: Path, make_test_flag: MakeFlag) -> None:
    arrays = synthetic_arrays()
    arrays["val_labels"][2, 0] = 1  # the largest valid label, just inside the boundary
    make_test_flag(tmp_path, arrays=arrays)
    assert load_medmnist(TEST_FLAG, image_size=8, root=tmp_path).val.labels[2].item() == 1


def test_label_count_must_match_images(tmp_path: Path, make_test_flag: MakeFlag) -> None:
    arrays = synthetic_arrays()
    arrays["train_labels"] = arrays["train_labels"][:-1]
    make_test_flag(tmp_path, arrays=arrays)
    with pytest.raises(DataError, match=r"'train_labels' must be integers of shape \(12,\)"):
        load_medmnist(TEST_FLAG, image_size=8, root=tmp_path)


def test_non_npz_file(tmp_path: Path, make_test_flag: MakeFlag) -> None:
    junk = b"not a zip file"
    path = make_test_flag(tmp_path, md5=hashlib.md5(junk).hexdigest())
    path.write_bytes(junk)
    with pytest.raises(DataError, match=r"testmnist\.npz could not be read as \.npz"):
        load_medmnist(TEST_FLAG, image_size=8, root=tmp_path)


# --- download against a loopback server -----------------------------------------------------


@pytest.mark.download
def test_download_into_cache_then_reuse(
    tmp_path: Path, make_test_flag: MakeFlag, http_server: LoopbackServer
) -> None:
    source = make_test_flag(http_server.directory)
    cache = tmp_path / "cache"
    splits = load_medmnist(
        TEST_FLAG, image_size=8, mirror_url=http_server.base_url + "/", cache_dir=cache
    )
    assert http_server.requests == ["/testmnist.npz"]
    stored = cache / "medmnist" / "testmnist.npz"
    assert stored.read_bytes() == source.read_bytes()
    assert sorted(p.name for p in stored.parent.iterdir()) == ["testmnist.npz"]
    assert len(splits.test) == 6
    again = load_medmnist(TEST_FLAG, image_size=8, mirror_url=http_server.base_url, cache_dir=cache)
    assert http_server.requests == ["/testmnist.npz"]  # no second download
    assert torch.equal(again.train.images, splits.train.images)


@pytest.mark.download
def test_download_uses_official_record_url(
    tmp_path: Path,
    make_test_flag: MakeFlag,
    http_server: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_test_flag(http_server.directory)
    monkeypatch.setattr(
        medmnist_module, "MEDMNIST_RECORD_URL", http_server.base_url + "/records/x/files"
    )
    (http_server.directory / "records" / "x" / "files").mkdir(parents=True)
    (http_server.directory / "testmnist.npz").rename(
        http_server.directory / "records/x/files/testmnist.npz"
    )
    load_medmnist(TEST_FLAG, image_size=8, cache_dir=tmp_path / "cache")
    assert http_server.requests == ["/records/x/files/testmnist.npz?download=1"]


@pytest.mark.download
def test_download_md5_mismatch_leaves_nothing(
    tmp_path: Path, make_test_flag: MakeFlag, http_server: LoopbackServer
) -> None:
    make_test_flag(http_server.directory, md5="0123456789abcdef" * 2)
    cache = tmp_path / "cache"
    with pytest.raises(
        DataError,
        match=r"Downloaded http://127\.0\.0\.1:\d+/testmnist\.npz has MD5 [0-9a-f]{32}, "
        r"expected 0123456789abcdef0123456789abcdef .*nothing was kept",
    ):
        load_medmnist(TEST_FLAG, image_size=8, mirror_url=http_server.base_url, cache_dir=cache)
    assert list((cache / "medmnist").iterdir()) == []


@pytest.mark.download
def test_download_http_error(
    tmp_path: Path, make_test_flag: MakeFlag, http_server: LoopbackServer
) -> None:
    make_test_flag(tmp_path / "elsewhere")  # registered, but not served
    cache = tmp_path / "cache"
    with pytest.raises(
        DataError,
        match=r"Could not download .*: HTTP 404 .*place it at .*cache/medmnist/testmnist\.npz",
    ):
        load_medmnist(TEST_FLAG, image_size=8, mirror_url=http_server.base_url, cache_dir=cache)
    assert list((cache / "medmnist").iterdir()) == []


@pytest.mark.download
def test_download_connection_refused(tmp_path: Path, make_test_flag: MakeFlag) -> None:
    make_test_flag(tmp_path / "elsewhere")
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(
        DataError,
        match=r"Could not download MedMNIST file testmnist\.npz from http://127\.0\.0\.1:\d+/",
    ):
        load_medmnist(TEST_FLAG, image_size=8, mirror_url=dead, cache_dir=tmp_path / "cache")


@pytest.mark.download
def test_download_from_file_mirror(tmp_path: Path, make_test_flag: MakeFlag) -> None:
    make_test_flag(tmp_path / "mirror")
    splits = load_medmnist(
        TEST_FLAG,
        image_size=8,
        mirror_url=(tmp_path / "mirror").as_uri(),
        cache_dir=tmp_path / "cache",
    )
    assert len(splits.train) == 12
    assert (tmp_path / "cache" / "medmnist" / "testmnist.npz").is_file()


# --- the official table ---------------------------------------------------------------------

# The 28-px files in data/medmnist/PROVENANCE.md, checked against the official table.
PROVENANCE_MD5 = {
    "pneumoniamnist": "28209eda62fecd6e6a2d98b1501bb15f",
    "breastmnist": "750601b1f35ba3300ea97c75c52ff8f6",
    "retinamnist": "bd4c0672f1bba3e3a89f0e4e876791e4",
}

OFFICIAL_2D_FLAGS = {
    "pathmnist": 9,
    "chestmnist": 14,
    "dermamnist": 7,
    "octmnist": 4,
    "pneumoniamnist": 2,
    "retinamnist": 5,
    "breastmnist": 2,
    "bloodmnist": 8,
    "tissuemnist": 8,
    "organamnist": 11,
    "organcmnist": 11,
    "organsmnist": 11,
}


def test_table_covers_every_2d_flag() -> None:
    assert {f: len(i.class_names) for f, i in MEDMNIST_INFO.items()} == OFFICIAL_2D_FLAGS


@pytest.mark.parametrize("flag", sorted(OFFICIAL_2D_FLAGS))
def test_table_entry_is_well_formed(flag: str) -> None:
    info = MEDMNIST_INFO[flag]
    assert info.flag == flag
    assert sorted(info.md5) == list(MEDMNIST_SIZES)
    assert all(re.fullmatch(r"[0-9a-f]{32}", v) for v in info.md5.values())
    assert len(set(info.md5.values())) == 4


def test_table_md5s_are_unique_across_flags() -> None:
    values = [v for info in MEDMNIST_INFO.values() for v in info.md5.values()]
    assert len(values) == len(set(values)) == 48


def test_table_matches_provenance() -> None:
    assert {f: MEDMNIST_INFO[f].md5[28] for f in PROVENANCE_MD5} == PROVENANCE_MD5


# --- real data (integration) ----------------------------------------------------------------

REAL = {
    "pneumoniamnist": ((4708, 524, 624), ([1214, 3494], [135, 389], [234, 390])),
    "breastmnist": ((546, 78, 156), ([147, 399], [21, 57], [42, 114])),
    "retinamnist": (
        (1080, 120, 400),
        ([486, 128, 206, 194, 66], [54, 12, 28, 20, 6], [174, 46, 92, 68, 20]),
    ),
}


@pytest.mark.parametrize("flag", sorted(REAL))
def test_real_medmnist_counts(flag: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not REAL_DATA_DIR:
        pytest.skip("TUNEDEPTH_DATA_DIR is not set: no real MedMNIST files to read")
    monkeypatch.setenv("TUNEDEPTH_DATA_DIR", REAL_DATA_DIR)
    counts, per_class = REAL[flag]
    splits = load_medmnist(flag, image_size=28, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()  # read from the data folder, nothing downloaded
    assert splits.name == flag
    assert splits.split_origin == "official"
    parts = (splits.train, splits.val, splits.test)
    assert tuple(len(p) for p in parts) == counts
    assert tuple(np.bincount(p.labels.numpy()).tolist() for p in parts) == per_class
    assert splits.train.images.shape == (counts[0], 3, 28, 28)
    assert splits.class_names == MEDMNIST_INFO[flag].class_names


def test_real_medmnist_resized(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not REAL_DATA_DIR:
        pytest.skip("TUNEDEPTH_DATA_DIR is not set: no real MedMNIST files to read")
    monkeypatch.setenv("TUNEDEPTH_DATA_DIR", REAL_DATA_DIR)
    splits = load_medmnist("breastmnist", image_size=64, cache_dir=tmp_path / "cache")
    assert splits.test.images.shape == (156, 3, 64, 64)
    # Grayscale: the three channels are identical.
    assert torch.equal(splits.test.images[:, 0], splits.test.images[:, 2])
