"""``[tracking]``: where a study's runs are also logged, beside its own folder: an MLflow tracking store and/or
TensorBoard event files (:mod:`tunedepth.study.tracking`). Logging changes no result, so none of these settings is
part of run ids, and a study can be resumed with tracking switched on to log the runs it already has."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from tunedepth.config._base import Frozen

__all__ = ["TrackingConfig", "resolve_mlflow_uri"]

_SQLITE = "sqlite:///"


class TrackingConfig(Frozen):
    """``[tracking]`` (docs/answer.md, "Tracking")."""

    mlflow_uri: str | None = Field(
        default=None,
        description="MLflow tracking URI the runs are logged to, e.g. 'sqlite:///mlflow.db' (a path relative to the "
                    "study file's folder) or 'http://host:5000'; one MLflow run per study run, tagged with its run id. "
                    "Needs `pip install 'tunedepth[mlflow]'`.",
    )
    mlflow_experiment: str | None = Field(
        default=None, min_length=1,
        description="The MLflow experiment the runs go to; default: the study's name.",
    )
    tensorboard: bool = Field(
        default=False,
        description="Write each run's per-epoch and final metrics as TensorBoard event files under "
                    "<study folder>/tensorboard/<run_id>/ (`tensorboard --logdir <study folder>/tensorboard`). Needs "
                    "`pip install 'tunedepth[tensorboard]'`.",
    )

    @field_validator("mlflow_uri")
    @classmethod
    def _not_blank(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("must be an MLflow tracking URI such as 'sqlite:///mlflow.db', or absent")
        return v


def resolve_mlflow_uri(uri: str | None, base_dir: Path) -> str | None:
    """``uri`` with a relative SQLite path made absolute against ``base_dir`` (the study file's folder), as every
    other relative path of a study file; other URIs are MLflow's to read.

    Example:
        >>> resolve_mlflow_uri("sqlite:///runs/mlflow.db", Path("/studies"))
        'sqlite:////studies/runs/mlflow.db'
        >>> resolve_mlflow_uri("sqlite:////abs/mlflow.db", Path("/studies")), resolve_mlflow_uri(None, Path("/x"))
        ('sqlite:////abs/mlflow.db', None)
    """
    if uri is None or not uri.startswith(_SQLITE) or uri[len(_SQLITE):].startswith("/"):
        return uri
    return _SQLITE + str((base_dir / uri[len(_SQLITE):]).resolve())
