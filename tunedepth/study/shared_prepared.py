"""A prepared study shared with worker processes: written once by the study's process, memory-mapped by each
worker, so that a worker neither prepares the study again (a minute and a gigabyte for a detection study, whose
frames it would read and cut again) nor holds its own copy of the study's arrays.

The prepared study is pickled with every array of at least :data:`MIN_SHARED_BYTES` (numpy arrays and CPU torch
tensors: the image splits, a task's patches and volumes) stored beside it as an ``.npy`` file, through pickle's
persistent ids; a worker's unpickling maps each file copy-on-write (numpy ``mmap_mode="c"``), so its pages are the
page cache's, shared by the processes, until one writes to them. Written by hand: pickle and numpy provide the
pieces; which objects go to files is this module's choice.
"""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from tunedepth.study.prepare import PreparedStudy

__all__ = ["MIN_SHARED_BYTES", "load_prepared", "save_prepared"]

MIN_SHARED_BYTES = 1 << 20
"""Arrays at least this large (1 MiB) go to their own memory-mapped file; smaller ones stay in the pickle."""

_PICKLE = "prepared.pkl"


class _Pickler(pickle.Pickler):
    def __init__(self, file: IO[bytes], folder: Path) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.folder = folder
        self.names: dict[int, str] = {}
        self.alive: list[Any] = []  # keeps every diverted object alive, so that no other one takes its id

    def persistent_id(self, obj: Any) -> tuple[str, str] | None:
        if isinstance(obj, torch.Tensor) and obj.device.type == "cpu" and not obj.requires_grad \
                and obj.numel() * obj.element_size() >= MIN_SHARED_BYTES:
            kind, array = "torch", obj.detach().numpy()
        elif isinstance(obj, np.ndarray) and obj.dtype != object and obj.nbytes >= MIN_SHARED_BYTES:
            kind, array = "numpy", obj
        else:
            return None
        if id(obj) not in self.names:
            name = f"{len(self.names)}.npy"
            np.save(self.folder / name, np.ascontiguousarray(array), allow_pickle=False)
            self.names[id(obj)] = name
            self.alive.append(obj)
        return kind, self.names[id(obj)]


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes], folder: Path) -> None:
        super().__init__(file)
        self.folder = folder
        self.loaded: dict[str, Any] = {}  # pickle emits a persistent id at every reference: map each file once

    def persistent_load(self, pid: Any) -> Any:
        kind, name = pid
        if name not in self.loaded:
            array = np.load(self.folder / name, mmap_mode="c", allow_pickle=False)
            self.loaded[name] = torch.from_numpy(array) if kind == "torch" else array
        return self.loaded[name]


def save_prepared(prepared: PreparedStudy, folder: Path) -> Path:
    """Write ``prepared`` into ``folder`` (replaced if present) for :func:`load_prepared`; return the folder."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with open(folder / _PICKLE, "wb") as fh:
        _Pickler(fh, folder).dump(prepared)
    return folder


def load_prepared(folder: Path) -> PreparedStudy:
    """The prepared study :func:`save_prepared` wrote into ``folder``, its large arrays memory-mapped."""
    with open(folder / _PICKLE, "rb") as fh:
        prepared: PreparedStudy = _Unpickler(fh, folder).load()
    return prepared
