"""Tests of the data-source registry: every source is registered and fits its config schema."""

from __future__ import annotations

import inspect

import pytest
from pydantic import BaseModel

from tunedepth.config.schema import CsvManifestDataConfig, ImageFolderDataConfig, MedmnistDataConfig
from tunedepth.data.sources import DATA_SOURCES
from tunedepth.errors import ConfigError

CONFIGS: dict[str, type[BaseModel]] = {
    "medmnist": MedmnistDataConfig,
    "image_folder": ImageFolderDataConfig,
    "csv_manifest": CsvManifestDataConfig,
}


def test_registered_sources() -> None:
    assert DATA_SOURCES.names() == sorted(CONFIGS)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_loader_takes_the_config_fields(name: str) -> None:
    source = DATA_SOURCES.get(name)
    assert source.name == name
    params = inspect.signature(source.load).parameters
    fields = set(CONFIGS[name].model_fields) - {"source", "balance"}
    # Every config field is a loader argument; every required loader argument is a config field.
    assert fields <= set(params)
    required = {p for p, v in params.items() if v.default is inspect.Parameter.empty}
    assert required <= fields


def test_unknown_source_suggests() -> None:
    with pytest.raises(
        ConfigError, match=r"Unknown data source 'image_folders'\. Did you mean 'image_folder'\?"
    ):
        DATA_SOURCES.get("image_folders")
