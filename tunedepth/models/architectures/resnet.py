"""ResNet-18 and ResNet-50 (He et al., 2016), as torchvision builds them.

Both use torchvision's first ImageNet release (IMAGENET1K_V1), trained with the original
recipe, to match the pretraining of the paper's era; the later V2 weights of ResNet-50
come from a much stronger recipe and would confound "pretraining" with "recipe".
"""

from __future__ import annotations

from typing import cast

import torchvision
from torch import nn

from tunedepth.models.architectures._base import ARCHITECTURES, Architecture
from tunedepth.models.groups import LayerGroup
from tunedepth.models.weights import IMAGENET_MEAN, IMAGENET_STD, WeightSource

__all__ = ["RESNET18", "RESNET50"]

# The stem is the first convolution with its batch norm; each layerN is a residual
# sequence; fc is the head. Shared by both depths: only the blocks inside differ.
_GROUPS = (
    LayerGroup("stem", ("conv1", "bn1")),
    LayerGroup("layer1", ("layer1",)),
    LayerGroup("layer2", ("layer2",)),
    LayerGroup("layer3", ("layer3",)),
    LayerGroup("layer4", ("layer4",)),
    LayerGroup("fc", ("fc",)),
)

_LICENSE = "BSD-3-Clause (torchvision); trained on ImageNet-1k, whose terms of access apply"
_CITATION = (
    "He, Zhang, Ren, Sun, 'Deep Residual Learning for Image Recognition', CVPR 2016; "
    "torchvision {weights}"
)


def _segments(module: nn.Module) -> tuple[nn.Module, ...]:
    # torchvision's forward: conv1, bn1, relu, maxpool, layer1-4, avgpool, flatten, fc.
    net = cast(torchvision.models.ResNet, module)
    return (
        nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool), net.layer1, net.layer2, net.layer3, net.layer4,
        nn.Sequential(net.avgpool, nn.Flatten(1), net.fc),
    )


def _build_resnet18(num_classes: int) -> nn.Module:
    return torchvision.models.resnet18(weights=None, num_classes=num_classes)


def _build_resnet50(num_classes: int) -> nn.Module:
    return torchvision.models.resnet50(weights=None, num_classes=num_classes)


RESNET18 = Architecture(
    name="resnet18",
    description="ResNet-18 (torchvision); groups stem, layer1-layer4, fc",
    groups=_GROUPS,
    build_net=_build_resnet18,
    first_conv="conv1",
    weight_sources={
        "imagenet": WeightSource(
            architecture="resnet18",
            name="imagenet",
            filename="resnet18-f37072fd.pth",
            origin="torch_hub",
            key_matching="by_name",
            url="https://download.pytorch.org/models/resnet18-f37072fd.pth",
            sha256_prefix="f37072fd",
            mean=IMAGENET_MEAN,
            std=IMAGENET_STD,
            input_size=224,
            in_chans=3,
            num_classes=1000,
            num_params=11_689_512,
            license=_LICENSE,
            citation=_CITATION.format(weights="ResNet18_Weights.IMAGENET1K_V1"),
        )
    },
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    input_size=224,
    segments=_segments,
)

RESNET50 = Architecture(
    name="resnet50",
    description="ResNet-50 (torchvision, V1 weights); groups stem, layer1-layer4, fc",
    groups=_GROUPS,
    build_net=_build_resnet50,
    first_conv="conv1",
    weight_sources={
        "imagenet": WeightSource(
            architecture="resnet50",
            name="imagenet",
            filename="resnet50-0676ba61.pth",
            origin="torch_hub",
            key_matching="by_name",
            url="https://download.pytorch.org/models/resnet50-0676ba61.pth",
            sha256_prefix="0676ba61",
            mean=IMAGENET_MEAN,
            std=IMAGENET_STD,
            input_size=224,
            in_chans=3,
            num_classes=1000,
            num_params=25_557_032,
            license=_LICENSE,
            citation=_CITATION.format(weights="ResNet50_Weights.IMAGENET1K_V1"),
        )
    },
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    input_size=224,
    segments=_segments,
)

ARCHITECTURES.register(RESNET18.name, RESNET18)
ARCHITECTURES.register(RESNET50.name, RESNET50)
