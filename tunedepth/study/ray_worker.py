"""What a Ray worker process of a study keeps between its tasks: the prepared study, its folder and feature cache.

Used by the tasks of ``executor = "ray"`` (:mod:`tunedepth.study.ray_executor`) and by ASHA's trials
(:mod:`tunedepth.study.asha`): the first task of a study in a worker process imports the study's plug-ins, sets
the process's threads, maps the study the driver prepared (:mod:`tunedepth.study.shared_prepared`; with
``ship_results``, on a node without the study folder, it prepares the study itself) and maps the driver's feature
cache; later tasks of the same study reuse them. Every task first checks that it sees the driver's study folder (a
shared file system).
"""

from __future__ import annotations

import importlib
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunedepth.config import StudyConfig
from tunedepth.errors import ExecutionError
from tunedepth.results import StudyStore
from tunedepth.study.executors import feature_store, set_numerics
from tunedepth.study.prepare import PreparedStudy, prepare_study, resolve_device
from tunedepth.study.shared_prepared import load_prepared

__all__ = ["RAY_CHECK_FILE", "WorkerContext", "WorkerStudy", "check_shared_folder", "worker_study"]

RAY_CHECK_FILE = ".ray-shared-fs-check"
"""A file the driver writes into the study folder with a random token; every task reads it back first, so a node
that does not see the study folder (no shared file system) fails fast."""


@dataclass(frozen=True)
class WorkerContext:
    """What the driver sends every task of a study: the study, its folder, the threads per run, the folder's check
    token, the plug-in modules to import and the feature-cache cuts the driver computed (None: any)."""

    config: StudyConfig
    out_dir: str
    threads: int
    token: str
    plugins: tuple[str, ...]
    allowed_cuts: set[int] | None


@dataclass
class WorkerStudy:
    """The prepared study of a worker process, its folder and its feature cache (None when off)."""

    prepared: PreparedStudy
    store: StudyStore
    features: Any


_kept: dict[tuple[str, str], WorkerStudy] = {}


def worker_study(context: WorkerContext, *, root: Path | None = None) -> WorkerStudy:
    """This process's :class:`WorkerStudy` for ``context``, set up by its first task and kept for the next ones.

    ``root``: where the runs are written when it is not the driver's study folder (``ship_results``: a temporary
    folder of this node, whose tasks then compute their own frozen features). Otherwise the study folder is checked
    first (:func:`check_shared_folder`).
    """
    config = context.config
    shipped = root is not None
    if not shipped:
        check_shared_folder(Path(context.out_dir), context.token)
    key = (context.out_dir, context.token)
    if key not in _kept:
        _kept.clear()  # one study per worker process at a time
        for plugin in context.plugins:
            importlib.import_module(plugin)
        set_numerics(context.threads, resolve_device(config.execution.device))
        store = StudyStore(Path(context.out_dir))
        # On a shared folder the study prepared by the driver is mapped; a node without one prepares it itself.
        prepared = prepare_study(config, root) if root is not None else load_prepared(store.layout.prepared_dir)
        features = feature_store(config, store.layout.feature_cache_dir, shared=not shipped)
        if features is not None and not shipped:
            features.allowed_cuts = context.allowed_cuts
        _kept[key] = WorkerStudy(prepared, store, features)
    return _kept[key]


def check_shared_folder(root: Path, token: str) -> None:
    """Raise a one-line ExecutionError unless this node sees the driver's token in the study folder."""
    try:
        seen = (root / RAY_CHECK_FILE).read_text().strip()
    except OSError:
        seen = ""
    if seen != token:
        raise ExecutionError(
            f"Ray worker on host {socket.gethostname()} cannot see the study folder {root} (its "
            f"{RAY_CHECK_FILE} is missing or from another study); put the study folder on a file system every Ray "
            "node mounts at the same path, or set execution.ray.ship_results = true.")
