"""Tests of tunedepth.data.catalog.list_datasets."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunedepth.data.catalog import list_datasets


def test_lists_sources_then_flags_with_local_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TUNEDEPTH_DATA_DIR", raising=False)
    (tmp_path / "breastmnist.npz").write_bytes(b"x")
    (tmp_path / "breastmnist_64.npz").write_bytes(b"x")
    listings = list_datasets(root=tmp_path)
    assert [d.name for d in listings[:3]] == ["csv_manifest", "image_folder", "volume_table"]
    by_name = {d.name: d for d in listings}
    assert len(by_name) == 3 + 3 + 2 + 4 + 12  # user data, masks, proxy and generated, MedMNIST 3D, MedMNIST 2D
    assert by_name["volume_table"].task == "user data (volume_candidates)"
    assert by_name["colonoscopy_frame_quality"].task == "frame_classification"
    assert by_name["vesselmnist3d"].task == "volume_candidates" and by_name["vesselmnist3d"].local_files == ()
    assert by_name["kvasir_seg"].task == "detection, segmentation" and by_name["kvasir_seg"].local_files == ()
    assert by_name["carotid"].task == "segmentation"
    assert by_name["breastmnist"].local_files == (
        (28, tmp_path / "breastmnist.npz"),
        (64, tmp_path / "breastmnist_64.npz"),
    )
    assert by_name["retinamnist"].local_files == ()
    assert by_name["chestmnist"].supported is False
    assert "not supported" in by_name["chestmnist"].description
    assert by_name["pneumoniamnist"].supported is True
    assert by_name["pneumoniamnist"].n_classes == 2
    assert by_name["image_folder"].task == "user data"


def test_data_dir_files_are_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "data" / "medmnist").mkdir(parents=True)
    (tmp_path / "data" / "medmnist" / "octmnist_128.npz").write_bytes(b"x")
    monkeypatch.setenv("TUNEDEPTH_DATA_DIR", str(tmp_path / "data"))
    by_name = {d.name: d for d in list_datasets(cache_dir=tmp_path / "cache")}
    assert by_name["octmnist"].local_files == (
        (128, tmp_path / "data" / "medmnist" / "octmnist_128.npz"),
    )
    assert by_name["pathmnist"].local_files == ()
    assert by_name["kvasir_seg"].local_files == ()
    (tmp_path / "data" / "kvasir-seg").mkdir(parents=True)
    by_name = {d.name: d for d in list_datasets(cache_dir=tmp_path / "cache")}
    assert by_name["kvasir_seg"].local_files == ((0, tmp_path / "data" / "kvasir-seg"),)
    assert by_name["cvc_clinicdb"].local_files == ()
