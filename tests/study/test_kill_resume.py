"""Kill and resume (issue 7, item 2): a study killed with SIGKILL at any point resumes to the same results.

Each test starts ``tunedepth study`` in a subprocess (a driver script written into ``tmp_path``) that kills
itself with SIGKILL at one point: during training of the second run, before the rename that commits a run's
``metrics.json``, between two files of one run, before a run folder is renamed into place, and while
``results.csv`` is being written. The same command, without the fault, then resumes it (in this process: a
subprocess costs seconds of imports). The resumed folder must hold what an uninterrupted study of the same file
holds (``results.csv`` equal in every column except timings, the same runs, complete, with byte-identical
predictions), no run finished before the kill may run again, and no temporary file or folder may remain.

Both the driver and the resume record every run start (each entry into ``tunedepth.study.runner.run_one``), so
the test knows exactly which runs each process executed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch

import tunedepth.study.runner as runner_module
from tests.conftest import build_toy, write_faint_image_folder
from tunedepth.cli import main

REPO = Path(__file__).parents[2]

# The driver kills its own process (no cleanup handler, no finally block runs) at the point ``fault`` names:
#   {"at": "none"}                                   no fault
#   {"at": "step", "run": r, "step": s}              before the s-th optimizer step of the r-th run it starts
#   {"at": "rename", "when": "before" | "after", "target": pattern, "n": n}
#       before (after) the n-th rename, by os.replace or os.rename, whose destination, relative to the study
#       folder, matches ``pattern`` part by part ("*" matches any one name, temporary ones included). For a file
#       written by tunedepth._io.atomic_write, "before" means: the temporary file is complete and fsynced, the
#       rename has not happened.
DRIVER = '''\
import fnmatch
import json
import os
import signal
import sys
from pathlib import Path

repo, fault_json, log_path, study_file, out = sys.argv[1:6]
sys.path.insert(0, repo)

from torch.optim.optimizer import register_optimizer_step_pre_hook

import tests.conftest  # registers the toy architecture "toy4", as in the test session
import tunedepth.study.runner as runner
from tunedepth.cli.main import main

fault = json.loads(fault_json)
out_dir = os.path.abspath(out)
state = {"runs": 0, "steps": 0, "renames": 0}


def die():
    os.kill(os.getpid(), signal.SIGKILL)


real_run_one = runner.run_one


def run_one(prepared, spec, run_id, store, **kwargs):
    with open(log_path, "a", encoding="utf-8") as fh:
        fh.write(run_id + "\\n")
    state["runs"] += 1
    state["steps"] = 0
    return real_run_one(prepared, spec, run_id, store, **kwargs)


runner.run_one = run_one


def before_step(optimizer, args, kwargs):
    state["steps"] += 1
    if fault["at"] == "step" and state["runs"] == fault["run"] and state["steps"] == fault["step"]:
        die()


register_optimizer_step_pre_hook(before_step)


def matches(dst):
    rel = os.path.relpath(os.path.abspath(dst), out_dir)
    parts, pattern = Path(rel).parts, fault["target"].split("/")
    return len(parts) == len(pattern) and all(fnmatch.fnmatchcase(p, q) for p, q in zip(parts, pattern))


def hooked(real):
    def rename(src, dst, *args, **kwargs):
        hit = False
        if fault["at"] == "rename" and matches(dst):
            state["renames"] += 1
            hit = state["renames"] == fault["n"]
        if hit and fault["when"] == "before":
            die()
        real(src, dst, *args, **kwargs)
        if hit and fault["when"] == "after":
            die()
    return rename


os.replace = hooked(os.replace)
os.rename = hooked(os.rename)
sys.exit(main(["study", study_file, "--out", out]))
'''

STUDY = """\
name = "kill-resume"
[data]
source = "image_folder"
path = "{images}"
image_size = 16
[model]
architecture = "toy4"
weights = "checkpoint"
checkpoint = "{checkpoint}"
[grid]
regimes = ["scratch", "finetune"]
depths = [1, 2, 4]
train_fractions = [1.0]
seeds = [0]
[training]
lr = 0.05
batch_size = 16
max_epochs = 2
patience = 2
[execution]
num_threads = 1
workers = 1
# every cached feature goes to a memory-mapped file under .feature-cache, which a killed process leaves behind
feature_cache_memory_gb = 1e-9
"""

RUN_FILES = ["config.json", "epoch_predictions.npz", "history.csv", "metrics.json", "predictions_test.csv",
             "predictions_val.csv"]


@dataclass(frozen=True)
class _Study:
    driver: Path
    study_file: Path
    baseline: Path
    run_ids: list[str]  # in the order the uninterrupted study started them


def _drive(study: _Study, out: Path, log: Path, fault: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(study.driver), str(REPO), json.dumps(fault), str(log), str(study.study_file),
               str(out)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def _log(log: Path) -> list[str]:
    return log.read_text(encoding="utf-8").split() if log.exists() else []


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> _Study:
    """The study file (4 runs: scratch, ft:fc, ft:conv3-fc, ft:conv1-fc), the driver, and the folder of one
    uninterrupted run of it."""
    root = tmp_path_factory.mktemp("kill-resume")
    write_faint_image_folder(root / "images")
    torch.manual_seed(123)
    torch.save(build_toy(num_classes=5).net.state_dict(), root / "toy.pt")
    study_file = root / "study.toml"
    study_file.write_text(STUDY.format(images=root / "images", checkpoint=root / "toy.pt"))
    driver = root / "driver.py"
    driver.write_text(DRIVER)
    baseline, log = root / "baseline", root / "baseline.log"
    done = _drive(_Study(driver, study_file, baseline, []), baseline, log, {"at": "none"})
    assert done.returncode == 0, done.stderr
    run_ids = _log(log)
    assert len(run_ids) == len(set(run_ids)) == 4
    return _Study(driver, study_file, baseline, run_ids)


def _resume(study: _Study, out: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Run the study command again, without a fault; return the ids of the runs it started."""
    real_run_one, started = runner_module.run_one, []

    def run_one(prepared: Any, spec: Any, run_id: str, store: Any, **kwargs: Any) -> dict[str, Any]:
        started.append(run_id)
        return real_run_one(prepared, spec, run_id, store, **kwargs)

    monkeypatch.setattr(runner_module, "run_one", run_one)
    assert main(["study", str(study.study_file), "--out", str(out)]) == 0
    return started


def _results_without_timings(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype={"run_id": str})
    return frame.drop(columns=[c for c in frame.columns if "seconds" in c])


def _leftovers(out: Path) -> list[str]:
    """Temporary files and folders under the study folder: ``*.tmp`` anywhere, and the feature cache."""
    return sorted(str(p.relative_to(out)) for p in out.rglob("*")
                  if p.name.endswith(".tmp") or p.name == ".feature-cache")


def _partial_folders(out: Path, run_id: str) -> list[Path]:
    """Folders under runs/ that hold part of ``run_id`` (its folder or a temporary one), without its marker."""
    return [p for p in (out / "runs").iterdir() if run_id in p.name and p.is_dir()
            and not (p / "metrics.json").is_file()]


def _run_entries(out: Path, run_id: str) -> list[Path]:
    """What runs/ holds of ``run_id`` besides the marker saying it was training (``.<run_id>.running.tmp``, which
    a killed run leaves and the resume removes with the other leftovers)."""
    return [p for p in (out / "runs").iterdir() if run_id in p.name and not p.name.endswith(".running.tmp")]


def _check_killed_at_step(out: Path, ids: list[str], executed: list[str]) -> None:
    # the second run started and had written nothing yet; the feature cache's files stay behind
    assert executed == ids[:2] and not _run_entries(out, ids[1])
    assert (out / "runs" / f".{ids[1]}.running.tmp").is_file()  # status says: interrupted
    # cuts 2 (ft:conv3-fc) and 3 (ft:fc) of the train, val and test images
    assert sorted(p.suffix for p in (out / ".feature-cache").iterdir()) == [".npy"] * 6


def _check_killed_before_marker(out: Path, ids: list[str], executed: list[str]) -> None:
    # the second run's metrics.json is fully written to its temporary file, not yet renamed into place
    temps = [p for p in (out / "runs").rglob(".metrics.json.*.tmp") if ids[1] in p.parent.name]
    assert len(temps) == 1 and json.loads(temps[0].read_text())["run_id"] == ids[1]


def _check_killed_between_files(out: Path, ids: list[str], executed: list[str]) -> None:
    # the second run's history.csv is in place, its predictions are not written yet
    (folder,) = _partial_folders(out, ids[1])
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "history.csv"]


def _check_killed_before_folder_rename(out: Path, ids: list[str], executed: list[str]) -> None:
    # every file of the second run is written, in a temporary folder that was not renamed into place
    (folder,) = _run_entries(out, ids[1])
    assert folder.name != ids[1] and sorted(p.name for p in folder.iterdir()) == RUN_FILES


def _check_killed_writing_results(out: Path, ids: list[str], executed: list[str]) -> None:
    assert not (out / "results.csv").exists()
    (temp,) = out.glob(".results.csv.*.tmp")
    assert len(pd.read_csv(temp)) == 4


# (fault, how many runs are finished at the kill, check of where the kill happened)
FAULTS = {
    "training-of-run-2": ({"at": "step", "run": 2, "step": 4}, 1, _check_killed_at_step),
    "run-2-marker-before-rename": (
        {"at": "rename", "when": "before", "target": "runs/*/metrics.json", "n": 2}, 1, _check_killed_before_marker),
    "run-2-between-two-files": (
        {"at": "rename", "when": "after", "target": "runs/*/history.csv", "n": 2}, 1, _check_killed_between_files),
    "run-2-folder-before-rename": (
        {"at": "rename", "when": "before", "target": "runs/[!.]*", "n": 2}, 1,
        _check_killed_before_folder_rename),  # a run folder, not the marker of a run in training
    "results-csv-before-rename": (
        {"at": "rename", "when": "before", "target": "results.csv", "n": 1}, 4, _check_killed_writing_results),
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_killed_study_resumes_to_the_uninterrupted_result(study: _Study, tmp_path: Path, name: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    fault, n_finished, check_kill_point = FAULTS[name]
    out, log = tmp_path / "out", tmp_path / "runs.log"
    ids = study.run_ids

    killed = _drive(study, out, log, fault)
    assert killed.returncode == -signal.SIGKILL, f"exit code {killed.returncode}, not SIGKILL: {killed.stderr}"
    executed = _log(log)
    finished = [rid for rid in ids if (out / "runs" / rid / "metrics.json").is_file()]
    assert finished == ids[:n_finished] == executed[:n_finished]
    check_kill_point(out, ids, executed)

    started = _resume(study, out, monkeypatch)
    # every unfinished run ran once more, in grid order; no run finished before the kill ran again
    assert started == ids[n_finished:]

    pd.testing.assert_frame_equal(_results_without_timings(out / "results.csv"),
                                  _results_without_timings(study.baseline / "results.csv"), check_exact=True)
    assert _leftovers(out) == []
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted(ids)
    for rid in ids:
        folder = out / "runs" / rid
        assert sorted(p.name for p in folder.iterdir()) == RUN_FILES, rid
        assert json.loads((folder / "metrics.json").read_text())["run_id"] == rid
        for split in ("val", "test"):
            file = f"predictions_{split}.csv"
            assert (folder / file).read_bytes() == (study.baseline / "runs" / rid / file).read_bytes(), (rid, file)
    assert sorted(os.listdir(out)) == sorted(os.listdir(study.baseline))
