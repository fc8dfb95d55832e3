from __future__ import annotations

import errno
import filecmp
import os
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tunedepth.cli import main

REPO = Path(__file__).parents[2]


def _write_study(tmp_path: Path, raw_toml: str) -> Path:
    path = tmp_path / "study.toml"
    path.write_text(raw_toml)
    return path


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('name = "x"\n[dataa]\n', "unknown key 'dataa'. Did you mean 'data'?"),
        ('name = "x"\ndata = 3\n', "'data'"),
        ("name = \n", "not valid TOML"),
    ],
    ids=["unknown-key", "wrong-type", "bad-toml"],
)
def test_bad_study_file_exits_2_with_one_line(tmp_path, capsys, toml, message):
    code = main(["study", str(_write_study(tmp_path, toml)), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_missing_study_file(tmp_path, capsys):
    assert main(["study", str(tmp_path / "nope.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_study_runs_end_to_end_and_resumes(study_raw, tmp_path, capsys):
    import tomllib  # noqa: F401  (the file below must be valid TOML)

    lines = [
        'name = "toy"',
        "[data]", 'source = "image_folder"', f'path = "{study_raw["data"]["path"]}"', "image_size = 16",
        "[model]", 'architecture = "toy4"', 'weights = "checkpoint"',
        f'checkpoint = "{study_raw["model"]["checkpoint"]}"',
        "[grid]", 'regimes = ["scratch", "finetune"]', "depths = [1]", "train_fractions = [1.0]", "seeds = [0]",
        "[training]", "max_epochs = 1", "batch_size = 16",
    ]
    path = _write_study(tmp_path, "\n".join(lines) + "\n")
    out = tmp_path / "out"
    assert main(["study", str(path), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert f"Results: {out / 'results.csv'}" in captured.out.replace("\n", "")
    assert len(pd.read_csv(out / "results.csv", dtype={"run_id": str})) == 2
    sentence = (out / "recommendation.txt").read_text().strip()
    assert sentence.startswith("At 100% of the data, fine-tune only fc") and ": test AUC " in sentence
    assert captured.out.index(f"  {sentence}") > captured.out.index("Results: ")
    assert (out / "report.html").is_file()
    assert captured.out.index("Report: ") > captured.out.index(f"  {sentence}")
    assert f"Report: {(out / 'report.html').resolve()}" in captured.out.replace("\n", "")
    assert main(["study", str(path), "--out", str(out)]) == 0
    assert "0 runs executed, 2 already finished" in capsys.readouterr().out


def test_models_lists_groups(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "conv1 conv2 conv3 conv4 conv5 fc6 fc7 fc8" in out.replace("\n", " ").replace("│", " ").replace("  ", " ")


def test_datasets_lists_medmnist(capsys):
    assert main(["datasets"]) == 0
    assert "pneumoniamnist" in capsys.readouterr().out


def test_demo_runs_exactly_examples_demo_toml():
    packaged = files("tunedepth") / "examples" / "demo.toml"
    assert filecmp.cmp(str(packaged), REPO / "examples" / "demo.toml", shallow=False)


def test_console_script_help_and_usage_error():
    ok = subprocess.run([sys.executable, "-m", "tunedepth", "--help"], capture_output=True, text=True)
    assert ok.returncode == 0 and "study" in ok.stdout and "demo" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "tunedepth", "study"], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


@pytest.mark.parametrize("command", ["recommend", "report"])
def test_analysis_options_name_the_study_files_table_in_their_help(command):
    """Rich reads "[analysis]" as markup and drops it unless escaped: the help must say where the default lives."""
    ok = subprocess.run([sys.executable, "-m", "tunedepth", command, "--help"], capture_output=True, text=True,
                        env={**os.environ, "COLUMNS": "200"})
    assert ok.returncode == 0
    for option in ("--rule", "--metric", "--cross-fit"):
        assert option in ok.stdout
    text = " ".join(ok.stdout.replace("│", " ").split())  # rich wraps the help inside a box
    assert "[analysis] depth_rule" in text and "[analysis] depth_metric" in text and "[analysis] cross_fit" in text


_GOOD = {
    "name": '"bad"',
    "data": {"source": '"medmnist"', "flag": '"breastmnist"', "image_size": "28"},
    "model": {"architecture": '"alexnet"', "weights": '"checkpoint"', "checkpoint": '"missing.pt"'},
    "grid": {"regimes": '["finetune"]', "depths": "[1]", "train_fractions": "[1.0]", "seeds": "[0]"},
}


def _toml(change: dict[str, dict[str, str]]) -> str:
    lines = [f"name = {_GOOD['name']}"]
    for section in ("data", "model", "grid"):
        lines.append(f"[{section}]")
        merged = {**_GOOD[section], **change.get(section, {})}
        lines += [f"{k} = {v}" for k, v in merged.items() if v is not None]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": {"architecture": '"alexnett"'}}, "Unknown architecture 'alexnett'. Did you mean 'alexnet'?"),
        ({"model": {"weights": '"imagenet21k"'}}, "'model.weights': Input should be 'imagenet' or 'checkpoint'"),
        ({"grid": {"depths": "[9]"}}, "must be an int in [1, 8] for 'alexnet' (groups: conv1, conv2, conv3, conv4, "
                                      "conv5, fc6, fc7, fc8). Got 9"),
        ({"grid": {"depths": '["conv6"]'}}, "Unknown group 'conv6'"),
        ({"grid": {"train_fractions": "[0]"}}, "'grid.train_fractions.0': Input should be greater than 0"),
        ({"grid": {"train_fractions": "[1.5]"}}, "'grid.train_fractions.0': Input should be less than or equal to 1"),
        ({}, "missing.pt does not exist"),
        ({"data": {"flag": '"pneumonia"'}, "grid": {"regimes": '["scratch"]'}}, "Did you mean 'pneumoniamnist'?"),
        ({"data": {"root": '"medmnist"'}, "grid": {"regimes": '["scratch"]'}}, "MD5"),
    ],
    ids=["architecture", "weight-source", "depth-range", "group", "fraction-0", "fraction-1.5",
         "missing-checkpoint", "data-set", "md5-mismatch"],
)
def test_bad_input_through_the_cli(tmp_path, capsys, monkeypatch, change, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "medmnist").mkdir()
    np.savez(tmp_path / "medmnist" / "breastmnist.npz", train_images=np.zeros((2, 28, 28), np.uint8))
    path = _write_study(tmp_path, _toml(change))
    code = main(["study", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def _recommend_study(synthetic_study, signals=(1.0, 0.3, 2.5, 2.4)) -> Path:
    labels = np.r_[np.ones(60, int), np.zeros(60, int)]

    def scores(signal: float, seed: int) -> np.ndarray:
        return signal * labels + np.random.default_rng(seed).normal(size=labels.size)

    runs = [(label, depth, fraction, 0, scores(signal, 10 * i + j), scores(signal, 100 + 10 * i + j))
            for i, fraction in enumerate((1.0, 0.25))
            for j, ((label, depth), signal) in enumerate(zip(
                [("scratch", 3), ("ft:fc", 1), ("ft:conv2-fc", 2), ("ft:conv1-fc", 3)], signals, strict=True))]
    return synthetic_study(runs, val_labels=labels, test_labels=labels)


def test_recommend_prints_one_sentence_per_fraction_and_writes_the_tables(synthetic_study, capsys):
    root = _recommend_study(synthetic_study)
    assert main(["recommend", str(root)]) == 0
    out = capsys.readouterr().out
    sentences = (root / "recommendation.txt").read_text().splitlines()
    assert [s.split(",")[0] for s in sentences] == ["At 100% of the data", "At 25% of the data"]
    assert all(f"  {s}\n" in out for s in sentences)
    assert all("fine-tune conv2–fc" in s and "over scratch (p < 0.001)" in s for s in sentences)
    assert "significance.csv" in out and (root / "significance.csv").is_file()
    assert pd.read_csv(root / "recommendation.csv")["alpha"].tolist() == [0.05, 0.05]


def test_recommend_alpha_option_reaches_the_recommendation(synthetic_study, capsys):
    root = _recommend_study(synthetic_study)
    assert main(["recommend", str(root), "--alpha", "1e-300", "--rule", "lookahead"]) == 0
    assert "fine-tune only fc" in capsys.readouterr().out
    assert pd.read_csv(root / "recommendation.csv")["alpha"].tolist() == [1e-300, 1e-300]


def test_recommend_rule_option_reaches_the_walk(synthetic_study, capsys):
    # depth 2 is barely better than depth 1 on validation, depth 3 much better: the stepwise walk stops at
    # depth 1, the lookahead walk goes to depth 3.
    root = _recommend_study(synthetic_study, signals=(1.0, 0.3, 0.35, 2.4))
    assert main(["recommend", str(root), "--rule", "stepwise"]) == 0
    assert capsys.readouterr().out.count("fine-tune only fc") == 2
    assert pd.read_csv(root / "recommendation.csv")["depth_rule"].tolist() == ["stepwise"] * 2
    assert main(["recommend", str(root), "--rule", "lookahead"]) == 0
    assert capsys.readouterr().out.count("fine-tune conv1–fc") == 2
    assert main(["recommend", str(root), "--metric", "log_loss", "--cross-fit"]) == 0
    written = pd.read_csv(root / "recommendation.csv")
    assert written["depth_rule"].tolist() == ["best"] * 2 and written["depth_metric"].tolist() == ["log_loss"] * 2
    assert "cross-fitting needs the per-epoch predictions" in written["note"][0]  # this folder has none
    assert main(["recommend", str(root), "--rule", "greedy"]) == 2
    err = capsys.readouterr().err
    assert "'greedy' is not one of 'lookahead', 'stepwise'" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (lambda p: p.mkdir(), [], "is not a tunedepth study (it has no study.json)"),
        (lambda p: None, [], "does not exist or is not a folder"),
        (lambda p: (p.mkdir(), (p / "study.json").write_text("{}")), [],
         "has no finished runs: results.csv is missing"),
        (lambda p: p.mkdir(), ["--alpha", "1.5"], "'alpha' parameter of analyze_study must be a significance level"),
    ],
    ids=["not-a-study", "no-folder", "no-finished-runs", "bad-alpha"],
)
def test_recommend_bad_folder_exits_2_with_one_line(tmp_path, capsys, setup, args, message):
    folder = tmp_path / "study"
    setup(folder)
    assert main(["recommend", str(folder), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("err", "expected"),
    [(errno.ENOSPC, "free space on that disk"), (errno.EACCES, "fix its permissions"),
     (errno.ENOTDIR, "a file stands where a folder is expected")],
)
def test_fixable_os_errors_end_as_one_line(monkeypatch, capsys, err, expected):
    import tunedepth.data

    def refuse(*args, **kwargs):
        raise OSError(err, os.strerror(err), "/data/out/results.csv")

    monkeypatch.setattr(tunedepth.data, "list_datasets", refuse)
    assert main(["datasets"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "/data/out/results.csv" in lines[0]
    assert expected in lines[0] and os.strerror(err) in lines[0]


def test_other_os_errors_are_not_hidden(monkeypatch):
    import tunedepth.data

    def broken(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(tunedepth.data, "list_datasets", broken)
    with pytest.raises(OSError, match="Input/output error"):
        main(["datasets"])
