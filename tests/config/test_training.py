"""Tests of the [training] table's recipes (tunedepth/config/training.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tunedepth.config import RECIPES, TrainingConfig, dump_resolved, parse_study
from tunedepth.errors import ConfigError
from tunedepth.results import RunSpec, run_id

SPEC = RunSpec("finetune", 1, 1.0, 0, "ft:fc")


def _study(training: dict[str, Any]) -> Any:
    raw = {"name": "s", "data": {"source": "medmnist", "flag": "breastmnist", "image_size": 32},
           "model": {"architecture": "efficientnet_lite0"},
           "grid": {"regimes": ["finetune"], "depths": [1], "train_fractions": [1.0], "seeds": [0]},
           "training": training}
    return parse_study(raw, base_dir=Path("."))


def test_the_modern_recipe_expands_to_explicit_fields() -> None:
    resolved = dump_resolved(_study({"recipe": "modern"}))["training"]
    assert {key: resolved[key] for key in RECIPES["modern"]} == json.loads(json.dumps(RECIPES["modern"]))
    assert resolved["recipe"] == "modern"


@pytest.mark.parametrize(("key", "value"), [("lr", 0.01), ("optimizer", "sgd"), ("label_smoothing", 0.0),
                                            ("epoch_metric", "auc"), ("max_epochs", 12),
                                            ("head_init", "architecture")])
def test_a_field_set_in_the_study_file_wins_over_the_recipe(key: str, value: Any) -> None:
    config = TrainingConfig.model_validate({"recipe": "modern", key: value})
    assert getattr(config, key) == value
    others = {k: v for k, v in RECIPES["modern"].items() if k != key}
    assert {k: getattr(config, k) for k in others} == others


def test_the_paper_recipe_is_the_default_and_keeps_run_ids() -> None:
    """A study file without `recipe`, and one with recipe = "paper", resolve and hash as before recipes existed."""
    plain, paper = _study({}), _study({"recipe": "paper"})
    assert plain.training == paper.training == TrainingConfig()
    assert plain.training.schedule == "exponential" and plain.training.epoch_metric == "auc"
    assert run_id(plain, SPEC, weights_sha256="x") == run_id(paper, SPEC, weights_sha256="x")
    assert run_id(_study({"recipe": "modern"}), SPEC, weights_sha256="x") != run_id(plain, SPEC, weights_sha256="x")


def test_a_resolved_modern_table_reads_back_the_same() -> None:
    config = _study({"recipe": "modern", "lr": 0.001})
    again = TrainingConfig.model_validate(dump_resolved(config)["training"])
    assert again == config.training


@pytest.mark.parametrize(("training", "message"), [
    ({"recipe": "fancy"}, r"'training.recipe': Input should be 'paper' or 'modern'"),
    ({"warmup_epochs": 2}, r"warmup_epochs = 2 is only used with schedule = 'warmup_cosine'"),
    ({"label_smoothing": 1.0}, r"'training.label_smoothing': Input should be less than 1"),
    ({"epoch_metric": "f1"}, r"'training.epoch_metric': Input should be 'auc' or 'loss'"),
    ({"lr_search": "asha"}, r"lr_search = 'asha' searches lr_grid for lr = 'auto', but lr = 0.001; set lr = 'auto'"),
    ({"lr": "auto", "lr_search": "asha"},
     r"training.lr_search = 'asha' schedules .* needs execution.executor = 'ray', got 'local'; set executor"),
    ({"lr_search": "bayes"}, r"'training.lr_search': Input should be 'halving' or 'asha'"),
], ids=["unknown-recipe", "warmup-without-cosine", "smoothing-1", "unknown-metric", "asha-without-auto",
        "asha-without-ray", "unknown-search"])
def test_bad_training_settings_are_refused(training: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _study(training)


@pytest.mark.parametrize(("key", "default", "other"), [("head_init", "architecture", "zero"),
                                                       ("epoch_images", 0, 1024)])
def test_a_later_setting_at_its_default_keeps_run_ids_and_another_value_changes_them(
        key: str, default: Any, other: Any) -> None:
    plain = _study({})
    assert getattr(plain.training, key) == default
    assert run_id(_study({key: default}), SPEC, weights_sha256="x") == run_id(plain, SPEC, weights_sha256="x")
    assert run_id(_study({key: other}), SPEC, weights_sha256="x") != run_id(plain, SPEC, weights_sha256="x")


def test_asha_keeps_its_trials_in_the_shared_study_folder_so_shipped_results_are_refused() -> None:
    raw = {"name": "s", "data": {"source": "medmnist", "flag": "breastmnist", "image_size": 32},
           "model": {"architecture": "efficientnet_lite0"},
           "grid": {"regimes": ["finetune"], "depths": [1], "train_fractions": [1.0], "seeds": [0]},
           "training": {"lr": "auto", "lr_search": "asha"}, "execution": {"executor": "ray"}}
    config = parse_study(raw, base_dir=Path("."))
    assert config.training.lr_search == "asha" and config.training.searches_lr
    raw["execution"]["ray"] = {"ship_results": True}
    with pytest.raises(ConfigError, match=r"lr_search = 'asha' keeps its trials' states in the study folder.*"
                                          r"ship_results = true cannot be used with it"):
        parse_study(raw, base_dir=Path("."))


def test_lr_search_at_halving_keeps_run_ids_and_asha_changes_them() -> None:
    auto = {"lr": "auto"}
    plain = _study(auto)
    assert run_id(_study({**auto, "lr_search": "halving"}), SPEC, weights_sha256="x") == \
        run_id(plain, SPEC, weights_sha256="x")
    raw = {"name": "s", "data": {"source": "medmnist", "flag": "breastmnist", "image_size": 32},
           "model": {"architecture": "efficientnet_lite0"},
           "grid": {"regimes": ["finetune"], "depths": [1], "train_fractions": [1.0], "seeds": [0]},
           "training": {**auto, "lr_search": "asha"}, "execution": {"executor": "ray"}}
    assert run_id(parse_study(raw, base_dir=Path(".")), SPEC, weights_sha256="x") != \
        run_id(plain, SPEC, weights_sha256="x")
