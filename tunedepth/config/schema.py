"""The study file's schema: frozen pydantic models, one per TOML table.

Every setting that can change a result is a named, typed field here, with one documented
default where a default is scientifically safe. The resolved values are written next to
every run's results (see ``tunedepth.config.load.dump_resolved``). The ``[data]`` table's model depends on
``data.source`` (:mod:`tunedepth.config.data`) and each task's own table on ``task``
(:mod:`tunedepth.config.tasks`); both are looked up in registries, so plug-ins validate like built-ins.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    Field,
    SerializationInfo,
    SerializeAsAny,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from tunedepth.config._base import DataSourceConfig, Frozen, added_field
from tunedepth.config.data import DATA_CONFIGS
from tunedepth.config.execution import ExecutionConfig
from tunedepth.config.methods import MethodsConfig
from tunedepth.config.tasks import TASK_CONFIGS, TaskConfig
from tunedepth.config.tracking import TrackingConfig
from tunedepth.config.training import TrainingConfig
from tunedepth.errors import ConfigError

__all__ = [
    "AnalysisConfig",
    "GridConfig",
    "MethodName",
    "ModelConfig",
    "Regime",
    "StudyConfig",
    "settings_of",
]

SettingsT = TypeVar("SettingsT", bound=Frozen)

Regime = Literal["scratch", "finetune"]
"""How a run starts: ``scratch`` (random initialisation, every group trains) or ``finetune`` (from the starting
weights, the last ``depth`` groups train). Scratch is its own regime, not depth 0."""

MethodName = Literal["layerwise", "lp_ft", "llrd", "l2sp", "surgical", "norm_only", "auto_rgn"]
"""How a fine-tuning run tunes (:mod:`tunedepth.tuning.methods`); ``layerwise`` is the paper's."""

_SHA256 = re.compile(r"[0-9a-f]{64}")


class ModelConfig(Frozen):
    """Which network and which starting weights for the fine-tuning regime."""

    architecture: str = Field(description="Registered architecture, see `tunedepth models`.")
    weights: Literal["imagenet", "checkpoint"] = Field(
        default="imagenet",
        description="Starting weights of the finetune regime; scratch always starts from random init.",
    )
    checkpoint: Path | None = Field(
        default=None, description="State-dict file, required when weights = 'checkpoint'."
    )
    checkpoint_sha256: str | None = Field(
        default=None,
        description=(
            "Expected sha256 of the checkpoint file (64 lower-case hex digits, as `sha256sum` prints it); when set, "
            "a checkpoint with another sha256 is refused. Only with weights = 'checkpoint'. Not part of run ids "
            "(they hash the file's actual sha256, which this must equal)."
        ),
    )

    @field_validator("checkpoint_sha256")
    @classmethod
    def _sha256_is_hex(cls, v: str | None) -> str | None:
        if v is not None and not _SHA256.fullmatch(v):
            raise ValueError(
                f"checkpoint_sha256 must be 64 lower-case hex digits, as `sha256sum <checkpoint>` prints them; got "
                f"{v!r} ({len(v)} characters)"
            )
        return v

    @model_validator(mode="after")
    def _checkpoint_given_when_needed(self) -> ModelConfig:
        if self.weights == "checkpoint" and self.checkpoint is None:
            raise ValueError("weights = 'checkpoint' needs a 'checkpoint' path to a state-dict file.")
        for key in ("checkpoint", "checkpoint_sha256"):
            if self.weights != "checkpoint" and getattr(self, key) is not None:
                raise ValueError(f"{key!r} is only read when weights = 'checkpoint'; got weights = {self.weights!r}. "
                                 f"Remove {key!r} or set weights = 'checkpoint'.")
        return self


class GridConfig(Frozen):
    """The grid of runs: regime x depth x train_fraction x seed."""

    regimes: tuple[Regime, ...] = Field(
        description="Which regimes to run; scratch is its own regime, not depth 0."
    )
    depths: Literal["all"] | tuple[Annotated[int, Field(ge=1)] | str, ...] = Field(
        description=(
            "Fine-tuning depths: 'all' for 1..n_groups, or a list whose entries are depths (trainable "
            "groups counted from the output) or group names meaning 'tune from this group to the output' "
            "(e.g. 'conv3' on AlexNet = depth 6 = ft:conv3-fc8)."
        )
    )
    train_fractions: tuple[Annotated[float, Field(gt=0, le=1)], ...] = Field(
        description="Shares of the training split, each in (0, 1]; subsets are nested and stratified."
    )
    seeds: tuple[int, ...] = Field(description="Seeds; each sets the training subset and the initialisation.")
    methods: tuple[MethodName, ...] = added_field(
        ("layerwise",),
        description=(
            "How the fine-tuning regime tunes, one or more of: 'layerwise' (the paper's: the last `depth` groups "
            "train; the default), 'surgical' (one group and the head; its own depths, [methods.surgical]), "
            "'lp_ft' (the head alone, then the last `depth` groups from the probed head), 'llrd' (every group at "
            "lr x decay^k), 'l2sp' (every group, penalised towards the starting weights), 'norm_only' (norm "
            "affine parameters and the head), 'auto_rgn' (per-tensor lr from the relative gradient norm). "
            "docs/methods.md has each rule and its paper; parameters in [methods.<name>]."
        ),
    )

    @field_validator("regimes", "train_fractions", "seeds", "methods")
    @classmethod
    def _non_empty_unique(cls, v: tuple[object, ...]) -> tuple[object, ...]:
        if len(v) == 0:
            raise ValueError("must list at least one value (an empty list never means 'all')")
        if len(set(v)) != len(v):
            raise ValueError(f"values must be unique; got {list(v)}")
        return v

    @field_validator("depths")
    @classmethod
    def _depths_non_empty(cls, v: str | tuple[int | str, ...]) -> str | tuple[int | str, ...]:
        if not isinstance(v, str) and (len(v) == 0 or len(set(v)) != len(v)):
            raise ValueError(f"must be 'all' or a non-empty list of unique depths; got {list(v)}")
        return v


class AnalysisConfig(Frozen):
    """How a finished study is analysed: significance level, intervals, operating points, the depth rule.

    None of these changes a run's result, so they are not part of run ids: ``tunedepth recommend`` and
    ``tunedepth report`` can re-analyse a finished study with other values (their ``--alpha`` and ``--rule``).
    """

    alpha: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.05,
        description=(
            "Significance level of the recommendation's steps (on validation), of its test against scratch and "
            "of the significance table (after Holm)."
        ),
    )
    confidence: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.95, description="Level of every two-sided confidence interval."
    )
    fpr_targets: tuple[Annotated[float, Field(gt=0, lt=1)], ...] = Field(
        default=(0.10, 0.15, 0.20),
        min_length=1,
        description="False-positive rates at which sensitivity is reported (binary tasks; paper: 10%, 15%, 20%).",
    )
    n_boot: Annotated[int, Field(ge=100)] = Field(
        default=2000, description="Bootstrap resamples of a one-seed sensitivity interval."
    )
    bootstrap_seed: Annotated[int, Field(ge=0)] = Field(default=0, description="Seed of that bootstrap.")
    fps_targets: tuple[Annotated[float, Field(gt=0)], ...] = Field(
        default=(0.01, 0.1, 1.0),
        min_length=1,
        description="False positives per frame (task = 'detection') or per volume (task = 'volume_candidates') at "
        "which the FROC sensitivity is reported.",
    )
    depth_rule: Literal["lookahead", "stepwise", "best", "shallowest_in_set"] = Field(
        default="best",
        description=(
            "How the recommendation chooses the depth, on validation: 'stepwise' moves from depth 1 to the next "
            "depth while it is significantly better than the current one; 'lookahead' compares the current depth "
            "with every deeper one (Holm-adjusted) and moves to the shallowest that is significantly better, until "
            "none is; 'best' takes the depth of best validation score; 'shallowest_in_set' the shallowest depth "
            "not significantly worse than the best (the confidence set). Default 'best', the rule of least regret "
            "on real studies (docs/recommendation.md). See tunedepth/analysis/recommend.py."
        ),
    )
    depth_metric: Literal["auc", "log_loss", "brier"] = Field(
        default="auc",
        description=(
            "What depths are compared on, per validation case: 'auc' (the AUC split into per-case terms), "
            "'log_loss' or 'brier' (which keep discriminating when the AUC of every good depth saturates). The "
            "walks on 'auc' without cross_fit use DeLong's test as before."
        ),
    )
    cross_fit: bool | Literal["auto"] = Field(
        default="auto",
        description=(
            "Choose each run's epoch (and learning rate) on one half of the validation cases and compare depths "
            "on the other half, then swap, from the per-epoch predictions runs keep; so the cases that chose an "
            "epoch never choose the depth. Runs without per-epoch predictions: a note, and no cross-fitting. "
            "'auto' (default): at a training fraction with 3 or more seeds (where it gave less regret and more "
            "agreement with test on real studies), not with fewer (it did worse with one seed; "
            "docs/recommendation.md)."
        ),
    )

    @field_validator("fpr_targets", "fps_targets")
    @classmethod
    def _fpr_unique(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if len(set(v)) != len(v):
            raise ValueError(f"operating points must be unique; got {list(v)}")
        return v


class StudyConfig(Frozen):
    """A whole study: data, model, grid, training settings and the task's own table.

    The task's own table (``[detection]``, ``[segmentation]``, ...) is validated by the task's registered model and
    held, with its defaults filled in, in :attr:`task_settings`; it is written back under its own name.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Study name; default output folder.")
    task: str = Field(
        default="classification",
        description=(
            "What the network is trained to do, a registered task: 'classification' (one label per image), "
            "'detection' (polyp candidates in colonoscopy frames, classified from patches and scored by FROC; "
            "data.source kvasir_seg or cvc_clinicdb), 'segmentation' (boundaries by pixel-patch classification, "
            "scored by boundary distance; data.source carotid, layered, kvasir_seg or cvc_clinicdb)."
        ),
    )
    data: SerializeAsAny[DataSourceConfig]
    model: ModelConfig
    grid: GridConfig
    training: TrainingConfig = TrainingConfig()
    execution: ExecutionConfig = ExecutionConfig()
    analysis: AnalysisConfig = AnalysisConfig()
    tracking: TrackingConfig = Field(
        default=TrackingConfig(),
        description="Where the runs are also logged (MLflow, TensorBoard); not part of run ids (docs/answer.md).",
    )
    methods: MethodsConfig = Field(
        default=MethodsConfig(),
        description="Parameters of the tuning methods of grid.methods, one [methods.<name>] table each (defaults from "
                    "their papers); they enter the run ids of those methods' runs only.",
    )
    task_settings: SerializeAsAny[Frozen] | None = Field(
        default=None, exclude=True,
        description="The task's own table with defaults filled in (None for a task without one); read from the "
                    "table named after the task, never given under this name.",
    )

    @field_validator("data", mode="wrap")
    @classmethod
    def _data_of_its_source(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if not isinstance(value, dict):
            return handler(value)
        source = value.get("source")
        if not isinstance(source, str) or source not in DATA_CONFIGS:
            raise PydanticCustomError("data_source", "unknown data source {source}", {"source": repr(source)})
        return DATA_CONFIGS.get(source).model_validate(value)

    @model_validator(mode="wrap")
    @classmethod
    def _task_table(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> StudyConfig:
        if not isinstance(value, dict):
            result: StudyConfig = handler(value)
            return result
        raw = dict(value)
        if "task_settings" in raw:
            raise ValueError("unknown key 'task_settings'; a task's settings go in the task's own table, e.g. "
                             "[detection].")
        task = raw.get("task", "classification")
        if not isinstance(task, str):
            typed: StudyConfig = handler(raw)  # the field's own type error
            return typed
        if task not in TASK_CONFIGS:
            raise ValueError(f"'task': {TASK_CONFIGS.unknown_message(task)}")
        spec = TASK_CONFIGS.get(task)
        misplaced = []
        for name in TASK_CONFIGS:
            other = TASK_CONFIGS.get(name).table
            if other is not None and other != spec.table:
                if raw.get(other) is not None:
                    misplaced.append(f"the [{other}] table is only read with task = '{name}'; remove it or set the "
                                     "task.")
                raw.pop(other, None)  # (an empty table of another task is what study.json of earlier versions held)
        if spec.table is not None and spec.settings is not None:
            try:
                raw["task_settings"] = spec.settings.model_validate(raw.pop(spec.table, None) or {})
            except ValidationError as exc:
                raise _prefixed(exc, spec.table) from None
        config: StudyConfig = handler(raw)
        _check_task(config, spec)  # a wrong data source explains a misplaced table: it is reported first
        if misplaced:
            raise ValueError(misplaced[0])
        return config

    @model_validator(mode="after")
    def _asha_on_ray(self) -> StudyConfig:
        if self.training.lr_search == "asha" and self.execution.executor != "ray":
            raise ValueError(f"training.lr_search = 'asha' schedules a run's learning rates as Ray Tune trials and "
                             f"needs execution.executor = 'ray', got {self.execution.executor!r}; set executor = "
                             "'ray', or lr_search = 'halving' (the same search in the run's own process).")
        if self.training.lr_search == "asha" and self.execution.ray.ship_results:
            raise ValueError("training.lr_search = 'asha' keeps its trials' states in the study folder, which needs "
                             "a shared file system; execution.ray.ship_results = true cannot be used with it. Set "
                             "ship_results = false, or lr_search = 'halving'.")
        return self

    @model_serializer(mode="wrap")
    def _write_task_table(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> dict[str, Any]:
        out: dict[str, Any] = handler(self)
        table = TASK_CONFIGS.get(self.task).table
        if table is not None and self.task_settings is not None:
            out[table] = self.task_settings.model_dump(mode=info.mode)
        return out


def _prefixed(exc: ValidationError, table: str) -> ValidationError:
    """``exc`` with every error located under ``table`` (as if the table were a field)."""
    errors: list[Any] = [{"type": e["type"], "loc": (table, *e["loc"]), "input": e["input"],
                          **({"ctx": e["ctx"]} if "ctx" in e else {})} for e in exc.errors()]
    return ValidationError.from_exception_data(exc.title, errors)


def _check_task(config: StudyConfig, spec: TaskConfig) -> None:
    source = config.data.source
    if source not in spec.data_sources:
        readers = [name for name in TASK_CONFIGS if source in TASK_CONFIGS.get(name).data_sources]
        if spec.needs is not None and type(config.data).holds != spec.needs:
            tasks = " or ".join(f"'{name}'" for name in readers) or "a task that reads it"
            raise ValueError(f"data.source {source!r} holds {type(config.data).holds}, not {spec.needs}; set task = "
                             f"{tasks}.")
        sources = [repr(s) for s in spec.data_sources]
        listed = sources[0] if len(sources) == 1 else f"{', '.join(sources[:-1])} or {sources[-1]}"
        raise ValueError(f"task = '{spec.name}' needs data.source {listed}; got {source!r}.")
    if spec.check is not None:
        spec.check(config)


def settings_of(config: StudyConfig, model: type[SettingsT]) -> SettingsT:
    """The study's task table as ``model`` (a task module reading its own settings).

    Raises:
        ConfigError: if the study's task has another table (a task module called for the wrong task).
    """
    if not isinstance(config.task_settings, model):
        raise ConfigError(f"study {config.name!r} (task = {config.task!r}) has no [{model.__name__}] settings; "
                          f"got {type(config.task_settings).__name__}.")
    return config.task_settings
