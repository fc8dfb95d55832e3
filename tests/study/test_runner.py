from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import tunedepth.study.lr_search as lr_search_module
from tunedepth.config import parse_study
from tunedepth.errors import ConfigError, DataError, WeightsError
from tunedepth.results import RESULT_COLUMNS
from tunedepth.study import run_study


def _config(raw):
    return parse_study(raw, base_dir=Path("."))


def test_study_writes_every_run_and_results(study_raw, tmp_path):
    out = tmp_path / "out"
    summary = run_study(_config(study_raw), out)
    frame = pd.read_csv(out / "results.csv", dtype={"run_id": str})
    assert summary.n_executed == 6 and summary.n_skipped == 0
    assert list(frame.columns[: len(RESULT_COLUMNS)]) == list(RESULT_COLUMNS)
    assert sorted(zip(frame["label"], frame["train_fraction"], strict=True)) == sorted(
        [(lab, f) for f in (1.0, 0.5) for lab in ("scratch", "ft:fc", "ft:conv1-fc")])
    assert set(frame.loc[frame["regime"] == "scratch", "depth"]) == {4}
    # 60 images, seeded 60/20/20 split -> 36 train; 50% of them, stratified -> 18
    assert set(frame["n_train"]) == {36, 18}
    run = out / "runs" / frame["run_id"].iloc[0]
    assert sorted(p.name for p in run.iterdir()) == [
        "config.json", "epoch_predictions.npz", "history.csv", "metrics.json", "predictions_test.csv",
        "predictions_val.csv"]
    config = json.loads((run / "config.json").read_text())
    assert {"tunedepth_version", "git_sha", "torch_version", "device", "num_threads", "hashed"} <= set(config)
    history = pd.read_csv(run / "history.csv")
    assert list(history["iteration"]) == [3, 6] and "val_auc" in history
    assert not list(out.rglob("*.tmp"))


def test_finetune_records_checkpoint_sha_and_scratch_does_not(study_raw, tmp_path, toy_checkpoint):
    from tunedepth._io import file_sha256

    out = tmp_path / "out"
    run_study(_config(study_raw), out)
    frame = pd.read_csv(out / "results.csv", dtype={"run_id": str})
    for rid, regime in zip(frame["run_id"], frame["regime"], strict=True):
        weights = json.loads((out / "runs" / rid / "config.json").read_text())["weights"]
        if regime == "scratch":
            assert weights is None
        else:
            assert weights["sha256"] == file_sha256(toy_checkpoint)


def test_resume_runs_only_missing_runs(study_raw, tmp_path, monkeypatch):
    study_raw["grid"] = {"regimes": ["finetune"], "depths": [1, 2, 3, 4], "train_fractions": [1.0], "seeds": [0]}
    config = _config(study_raw)
    out = tmp_path / "out"
    real_train = lr_search_module.train_model
    calls: list[int] = []

    def interrupted_in_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # stops the study (a run that raises an Exception is recorded and skipped)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(lr_search_module, "train_model", interrupted_in_third)
    with pytest.raises(KeyboardInterrupt):
        run_study(config, out)
    assert len([p for p in (out / "runs").iterdir() if (p / "metrics.json").exists()]) == 2

    calls.clear()
    summary = run_study(config, out)
    assert len(calls) == 2  # runs 3 and 4 only
    assert (summary.n_executed, summary.n_skipped) == (2, 2)
    assert len(pd.read_csv(out / "results.csv", dtype={"run_id": str})) == 4
    assert len([p for p in (out / "runs").iterdir() if (p / "metrics.json").exists()]) == 4
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]

    calls.clear()
    assert run_study(config, out).n_executed == 0 and calls == []


def test_lr_list_trains_each_and_keeps_best_on_validation(study_raw, tmp_path):
    study_raw["grid"] = {"regimes": ["finetune"], "depths": [4], "train_fractions": [1.0], "seeds": [0]}
    study_raw["training"]["lr"] = [0.0001, 0.05]
    out = tmp_path / "out"
    run_study(_config(study_raw), out)
    rid = pd.read_csv(out / "results.csv", dtype={"run_id": str})["run_id"].iloc[0]
    metrics = json.loads((out / "runs" / rid / "metrics.json").read_text())
    trials = {t["lr"]: t["val_auc"] for t in metrics["lr_trials"]}
    assert set(trials) == {0.0001, 0.05}
    assert metrics["lr"] == max(trials, key=trials.get) and metrics["val_auc"] == max(trials.values())
    history = pd.read_csv(out / "runs" / rid / "history.csv")
    assert sorted(set(history["base_lr"])) == [0.0001, 0.05]


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (lambda r: r["grid"].update(depths=[5]), ConfigError, r"\[1, 4\] for 'toy4'"),
        (lambda r: r["model"].update(architecture="toy5"), ConfigError, "Did you mean 'toy4'"),
        (lambda r: r["model"].update(checkpoint="/nonexistent/toy.pt"), WeightsError, "does not exist"),
        (lambda r: r["data"].update(path="/nonexistent/images"), DataError, "/nonexistent/images"),
    ],
    ids=["depth-too-deep", "unknown-architecture", "missing-checkpoint", "missing-data"],
)
def test_bad_input_writes_nothing(study_raw, tmp_path, change, error, message):
    change(study_raw)
    out = tmp_path / "out"
    with pytest.raises(error, match=message):
        run_study(_config(study_raw), out)
    assert not out.exists()


def test_class_absent_from_a_split_is_refused_before_training(study_raw, image_folder, tmp_path):
    for p in (image_folder / "lesion").iterdir():
        if p.stem != "001":
            p.unlink()
    out = tmp_path / "out"
    with pytest.raises(DataError, match="no case in the (val|test) split"):
        run_study(_config(study_raw), out)
    assert not out.exists()


@pytest.mark.parametrize(("balance", "n_train"), [("none", 30), ("downsample", 24), ("weighted_loss", 30)])
def test_balance_policies(study_raw, image_folder, tmp_path, balance, n_train):
    # drop a third of the lesion images: 30 normal + 20 lesion; the 60/20/20 split trains on 18 + 12;
    # downsampling keeps 12 + 12
    for p in sorted((image_folder / "lesion").iterdir())[::3]:
        p.unlink()
    study_raw["data"]["balance"] = balance
    study_raw["grid"] = {"regimes": ["scratch"], "depths": [1], "train_fractions": [1.0], "seeds": [0]}
    study_raw["training"]["max_epochs"] = 1
    out = tmp_path / "out"
    run_study(_config(study_raw), out)
    frame = pd.read_csv(out / "results.csv", dtype={"run_id": str})
    assert frame["n_train"].tolist() == [n_train]


def test_predictions_round_trip_exactly(study_raw, tmp_path):
    from tunedepth.evaluation import roc_auc_score

    study_raw["grid"] = {"regimes": ["finetune"], "depths": [4], "train_fractions": [1.0], "seeds": [0]}
    out = tmp_path / "out"
    run_study(_config(study_raw), out)
    rid = pd.read_csv(out / "results.csv", dtype={"run_id": str})["run_id"].iloc[0]
    metrics = json.loads((out / "runs" / rid / "metrics.json").read_text())
    for split, key in (("test", "test_auc"), ("val", "val_auc")):
        frame = pd.read_csv(out / "runs" / rid / f"predictions_{split}.csv")
        assert roc_auc_score(frame["label"], frame[["log_odds_0", "log_odds_1"]].to_numpy()) == metrics[key]


def test_store_writes_predictions_at_full_precision(tmp_path):
    import numpy as np

    from tunedepth.results import StudyStore

    probs = np.array([1 / 3, 1 - 1e-12, 1e-300, 0.1234567890123456789])
    frame = pd.DataFrame({"index": range(4), "label": [0, 1, 0, 1], "prob_0": 1 - probs, "prob_1": probs})
    store = StudyStore(tmp_path)
    store.create({})
    store.write_run("r", config={}, metrics={"run_id": "r"}, history=pd.DataFrame({"epoch": [1]}),
                    predictions={"test": frame})
    back = pd.read_csv(tmp_path / "runs" / "r" / "predictions_test.csv")
    assert back["prob_1"].tolist() == probs.tolist()


def test_per_epoch_predictions_redo_the_choice_of_epoch_and_lr(study_raw, tmp_path):
    """Each run keeps every epoch's validation and test case log-odds at every lr tried; choosing the best epoch of
    the best lr on validation from them gives the run's reported lr, best epoch and validation AUC, and the kept
    epoch's test log-odds are the run's test predictions."""
    from tunedepth.evaluation import roc_auc_score
    from tunedepth.results import load_finished_study

    study_raw["training"] |= {"lr": [0.05, 0.01], "max_epochs": 3, "patience": 3}
    out = tmp_path / "out"
    run_study(_config(study_raw), out)
    study = load_finished_study(out)
    for run in study.runs:
        metrics = study.run_metrics(run.run_id)
        val = study.run_epoch_log_odds(run.run_id, "val")
        test = study.run_epoch_log_odds(run.run_id, "test")
        assert sorted(val) == sorted(test) == [0.01, 0.05]
        aucs = {lr: [roc_auc_score(study.val_labels, epoch) for epoch in arrays] for lr, arrays in val.items()}
        best_lr = max([0.05, 0.01], key=lambda lr: max(aucs[lr]))  # first of equals, as the runner
        best_epoch = int(pd.Series(aucs[best_lr]).idxmax()) + 1
        assert (best_lr, best_epoch) == (metrics["lr"], metrics["best_epoch"])
        assert max(aucs[best_lr]) == metrics["val_auc"] == run.val_auc
        assert test[best_lr].shape[0] == metrics["epochs_run"]
        pd.testing.assert_frame_equal(pd.DataFrame(test[best_lr][best_epoch - 1]), pd.DataFrame(run.test_scores))


def test_fixed_augmented_views_are_served_by_the_feature_cache_with_the_same_result(study_raw, tmp_path):
    """augment_copies = 2: fine-tuning runs take their (view) features from the cache, and give exactly what they
    give without the cache."""
    study_raw["grid"] |= {"depths": [1, 2], "train_fractions": [1.0, 0.5]}
    study_raw["training"] |= {"augment_copies": 2, "max_epochs": 2, "patience": 2}
    results = {}
    for cache in (True, False):
        raw = {**study_raw, "execution": {**study_raw["execution"], "feature_cache": cache}}
        results[cache] = run_study(_config(raw), tmp_path / f"cache-{cache}").results.set_index("run_id")
    cached, plain = results[True], results[False]
    finetune = cached[cached["regime"] == "finetune"]
    assert (finetune["cached_groups"] > 0).all() and (plain["cached_groups"] == 0).all()
    pd.testing.assert_frame_equal(cached[["val_auc", "test_auc", "best_epoch"]], plain[["val_auc", "test_auc",
                                                                                          "best_epoch"]])


def test_fixed_views_change_the_run_and_online_augmentation_excludes_them(study_raw, tmp_path):
    study_raw["training"] |= {"max_epochs": 2, "patience": 2}
    base = run_study(_config(study_raw), tmp_path / "base").results.set_index("label")
    study_raw["training"]["augment_copies"] = 2
    views = run_study(_config(study_raw), tmp_path / "views").results.set_index("label")
    assert set(base["run_id"]).isdisjoint(views["run_id"])  # a different training set: new run ids
    assert (base["n_train"] == views["n_train"]).all()  # n_train counts images, not views
    study_raw["training"]["augment"] = True
    with pytest.raises(ConfigError, match=r"augment = true \(online\) and augment_copies = 2"):
        _config(study_raw)
