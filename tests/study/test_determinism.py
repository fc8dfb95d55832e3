"""Determinism (issue 7, item 4): the same study run twice on the CPU, with the same thread count, gives identical
results: every run's ``metrics.json`` (timings aside), byte-identical ``predictions_val.csv`` and
``predictions_test.csv``, the same ``history.csv`` (timings aside) and ``results.csv``.

The two runs are two fresh processes with different ``PYTHONHASHSEED`` values, which run the studies in opposite
orders: a result must depend neither on hash order (set and dict iteration over strings) nor on what ran before
in the process. Two studies cover the three ways a fine-tuning run is computed:

* "cached": scratch; ft:fc, trained on the feature cache (conv1-conv3 computed once); ft:conv1-fc (every group
  trains, nothing to cache);
* "augmented": ``augment = true`` (random online augmentation, from the run's seeded generator); ft:conv3-fc, its
  frozen conv1-conv2 computed live on every mini-batch (the cache is off with augmentation).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch

from tests.conftest import build_toy, write_faint_image_folder

REPO = Path(__file__).parents[2]

DRIVER = """\
import sys
from pathlib import Path

repo, out, *study_files = sys.argv[1:]
sys.path.insert(0, repo)

import tests.conftest  # registers the toy architecture "toy4", as in the test session
from tunedepth.config import load_study
from tunedepth.study import run_study

for study_file in study_files:
    config = load_study(Path(study_file))
    run_study(config, Path(out) / config.name)
"""

STUDY = """\
name = "{name}"
[data]
source = "image_folder"
path = "{images}"
image_size = 16
[model]
architecture = "toy4"
weights = "checkpoint"
checkpoint = "{checkpoint}"
[grid]
regimes = {regimes}
depths = {depths}
train_fractions = [1.0]
seeds = [3]
[training]
lr = 0.05
batch_size = 16
max_epochs = 2
patience = 2
augment = {augment}
[execution]
device = "cpu"
num_threads = 2
workers = 1
feature_cache = true
"""

STUDIES = {
    "cached": {"regimes": '["scratch", "finetune"]', "depths": "[1, 4]", "augment": "false"},
    "augmented": {"regimes": '["finetune"]', "depths": "[2]", "augment": "true"},
}


def _without_timings(value: Any) -> Any:
    """``value`` with every mapping key that names a duration (``*seconds*``) removed, recursively."""
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if "seconds" not in k}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def _metrics_text(path: Path) -> str:
    """``metrics.json`` without timings, as canonical JSON text: exact floats, and NaN equal to NaN."""
    return json.dumps(_without_timings(json.loads(path.read_text())), sort_keys=True)


def _table_without_timings(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str)  # as written: no parsing that could hide a difference
    return frame.drop(columns=[c for c in frame.columns if "seconds" in c])


@pytest.fixture(scope="module")
def twice(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Both studies run in two fresh processes; returns the two output folders."""
    root = tmp_path_factory.mktemp("determinism")
    images = write_faint_image_folder(root / "images")
    torch.manual_seed(123)
    torch.save(build_toy(num_classes=5).net.state_dict(), root / "toy.pt")
    files = []
    for name, grid in STUDIES.items():
        files.append(root / f"{name}.toml")
        files[-1].write_text(STUDY.format(name=name, images=images, checkpoint=root / "toy.pt", **grid))
    driver = root / "driver.py"
    driver.write_text(DRIVER)
    outs = (root / "first", root / "second")
    for out, hash_seed, order in zip(outs, ("1", "2"), (files, files[::-1]), strict=True):
        # OMP_WAIT_POLICY only says how idle OpenMP threads wait (it changes no result): passive waiting takes
        # this test from 10.5 to 6 s per process on 2 busy cores, where spinning threads compete for them.
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "OMP_WAIT_POLICY": "PASSIVE"}
        done = subprocess.run([sys.executable, str(driver), str(REPO), str(out), *map(str, order)], env=env,
                              capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
    return outs


def _runs(study: Path) -> dict[str, dict[str, Any]]:
    return {p.name: json.loads((p / "metrics.json").read_text()) for p in (study / "runs").iterdir()}


def test_the_studies_cover_cached_uncached_and_augmented_runs(twice: tuple[Path, Path]) -> None:
    first, _ = twice
    cached = {m["label"]: m["feature_cache"] for m in _runs(first / "cached").values()}
    assert cached["ft:fc"]["used"] is True and cached["ft:fc"]["cached_groups"] == ["conv1", "conv2", "conv3"]
    assert cached["ft:conv1-fc"]["used"] is False and cached["scratch"]["used"] is False
    ((label, augmented),) = [(m["label"], m["feature_cache"]) for m in _runs(first / "augmented").values()]
    assert label == "ft:conv3-fc" and augmented["used"] is False
    assert augmented["reason_not_used"].startswith("random online augmentation (augment = true)")
    assert json.loads((first / "augmented" / "study.json").read_text())["training"]["augment"] is True
    # the runs are not degenerate (on the bright images of tests.conftest every run scores 1.0): their test AUCs
    # differ, so equal results below mean something
    scores = [m["test_auc"] for study in STUDIES for m in _runs(first / study).values()]
    assert len(set(scores)) > 1 and min(scores) < 1.0


@pytest.mark.parametrize("study", list(STUDIES))
def test_a_study_run_twice_gives_identical_results(twice: tuple[Path, Path], study: str) -> None:
    first, second = (out / study for out in twice)
    run_ids = sorted(p.name for p in (first / "runs").iterdir())
    assert sorted(p.name for p in (second / "runs").iterdir()) == run_ids
    for rid in run_ids:
        a, b = first / "runs" / rid, second / "runs" / rid
        assert _metrics_text(a / "metrics.json") == _metrics_text(b / "metrics.json"), rid
        for name in ("predictions_val.csv", "predictions_test.csv"):
            assert (a / name).read_bytes() == (b / name).read_bytes(), (rid, name)
        pd.testing.assert_frame_equal(_table_without_timings(a / "history.csv"),
                                      _table_without_timings(b / "history.csv"))
    pd.testing.assert_frame_equal(_table_without_timings(first / "results.csv"),
                                  _table_without_timings(second / "results.csv"))
