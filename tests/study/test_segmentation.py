"""task = "segmentation": a toy carotid-like study end to end (masks -> boundary pixel patches -> runs -> dense
inference -> closed boundary -> per-image errors), training fractions over groups, and the config checks."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tunedepth.config import parse_study
from tunedepth.errors import ConfigError
from tunedepth.study import prepare_study, run_study


def test_toy_segmentation_study_end_to_end(segmentation_raw: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "out"
    results = run_study(parse_study(segmentation_raw, base_dir=tmp_path), out).results
    assert len(results) == 4
    # 6 sequences of 4 images: whole sequences per side
    assert (results["n_test_images"] == 8).all()
    assert set(results["boundary_error_unit"]) == {"px"}
    for row in results.itertuples():
        errors = pd.read_csv(out / "runs" / row.run_id / "boundary_errors_test.csv")
        assert len(errors) == 8 and errors["group_id"].nunique() == 2
        assert (errors["unit"] == "px").all()
        assert row.test_mean_boundary_error == pytest.approx(errors["mean_boundary_error"].mean())
        assert ((errors["dice_score"] >= 0) & (errors["dice_score"] <= 1)).all()
        assert (errors["hausdorff95_boundary_error"] >= 0).all()


def test_fractions_keep_whole_sequences(segmentation_raw: dict[str, Any], tmp_path: Path) -> None:
    prepared = prepare_study(parse_study(segmentation_raw, base_dir=tmp_path), tmp_path / "out")
    seg = prepared.segmentation
    assert seg is not None
    train_groups = np.asarray(seg.frames["train"].group_ids)[seg.train_frame_of_row]
    half = seg.train_rows(0.5, seed=0)
    chosen = set(train_groups[half].tolist())
    n_groups = len(set(train_groups.tolist()))
    assert len(chosen) == math.ceil(0.5 * n_groups) and len(chosen) < n_groups
    assert np.array_equal(half, np.flatnonzero(np.isin(train_groups, list(chosen))))
    # boundary and background patches are balanced in training
    labels = prepared.data.train.labels.numpy()
    assert int(labels.sum()) * 2 == len(labels)


@pytest.mark.parametrize(("change", "match"), [
    ({"task": "detection"}, "task = 'detection' needs data.source"),
    ({"task": "classification"}, "holds masks, not image labels"),
    ({"segmentation": {"stride": 0}}, "stride"),
    ({"detection": {"max_candidates": 5}}, r"\[detection\] table is only read"),
], ids=["carotid-is-not-detection", "carotid-is-not-classification", "stride-0", "detection-table"])
def test_bad_segmentation_configs_are_refused(segmentation_raw: dict[str, Any], tmp_path: Path,
                                              change: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_study({**segmentation_raw, **change}, base_dir=tmp_path)


def test_analysis_compares_each_depth_with_scratch_over_the_same_images(segmentation_raw: dict[str, Any],
                                                                        tmp_path: Path) -> None:
    from scipy.stats import wilcoxon

    from tunedepth.study import analyze_study, load_finished_study, read_boundary_errors

    out = tmp_path / "out"
    run_study(parse_study(segmentation_raw, base_dir=tmp_path), out)
    table = analyze_study(out).boundaries
    assert table is not None and (out / "boundary_errors.csv").is_file()
    assert len(table) == 4 and table.loc[table["label"] == "scratch", "vs_scratch_p"].isna().all()
    study = load_finished_study(out)
    for row in table[table["label"] != "scratch"].itertuples():
        runs = {label: study.runs_of(label, train_fraction=row.train_fraction)[0] for label in ("scratch", row.label)}
        a = read_boundary_errors(study, runs[row.label].run_id)["mean_boundary_error"].to_numpy()
        b = read_boundary_errors(study, runs["scratch"].run_id)["mean_boundary_error"].to_numpy()
        assert row.mean_boundary_error == pytest.approx(a.mean())
        assert row.vs_scratch_difference == pytest.approx((a - b).mean())
        assert row.vs_scratch_p == pytest.approx(wilcoxon(a - b).pvalue)
        assert row.vs_scratch_p_holm == pytest.approx(row.vs_scratch_p)  # one depth per fraction: Holm = raw

