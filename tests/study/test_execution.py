"""How a study executes: the feature cache (used where valid, recorded, cleaned up) and parallel workers."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tunedepth.study.runner as runner_module
from tunedepth.config import parse_study
from tunedepth.errors import ExecutionError
from tunedepth.study import run_study

TIMING = ["train_seconds"]


def _study(raw, tmp_path, name, **execution):
    raw = copy.deepcopy(raw)
    raw["grid"] = {"regimes": ["scratch", "finetune"], "depths": [1, 2, 4], "train_fractions": [1.0, 0.5],
                   "seeds": [0]}
    raw["execution"] = {**raw.get("execution", {}), **execution}
    out = tmp_path / name
    run_study(parse_study(raw, base_dir=Path(".")), out)
    return out, pd.read_csv(out / "results.csv", dtype={"run_id": str}).sort_values("run_id").reset_index(drop=True)


def test_feature_cache_is_used_where_valid_and_recorded(study_raw, tmp_path):
    out, frame = _study(study_raw, tmp_path, "cached", feature_cache_dtype="float32")
    cached = dict(zip(frame["label"] + "@" + frame["train_fraction"].astype(str), frame["cached_groups"],
                      strict=True))
    # toy4 groups conv1, conv2 (BatchNorm, frozen in eval mode), conv3, fc
    assert cached == {"scratch@1.0": 0, "scratch@0.5": 0, "ft:fc@1.0": 3, "ft:fc@0.5": 3,
                      "ft:conv3-fc@1.0": 2, "ft:conv3-fc@0.5": 2, "ft:conv1-fc@1.0": 0, "ft:conv1-fc@0.5": 0}
    for rid, label in zip(frame["run_id"], frame["label"], strict=True):
        record = json.loads((out / "runs" / rid / "metrics.json").read_text())["feature_cache"]
        if label == "ft:fc":
            assert record == {"used": True, "cached_groups": ["conv1", "conv2", "conv3"], "dtype": "float32",
                              "reason_not_used": ""}
        elif label == "scratch":
            assert record["used"] is False and record["reason_not_used"] == "scratch: every group trains"
        elif label == "ft:conv1-fc":
            assert record["reason_not_used"] == "every group trains (scratch or depth = all)"
    assert not (out / ".feature-cache").exists()


def test_cached_and_uncached_studies_agree(study_raw, tmp_path):
    _, cached = _study(study_raw, tmp_path, "cached", feature_cache_dtype="float32")
    _, plain = _study(study_raw, tmp_path, "plain", feature_cache=False)
    assert list(cached["run_id"]) == list(plain["run_id"])  # the cache is not part of a run's identity
    assert set(plain["cached_groups"]) == {0}
    np.testing.assert_allclose(cached["val_auc"], plain["val_auc"], atol=1e-6)
    np.testing.assert_allclose(cached["test_auc"], plain["test_auc"], atol=1e-6)


def test_cuts_over_the_size_limit_are_not_cached_and_the_runs_say_why(study_raw, tmp_path):
    # toy4 on 16-px images: the features at cut 3 (conv3 pooled: 8 floats) take 32 B per image, at cut 2
    # (8 x 4 x 4 floats) 512 B; the study has 60 images, so cut 3 needs 1.9 kB and cut 2 30 kB. A 10 kB limit
    # caches cut 3 only.
    limit_gb = 10_000 / 2**30
    out, frame = _study(study_raw, tmp_path, "limited", feature_cache_max_gb=limit_gb)
    _, plain = _study(study_raw, tmp_path, "plain", feature_cache=False)
    by_label = dict(zip(frame["label"] + "@" + frame["train_fraction"].astype(str), frame["cached_groups"],
                        strict=True))
    assert by_label["ft:fc@1.0"] == 3 and by_label["ft:conv3-fc@1.0"] == 0
    rid = frame.loc[frame["label"] == "ft:conv3-fc", "run_id"].iloc[0]
    record = json.loads((out / "runs" / rid / "metrics.json").read_text())["feature_cache"]
    assert record["used"] is False and "did not fit in feature_cache_max_gb" in record["reason_not_used"]
    np.testing.assert_allclose(frame["test_auc"], plain["test_auc"], atol=1e-6)


def test_a_run_whose_cut_does_not_fit_uses_the_deepest_cached_cut_before_it(study_raw, tmp_path, monkeypatch):
    # Pretend cut 3 is huge: cut 2 is cached, cut 3 not, so ft:fc (cut 3) takes cut 2 and runs conv3 live.
    from tunedepth.training import FeatureStore

    monkeypatch.setattr(FeatureStore, "feature_bytes_per_image", lambda self, model, cut, size: 10**9 if cut == 3
                        else 512)
    out, frame = _study(study_raw, tmp_path, "fallback", feature_cache_max_gb=1.0)
    _, plain = _study(study_raw, tmp_path, "plain", feature_cache=False)
    assert frame.loc[frame["label"] == "ft:fc", "cached_groups"].tolist() == [2, 2]
    rid = frame.loc[frame["label"] == "ft:fc", "run_id"].iloc[0]
    reason = json.loads((out / "runs" / rid / "metrics.json").read_text())["feature_cache"]["reason_not_used"]
    assert reason.startswith("cut 3 did not fit") and "cut 2 used" in reason
    np.testing.assert_allclose(frame["test_auc"], plain["test_auc"], atol=1e-6)


def test_cache_is_refused_with_augmentation(study_raw, tmp_path):
    study_raw = copy.deepcopy(study_raw)
    study_raw["training"]["augment"] = True
    out, frame = _study(study_raw, tmp_path, "augmented")
    assert set(frame["cached_groups"]) == {0}
    record = json.loads((out / "runs" / frame["run_id"].iloc[0] / "metrics.json").read_text())["feature_cache"]
    assert record["reason_not_used"] in ("scratch: every group trains",
                                         "random online augmentation (augment = true) changes the inputs every "
                                         "epoch")
    reasons = {json.loads((out / "runs" / r / "metrics.json").read_text())["feature_cache"]["reason_not_used"]
               for r in frame["run_id"]}
    assert "random online augmentation (augment = true) changes the inputs every epoch" in reasons


def test_features_are_computed_once_per_cut_for_the_whole_study(study_raw, tmp_path, monkeypatch):
    prepared_cuts: list[tuple[int, ...]] = []
    real = runner_module.FeatureStore.prepare

    def spy(self, model, cuts, images):
        prepared_cuts.append(tuple(sorted(cuts)))
        return real(self, model, cuts, images)

    monkeypatch.setattr(runner_module.FeatureStore, "prepare", spy)
    _study(study_raw, tmp_path, "once")
    # one pass per split (train, val, test) for both cuts; the 4 cached runs then find everything computed
    assert prepared_cuts == [(2, 3)] * 3


def test_two_worker_processes_give_the_same_results_as_one(study_raw, tmp_path):
    _, one = _study(study_raw, tmp_path, "one", workers=1, num_threads=1)
    out, two = _study(study_raw, tmp_path, "two", workers=2, num_threads=1)
    pd.testing.assert_frame_equal(one.drop(columns=TIMING), two.drop(columns=TIMING))
    assert not (out / ".feature-cache").exists()


def test_auto_workers_is_one_on_cpu_and_one_per_gpu_on_cuda(monkeypatch):
    from tunedepth.config import ExecutionConfig
    from tunedepth.study.executors import resolve_workers, worker_gpu

    cpu, cuda = runner_module.torch.device("cpu"), runner_module.torch.device("cuda")
    assert resolve_workers(ExecutionConfig(), cpu) == 1
    assert resolve_workers(ExecutionConfig(workers=3), cpu) == 3
    monkeypatch.setattr(runner_module.torch.cuda, "device_count", lambda: 4)
    assert resolve_workers(ExecutionConfig(), cuda) == 4
    assert [worker_gpu(i, 4) for i in range(6)] == [0, 1, 2, 3, 0, 1]


def test_a_run_on_the_whole_split_uses_the_cached_features_without_a_copy():
    from tunedepth.training import rows_of as _rows

    features = runner_module.torch.arange(12.0).reshape(4, 3)
    assert _rows(features, runner_module.torch.arange(4)) is features
    subset = _rows(features, runner_module.torch.tensor([2, 0]))
    assert subset.tolist() == [[6.0, 7.0, 8.0], [0.0, 1.0, 2.0]]
    assert _rows(features, runner_module.torch.tensor([1, 0, 2, 3]))[0].tolist() == [3.0, 4.0, 5.0]


def test_a_worker_killed_by_the_system_is_named_and_the_study_resumes(study_raw, tmp_path, monkeypatch):
    raw = copy.deepcopy(study_raw)
    raw["grid"] = {"regimes": ["scratch", "finetune"], "depths": [1], "train_fractions": [1.0], "seeds": [0]}
    out = tmp_path / "out"
    monkeypatch.setenv("TUNEDEPTH_TEST_KILL_WORKERS", "1")  # every worker process dies when it builds a model
    raw["execution"] = {"workers": 2, "num_threads": 1}
    with pytest.raises(ExecutionError, match=r"worker process .* died without a Python error .* Run the same "
                                             r"command again to resume, with fewer execution.workers"):
        run_study(parse_study(raw, base_dir=Path(".")), out)
    assert not list(out.rglob("metrics.json"))
    monkeypatch.delenv("TUNEDEPTH_TEST_KILL_WORKERS")
    raw["execution"] = {"workers": 1, "num_threads": 1}
    summary = run_study(parse_study(raw, base_dir=Path(".")), out)
    assert summary.n_executed == 2 and summary.failures.empty
    assert not list(out.rglob("*.tmp"))


def test_returning_freed_memory_works_with_and_without_glibc(monkeypatch):
    """The study process trims its heap before its workers start; where the C library has no malloc_trim (or no
    libc.so.6 at all), that is a no-op, not an error."""
    import ctypes

    from tunedepth.study import executors

    calls = []

    class FakeLibc:
        def malloc_trim(self, pad):
            calls.append(pad)
            return 1

    monkeypatch.setattr(ctypes, "CDLL", lambda name: FakeLibc())
    executors.return_freed_memory()
    assert calls == [0]

    def missing(name):
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(ctypes, "CDLL", missing)
    executors.return_freed_memory()  # no error
    monkeypatch.setattr(ctypes, "CDLL", lambda name: object())
    executors.return_freed_memory()  # a C library without malloc_trim: no error
