"""Study configuration: the schema (frozen pydantic models), its registries and the TOML loader."""

from __future__ import annotations

from tunedepth.config._base import DataSourceConfig, Frozen, added_field, is_run_id_neutral
from tunedepth.config.data import (
    DATA_CONFIGS,
    CsvManifestDataConfig,
    FrameQualityDataConfig,
    GeneratedCtaDataConfig,
    ImageFolderDataConfig,
    Medmnist3dDataConfig,
    MedmnistDataConfig,
    PolypDataConfig,
    SegmentationDataConfig,
    VolumeTableDataConfig,
)
from tunedepth.config.execution import ExecutionConfig, RayExecutionConfig
from tunedepth.config.load import dump_resolved, load_study, parse_study
from tunedepth.config.methods import (
    AutoRgnSettings,
    L2spSettings,
    LlrdSettings,
    LpFtSettings,
    MethodsConfig,
    NormOnlySettings,
    SurgicalSettings,
)
from tunedepth.config.schema import (
    AnalysisConfig,
    GridConfig,
    MethodName,
    ModelConfig,
    Regime,
    StudyConfig,
    settings_of,
)
from tunedepth.config.tasks import (
    TASK_CONFIGS,
    DetectionConfig,
    FrameClassificationConfig,
    SegmentationConfig,
    TaskConfig,
    VolumeCandidatesConfig,
    register_task_config,
)
from tunedepth.config.tracking import TrackingConfig
from tunedepth.config.training import RECIPES, TrainingConfig

__all__ = [
    "DATA_CONFIGS",
    "RECIPES",
    "TASK_CONFIGS",
    "AnalysisConfig",
    "AutoRgnSettings",
    "CsvManifestDataConfig",
    "DataSourceConfig",
    "DetectionConfig",
    "FrameClassificationConfig",
    "FrameQualityDataConfig",
    "GeneratedCtaDataConfig",
    "ExecutionConfig",
    "Frozen",
    "GridConfig",
    "ImageFolderDataConfig",
    "L2spSettings",
    "LlrdSettings",
    "LpFtSettings",
    "Medmnist3dDataConfig",
    "MedmnistDataConfig",
    "MethodName",
    "MethodsConfig",
    "ModelConfig",
    "NormOnlySettings",
    "PolypDataConfig",
    "RayExecutionConfig",
    "Regime",
    "SegmentationConfig",
    "SegmentationDataConfig",
    "StudyConfig",
    "SurgicalSettings",
    "TaskConfig",
    "TrackingConfig",
    "TrainingConfig",
    "VolumeCandidatesConfig",
    "VolumeTableDataConfig",
    "added_field",
    "dump_resolved",
    "is_run_id_neutral",
    "load_study",
    "parse_study",
    "register_task_config",
    "settings_of",
]
