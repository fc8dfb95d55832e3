"""The public names of tunedepth.models resolve, once each."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "tunedepth.models",
    "tunedepth.models.architectures",
    "tunedepth.models.build",
    "tunedepth.models.groups",
    "tunedepth.models.loading",
    "tunedepth.models.weights",
]


@pytest.mark.parametrize("module_name", MODULES)
def test_all_entries_resolve_once(module_name: str) -> None:
    module = importlib.import_module(module_name)
    names = module.__all__
    assert len(names) == len(set(names))
    assert [n for n in names if not hasattr(module, n)] == []


def test_package_exports_the_documented_api() -> None:
    import tunedepth.models as models

    assert {
        "GroupedModel",
        "LayerGroup",
        "WeightSource",
        "Architecture",
        "ARCHITECTURES",
        "build_model",
        "resolve_weights",
        "ResolvedWeights",
        "get_architecture",
        "list_architectures",
    } <= set(models.__all__)
