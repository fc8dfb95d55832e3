from __future__ import annotations

import pytest
import torch

from tests.conftest import build_toy
from tunedepth.errors import ConfigError
from tunedepth.tuning import freeze_to_depth, regime_label


def _grads_by_group(model):
    x = torch.randn(4, 3, 16, 16)
    model.train()
    model(x).sum().backward()
    return {
        g.name: [p.grad is not None and bool(p.grad.abs().sum() > 0) for _, p in model.group_parameters(g)]
        for g in model.groups
    }


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_exactly_last_depth_groups_get_gradients(depth):
    torch.manual_seed(0)
    model = build_toy()
    freeze_to_depth(model, depth, bn_policy="freeze")
    grads = _grads_by_group(model)
    names = model.group_names
    for i, name in enumerate(names):
        trainable = i >= len(names) - depth
        assert all(grads[name]) if trainable else not any(grads[name]), (name, grads[name])
        assert all(p.requires_grad == trainable for _, p in model.group_parameters(model.groups[i]))


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_frozen_bn_statistics_do_not_move_even_after_train(depth):
    torch.manual_seed(0)
    model = build_toy()
    freeze_to_depth(model, depth, bn_policy="freeze")
    model.train()  # must not undo the freeze
    bn1, bn2 = model.net[0][1], model.net[1][1]
    before = [bn1.running_mean.clone(), bn2.running_mean.clone()]
    model(torch.randn(8, 3, 16, 16) * 5 + 3)
    frozen = [depth < 4, depth < 3]  # conv1 frozen for depth <= 3, conv2 for depth <= 2
    for bn, old, is_frozen in zip((bn1, bn2), before, frozen, strict=True):
        assert torch.equal(bn.running_mean, old) == is_frozen
        assert bn.training == (not is_frozen)


def test_bn_policy_train_lets_frozen_statistics_move():
    torch.manual_seed(0)
    model = build_toy()
    freeze_to_depth(model, 1, bn_policy="train")
    model.train()
    bn1 = model.net[0][1]
    before = bn1.running_mean.clone()
    model(torch.randn(8, 3, 16, 16) * 5 + 3)
    assert not torch.equal(bn1.running_mean, before)
    assert not bn1.weight.requires_grad


def test_refreezing_to_a_deeper_depth_releases_bn():
    model = build_toy()
    freeze_to_depth(model, 1, bn_policy="freeze")
    freeze_to_depth(model, 4, bn_policy="freeze")
    model.train()
    assert model.net[0][1].training and all(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("depth", [0, 5, -1, 2.0, True], ids=["zero", "too-deep", "negative", "float", "bool"])
def test_depth_out_of_range_names_range_and_groups(depth):
    expected = r"must be an int in \[1, 4\] for 'toy4' \(groups: conv1, conv2, conv3, fc\)"
    with pytest.raises(ConfigError, match=expected):
        freeze_to_depth(build_toy(), depth, bn_policy="freeze")


def test_unknown_bn_policy():
    with pytest.raises(ConfigError, match="'bn_policy'.*'freeze' or 'train'.*'eval'"):
        freeze_to_depth(build_toy(), 1, bn_policy="eval")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("regime", "depth", "label"),
    [
        ("finetune", 1, "ft:fc"),
        ("finetune", 2, "ft:conv3-fc"),
        ("finetune", 4, "ft:conv1-fc"),
        ("scratch", 4, "scratch"),
    ],
)
def test_regime_label(regime, depth, label):
    assert regime_label(regime, depth, ("conv1", "conv2", "conv3", "fc")) == label
