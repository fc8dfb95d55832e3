"""Tests of tunedepth.study.prepare: the data-leakage guard, for every task, before any output or training (a
leaking split is made by patching the split function, since the public inputs cannot produce one)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import tunedepth.data.sources.csv_manifest as csv_module
import tunedepth.study.tasks.detection as detection_module
import tunedepth.study.tasks.segmentation as segmentation_module
from tunedepth.config import parse_study
from tunedepth.data import DatasetSplits, ImageSet, SplitIndices
from tunedepth.errors import DataError
from tunedepth.study import prepare_study


def _test_side_also_holds_train(split: Callable[..., SplitIndices]) -> Callable[..., SplitIndices]:
    """A split function whose test side also holds every training frame: each training group leaks into test."""

    def leaking(*args: Any, **kwargs: Any) -> SplitIndices:
        parts = split(*args, **kwargs)
        return SplitIndices(parts.train, parts.val, np.union1d(parts.test, parts.train))

    return leaking


def _refused_before_any_output(raw: dict[str, Any], tmp_path: Path, match: str) -> None:
    out = tmp_path / "out"
    with pytest.raises(DataError, match=match):
        prepare_study(parse_study(raw, base_dir=tmp_path), out)
    assert not out.exists()


def test_classification_leak_is_refused(study_raw: dict[str, Any], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # A CSV manifest with patient ids and no split column gets a seeded, patient-grouped split; make that split leak.
    images = sorted(Path(study_raw["data"]["path"]).rglob("*.png"))
    rows = [f"{p},{p.parent.name},P{i // 2}" for i, p in enumerate(images)]
    csv = tmp_path / "manifest.csv"
    csv.write_text("\n".join(["path,label,patient_id", *rows]) + "\n")
    raw = {**study_raw, "data": {"source": "csv_manifest", "path": str(csv), "image_size": 16}}
    real = csv_module.split_image_set

    def leaking(full: ImageSet, **kwargs: Any) -> DatasetSplits:
        splits = real(full, **kwargs)
        first = splits.train.subset([0])
        test = ImageSet(torch.cat([splits.test.images, first.images]), torch.cat([splits.test.labels, first.labels]),
                        (*(splits.test.patient_ids or ()), *(first.patient_ids or ())))
        return DatasetSplits(splits.name, splits.class_names, splits.train, splits.val, test, splits.split_origin)

    monkeypatch.setattr(csv_module, "split_image_set", leaking)
    _refused_before_any_output(raw, tmp_path, r"1 patient id\(s\) are in more than one of train/val/test: 'P\d+' "
                                              r"\(train, test\)\. The seeded split .* please report it\.")


def test_detection_leak_is_refused(detection_raw: dict[str, Any], tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detection_module, "split_by_video",
                        _test_side_also_holds_train(detection_module.split_by_video))
    _refused_before_any_output(copy.deepcopy(detection_raw), tmp_path,
                               r"Data set 'kvasir-seg': \d+ patient id\(s\) are in more than one of train/val/test: "
                               r"'kvasir-seg/frame\d+' \(train, test\)")


def test_segmentation_leak_is_refused(segmentation_raw: dict[str, Any], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(segmentation_module, "split_by_video",
                        _test_side_also_holds_train(segmentation_module.split_by_video))
    _refused_before_any_output(copy.deepcopy(segmentation_raw), tmp_path,
                               r"\d+ patient id\(s\) are in more than one of train/val/test: "
                               r"'[\w-]+/2022SEQ\dVAS' \(train, test\)")
