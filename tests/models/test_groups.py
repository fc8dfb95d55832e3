"""Tests of tunedepth/models/groups.py: groups must partition parameters and buffers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tunedepth.models.groups import GroupedModel, LayerGroup, check_group_coverage


def _net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))


GOOD = (
    LayerGroup("conv", ("0",)),
    LayerGroup("norm", ("1",)),
    LayerGroup("head", ("3",)),
)


def test_valid_groups_build_and_expose_their_members() -> None:
    model = GroupedModel(_net(), GOOD, architecture="toy")
    assert model.group_names == ("conv", "norm", "head")
    assert model.n_groups == 3
    assert model.head == LayerGroup("head", ("3",))
    assert [n for n, _ in model.group_parameters(model.groups[1])] == ["1.weight", "1.bias"]
    assert [type(m) for m in model.group_modules(model.groups[1])] == [nn.BatchNorm2d]


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        pytest.param(
            (LayerGroup("conv", ("0",)), LayerGroup("head", ("3",))),
            r"in no group: 1\.weight, 1\.bias, 1\.running_mean, 1\.running_var, "
            r"1\.num_batches_tracked$",
            id="batch-norm-in-no-group",
        ),
        pytest.param(
            (
                LayerGroup("body", ("0", "1")),
                LayerGroup("again", ("1",)),
                LayerGroup("head", ("3",)),
            ),
            r"in several groups: 1\.weight, 1\.bias, 1\.running_mean, 1\.running_var, "
            r"1\.num_batches_tracked$",
            id="batch-norm-in-two-groups",
        ),
        pytest.param(
            (LayerGroup("conv", ("0",)), LayerGroup("conv", ("1",)), LayerGroup("head", ("3",))),
            r"duplicate group names: conv$",
            id="duplicate-names",
        ),
        pytest.param(
            (LayerGroup("all", ("0", "1", "3")),),
            r"at least 2 groups \(body and head\); got 1",
            id="one-group",
        ),
    ],
)
def test_bad_groups_raise_listing_the_offenders(
    groups: tuple[LayerGroup, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        GroupedModel(_net(), groups, architecture="toy")


def test_only_a_buffer_outside_the_groups_is_reported() -> None:
    net = _net()
    net.register_buffer("stray", torch.zeros(1))
    with pytest.raises(ValueError, match=r"in no group: stray$"):
        check_group_coverage(net, GOOD)


def test_prefixes_match_whole_module_names_only() -> None:
    # "1" must not own "10.weight": prefixes end at a dot, never inside a name.
    assert LayerGroup("g", ("1",)).owns("1.weight")
    assert LayerGroup("g", ("1",)).owns("1")
    assert not LayerGroup("g", ("1",)).owns("10.weight")
    assert not LayerGroup("g", ("layer1",)).owns("layer1x.weight")
