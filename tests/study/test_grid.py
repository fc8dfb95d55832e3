from __future__ import annotations

from pathlib import Path

import pytest

from tunedepth.config import parse_study
from tunedepth.errors import ConfigError
from tunedepth.results import run_id
from tunedepth.study import expand_grid

GROUPS = ("conv1", "conv2", "conv3", "fc")


def test_expand_grid_counts_and_labels():
    runs = expand_grid(regimes=("scratch", "finetune"), depths="all", train_fractions=(0.25, 1.0),
                       seeds=(0, 1), group_names=GROUPS, architecture="toy4")
    assert len(runs) == 2 * 2 * (1 + 4)
    assert [r.train_fraction for r in runs[:5]] == [1.0] * 5
    assert [r.label for r in runs[:5]] == ["scratch", "ft:fc", "ft:conv3-fc", "ft:conv2-fc", "ft:conv1-fc"]
    scratch = [r for r in runs if r.regime == "scratch"]
    assert {r.depth for r in scratch} == {4}


def test_depth_beyond_architecture_is_refused():
    with pytest.raises(ConfigError, match=r"\[1, 4\] for 'toy4' \(groups: conv1, conv2, conv3, fc\). Got 5"):
        expand_grid(regimes=("finetune",), depths=(1, 5), train_fractions=(1.0,), seeds=(0,),
                    group_names=GROUPS, architecture="toy4")


def _cfg(execution=None, analysis=None, **training):
    return parse_study({
        "name": "s", "data": {"source": "medmnist", "flag": "breastmnist", "image_size": 28, "root": "/a"},
        "model": {"architecture": "alexnet"},
        "grid": {"regimes": ["scratch", "finetune"], "depths": "all", "train_fractions": [1.0], "seeds": [0]},
        "training": training, "execution": execution or {}, "analysis": analysis or {},
    }, base_dir=Path("."))


def test_run_id_depends_on_results_not_on_bookkeeping():
    runs = expand_grid(regimes=("scratch", "finetune"), depths="all", train_fractions=(1.0,), seeds=(0,),
                       group_names=GROUPS, architecture="toy4")
    base = _cfg()
    ids = {run_id(base, r, weights_sha256="abc") for r in runs}
    assert len(ids) == len(runs)
    spec = runs[1]
    same = [_cfg({"device": "cpu"}), _cfg({"num_threads": 1}), _cfg({"workers": 2}), _cfg({"feature_cache": False}),
            _cfg({"feature_cache_dtype": "float16"}), _cfg(analysis={"alpha": 0.01}), base.model_copy(
        update={"data": base.data.model_copy(update={"root": Path("/elsewhere")})})]
    for cfg in same:
        assert run_id(cfg, spec, weights_sha256="abc") == run_id(base, spec, weights_sha256="abc")
    for cfg in [_cfg(lr=0.01), _cfg(batch_size=32), _cfg(bn_policy="train")]:
        assert run_id(cfg, spec, weights_sha256="abc") != run_id(base, spec, weights_sha256="abc")
    assert run_id(base, spec, weights_sha256="def") != run_id(base, spec, weights_sha256="abc")
    # scratch does not depend on which pretrained weights exist
    assert run_id(base, runs[0], weights_sha256=None) == run_id(base, runs[0], weights_sha256=None)


def test_depths_by_group_name():
    runs = expand_grid(regimes=("finetune",), depths=("conv3", 1, "conv1"), train_fractions=(1.0,), seeds=(0,),
                       group_names=GROUPS, architecture="toy4")
    assert [(r.depth, r.label) for r in runs] == [(1, "ft:fc"), (2, "ft:conv3-fc"), (4, "ft:conv1-fc")]


@pytest.mark.parametrize(
    ("depths", "message"),
    [(("conv4",), r"Unknown group 'conv4' in grid.depths for 'toy4'. Did you mean 'conv3'\? Groups \(input to "
                  r"output\): conv1, conv2, conv3, fc."),
     (("fc", 1), r"name the same depth twice")],
    ids=["unknown-group", "duplicate"],
)
def test_bad_group_names(depths, message):
    with pytest.raises(ConfigError, match=message):
        expand_grid(regimes=("finetune",), depths=depths, train_fractions=(1.0,), seeds=(0,),
                    group_names=GROUPS, architecture="toy4")
