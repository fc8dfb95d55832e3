"""Writing a study folder: runs written whole and renamed into place, every other file atomically, and a lock.

A run folder is written whole into a temporary folder ``runs/.<run_id>.<random>.tmp`` (every file fsynced) and
renamed into place when complete, and every other file is written atomically (temp file, fsync, rename). So an
interrupted study never leaves a half-written file or run folder that a resume could mistake for a finished run;
:meth:`StudyStore.remove_temporary` clears what a killed process left. The folder's layout is
:class:`~tunedepth.results.StudyLayout`'s.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import shutil
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from tunedepth._io import atomic_write, atomic_write_bytes, atomic_write_dir, atomic_write_json, atomic_write_text
from tunedepth.errors import StudyFolderError
from tunedepth.results.layout import StudyLayout
from tunedepth.results.records import FAILURE_COLUMNS, RESULT_COLUMNS

__all__ = ["StudyStore", "frame_to_csv"]


def frame_to_csv(frame: pd.DataFrame, *, float_format: str = "%.6g") -> str:
    """A table as CSV text, the way every table of a study folder is written.

    Summary tables use 6 significant digits; predictions are written with ``"%.17g"``, which
    round-trips every float64 exactly: rounded probabilities would create ties and change
    AUCs recomputed from the files.
    """
    buf = io.StringIO()
    frame.to_csv(buf, index=False, float_format=float_format)
    return buf.getvalue()


def _savez(arrays: dict[str, np.ndarray], fh: IO[bytes]) -> None:
    np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]


class StudyStore:
    """Reads and writes one study folder.

    Args:
        root: the study folder (created by :meth:`create`).
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.layout = StudyLayout(self.root)

    @property
    def results_path(self) -> Path:
        return self.layout.results_csv

    def create(self, study_config: dict[str, Any]) -> None:
        """Create the folder and write ``study.json``."""
        self.layout.runs_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.layout.study_json, study_config)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the study folder for this process, so that a second ``tunedepth study`` on the same folder is
        refused instead of running the same runs. The lock (``flock`` on ``.lock``) is released when the block
        ends or the process dies, even by SIGKILL, so a killed study never leaves a stale lock.

        Raises:
            StudyFolderError: if another process holds it.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.layout.lock_file
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                raise StudyFolderError(
                    f"Study folder {self.root} is in use by another tunedepth process (pid {holder}); wait for it "
                    "to end, or pass another --out."
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield
        finally:
            os.close(fd)  # releases the lock

    def is_locked(self) -> bool:
        """True when a process holds the study folder's lock now (a study is running in it)."""
        path = self.layout.lock_file
        if not path.is_file():
            return False
        fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # releases a lock this call took
        return False

    def write_plan(self, plan: dict[str, Any]) -> None:
        """Write ``plan.json``: the runs a study is about to execute (see :mod:`tunedepth.results.status`)."""
        atomic_write_json(self.layout.plan_json, plan)

    def mark_running(self, run_id: str, *, host: str, pid: int, started: float) -> None:
        """Say that a run is training now, where and since when (epoch seconds); :meth:`clear_running` ends it."""
        self.layout.runs_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.layout.running_marker(run_id), {"host": host, "pid": pid, "started": started})

    def clear_running(self, run_id: str) -> None:
        self.layout.running_marker(run_id).unlink(missing_ok=True)

    def run_dir(self, run_id: str) -> Path:
        return self.layout.run_dir(run_id)

    @property
    def failures_path(self) -> Path:
        return self.layout.failures_csv

    def is_complete(self, run_id: str) -> bool:
        """True when the run's ``metrics.json`` exists."""
        return self.layout.run_file(run_id, "metrics.json").is_file()

    def is_failed(self, run_id: str) -> bool:
        """True when the run's last attempt raised (its ``failed.json`` exists)."""
        return self.layout.run_file(run_id, "failed.json").is_file() and not self.is_complete(run_id)

    def remove_temporary(self) -> list[Path]:
        """Delete the temporary files and run folders (``.*.tmp``) a killed process left; return them."""
        leftovers = sorted(self.root.rglob(".*.tmp")) if self.root.is_dir() else []
        for path in leftovers:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        return leftovers

    def _write_run_folder(self, run_id: str, write: Callable[[Path], None]) -> None:
        """Write a run folder whole (see :func:`~tunedepth._io.atomic_write_dir`), replacing an earlier attempt."""
        self.layout.runs_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_dir(self.run_dir(run_id), write)

    def write_run(
        self,
        run_id: str,
        *,
        config: dict[str, Any],
        metrics: dict[str, Any],
        history: pd.DataFrame,
        predictions: dict[str, pd.DataFrame],
        tables: dict[str, pd.DataFrame] | None = None,
        arrays: dict[str, dict[str, np.ndarray]] | None = None,
        files: dict[str, bytes] | None = None,
    ) -> None:
        """Write a finished run; ``metrics.json`` goes last, marking it complete. ``tables`` are further per-run
        tables, written as ``<name>.csv`` (e.g. a segmentation run's ``boundary_errors_test``); ``arrays`` named
        groups of arrays, written as ``<name>.npz`` (e.g. its ``overlays_test``); ``files`` files written as given
        (e.g. its ``weights.safetensors``)."""
        def write(folder: Path) -> None:
            atomic_write_json(folder / "config.json", config)
            atomic_write_text(folder / "history.csv", frame_to_csv(history))
            for split, frame in predictions.items():
                atomic_write_text(folder / f"predictions_{split}.csv", frame_to_csv(frame, float_format="%.17g"))
            for name, table in (tables or {}).items():
                atomic_write_text(folder / f"{name}.csv", frame_to_csv(table, float_format="%.17g"))
            for name, group in (arrays or {}).items():
                atomic_write(folder / f"{name}.npz", partial(_savez, group))
            for name, data in (files or {}).items():
                atomic_write_bytes(folder / name, data)
            atomic_write_json(folder / "metrics.json", metrics)

        self._write_run_folder(run_id, write)

    def add_run_file(self, run_id: str, name: str, data: bytes) -> None:
        """Add (or replace) one file of a finished run, atomically (e.g. the weights ``tunedepth rerun`` re-made);
        the run's other files are untouched."""
        atomic_write_bytes(self.layout.run_file(run_id, name), data)

    def write_failure(self, run_id: str, *, failure: dict[str, Any], traceback_text: str) -> None:
        """Record a run that raised: ``failed.json`` (the :data:`FAILURE_COLUMNS`) and ``traceback.txt``."""
        def write(folder: Path) -> None:
            atomic_write_text(folder / "traceback.txt", traceback_text)
            atomic_write_json(folder / "failed.json", failure)

        self._write_run_folder(run_id, write)

    def read_failure(self, run_id: str) -> dict[str, Any]:
        """The ``failed.json`` of a failed run."""
        with open(self.layout.run_file(run_id, "failed.json"), encoding="utf-8") as fh:
            data: dict[str, Any] = json.load(fh)
        return data

    def read_metrics(self, run_id: str) -> dict[str, Any]:
        """The ``metrics.json`` of a finished run (NaN stays NaN)."""
        with open(self.layout.run_file(run_id, "metrics.json"), encoding="utf-8") as fh:
            data: dict[str, Any] = json.load(fh)
        return data

    def write_results(self, run_ids: list[str]) -> pd.DataFrame:
        """Collect the listed finished runs into ``results.csv`` (one row each) and return it."""
        rows = [self.read_metrics(rid) for rid in run_ids if self.is_complete(rid)]
        frame = pd.DataFrame(rows)
        for column in RESULT_COLUMNS:
            if column not in frame:
                frame[column] = np.nan if column not in ("run_id", "regime", "label") else ""
        # Scalar extras (n_val, n_test, ...) follow the fixed columns; nested ones (lr_trials)
        # stay in each run's metrics.json.
        extra = [c for c in frame.columns if c not in RESULT_COLUMNS
                 and not frame[c].map(lambda v: isinstance(v, (list, dict))).any()]
        columns = list(RESULT_COLUMNS)
        if "method" in frame:  # a study with tuning methods: the method after the label ("" for scratch)
            finetune = frame["regime"] == "finetune"
            frame["method"] = frame["method"].where(frame["method"].notna(), "layerwise").where(finetune, "")
            extra.remove("method")
            columns.insert(columns.index("label") + 1, "method")
        frame = frame[columns + extra]
        atomic_write_text(self.results_path, frame_to_csv(frame))
        return frame

    def write_failures(self, run_ids: list[str]) -> pd.DataFrame:
        """Collect the listed failed runs into ``failures.csv`` (removed when there are none) and return them."""
        frame = pd.DataFrame([self.read_failure(rid) for rid in run_ids if self.is_failed(rid)],
                             columns=list(FAILURE_COLUMNS))
        if frame.empty:
            self.failures_path.unlink(missing_ok=True)
        else:
            atomic_write_text(self.failures_path, frame_to_csv(frame))
        return frame

    def write_table(self, name: str, frame: pd.DataFrame) -> Path:
        """Write a study-wide table (``scores.csv``, ...) atomically, with :func:`frame_to_csv`; return its path."""
        path = self.layout.analysis_file(name)
        atomic_write_text(path, frame_to_csv(frame))
        return path

    def write_text(self, name: str, text: str) -> Path:
        """Write a study-wide text file (``recommendation.txt``, ``report.html``) atomically; return its path."""
        path = self.layout.analysis_file(name)
        atomic_write_text(path, text)
        return path

    def write_json(self, name: str, obj: Any) -> Path:
        """Write a study-wide JSON file (``analysis.json``) atomically; return its path."""
        path = self.layout.analysis_file(name)
        atomic_write_json(path, obj)
        return path

    def write_task_files(self, task: str, *, tables: dict[str, str], json_files: dict[str, Any]) -> Path:
        """Write a task's study-wide files into ``<study>/<task>/`` (CSV texts by file name, JSON objects by file
        name), each atomically; return the folder."""
        folder = self.layout.task_dir(task)
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in tables.items():
            atomic_write_text(folder / name, text)
        for name, obj in json_files.items():
            atomic_write_json(folder / name, obj)
        return folder

    def remove_feature_cache(self) -> Path:
        """Delete the shared frozen-feature files (left by a killed process, or at a study's end); return the
        folder's path, where a study puts them."""
        shutil.rmtree(self.layout.feature_cache_dir, ignore_errors=True)
        return self.layout.feature_cache_dir

