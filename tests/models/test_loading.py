"""Tests of tunedepth/models/loading.py: safe reading, in-order pairing, strict body loads."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tunedepth.errors import WeightsError
from tunedepth.models.architectures import get_architecture
from tunedepth.models.groups import GroupedModel
from tunedepth.models.loading import load_body_state_dict, pair_in_order, read_state_dict

LITE0 = get_architecture("efficientnet_lite0")
LITE0_SOURCE = LITE0.get_weight_source("imagenet")


class Payload:
    """An arbitrary Python object whose unpickling would create a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


@pytest.fixture(scope="module")
def lite0_1000() -> GroupedModel:
    return LITE0.build(num_classes=1000)


def _theirs(model: GroupedModel) -> dict[str, torch.Tensor]:
    """The model's tensors under another implementation's names, same order."""
    return {
        f"other{i}.{k.rpartition('.')[2]}": v
        for i, (k, v) in enumerate(model.net.state_dict().items())
    }


def test_read_state_dict_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sd.pt"
    torch.save({"a.weight": torch.arange(3.0), "b": torch.ones(2, 2)}, path)
    loaded = read_state_dict(path)
    assert list(loaded) == ["a.weight", "b"]
    assert torch.equal(loaded["a.weight"], torch.arange(3.0))


def test_pickle_payload_is_refused_and_not_executed(tmp_path: Path) -> None:
    path, marker = tmp_path / "evil.pt", tmp_path / "executed"
    torch.save({"w": torch.zeros(1), "x": Payload(marker)}, path)
    with pytest.raises(
        WeightsError,
        match=rf"^Weight file {path} is not a readable PyTorch state dict \(unpickling it needs the Python "
        r"global '(?:io|builtins)\.open', which weights_only=True refuses, so nothing in it was run: .*\); only plain "
        r"state dicts are loaded \(torch\.load with weights_only=True\)\. Save the weights with "
        r"torch\.save\(model\.net\.state_dict\(\), path\)",
    ) as info:
        read_state_dict(path)
    assert "\n" not in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(
            b"hello, not a checkpoint", r"is not a readable PyTorch state dict", id="text"
        ),
        pytest.param(b"", r"is not a readable PyTorch state dict", id="empty"),
    ],
)
def test_non_checkpoint_file_is_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "notes.pt"
    path.write_bytes(content)
    with pytest.raises(WeightsError, match=rf"^Weight file {path} {message}") as info:
        read_state_dict(path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("obj", "kind"),
    [
        pytest.param([torch.zeros(1)], "list", id="list"),
        pytest.param({"epoch": 3, "w": torch.zeros(1)}, "dict", id="non-tensor-value"),
        pytest.param(torch.zeros(2), "Tensor", id="bare-tensor"),
    ],
)
def test_non_state_dict_content_is_refused(tmp_path: Path, obj: object, kind: str) -> None:
    path = tmp_path / "other.pt"
    torch.save(obj, path)
    with pytest.raises(
        WeightsError, match=rf"^Weight file {path} holds a {kind} that is not a state dict"
    ):
        read_state_dict(path)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(
        WeightsError, match=rf"^Weight file {tmp_path / 'absent.pt'} does not exist"
    ):
        read_state_dict(tmp_path / "absent.pt")


def test_pair_in_order_renames_every_tensor(lite0_1000: GroupedModel) -> None:
    theirs = _theirs(lite0_1000)
    renamed = pair_in_order(theirs, lite0_1000, source=LITE0_SOURCE)
    assert list(renamed) == list(lite0_1000.net.state_dict())
    assert all(renamed[k] is v for k, v in zip(renamed, theirs.values(), strict=True))


def test_pair_in_order_checks_head_against_the_source_classes() -> None:
    model = LITE0.build(num_classes=2)
    theirs = _theirs(LITE0.build(num_classes=1000))
    assert tuple(pair_in_order(theirs, model, source=LITE0_SOURCE)["classifier.weight"].shape) == (
        1000,
        1280,
    )
    with pytest.raises(
        WeightsError, match=r"#295 other295\.bias \(2,\) -> classifier\.bias \(1000,\)"
    ):
        pair_in_order(_theirs(model), model, source=LITE0_SOURCE)


def test_pair_in_order_refuses_a_count_mismatch(lite0_1000: GroupedModel) -> None:
    theirs = _theirs(lite0_1000)
    theirs.pop(next(iter(theirs)))
    with pytest.raises(
        WeightsError,
        match=r"^The efficientnet_lite0/imagenet weight file holds 295 tensors but the "
        r"efficientnet_lite0 network has 296; tensors are paired in order",
    ):
        pair_in_order(theirs, lite0_1000, source=LITE0_SOURCE)


def test_pair_in_order_refuses_swapped_shapes(lite0_1000: GroupedModel) -> None:
    items = list(_theirs(lite0_1000).items())
    items[0], items[6] = (
        (items[0][0], items[6][1]),
        (items[6][0], items[0][1]),
    )  # swap two convs' tensors
    with pytest.raises(
        WeightsError,
        match=r"does not pair in order with the efficientnet_lite0 network: #0 other0\.weight "
        r"\(32, 1, 3, 3\) -> conv_stem\.weight \(32, 3, 3, 3\), #6 other6\.weight \(32, 3, 3, 3\) "
        r"-> blocks\.0\.0\.conv_dw\.weight \(32, 1, 3, 3\)\.$",
    ):
        pair_in_order(dict(items), lite0_1000, source=LITE0_SOURCE)


def test_pair_in_order_refuses_swapped_kinds_of_equal_shape(lite0_1000: GroupedModel) -> None:
    items = list(_theirs(lite0_1000).items())
    items[1], items[2] = items[2], items[1]  # bn1 bias before weight: shapes agree, kinds do not
    with pytest.raises(
        WeightsError,
        match=r"#1 other2\.bias -> bn1\.weight \(tensor kinds differ\), "
        r"#2 other1\.weight -> bn1\.bias",
    ):
        pair_in_order(dict(items), lite0_1000, source=LITE0_SOURCE)


def test_load_body_leaves_the_head_alone() -> None:
    torch.manual_seed(0)
    model = get_architecture("resnet18").build(num_classes=2)
    head_before = {n: p.detach().clone() for n, p in model.group_parameters(model.head)}
    donor = get_architecture("resnet18").build(num_classes=2).net.state_dict()
    load_body_state_dict(model, donor, origin="a donor")
    after = model.net.state_dict()
    assert [
        k for k in after if not model.head.owns(k) and not torch.equal(after[k], donor[k])
    ] == []
    assert all(torch.equal(after[n], p) for n, p in head_before.items())
    assert not torch.equal(head_before["fc.weight"], donor["fc.weight"])


def test_load_body_accepts_legacy_files_without_batch_norm_counters() -> None:
    model = get_architecture("resnet18").build(num_classes=2)
    donor = get_architecture("resnet18").build(num_classes=2).net.state_dict()
    legacy = {k: v for k, v in donor.items() if not k.endswith("num_batches_tracked")}
    assert len(legacy) == len(donor) - 20
    load_body_state_dict(model, legacy, origin="a legacy file")
    assert torch.equal(model.net.layer1[0].bn1.running_var, donor["layer1.0.bn1.running_var"])


def test_load_body_still_requires_other_buffers() -> None:
    model = get_architecture("resnet18").build(num_classes=2)
    donor = dict(model.net.state_dict())
    del donor["bn1.running_var"]
    with pytest.raises(WeightsError, match=r"missing: bn1\.running_var\. Use a checkpoint saved from a resnet18 model"):
        load_body_state_dict(model, donor, origin="a donor")
