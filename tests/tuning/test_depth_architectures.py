"""freeze_to_depth on every registered architecture and every depth (STYLE rule 36)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tunedepth.models import build_model, get_architecture, list_architectures
from tunedepth.tuning import freeze_to_depth

CASES = [
    (name, depth)
    for name in list_architectures()
    if name != "toy4"
    for depth in range(1, len(get_architecture(name).group_names) + 1)
]
_MODELS: dict[str, nn.Module] = {}


def _model(name: str):
    if name not in _MODELS:
        torch.manual_seed(0)
        _MODELS[name] = build_model(name, num_classes=3, weights="none")
    return _MODELS[name]


@pytest.mark.parametrize(("name", "depth"), CASES, ids=[f"{n}-{d}" for n, d in CASES])
def test_exactly_the_last_depth_groups_get_gradients_and_frozen_bn_stays(name, depth):
    model = _model(name)
    freeze_to_depth(model, depth, bn_policy="freeze")
    model.zero_grad(set_to_none=True)
    model.train()
    bns = {g.name: [m for m in model.group_modules(g) if isinstance(m, nn.modules.batchnorm._BatchNorm)]
           for g in model.groups}
    before = {g: [bn.running_mean.clone() for bn in mods] for g, mods in bns.items()}
    x = torch.randn(2, 3, 64, 64) * 2 + 1
    model(x).sum().backward()
    first_trainable = model.n_groups - depth
    for index, group in enumerate(model.groups):
        trainable = index >= first_trainable
        grads = [p.grad is not None for _, p in model.group_parameters(group)]
        assert grads and (all(grads) if trainable else not any(grads)), (group.name, grads)
        for bn, old in zip(bns[group.name], before[group.name], strict=True):
            assert torch.equal(bn.running_mean, old) == (not trainable), (group.name, "BN statistics")
