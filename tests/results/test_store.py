"""The study folder's lock: one process per study folder, released even when the holder is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tunedepth.config import parse_study
from tunedepth.errors import StudyFolderError
from tunedepth.results import StudyStore
from tunedepth.study import run_study


def test_a_second_study_on_a_held_folder_is_refused_and_writes_nothing(study_raw, tmp_path):
    out = tmp_path / "out"
    with StudyStore(out).lock():
        with pytest.raises(StudyFolderError, match=rf"in use by another tunedepth process \(pid {os.getpid()}\)"):
            run_study(parse_study(study_raw, base_dir=Path(".")), out)
        assert sorted(p.name for p in out.iterdir()) == [".lock"]
    assert run_study(parse_study(study_raw, base_dir=Path(".")), out).n_executed == 6


def test_the_lock_of_a_killed_process_is_released(tmp_path):
    holder = textwrap.dedent(f"""
        import sys, time
        from tunedepth.results import StudyStore
        with StudyStore({str(tmp_path)!r}).lock():
            print("held", flush=True)
            time.sleep(60)
    """)
    process = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "held"
        with pytest.raises(StudyFolderError, match=f"pid {process.pid}"), StudyStore(tmp_path).lock():
            pass
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stdout.close()
    with StudyStore(tmp_path).lock():
        assert (tmp_path / ".lock").read_text().strip() == str(os.getpid())
