"""Read a TOML study file into a validated, frozen :class:`StudyConfig`.

This is the only place configuration is validated. Unknown keys and wrong types become
one-line :class:`~tunedepth.errors.ConfigError` messages with the key's dotted path, what
was expected, what was received and, for unknown keys, a suggestion.
"""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from tunedepth.config.data import DATA_CONFIGS
from tunedepth.config.execution import ExecutionConfig
from tunedepth.config.schema import (
    AnalysisConfig,
    GridConfig,
    ModelConfig,
    StudyConfig,
    TrainingConfig,
)
from tunedepth.config.tasks import TASK_CONFIGS
from tunedepth.config.tracking import TrackingConfig, resolve_mlflow_uri
from tunedepth.errors import ConfigError

__all__ = ["dump_resolved", "load_study", "parse_study"]

_SECTION_MODELS: dict[str, type[BaseModel]] = {
    "model": ModelConfig,
    "grid": GridConfig,
    "training": TrainingConfig,
    "execution": ExecutionConfig,
    "analysis": AnalysisConfig,
    "tracking": TrackingConfig,
}


def _section_model(section: str) -> type[BaseModel] | None:
    """The model of a top-level table: a fixed section, or a registered task's own table."""
    if section in _SECTION_MODELS:
        return _SECTION_MODELS[section]
    for name in TASK_CONFIGS:
        task = TASK_CONFIGS.get(name)
        if task.table == section:
            return task.settings
    return None


def _top_level_keys() -> list[str]:
    """The keys a study file may have at its top level: StudyConfig's fields and every task's table."""
    tables = [t for t in (TASK_CONFIGS.get(name).table for name in TASK_CONFIGS) if t is not None]
    return sorted({*StudyConfig.model_fields, *tables} - {"task_settings"})


def load_study(path: Path) -> StudyConfig:
    """Read and validate a study file.

    Relative paths inside the file (``data.path``, ``data.root``, ``model.checkpoint``, a SQLite
    ``tracking.mlflow_uri``) are resolved against the study file's folder.

    Args:
        path: a TOML study file.

    Returns:
        The validated, frozen study configuration.

    Raises:
        ConfigError: if the file is missing, is not TOML, or does not fit the schema.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"Study file {str(path)!r} does not exist; check the path.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Study file {str(path)!r} cannot be read: {exc}.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Study file {str(path)!r} is not valid TOML: {exc}.") from None
    return parse_study(raw, base_dir=path.parent, source=str(path))


def parse_study(raw: dict[str, Any], *, base_dir: Path, source: str = "<study>") -> StudyConfig:
    """Validate an already-parsed study mapping (see :func:`load_study`).

    Args:
        raw: the study as a mapping, e.g. from ``tomllib``; it is not modified.
        base_dir: folder against which relative paths are resolved.
        source: name used in error messages.

    Raises:
        ConfigError: if ``raw`` does not fit the schema.
    """
    try:
        config = StudyConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_first_error(exc, raw)}") from None
    return _resolve_paths(config, base_dir)


def _resolve_paths(config: StudyConfig, base_dir: Path) -> StudyConfig:
    data, model = config.data, config.model
    updates: dict[str, Path] = {}
    for field in type(data).model_fields:  # every path of the [data] table (path, root, test_root, volumes, ...)
        value = getattr(data, field, None)
        if isinstance(value, Path) and not value.is_absolute():
            updates[field] = (base_dir / value).resolve()
    if updates:
        data = data.model_copy(update=updates)
    if model.checkpoint is not None and not model.checkpoint.is_absolute():
        model = model.model_copy(update={"checkpoint": (base_dir / model.checkpoint).resolve()})
    tracking = config.tracking.model_copy(update={"mlflow_uri": resolve_mlflow_uri(config.tracking.mlflow_uri,
                                                                                     base_dir)})
    return config.model_copy(update={"data": data, "model": model, "tracking": tracking})


def _first_error(exc: ValidationError, raw: dict[str, Any]) -> str:
    """One line for the first validation error, with a suggestion for unknown keys."""
    errors = exc.errors()
    # An unknown key is usually a typo that also explains a "missing" error: report it first.
    typos = [e for e in errors if e["type"] == "extra_forbidden"]
    errors = typos or errors
    # For a union (e.g. lr = number or list) pydantic reports one error per member; the one
    # with the deepest location is the most specific ("training.lr.1 must be > 0").
    first_top = errors[0]["loc"][:1]
    err = max((e for e in errors if e["loc"][:1] == first_top), key=lambda e: len(e["loc"]))
    # Union members appear in the location as type tags ("literal['all']", "float"): drop them.
    loc = [str(p) for p in err["loc"] if not _is_type_tag(str(p))]
    model: type[BaseModel] | None
    if loc and loc[0] == "data":
        source = (raw.get("data") or {}).get("source") if isinstance(raw.get("data"), dict) else None
        model = DATA_CONFIGS.get(source) if isinstance(source, str) and source in DATA_CONFIGS else None
    elif loc:
        model = _section_model(loc[0])
    else:
        model = StudyConfig
    key = ".".join(loc) or "<root>"
    kind = err["type"]
    if kind == "extra_forbidden":
        if len(loc) == 1:
            allowed = _top_level_keys()
        else:
            allowed = sorted(model.model_fields) if model is not None and len(loc) <= 2 else []
        guess = difflib.get_close_matches(loc[-1], allowed, n=1)
        hint = f" Did you mean {guess[0]!r}?" if guess else ""
        return f"unknown key {key!r}.{hint} Allowed here: {', '.join(allowed)}."
    if kind == "missing":
        return f"missing required key {key!r}; add it to the study file (see examples/full.toml)."
    if kind == "data_source":
        return f"'{key}.source': {err['msg']}; set data.source to one of: {', '.join(DATA_CONFIGS.names())}."
    if kind == "value_error":
        # A whole-study check (task vs data source) has no key of its own; its message names the keys.
        where = f"{key!r}: " if loc else ""
        return f"{where}{err['msg'].removeprefix('Value error, ').rstrip('.')}."
    received = err.get("input")
    return f"{key!r}: {err['msg']}; got {received!r}."


def _is_type_tag(part: str) -> bool:
    return "[" in part or part in {"float", "int", "str", "bool", "constrained-float", "constrained-int"}


def dump_resolved(config: StudyConfig) -> dict[str, Any]:
    """The resolved configuration as a JSON-ready mapping (paths as strings, defaults filled in).

    Example:
        >>> from tunedepth.config.schema import StudyConfig
        >>> cfg = StudyConfig.model_validate({
        ...     "name": "s", "data": {"source": "medmnist", "flag": "breastmnist", "image_size": 28},
        ...     "model": {"architecture": "alexnet"},
        ...     "grid": {"regimes": ["scratch"], "depths": "all", "train_fractions": [1.0], "seeds": [0]}})
        >>> dump_resolved(cfg)["training"]["lr_decay_per_epoch"]
        0.95
    """
    return config.model_dump(mode="json")
