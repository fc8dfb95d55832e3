"""Tests of the data-source registry: every source is registered, has its config model, and its loader fits it."""

from __future__ import annotations

import inspect

import pytest

from tunedepth.config import DATA_CONFIGS
from tunedepth.data.sources import DATA_SOURCES, DataSource
from tunedepth.errors import ConfigError

LABELLED = ("colonoscopy_frame_quality", "csv_manifest", "image_folder", "medmnist")
FRAMES = ("carotid", "cvc_clinicdb", "kvasir_seg", "layered")
VOLUMES = ("generated_cta", "medmnist3d", "volume_table")


def test_every_source_is_registered_with_its_config_model() -> None:
    assert DATA_SOURCES.names() == sorted(LABELLED + FRAMES + VOLUMES)
    assert DATA_CONFIGS.names() == DATA_SOURCES.names()


@pytest.mark.parametrize("name", LABELLED)
def test_loader_takes_the_config_fields(name: str) -> None:
    source = DATA_SOURCES.get(name)
    assert source.name == name and source.load is not None and source.load_frames is None
    params = inspect.signature(source.load).parameters
    fields = set(DATA_CONFIGS.get(name).model_fields) - {"source", "balance"}
    # Every config field is a loader argument; every required loader argument is a config field.
    assert fields <= set(params)
    required = {p for p, v in params.items() if v.default is inspect.Parameter.empty}
    assert required <= fields


@pytest.mark.parametrize("name", FRAMES)
def test_frame_loaders_take_the_folder_and_the_frame_options(name: str) -> None:
    source = DATA_SOURCES.get(name)
    assert source.name == name and source.load is None and source.load_frames is not None
    params = inspect.signature(source.load_frames).parameters
    assert list(params)[0] == "root" and {"skip_bad_frames", "max_frames"} <= set(params)
    assert {"skip_bad_frames", "max_frames"} <= set(DATA_CONFIGS.get(name).model_fields)


def test_a_source_has_exactly_one_loader() -> None:
    with pytest.raises(ValueError, match="exactly one of load"):
        DataSource("x", "neither")


def test_unknown_source_suggests() -> None:
    with pytest.raises(
        ConfigError, match=r"Unknown data source 'image_folders'\. Did you mean 'image_folder'\?"
    ):
        DATA_SOURCES.get("image_folders")


@pytest.mark.parametrize("name", VOLUMES)
def test_volume_loaders_take_the_config_fields(name: str) -> None:
    """task = "volume_candidates" calls a volume source's loader with every field of its [data] table but source and
    image_size (the patch side)."""
    source = DATA_SOURCES.get(name)
    assert source.load is None and source.load_frames is not None
    params = inspect.signature(source.load_frames).parameters
    fields = set(DATA_CONFIGS.get(name).model_fields) - {"source", "image_size"}
    assert fields <= set(params)
    assert {p for p, v in params.items() if v.default is inspect.Parameter.empty} <= fields
