"""Atomic writes of files and folders (tunedepth/_io.py)."""

from __future__ import annotations

import os

import pytest

from tunedepth._io import atomic_write_dir, atomic_write_text


def _fill(names):
    def write(folder):
        for name in names:
            atomic_write_text(folder / name, name)
    return write


def test_atomic_write_dir_creates_the_folder_whole_with_plain_permissions(tmp_path):
    atomic_write_dir(tmp_path / "run", _fill(["a.json", "b.csv"]))
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["a.json", "b.csv"]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "run").stat().st_mode & 0o777 == 0o777 & ~mask


def test_atomic_write_dir_replaces_an_existing_folder(tmp_path):
    atomic_write_dir(tmp_path / "run", _fill(["failed.json", "traceback.txt"]))
    atomic_write_dir(tmp_path / "run", _fill(["metrics.json"]))
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["metrics.json"]


def test_atomic_write_dir_leaves_nothing_when_the_writer_raises(tmp_path):
    atomic_write_dir(tmp_path / "run", _fill(["old.json"]))

    def half_then_fail(folder):
        atomic_write_text(folder / "config.json", "{}")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic_write_dir(tmp_path / "run", half_then_fail)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["old.json"]
