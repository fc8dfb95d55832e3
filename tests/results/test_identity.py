"""Run ids stay stable as the schema grows (tunedepth/results/identity.py).

A setting added later with :func:`~tunedepth.config.added_field` and left at its default must not change any run id
(else every existing study re-runs); any other value must. ``tests/golden/run_ids.json`` pins today's ids of every
example study file; these tests pin the rule that keeps them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import Field

from tunedepth.config import DetectionConfig, StudyConfig, TrainingConfig, added_field, parse_study
from tunedepth.results import RunSpec, run_id

SHA = "cd" * 32
SPEC = RunSpec("finetune", 2, 0.5, 1, "ft:conv3-fc")


class TrainingWithANewSetting(TrainingConfig):
    label_smoothing: float = added_field(0.0, description="a setting added later; 0 = the behaviour before it")


class TrainingWithAPlainNewField(TrainingConfig):
    label_smoothing: float = Field(default=0.0, description="the same setting, declared without the rule")


class DetectionWithANewSetting(DetectionConfig):
    jitter_px: int = added_field(0, description="a later option of the detection task's own table")


def _config(raw_update: dict[str, Any] | None = None) -> StudyConfig:
    raw = {"name": "s", "data": {"source": "medmnist", "flag": "breastmnist", "image_size": 32},
           "model": {"architecture": "efficientnet_lite0"},
           "grid": {"regimes": ["finetune"], "depths": [2], "train_fractions": [0.5], "seeds": [1]},
           **(raw_update or {})}
    return parse_study(raw, base_dir=Path("/studies"))


def _with_training(config: StudyConfig, training: TrainingConfig) -> StudyConfig:
    return config.model_copy(update={"training": training})


def test_a_new_setting_at_its_default_keeps_every_run_id() -> None:
    config = _config()
    before = run_id(config, SPEC, weights_sha256=SHA)
    after = run_id(_with_training(config, TrainingWithANewSetting()), SPEC, weights_sha256=SHA)
    assert after == before


def test_a_new_setting_away_from_its_default_gives_new_run_ids() -> None:
    config = _config()
    changed = _with_training(config, TrainingWithANewSetting(label_smoothing=0.1))
    assert run_id(changed, SPEC, weights_sha256=SHA) != run_id(config, SPEC, weights_sha256=SHA)


def test_without_the_rule_a_new_field_would_change_every_run_id() -> None:
    """What the rule prevents: the whole table is hashed, so a plain new field re-runs every study."""
    config = _config()
    plain = _with_training(config, TrainingWithAPlainNewField())
    assert run_id(plain, SPEC, weights_sha256=SHA) != run_id(config, SPEC, weights_sha256=SHA)


def test_a_task_table_follows_the_same_rule() -> None:
    config = _config({"task": "detection", "data": {"source": "kvasir_seg", "image_size": 32}})
    before = run_id(config, SPEC, weights_sha256=SHA)
    same = config.model_copy(update={"task_settings": DetectionWithANewSetting()})
    other = config.model_copy(update={"task_settings": DetectionWithANewSetting(jitter_px=2)})
    assert run_id(same, SPEC, weights_sha256=SHA) == before
    assert run_id(other, SPEC, weights_sha256=SHA) != before


def test_a_run_without_a_tuning_method_hashes_as_before() -> None:
    config = _config()
    plain = run_id(config, SPEC, weights_sha256=SHA)
    assert run_id(config, RunSpec("finetune", 2, 0.5, 1, "ft:conv3-fc", method=None), weights_sha256=SHA) == plain
    with_method = RunSpec("finetune", 2, 0.5, 1, "ft:conv3-fc", method="lp_ft", method_params=(("probe_epochs", 5),))
    assert run_id(config, with_method, weights_sha256=SHA) != plain
    other_params = RunSpec("finetune", 2, 0.5, 1, "ft:conv3-fc", method="lp_ft", method_params=(("probe_epochs", 9),))
    assert run_id(config, other_params, weights_sha256=SHA) != run_id(config, with_method, weights_sha256=SHA)


@pytest.mark.parametrize("label", ["scratch", "ft:fc"])
def test_the_label_is_display_only(label: str) -> None:
    config = _config()
    a = RunSpec("finetune", 2, 0.5, 1, label)
    assert run_id(config, a, weights_sha256=SHA) == run_id(config, SPEC, weights_sha256=SHA)


def test_the_run_config_records_a_method_only_when_there_is_one() -> None:
    assert "method" not in SPEC.to_json()
    spec = RunSpec("finetune", 2, 0.5, 1, "x", method="l2sp", method_params=(("alpha", 0.01),))
    assert spec.to_json()["method_params"] == {"alpha": 0.01}
