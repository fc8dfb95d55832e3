"""Segments: every architecture's network, run group by group, computes its own forward."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tunedepth.models import GroupedModel, LayerGroup, get_architecture, list_architectures

ARCHS = [name for name in list_architectures() if name != "toy4"]


@pytest.mark.parametrize("name", ARCHS)
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_segments_compose_to_the_forward_at_every_cut(name, mode):
    model = get_architecture(name).build(num_classes=3)
    model.train(mode == "train")
    size = 64 if name == "alexnet" else 32  # AlexNet's pooling needs at least 63 px
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.manual_seed(1)  # the same dropout masks in both passes
        want = model(x)
        assert len(model.segments) == model.n_groups
        for cut in range(model.n_groups + 1):
            torch.manual_seed(1)
            got = model.forward_from(cut, model.forward_to(cut, x))
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6, msg=f"{name}, cut {cut}")


@pytest.mark.parametrize("name", ARCHS)
def test_segments_share_the_network_modules_and_leave_the_state_dict_alone(name):
    model = get_architecture(name).build(num_classes=2)
    keys = list(model.state_dict())
    segments = model.segments
    assert list(model.state_dict()) == keys
    net_params = {id(p) for p in model.net.parameters()}
    assert {id(p) for s in segments for p in s.parameters()} == net_params


def test_wrong_segments_are_refused():
    net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    groups = (LayerGroup("a", ("0",)), LayerGroup("b", ("1",)))
    swapped = GroupedModel(net, groups, architecture="toy", segments=lambda n: (n[1], n[0]))
    with pytest.raises(ValueError, match="segment of group 'a' holds 2 parameters, 0 of them the group's 2"):
        _ = swapped.segments
    short = GroupedModel(net, groups, architecture="toy", segments=lambda n: (n,))
    with pytest.raises(ValueError, match="1 segments for 2 groups"):
        _ = short.segments
    assert GroupedModel(net, groups, architecture="toy").segments == (net[0], net[1])  # a Sequential splits itself


def test_models_with_loaded_weights_keep_their_segments():
    from tunedepth.models import build_model

    model = build_model("efficientnet_lite0", num_classes=2, weights="imagenet")
    assert model.can_split and len(model.segments) == 10


def test_efficientnet_depth_one_cut_is_the_pooled_feature_vector():
    # The classifier's input is the globally pooled head_conv output: what a depth-1 run caches per image is 1,280
    # numbers whatever the input size, not a 1,280-channel map (4x larger at 64 px, 49x at 224 px).
    model = get_architecture("efficientnet_lite0").build(num_classes=2).eval()
    for size in (64, 96):
        with torch.no_grad():
            features = model.forward_to(model.n_groups - 1, torch.zeros(2, 3, size, size))
        assert features.shape == (2, 1280)
