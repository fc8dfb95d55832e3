"""Study configuration: the schema (frozen pydantic models) and the TOML loader."""

from __future__ import annotations

from tunedepth.config.load import dump_resolved, load_study, parse_study
from tunedepth.config.schema import (
    AnalysisConfig,
    CsvManifestDataConfig,
    DataConfig,
    DetectionConfig,
    ExecutionConfig,
    GridConfig,
    ImageFolderDataConfig,
    MedmnistDataConfig,
    ModelConfig,
    PolypDataConfig,
    SegmentationConfig,
    SegmentationDataConfig,
    StudyConfig,
    TrainingConfig,
)

__all__ = [
    "AnalysisConfig",
    "CsvManifestDataConfig",
    "DataConfig",
    "DetectionConfig",
    "ExecutionConfig",
    "GridConfig",
    "ImageFolderDataConfig",
    "MedmnistDataConfig",
    "ModelConfig",
    "PolypDataConfig",
    "SegmentationConfig",
    "SegmentationDataConfig",
    "StudyConfig",
    "TrainingConfig",
    "dump_resolved",
    "load_study",
    "parse_study",
]
