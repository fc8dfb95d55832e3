"""Tuning methods in a study (grid.methods, [methods.<name>]): the grid, the run ids, the study folder."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tunedepth.config import parse_study
from tunedepth.errors import ConfigError
from tunedepth.results import load_finished_study
from tunedepth.study import run_study
from tunedepth.study.prepare import prepare_study

ALL = ["layerwise", "surgical", "llrd", "l2sp", "norm_only", "auto_rgn"]


def _raw(study_raw: dict[str, Any], grid_methods: list[str] | None = None, **tables: Any) -> dict[str, Any]:
    raw = copy.deepcopy(study_raw)
    raw["grid"]["train_fractions"] = [1.0]
    if grid_methods is not None:
        raw["grid"]["methods"] = grid_methods
    return raw | tables


def _planned(raw: dict[str, Any], tmp_path: Path) -> dict[str, str]:
    prepared = prepare_study(parse_study(raw, base_dir=tmp_path), tmp_path / "out")
    return {spec.label: rid for spec, rid in zip(prepared.runs, prepared.run_ids, strict=True)}


def test_the_grid_has_each_method_on_its_own_depth_axis(study_raw, tmp_path):
    planned = _planned(_raw(study_raw, ALL), tmp_path)
    # toy4: conv1, conv2, conv3, fc; surgical's default depths 2, 3, 4 = conv3, conv2, conv1
    assert list(planned) == ["scratch", "ft:fc", "ft:conv1-fc", "surgical:conv3", "surgical:conv2", "surgical:conv1",
                             "llrd", "l2sp", "norm_only", "auto_rgn"]


def test_layerwise_runs_keep_the_run_ids_of_a_study_without_methods(study_raw, tmp_path):
    without = _planned(_raw(study_raw), tmp_path)
    explicit = _planned(_raw(study_raw, ["layerwise"]), tmp_path)
    mixed = _planned(_raw(study_raw, ALL), tmp_path)
    assert without == explicit
    assert {label: mixed[label] for label in without} == without


@pytest.mark.parametrize(("method", "table"), [
    ("llrd", {"llrd": {"decay": 0.5}}),
    ("l2sp", {"l2sp": {"alpha": 0.2}}),
    ("l2sp", {"l2sp": {"beta": 0.0}}),
])
def test_each_method_parameter_changes_its_run_ids_and_no_other(study_raw, tmp_path, method, table):
    base = _planned(_raw(study_raw, ALL), tmp_path)
    changed = _planned(_raw(study_raw, ALL, methods=table), tmp_path)
    assert {label for label in base if base[label] != changed[label]} == {method}


def test_surgical_depths_come_from_its_table(study_raw, tmp_path):
    planned = _planned(_raw(study_raw, ["surgical"], methods={"surgical": {"depths": ["conv2", 2]}}), tmp_path)
    assert [label for label in planned if label.startswith("surgical")] == ["surgical:conv3", "surgical:conv2"]
    with pytest.raises(ConfigError, match=r"methods.surgical.depths \['fc'\] .*\[2, 4\]"):
        _planned(_raw(study_raw, ["surgical"], methods={"surgical": {"depths": ["fc"]}}), tmp_path)


def test_methods_without_the_finetune_regime_are_refused(study_raw, tmp_path):
    raw = _raw(study_raw, ["llrd"])
    raw["grid"]["regimes"] = ["scratch"]
    with pytest.raises(ConfigError, match=r"grid.methods \['llrd'\] .* no 'finetune'; add it to grid.regimes"):
        _planned(raw, tmp_path)


def test_a_study_with_methods_runs_and_its_folder_names_each_method(study_raw, tmp_path):
    raw = _raw(study_raw, ALL)
    raw["grid"]["depths"] = [1]
    out = tmp_path / "out"
    run_study(parse_study(raw, base_dir=tmp_path), out)
    results = pd.read_csv(out / "results.csv", keep_default_na=False)
    assert list(results.columns[:5]) == ["run_id", "regime", "depth", "label", "method"]
    assert dict(zip(results["label"], results["method"], strict=True)) == {
        "scratch": "", "ft:fc": "layerwise", "surgical:conv3": "surgical", "surgical:conv2": "surgical",
        "surgical:conv1": "surgical", "llrd": "llrd", "l2sp": "l2sp", "norm_only": "norm_only",
        "auto_rgn": "auto_rgn"}
    study = load_finished_study(out)
    assert {study.label_of(arm) for arm in study.depth_arms_at(1.0)} == {"ft:fc"}  # what the depth rule sees
    assert {arm.method for arm in study.arms_at(1.0)} == {None, "surgical", "llrd", "l2sp", "norm_only", "auto_rgn"}
    cached = dict(zip(results["label"], results["cached_groups"], strict=True))
    assert cached["surgical:conv3"] == 2 and cached["llrd"] == 0  # a surgical run's frozen prefix is served cached
