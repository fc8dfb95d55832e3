"""Registry-wide tests of tunedepth/models/architectures: every entry, every check.

The expected values are written out by hand (group names, head shapes) or taken from
the source libraries' own metadata (torchvision Weights enums, timm pretrained configs),
so that a wrong declaration cannot pass by agreeing with itself.
"""

from __future__ import annotations

import dataclasses
import re

import pytest
import timm
import torch
from torch import nn
from torchvision.models import AlexNet_Weights, ResNet18_Weights, ResNet50_Weights

from tunedepth.errors import ConfigError
from tunedepth.models import ARCHITECTURES, Architecture, get_architecture, list_architectures
from tunedepth.models.architectures import efficientnet

# "toy4" is the test-only architecture registered by tests/conftest.py.
ARCHITECTURE_NAMES = [name for name in list_architectures() if name != "toy4"]

EXPECTED_GROUPS = {
    "alexnet": ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"),
    "resnet18": ("stem", "layer1", "layer2", "layer3", "layer4", "fc"),
    "resnet50": ("stem", "layer1", "layer2", "layer3", "layer4", "fc"),
    "efficientnet_lite0": (
        "stem",
        "block1",
        "block2",
        "block3",
        "block4",
        "block5",
        "block6",
        "block7",
        "head_conv",
        "classifier",
    ),
}

# Head tensors of a 3-class model: name -> shape.
EXPECTED_HEAD = {
    "alexnet": {"classifier.6.weight": (3, 4096), "classifier.6.bias": (3,)},
    "resnet18": {"fc.weight": (3, 512), "fc.bias": (3,)},
    "resnet50": {"fc.weight": (3, 2048), "fc.bias": (3,)},
    "efficientnet_lite0": {"classifier.weight": (3, 1280), "classifier.bias": (3,)},
}

# The source libraries' own metadata for each declared ImageNet source:
# (url or None, num_params, mean, std).
_tv = {
    "alexnet": AlexNet_Weights.IMAGENET1K_V1,
    "resnet18": ResNet18_Weights.IMAGENET1K_V1,
    "resnet50": ResNet50_Weights.IMAGENET1K_V1,
}
REFERENCE = {
    name: (w.url, w.meta["num_params"], tuple(w.transforms().mean), tuple(w.transforms().std))
    for name, w in _tv.items()
}
_lite = timm.get_pretrained_cfg("tf_efficientnet_lite0")
assert _lite is not None
REFERENCE["efficientnet_lite0"] = (None, 4_652_008, tuple(_lite.mean), tuple(_lite.std))


def test_the_registry_holds_exactly_the_expected_architectures() -> None:
    assert ARCHITECTURE_NAMES == ["alexnet", "efficientnet_lite0", "resnet18", "resnet50"]
    assert set(EXPECTED_GROUPS) == set(ARCHITECTURE_NAMES)


@pytest.mark.parametrize("name", ARCHITECTURE_NAMES)
def test_entry_is_named_as_registered(name: str) -> None:
    arch = get_architecture(name)
    assert arch.name == name
    assert arch.group_names == EXPECTED_GROUPS[name]
    assert all("stage" not in g for g in arch.group_names)  # banned synonym


@pytest.mark.parametrize("name", ARCHITECTURE_NAMES)
def test_every_parameter_and_buffer_is_in_exactly_one_group(name: str) -> None:
    model = get_architecture(name).build(num_classes=3)
    names = [n for n, _ in model.net.named_parameters()]
    names += [n for n, _ in model.net.named_buffers()]
    owners = {n: [g.name for g in model.groups if g.owns(n)] for n in names}
    assert {n: o for n, o in owners.items() if len(o) != 1} == {}
    # Every group owns something: an empty group would be a depth that trains nothing.
    assert all(model.group_parameters(g) for g in model.groups)
    n_params = sum(len(model.group_parameters(g)) for g in model.groups)
    assert n_params == len(list(model.net.parameters()))


@pytest.mark.parametrize("name", ARCHITECTURE_NAMES)
def test_head_is_a_new_classifier_with_num_classes_outputs(name: str) -> None:
    model = get_architecture(name).build(num_classes=3)
    head = {n: tuple(p.shape) for n, p in model.group_parameters(model.head)}
    assert head == EXPECTED_HEAD[name]
    assert model.weights == "none"
    assert model.weights_sha256 is None


@pytest.mark.parametrize("name", ARCHITECTURE_NAMES)
def test_one_forward_backward_pass_reaches_every_parameter(name: str) -> None:
    torch.manual_seed(0)
    model = get_architecture(name).build(num_classes=3).train()
    logits = model(torch.randn(2, 3, 64, 64))
    assert tuple(logits.shape) == (2, 3)
    nn.functional.cross_entropy(logits, torch.tensor([0, 2])).backward()
    no_grad = [n for n, p in model.net.named_parameters() if p.grad is None]
    assert no_grad == []
    assert all(
        bool(torch.isfinite(p.grad).all()) for p in model.net.parameters() if p.grad is not None
    )


@pytest.mark.parametrize("name", ARCHITECTURE_NAMES)
def test_declared_weight_metadata_matches_the_real_model(name: str) -> None:
    arch = get_architecture(name)
    source = arch.get_weight_source("imagenet")
    url, num_params, mean, std = REFERENCE[name]
    net = arch.build(num_classes=source.num_classes).net
    assert source.num_classes == 1000
    assert sum(p.numel() for p in net.parameters()) == source.num_params == num_params
    first_conv = net.get_submodule(arch.first_conv)
    assert isinstance(first_conv, nn.Conv2d)
    assert first_conv.in_channels == source.in_chans == 3
    assert source.url == url
    assert source.mean == pytest.approx(mean)
    assert source.std == pytest.approx(std)
    assert (arch.mean, arch.std) == (source.mean, source.std)
    assert arch.input_size == source.input_size == 224
    assert (source.architecture, source.name) == (name, "imagenet")
    assert source.license and source.citation
    if source.url is not None:  # torchvision puts the sha256 prefix in the file name
        match = re.search(r"-([a-f0-9]{8})\.pth$", source.url)
        assert match is not None and match.group(1) == source.sha256_prefix


def test_efficientnet_checksum_constant_is_the_declared_one() -> None:
    source = get_architecture("efficientnet_lite0").get_weight_source("imagenet")
    assert source.sha256 == efficientnet.EFFICIENTNET_LITE0_SHA256
    assert source.sha256 is not None and source.sha256.startswith(str(source.sha256_prefix))


def test_unknown_architecture_raises_with_a_guess_and_the_list() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^Unknown architecture 'resnet81'\. Did you mean 'resnet18'\? Available: alexnet, "
        r"efficientnet_lite0, resnet18, resnet50(, toy4)?\.$",
    ):
        get_architecture("resnet81")


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        pytest.param(
            "imagnet", r"^Unknown weight source 'imagnet'\. Did you mean 'imagenet'\?", id="typo"
        ),
        pytest.param(
            "imagenet",
            r"^Architecture 'resnet18' has no 'imagenet' weights\. Available for 'resnet18': "
            r"checkpoint, none\.$",
            id="not-offered",
        ),
    ],
)
def test_unavailable_weight_source_raises_listing_the_available(weights: str, message: str) -> None:
    bare = dataclasses.replace(get_architecture("resnet18"), weight_sources={})
    with pytest.raises(ConfigError, match=message):
        bare.get_weight_source(weights)


@pytest.mark.parametrize("num_classes", [0, -1, True, 2.0, "2"], ids=repr)
def test_build_refuses_a_bad_num_classes(num_classes: object) -> None:
    with pytest.raises(
        ConfigError, match=r"'num_classes' parameter of alexnet\.build must be an int >= 1"
    ):
        get_architecture("alexnet").build(num_classes)  # type: ignore[arg-type]


def test_registering_a_name_twice_raises() -> None:
    with pytest.raises(KeyError, match="'alexnet' is already registered"):
        ARCHITECTURES.register("alexnet", get_architecture("alexnet"))


def test_inconsistent_declarations_are_refused() -> None:
    arch = get_architecture("resnet18")
    with pytest.raises(
        ValueError, match=r"weight source 'imagenet' is declared as resnet18/imagenet"
    ):
        dataclasses.replace(arch, name="other")
    with pytest.raises(ValueError, match=r"needs at least 2 uniquely named groups"):
        dataclasses.replace(arch, groups=arch.groups[:-1] + (dataclasses.replace(arch.groups[0]),))
    assert isinstance(arch, Architecture)
