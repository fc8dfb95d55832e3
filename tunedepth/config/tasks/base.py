"""The task-config plug-in type and its registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tunedepth._registry import Registry
from tunedepth.config._base import Frozen

if TYPE_CHECKING:
    from tunedepth.config.schema import StudyConfig

__all__ = ["TASK_CONFIGS", "TaskConfig", "register_task_config"]


@dataclass(frozen=True)
class TaskConfig:
    """What the study file holds for one task.

    Attributes:
        name: the ``task`` value of the study file, e.g. "detection".
        description: one line for messages and ``--help``.
        data_sources: the ``data.source`` values the task reads, in the order messages list them.
        table: the name of the task's own table (``[detection]``), or None when it has none.
        settings: the frozen model of that table (every key with a default: an absent table means the defaults).
        needs: what the task needs its cases to carry, when that explains a wrong data source better than the
            list of sources (classification: "image labels"); None lists the sources.
        check: a check across tables (e.g. a data setting the task does not support); raises ValueError with one
            line naming the keys.
    """

    name: str
    description: str
    data_sources: tuple[str, ...]
    table: str | None = None
    settings: type[Frozen] | None = None
    needs: str | None = None
    check: Callable[[StudyConfig], None] | None = None

    def __post_init__(self) -> None:
        if (self.table is None) != (self.settings is None):
            raise ValueError(f"task {self.name!r}: give both a table name and its settings model, or neither.")


TASK_CONFIGS: Registry[TaskConfig] = Registry("task")
"""Every task the study file can name, by name."""


def register_task_config(task: TaskConfig) -> TaskConfig:
    """Register ``task`` under its name (twice raises) and return it.

    Raises:
        KeyError: if the name, or its table's name, is taken (a table name is a top-level key of the study file).
    """
    tables = {TASK_CONFIGS.get(name).table for name in TASK_CONFIGS}
    if task.table is not None and task.table in tables:
        raise KeyError(f"task {task.name!r}: the table name {task.table!r} is already another task's.")
    TASK_CONFIGS.register(task.name, task)
    return task
