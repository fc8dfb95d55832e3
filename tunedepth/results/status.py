"""Where a study stands, read from its folder while it runs (or after): ``tunedepth status STUDY_DIR``.

It reads what the study process writes as it goes, on any executor: ``plan.json`` (the runs, written when the study
starts), each finished run's ``metrics.json``, each failed run's ``failed.json``, the marker a run keeps while it
trains (``runs/.<run_id>.running.tmp``: host, process and start time) and the folder's lock (held while a study
runs). A marker left by a killed study (lock free) counts as interrupted, not running.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunedepth.errors import StudyFolderError
from tunedepth.results.store import StudyStore

__all__ = ["RunState", "StudyStatus", "study_status"]


@dataclass(frozen=True)
class RunState:
    """One planned run: its id, label, fraction, seed and state ("finished", "failed", "running", "pending" or
    "interrupted"); for a running run, where and for how long (seconds)."""

    run_id: str
    label: str
    train_fraction: float
    seed: int
    state: str
    host: str = ""
    seconds: float = math.nan


@dataclass(frozen=True)
class StudyStatus:
    """Where a study stands.

    Attributes:
        root: the study folder.
        running: whether a study process holds the folder now.
        runs: every planned run, in the grid's order.
        elapsed: seconds since the last ``tunedepth study`` started (NaN when unknown).
        remaining: an estimate of the seconds left: the mean training time of the runs finished so far, times the
            runs left (pending, plus running ones counted half done), divided by the runs training at once; NaN
            when no run has finished or nothing is left.
        executor: "local" or "ray", as the study was started.
    """

    root: Path
    running: bool
    runs: tuple[RunState, ...]
    elapsed: float
    remaining: float
    executor: str

    def count(self, state: str) -> int:
        return sum(r.state == state for r in self.runs)


def study_status(study_dir: Path, *, now: float | None = None) -> StudyStatus:
    """Read where the study in ``study_dir`` stands (see the module docstring).

    Raises:
        StudyFolderError: the folder has no ``plan.json`` (not a study folder, or one written before tunedepth
            wrote it: run ``tunedepth study`` on it again).
    """
    store = StudyStore(Path(study_dir))
    layout = store.layout
    try:
        plan: dict[str, Any] = json.loads(layout.plan_json.read_text())
    except (OSError, ValueError):
        raise StudyFolderError(f"{str(layout.plan_json)!r} is missing or unreadable: {study_dir} is not a study folder "
                               "started by this version of tunedepth; run `tunedepth study` on it (finished runs are "
                               "kept).") from None
    now = time.time() if now is None else now
    running = store.is_locked()
    states = []
    for run in plan["runs"]:
        rid = run["run_id"]
        host, seconds = "", math.nan
        if store.is_complete(rid):
            state = "finished"
        elif store.is_failed(rid):
            state = "failed"
        elif layout.running_marker(rid).is_file():
            marker = _read_marker(layout.running_marker(rid))
            state = "running" if running else "interrupted"
            host, seconds = str(marker.get("host", "")), now - float(marker.get("started", now))
        else:
            state = "pending"
        states.append(RunState(rid, run["label"], float(run["train_fraction"]), int(run["seed"]), state, host,
                               seconds))
    elapsed = now - float(plan["started"]) if running else math.nan
    return StudyStatus(store.root, running, tuple(states), elapsed, _remaining(store, states, plan, running),
                       str(plan.get("executor", "local")))


def _read_marker(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):  # removed or being replaced as we read it
        return {}
    return data


def _remaining(store: StudyStore, states: list[RunState], plan: dict[str, Any], running: bool) -> float:
    finished = [float(store.read_metrics(r.run_id).get("train_seconds", math.nan))
                for r in states if r.state == "finished"]
    finished = [s for s in finished if math.isfinite(s)]
    left = sum(r.state == "pending" for r in states) + 0.5 * sum(r.state == "running" for r in states)
    if not running or not finished or not left:
        return math.nan
    at_once = max(int(plan.get("concurrency") or 0), sum(r.state == "running" for r in states), 1)
    return sum(finished) / len(finished) * left / at_once
