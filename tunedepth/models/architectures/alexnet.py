"""AlexNet, the network of Tajbakhsh et al. (2016), as torchvision builds it.

torchvision's AlexNet is the single-tower variant of Krizhevsky's "one weird trick"
paper (64 filters in conv1, no local response normalisation, no grouped convolutions),
while the paper used Caffe's two-tower AlexNet. The layer groups are the same eight
learnable layers, conv1 ... fc8, so tuning depths mean what they meant in the paper.
"""

from __future__ import annotations

from typing import cast

import torchvision
from torch import nn

from tunedepth.models.architectures._base import ARCHITECTURES, Architecture
from tunedepth.models.groups import LayerGroup
from tunedepth.models.weights import IMAGENET_MEAN, IMAGENET_STD, WeightSource

__all__ = ["ALEXNET"]

# features.{1,2,4,5,7,9,11,12} and classifier.{0,2,3,5} are ReLU, max-pool and dropout
# modules without parameters; each group is the one learnable layer the paper names.
_GROUPS = (
    LayerGroup("conv1", ("features.0",)),
    LayerGroup("conv2", ("features.3",)),
    LayerGroup("conv3", ("features.6",)),
    LayerGroup("conv4", ("features.8",)),
    LayerGroup("conv5", ("features.10",)),
    LayerGroup("fc6", ("classifier.1",)),
    LayerGroup("fc7", ("classifier.4",)),
    LayerGroup("fc8", ("classifier.6",)),
)


def _segments(module: nn.Module) -> tuple[nn.Module, ...]:
    # torchvision's forward: features, avgpool, flatten, classifier. The dropout before fc6 and
    # fc7 acts on their inputs, so it starts their segments (it is then active whenever the
    # group after it runs, frozen or not, as in the unsplit network).
    net = cast(torchvision.models.AlexNet, module)
    f, c = cast(nn.Sequential, net.features), cast(nn.Sequential, net.classifier)
    return (
        f[0:3], f[3:6], f[6:8], f[8:10], nn.Sequential(*f[10:13], net.avgpool, nn.Flatten(1)),
        c[0:3], c[3:6], c[6],
    )


def _build_alexnet(num_classes: int) -> nn.Module:
    return torchvision.models.alexnet(weights=None, num_classes=num_classes)


_IMAGENET = WeightSource(
    architecture="alexnet",
    name="imagenet",
    # torchvision AlexNet_Weights.IMAGENET1K_V1
    filename="alexnet-owt-7be5be79.pth",
    origin="torch_hub",
    key_matching="by_name",
    url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
    sha256_prefix="7be5be79",
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    input_size=224,
    in_chans=3,
    num_classes=1000,
    num_params=61_100_840,
    license="BSD-3-Clause (torchvision); trained on ImageNet-1k, whose terms of access apply",
    citation=(
        "Krizhevsky, 'One weird trick for parallelizing convolutional neural networks', "
        "arXiv:1404.5997, 2014; torchvision AlexNet_Weights.IMAGENET1K_V1"
    ),
)

ALEXNET = Architecture(
    name="alexnet",
    description="AlexNet (torchvision, single-tower), the paper's network; groups conv1-fc8",
    groups=_GROUPS,
    build_net=_build_alexnet,
    first_conv="features.0",
    weight_sources={"imagenet": _IMAGENET},
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    input_size=224,
    segments=_segments,
)

ARCHITECTURES.register(ALEXNET.name, ALEXNET)
