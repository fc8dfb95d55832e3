from __future__ import annotations

import copy
from pathlib import Path

import pytest

from tunedepth.config import dump_resolved, load_study, parse_study
from tunedepth.errors import ConfigError

BASE = {
    "name": "s",
    "data": {"source": "medmnist", "flag": "breastmnist", "image_size": 28},
    "model": {"architecture": "alexnet"},
    "grid": {"regimes": ["scratch", "finetune"], "depths": "all", "train_fractions": [1.0, 0.5], "seeds": [0]},
}


def _with(path: str, value: object) -> dict:
    raw = copy.deepcopy(BASE)
    *parents, key = path.split(".")
    node = raw
    for p in parents:
        node = node.setdefault(p, {})
    node[key] = value
    return raw


def test_defaults_follow_the_paper():
    cfg = parse_study(BASE, base_dir=Path("."))
    t = cfg.training
    assert (t.optimizer, t.lr, t.head_lr_mult, t.bias_lr_mult, t.momentum, t.lr_decay_per_epoch, t.bn_policy) == (
        "sgd", 0.001, 10.0, 2.0, 0.9, 0.95, "freeze")
    assert t.lrs == (0.001,)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("data.flagg", "x", r"unknown key 'data.flagg'. Did you mean 'flag'\?"),
        ("trainin", {}, r"unknown key 'trainin'. Did you mean 'training'\?"),
        ("training.lrr", 0.1, r"unknown key 'training.lrr'. Did you mean 'lr'\?"),
        ("grid.train_fractions", [0.0], r"'grid.train_fractions.0': Input should be greater than 0; got 0.0"),
        ("grid.train_fractions", [1.5], r"'grid.train_fractions.0': Input should be less than or equal to 1; got 1.5"),
        ("grid.train_fractions", [], r"at least one value"),
        ("grid.seeds", [1, 1], r"unique"),
        ("grid.depths", [0], r"'grid.depths.0': Input should be greater than or equal to 1"),
        ("grid.depths", "some", r"'grid.depths': Input should be 'all'"),
        ("grid.regimes", ["fulltrain"], r"'grid.regimes.0': Input should be 'scratch' or 'finetune'"),
        ("training.lr", [0.1, -1], r"'training.lr.1': Input should be greater than 0; got -1"),
        ("training.batch_size", "big", r"'training.batch_size': Input should be a valid integer"),
        ("data.source", "dicom", r"'data.source': unknown data source 'dicom'; set data.source to one of: carotid, "
                                 r"colonoscopy_frame_quality, csv_manifest, cvc_clinicdb, generated_cta, image_folder, "
                                 r"kvasir_seg, layered, medmnist, medmnist3d, volume_table\.$"),
        ("model.checkpoint_sha256", "AB" * 32, r"'model.checkpoint_sha256': checkpoint_sha256 must be 64 lower-case "
                                               r"hex digits, as `sha256sum <checkpoint>` prints them; got 'ABAB"),
        ("model.checkpoint_sha256", "0" * 63, r"64 lower-case hex digits.*\(63 characters\)"),
        ("model.checkpoint_sha256", "0" * 64, r"'model': 'checkpoint_sha256' is only read when weights = 'checkpoint'; "
                                              r"got weights = 'imagenet'\. Remove 'checkpoint_sha256' or set weights "
                                              r"= 'checkpoint'\.$"),
        ("model.weights", "checkpoint", r"needs a 'checkpoint' path"),
        ("training.bn_policy", "eval", r"'training.bn_policy': Input should be 'freeze' or 'train'"),
    ],
    ids=lambda v: str(v)[:30],
)
def test_bad_study_gives_one_line(path, value, message):
    with pytest.raises(ConfigError, match=message) as info:
        parse_study(_with(path, value), base_dir=Path("."))
    assert "\n" not in str(info.value)


def test_checkpoint_sha256_is_read_with_a_checkpoint(tmp_path):
    raw = _with("model", {"architecture": "alexnet", "weights": "checkpoint", "checkpoint": "ck.pt",
                          "checkpoint_sha256": "0123456789abcdef" * 4})
    assert parse_study(raw, base_dir=tmp_path).model.checkpoint_sha256 == "0123456789abcdef" * 4
    assert parse_study(_with("model.architecture", "alexnet"), base_dir=tmp_path).model.checkpoint_sha256 is None


def test_unknown_key_in_a_mask_data_table_gets_a_suggestion():
    raw = _with("data", {"source": "kvasir_seg", "rooot": "x", "image_size": 32})
    raw["task"] = "detection"
    with pytest.raises(ConfigError, match=r"unknown key 'data.rooot'\. Did you mean 'root'\?"):
        parse_study(raw, base_dir=Path("."))


def test_a_whole_study_check_has_no_placeholder_key():
    with pytest.raises(ConfigError, match=r"^<study>: task = 'detection' needs data.source 'kvasir_seg' or "
                                          r"'cvc_clinicdb'; got 'medmnist'\.$"):
        parse_study({**BASE, "task": "detection"}, base_dir=Path("."))


def test_missing_section():
    raw = copy.deepcopy(BASE)
    del raw["grid"]
    with pytest.raises(ConfigError, match="missing required key 'grid'"):
        parse_study(raw, base_dir=Path("."))


def test_relative_paths_resolve_against_study_file(tmp_path):
    raw = {**BASE, "data": {"source": "image_folder", "path": "imgs", "image_size": 32}}
    cfg = parse_study(raw, base_dir=tmp_path)
    assert cfg.data.path == (tmp_path / "imgs").resolve()
    assert raw["data"]["path"] == "imgs"  # caller's mapping untouched


def test_load_study_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_study(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_study(bad)


def test_config_is_frozen_and_dump_round_trips():
    cfg = parse_study(BASE, base_dir=Path("."))
    with pytest.raises(Exception, match="frozen"):
        cfg.training.lr = 0.1  # type: ignore[misc]
    assert parse_study(dump_resolved(cfg), base_dir=Path(".")) == cfg


@pytest.mark.parametrize("name", sorted(p.name for p in (Path(__file__).parents[2] / "examples").glob("*.toml")))
def test_examples_validate(name):
    path = Path(__file__).parents[2] / "examples" / name
    cfg = load_study(path)
    assert cfg.name
