"""The base of every table of the study file, and the rule that keeps run ids stable as the schema grows."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RUN_ID_NEUTRAL", "DataSourceConfig", "Frozen", "added_field", "is_run_id_neutral"]

RUN_ID_NEUTRAL = "run_id_neutral"
"""Marker of a field added after run ids were first published (see :func:`added_field`)."""


class Frozen(BaseModel):
    """A frozen table: unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class DataSourceConfig(Frozen):
    """The ``[data]`` table of one registered data source (see :data:`~tunedepth.config.DATA_CONFIGS`).

    Attributes:
        holds: what the source's cases carry, for messages: "image labels", "masks", ...
    """

    holds: ClassVar[str] = "images"

    source: str = Field(description="Registered data source, see `tunedepth datasets`.")
    image_size: int = Field(description="Side of the square model input in pixels.")


def added_field(default: Any, *, description: str, **constraints: Any) -> Any:
    """A setting added to a table after its run ids were first published.

    ``default`` must be the value that reproduces the behaviour from before the setting existed. A run whose
    setting is left there hashes as if the setting did not exist (see
    :func:`~tunedepth.results.hashed_config`), so a study folder written by an earlier version resumes with no run
    executed; any other value is hashed and gives new run ids.

    Example:
        >>> class T(Frozen):
        ...     old: int = 1
        ...     new: bool = added_field(False, description="a later option")
        >>> is_run_id_neutral(T.model_fields["new"]), is_run_id_neutral(T.model_fields["old"])
        (True, False)
    """
    return Field(default=default, description=description, json_schema_extra={RUN_ID_NEUTRAL: True}, **constraints)


def is_run_id_neutral(field: Any) -> bool:
    """Whether a pydantic ``FieldInfo`` was declared with :func:`added_field`."""
    extra = field.json_schema_extra
    return isinstance(extra, dict) and bool(extra.get(RUN_ID_NEUTRAL))
