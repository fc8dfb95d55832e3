"""Tuning methods in a study (grid.methods, [methods.<name>]): the grid, the run ids, the study folder."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch

from tunedepth.config import parse_study
from tunedepth.errors import ConfigError
from tunedepth.results import load_finished_study
from tunedepth.study import run_study
from tunedepth.study.prepare import prepare_study

ALL = ["layerwise", "lp_ft", "surgical", "llrd", "l2sp", "norm_only", "auto_rgn"]


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
    assert list(planned) == ["scratch", "ft:fc", "ft:conv1-fc", "lp_ft:conv1-fc", "surgical:conv3", "surgical:conv2",
                             "surgical:conv1", "llrd", "l2sp", "norm_only", "auto_rgn"]


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
    ("lp_ft:conv1-fc", {"lp_ft": {"finetune_lr_mult": 0.2}}),
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


def test_lp_ft_depths_come_from_its_table_or_the_grid(study_raw, tmp_path):
    planned = _planned(_raw(study_raw, ["lp_ft"]), tmp_path)  # grid depths 1 and 4: 4 only
    assert [label for label in planned if label.startswith("lp_ft")] == ["lp_ft:conv1-fc"]
    planned = _planned(_raw(study_raw, ["lp_ft"], methods={"lp_ft": {"depths": ["conv3", 3]}}), tmp_path)
    assert [label for label in planned if label.startswith("lp_ft")] == ["lp_ft:conv3-fc", "lp_ft:conv2-fc"]


def test_methods_without_the_finetune_regime_are_refused(study_raw, tmp_path):
    raw = _raw(study_raw, ["llrd"])
    raw["grid"]["regimes"] = ["scratch"]
    with pytest.raises(ConfigError, match=r"grid.methods \['llrd'\] .* no 'finetune'; add it to grid.regimes"):
        _planned(raw, tmp_path)


def test_a_study_with_methods_runs_and_its_folder_names_each_method(study_raw, tmp_path):
    raw = _raw(study_raw, ALL)
    raw["grid"]["depths"] = [1]  # lp_ft runs at depths 2 and up: none here (its own test is below)
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
    from tunedepth.analysis import analyze_study
    from tunedepth.report import write_report

    write_report(out, analysis=analyze_study(out))
    methods = pd.read_csv(out / "methods.csv")
    assert set(methods["label"]) == set(results["label"]) - {"scratch", "ft:fc"}
    assert set(methods["paper_label"]) == {"ft:fc"}  # the depth rule's choice (the only layer-wise depth here)
    sentences = (out / "recommendation.txt").read_text().splitlines()
    assert len(sentences) == 2 and sentences[1].startswith("Among the tuning methods at 100% of the data")
    report = (out / "report.html").read_text()
    assert "Tuning methods" in report and "Among the tuning methods" in report


def test_lp_ft_probes_the_head_as_the_depth_1_run_and_fine_tunes_from_the_probed_head(study_raw, tmp_path,
                                                                                     monkeypatch):
    import tunedepth.training.loop as loop
    from tunedepth.training import Trainer

    starts: list[tuple[str, dict[str, Any], list[float]]] = []

    class Spy(Trainer):
        def __init__(self, model, **kwargs):
            head = {n: p.detach().clone() for n, p in model.group_parameters(model.head)}
            trainable = [n for n, p in model.named_parameters() if p.requires_grad]
            super().__init__(model, **kwargs)
            starts.append((",".join(trainable), head, [g["lr"] for g in self.optimizer.param_groups]))

        def result(self):
            out = super().result()
            ends.append({n: p.detach().clone() for n, p in self.model.group_parameters(self.model.head)})
            return out

    ends: list[dict[str, Any]] = []
    monkeypatch.setattr(loop, "Trainer", Spy)  # what train_model builds
    raw = _raw(study_raw, ["layerwise", "lp_ft"], methods={"lp_ft": {"finetune_lr_mult": 0.5}})
    raw["grid"]["regimes"] = ["finetune"]
    raw["execution"]["workers"] = 1  # in this process, where the spy is
    out = tmp_path / "out"
    run_study(parse_study(raw, base_dir=tmp_path), out)
    results = pd.read_csv(out / "results.csv", keep_default_na=False).set_index("label")
    assert list(results.index) == ["ft:fc", "ft:conv1-fc", "lp_ft:conv1-fc"]  # no lp_ft at depth 1
    # the runs in order: ft:fc, ft:conv1-fc, then lp_ft's probe (the head alone) and its second stage
    probe_start, stage2_start = starts[2], starts[3]
    assert probe_start[0] == "net.3.weight,net.3.bias" and stage2_start[0].startswith("net.0.0.weight")
    for name, value in ends[2].items():  # stage 2 starts from the probe's best-epoch head
        assert torch.equal(stage2_start[1][name], value)
    assert not torch.equal(stage2_start[1]["3.weight"], probe_start[1]["3.weight"])  # the probe moved it
    assert stage2_start[2] == [0.5 * lr for lr in starts[1][2]]  # every lr of the paper's scheme x 0.5
    # the probe is the layer-wise depth-1 run of the same fraction and seed: the same head at the end, same epochs
    assert all(torch.equal(ends[0][name], ends[2][name]) for name in ends[0])
    assert int(results.loc["lp_ft:conv1-fc", "probe_epochs"]) == int(results.loc["ft:fc", "epochs_run"])
