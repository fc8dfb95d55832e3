from __future__ import annotations

import math
import shutil

import numpy as np
import pandas as pd
import pytest

from tunedepth.errors import StudyFolderError, UndefinedMetricWarning
from tunedepth.evaluation import roc_auc_score
from tunedepth.results import Arm, load_finished_study

LABELS = np.r_[np.ones(20, int), np.zeros(20, int)]


def _scores(signal: float, seed: int) -> np.ndarray:
    return signal * LABELS + np.random.default_rng(seed).normal(size=LABELS.size)


def _runs():
    return [
        ("scratch", 4, 1.0, 0, _scores(1.0, 1), _scores(1.0, 2)),
        ("ft:fc", 1, 1.0, 0, _scores(0.5, 3), _scores(0.5, 4)),
        ("ft:conv3-fc", 2, 1.0, 0, _scores(2.0, 5), _scores(2.0, 6)),
        ("ft:fc", 1, 0.5, 0, _scores(0.3, 7), _scores(0.3, 8)),
    ]


def test_loads_every_listed_run_with_its_predictions(synthetic_study):
    root = synthetic_study(_runs(), val_labels=LABELS, test_labels=LABELS)
    study = load_finished_study(root)
    assert len(study.runs) == 4 and len(study.results) == 4
    assert study.train_fractions == (1.0, 0.5)
    assert study.arms_at(1.0) == (Arm("scratch", 4), Arm("finetune", 1), Arm("finetune", 2))
    assert [study.label_of(arm) for arm in study.arms_at(1.0)] == ["scratch", "ft:fc", "ft:conv3-fc"]
    assert study.arms_at(0.5) == (Arm("finetune", 1),)
    assert study.arm_of("scratch").is_scratch and study.arm_of("ft:conv3-fc") == Arm("finetune", 2)
    assert study.n_classes == 2
    assert np.array_equal(study.test_labels, LABELS) and np.array_equal(study.val_labels, LABELS)
    run = study.runs_of(study.arm_of("ft:conv3-fc"), train_fraction=1.0)[0]
    assert run.test_scores.shape == (40, 2)
    assert run.test_auc == roc_auc_score(LABELS, run.test_scores)
    assert run.val_auc == roc_auc_score(LABELS, run.val_scores)
    assert run.test_auc == pytest.approx(study.results.set_index("label").loc["ft:conv3-fc", "test_auc"], abs=1e-6)


def test_run_folders_not_listed_in_results_are_ignored(synthetic_study):
    root = synthetic_study(_runs(), val_labels=LABELS, test_labels=LABELS)
    shutil.copytree(root / "runs" / "run000", root / "runs" / "stale00000000")
    assert [r.run_id for r in load_finished_study(root).runs] == ["run000", "run001", "run002", "run003"]


def test_nan_predictions_give_a_warned_nan_auc_and_the_run_is_kept(synthetic_study):
    runs = _runs()
    bad_val = runs[1][4].copy()
    bad_val[3] = np.nan
    runs[1] = (*runs[1][:4], bad_val, runs[1][5])
    root = synthetic_study(runs, val_labels=LABELS, test_labels=LABELS)
    with pytest.warns(UndefinedMetricWarning, match=r"Run 'run001' has 1 val case\(s\) with non-finite"):
        study = load_finished_study(root)
    run = study.runs_of(study.arm_of("ft:fc"), train_fraction=1.0)[0]
    assert math.isnan(run.val_auc) and not math.isnan(run.test_auc)
    assert study.results["val_auc"].isna().tolist() == [False, True, False, False]


def _no_folder(root):
    shutil.rmtree(root)


def _no_study_json(root):
    (root / "study.json").unlink()


def _no_results(root):
    (root / "results.csv").unlink()


def _empty_results(root):
    frame = pd.read_csv(root / "results.csv", dtype={"run_id": str})
    frame.iloc[:0].to_csv(root / "results.csv", index=False)


def _unfinished_run(root):
    (root / "runs" / "run002" / "metrics.json").unlink()


def _missing_predictions(root):
    (root / "runs" / "run001" / "predictions_test.csv").unlink()


def _other_cases(root):
    path = root / "runs" / "run003" / "predictions_val.csv"
    frame = pd.read_csv(path)
    frame.loc[0, "label"] = 1 - frame.loc[0, "label"]
    frame.to_csv(path, index=False)


def _duplicate_row(root):
    frame = pd.read_csv(root / "results.csv", dtype={"run_id": str})
    frame.loc[3, ["label", "train_fraction"]] = ["ft:fc", 1.0]
    frame.to_csv(root / "results.csv", index=False)


def _missing_column(root):
    frame = pd.read_csv(root / "results.csv", dtype={"run_id": str})
    frame.drop(columns="seed").to_csv(root / "results.csv", index=False)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_no_folder, r"Study folder '.*study0' does not exist or is not a folder"),
        (_no_study_json, r"'.*study0' is not a tunedepth study \(it has no study.json\)"),
        (_no_results, r"Study '.*study0' has no finished runs: results.csv is missing"),
        (_empty_results, r"Study '.*study0' has no finished runs \(results.csv lists none\)"),
        (_unfinished_run, r"Run 'run002' is listed in .* but is not finished \(no .*metrics.json'\)"),
        (_missing_predictions, r"Run file '.*run001/predictions_test.csv' is missing"),
        (_other_cases, r"Run 'run003' was scored on other val cases than run 'run000'"),
        (_duplicate_row, r"lists the same \(label, train_fraction, seed\) more than once \(run ids \['run001', "
                         r"'run003'\]\)"),
        (_missing_column, r"lacks the column\(s\) \['seed'\]"),
    ],
    ids=["no-folder", "no-study-json", "no-results", "empty-results", "unfinished-run", "missing-predictions",
         "other-cases", "duplicate-row", "missing-column"],
)
def test_bad_study_folder_is_refused_in_one_line(synthetic_study, damage, message):
    root = synthetic_study(_runs(), val_labels=LABELS, test_labels=LABELS)
    damage(root)
    with pytest.raises(StudyFolderError, match=message) as info:
        load_finished_study(root)
    assert "\n" not in str(info.value)

