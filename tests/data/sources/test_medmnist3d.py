"""data.source = "medmnist3d": the official 3D files as volumes with one candidate each at the centre; a damaged
or missing file is refused in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tunedepth.data.sources.medmnist3d import load_medmnist3d
from tunedepth.errors import DataError


def _write(root: Path, name: str, n: int = 5, side: int = 8) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split in ("train", "val", "test"):
        arrays[f"{split}_images"] = np.full((n, side, side, side), 7, dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 2).reshape(-1, 1).astype(np.uint8)
    np.savez(root / name, **arrays)
    return root


def test_one_candidate_per_volume_at_its_centre(tmp_path: Path) -> None:
    root = _write(tmp_path, "synapsemnist3d.npz")
    data = load_medmnist3d(flag="synapsemnist3d", size=28, root=root)
    train = data["train"]
    assert data["class_names"] == ("inhibitory", "excitatory") and len(train) == 5
    np.testing.assert_array_equal(train.centers, np.full((5, 3), 3.5))  # (8 - 1) / 2
    np.testing.assert_array_equal(train.volume_index, np.arange(5))
    np.testing.assert_array_equal(train.labels, [0, 1, 0, 1, 0])
    np.testing.assert_array_equal(train.lesion, train.labels)  # a positive volume is one lesion, its candidate
    assert train.spacings == (None,) * 5 and float(train.volumes[0][0, 0, 0]) == 7.0


def test_a_damaged_official_file_and_a_missing_one_are_refused(tmp_path: Path) -> None:
    root = _write(tmp_path, "vesselmnist3d.npz")  # not the official bytes
    with pytest.raises(DataError, match="official MD5") as info:
        load_medmnist3d(flag="vesselmnist3d", size=28, root=root)
    assert "\n" not in str(info.value)
    with pytest.raises(DataError, match="adrenalmnist3d_64.npz' was not found") as info:
        load_medmnist3d(flag="adrenalmnist3d", size=64, root=root)
    assert "\n" not in str(info.value)
    with pytest.raises(DataError, match="not a binary MedMNIST 3D"):
        load_medmnist3d(flag="organmnist3d", size=28, root=root)


def test_real_vesselmnist3d_counts(data_dir: Path) -> None:
    data = load_medmnist3d(flag="vesselmnist3d", size=28)
    assert [len(data[s]) for s in ("train", "val", "test")] == [1335, 191, 382]
    assert [int(data[s].labels.sum()) for s in ("train", "val", "test")] == [150, 22, 43]
