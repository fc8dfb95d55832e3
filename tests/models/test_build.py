"""Tests of tunedepth/models/build.py: build_model and resolve_weights end to end."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import skimage.data
import torch
import torchvision

from tunedepth._io import file_sha256
from tunedepth.errors import ConfigError, WeightsError
from tunedepth.models import GroupedModel, ResolvedWeights, build_model, resolve_weights
from tunedepth.models.architectures import get_architecture
from tunedepth.models.loading import pair_in_order, read_state_dict

# ImageNet-1k classes 281-285: tabby, tiger cat, Persian cat, Siamese cat, Egyptian cat.
CAT_CLASSES = range(281, 286)


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch home and no network, whatever this machine can reach."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


def _body(model: GroupedModel) -> dict[str, torch.Tensor]:
    return {k: v for k, v in model.net.state_dict().items() if not model.head.owns(k)}


def test_efficientnet_imagenet_weights_classify_a_cat() -> None:
    """The in-order pairing produced a network that behaves as the source: it sees a cat.

    build_model always gives a new head, so the file's own 1000-way classifier is put
    back here (paired by the same function) to compare with the source network's output.
    """
    model = build_model("efficientnet_lite0", num_classes=1000, weights="imagenet").eval()
    resolved = resolve_weights("efficientnet_lite0", weights="imagenet")
    assert resolved.path is not None and resolved.source is not None
    paired = pair_in_order(read_state_dict(resolved.path), model, source=resolved.source)
    model.net.classifier.load_state_dict(
        {"weight": paired["classifier.weight"], "bias": paired["classifier.bias"]}
    )
    image = torch.from_numpy(skimage.data.chelsea()).permute(2, 0, 1).float()[None] / 255
    assert tuple(image.shape) == (1, 3, 300, 451)
    image = torch.nn.functional.interpolate(image, size=(224, 224), mode="bilinear", antialias=True)
    mean = torch.tensor(model.mean).view(1, 3, 1, 1)
    std = torch.tensor(model.std).view(1, 3, 1, 1)
    with torch.no_grad():
        probabilities = model((image - mean) / std).softmax(dim=1)[0]
    top3 = probabilities.topk(3).indices.tolist()
    assert top3[0] == 285  # Egyptian cat
    assert set(top3) <= set(CAT_CLASSES)
    assert float(probabilities[list(CAT_CLASSES)].sum()) > 0.9


def test_efficientnet_imagenet_model_records_its_weights() -> None:
    torch.manual_seed(0)
    model = build_model("efficientnet_lite0", num_classes=2, weights="imagenet")
    assert model.weights == "imagenet"
    assert (
        model.weights_sha256
        == get_architecture("efficientnet_lite0").get_weight_source("imagenet").sha256
    )
    assert (model.mean, model.std) == ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    assert tuple(model.net.classifier.weight.shape) == (2, 1280)
    # The head is the architecture's own init, not the file's rows: timm's init is
    # uniform in +-1/sqrt(fan_out), and a fresh seed-0 build has exactly these values.
    torch.manual_seed(0)
    fresh = get_architecture("efficientnet_lite0").build(num_classes=2)
    assert torch.equal(model.net.classifier.weight, fresh.net.classifier.weight)
    assert not torch.equal(model.net.conv_stem.weight, fresh.net.conv_stem.weight)


def test_torchvision_weights_load_from_the_hub_cache(torch_home: Path) -> None:
    torch.manual_seed(1)
    imagenet_like = torchvision.models.resnet18(weights=None, num_classes=1000)
    cached = torch_home / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    cached.parent.mkdir(parents=True)
    torch.save(imagenet_like.state_dict(), cached)

    model = build_model("resnet18", num_classes=2, weights="imagenet")

    saved = imagenet_like.state_dict()
    body = _body(model)
    assert len(body) == len(saved) - 2  # everything but fc.weight and fc.bias
    assert [k for k, v in body.items() if not torch.equal(v, saved[k])] == []
    assert tuple(model.net.fc.weight.shape) == (2, 512)
    assert tuple(model.net.fc.bias.shape) == (2,)
    assert model.weights == "imagenet"
    assert model.weights_sha256 == file_sha256(cached)
    assert model.group_names == ("stem", "layer1", "layer2", "layer3", "layer4", "fc")


def test_torchvision_weights_missing_offline_raise_quickly(torch_home: Path) -> None:
    expected = torch_home / "hub" / "checkpoints" / "resnet50-0676ba61.pth"
    start = time.monotonic()
    with pytest.raises(
        WeightsError,
        match=rf"^Weight file resnet50-0676ba61\.pth for resnet50/imagenet is not in the torch "
        rf"hub cache at {expected} and cannot be downloaded \(no network: .*\)\. On a machine "
        r"with internet, download https://download\.pytorch\.org/models/resnet50-0676ba61\.pth "
        rf"and copy it to {expected} ",
    ) as info:
        build_model("resnet50", num_classes=2, weights="imagenet")
    assert time.monotonic() - start < 2.0
    assert "\n" not in str(info.value)


def test_resolve_weights_checks_without_building(
    torch_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_build(num_classes: int) -> None:
        raise AssertionError("resolve_weights must not build the model")

    monkeypatch.setattr(torchvision.models, "alexnet", no_build)
    with pytest.raises(WeightsError, match=r"alexnet-owt-7be5be79\.pth"):
        resolve_weights("alexnet", weights="imagenet")
    lite0 = resolve_weights("efficientnet_lite0", weights="imagenet")
    assert lite0.name == "imagenet"
    assert lite0.sha256 == "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
    assert lite0.path is not None and lite0.path.name == "efficientnet-lite0-57934424.pth"
    assert resolve_weights("alexnet", weights="none") == ResolvedWeights("none", None, None)


def test_scratch_is_the_architectures_own_random_init() -> None:
    torch.manual_seed(3)
    model = build_model("resnet18", num_classes=4, weights="none")
    torch.manual_seed(3)
    reference = torchvision.models.resnet18(weights=None, num_classes=4)
    assert all(torch.equal(v, reference.state_dict()[k]) for k, v in model.net.state_dict().items())
    assert (model.weights, model.weights_sha256) == ("none", None)


@pytest.mark.parametrize("architecture", ["efficientnet_lite0", "alexnet", "resnet18"])
def test_a_zero_head_starts_every_class_at_equal_probability(architecture: str) -> None:
    """head_init="zero" zeroes the output layer only; the body is what the same seed gives without it."""
    torch.manual_seed(0)
    plain = build_model(architecture, num_classes=3, weights="none")
    torch.manual_seed(0)
    zero = build_model(architecture, num_classes=3, weights="none", head_init="zero")
    assert _body(zero).keys() == _body(plain).keys()
    assert all(torch.equal(v, _body(plain)[k]) for k, v in _body(zero).items())
    zero.eval()
    with torch.no_grad():
        logits = zero(torch.rand(2, 3, 64, 64))
    assert torch.equal(logits, torch.zeros(2, 3))


def test_the_efficientnet_head_of_its_own_init_starts_far_from_chance() -> None:
    """Why head_init exists: timm's EfficientNet init draws a 2-class head from U(-0.71, 0.71), so pretrained
    features give first logits of many units (initial loss far above log 2)."""
    torch.manual_seed(0)
    model = build_model("efficientnet_lite0", num_classes=2, weights="imagenet").eval()
    with torch.no_grad():
        logits = model(torch.rand(8, 3, 64, 64))
    assert (logits[:, 0] - logits[:, 1]).abs().mean() > 2.0


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(2)
    trained = build_model("resnet18", num_classes=3, weights="none")
    path = tmp_path / "trained.pt"
    torch.save(trained.net.state_dict(), path)

    restored = build_model("resnet18", num_classes=5, weights="checkpoint", checkpoint_path=path)

    saved = trained.net.state_dict()
    assert [k for k, v in _body(restored).items() if not torch.equal(v, saved[k])] == []
    assert len(_body(restored)) == len(saved) - 2
    assert tuple(restored.net.fc.weight.shape) == (
        5,
        512,
    )  # head new; the file's 3-way head ignored
    assert (restored.weights, restored.weights_sha256) == ("checkpoint", file_sha256(path))


def test_checkpoint_sha256_is_checked_when_declared(tmp_path: Path) -> None:
    path = tmp_path / "ck.pt"
    torch.save(_resnet18_state(), path)
    actual = file_sha256(path)
    model = build_model("resnet18", num_classes=2, weights="checkpoint", checkpoint_path=path,
                        checkpoint_sha256=actual)
    assert model.weights_sha256 == actual
    wrong = "f" * 64
    with pytest.raises(
        WeightsError,
        match=rf"^Checkpoint file {path} has sha256 {actual} but model\.checkpoint_sha256 expects {wrong}: .* Point "
        r"model\.checkpoint at the right file, or set model\.checkpoint_sha256 to the new sha256 if you replaced it on "
        r"purpose\.$",
    ):
        build_model("resnet18", num_classes=2, weights="checkpoint", checkpoint_path=path, checkpoint_sha256=wrong)
    with pytest.raises(WeightsError, match=rf"has sha256 {actual} but"):
        resolve_weights("resnet18", weights="checkpoint", checkpoint_path=path, checkpoint_sha256=wrong)


def _saved(tmp_path: Path, state: dict[str, torch.Tensor]) -> Path:
    path = tmp_path / "ck.pt"
    torch.save(state, path)
    return path


def _resnet18_state() -> dict[str, torch.Tensor]:
    return dict(torchvision.models.resnet18(weights=None, num_classes=2).state_dict())


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(
            lambda s: s.update({"conv1.weight": torch.zeros(64, 1, 7, 7)}),
            r"shape mismatches: conv1\.weight \(64, 1, 7, 7\) in file "
            r"vs \(64, 3, 7, 7\) in model\.",
            id="wrong-shape",
        ),
        pytest.param(
            lambda s: s.pop("layer4.1.conv2.weight"),
            r"missing: layer4\.1\.conv2\.weight\.",
            id="missing-tensor",
        ),
        pytest.param(
            lambda s: s.update({"layer5.weight": torch.zeros(1)}),
            r"unexpected: layer5\.weight\.",
            id="unexpected-tensor",
        ),
    ],
)
def test_checkpoint_that_does_not_fit_is_refused(
    tmp_path: Path, edit: object, message: str
) -> None:
    state = _resnet18_state()
    edit(state)  # type: ignore[operator]
    path = _saved(tmp_path, state)
    with pytest.raises(
        WeightsError,
        match=rf"^The tensors of checkpoint {path} do not fit the resnet18 groups stem-layer4 "
        rf"\(head 'fc' ignored\): {message} Use a checkpoint saved from a resnet18 model with "
        r"torch\.save\(model\.net\.state_dict\(\), path\)\.$",
    ):
        build_model("resnet18", num_classes=2, weights="checkpoint", checkpoint_path=path)


def test_checkpoint_of_a_bigger_architecture_lists_the_problems(tmp_path: Path) -> None:
    path = _saved(tmp_path, dict(torchvision.models.resnet50(weights=None).state_dict()))
    with pytest.raises(
        WeightsError,
        match=r"\(head 'fc' ignored\): unexpected: layer1\.0\.conv3\.weight, .* \(and 190 more\); "
        r"shape mismatches: layer1\.0\.conv1\.weight \(64, 64, 1, 1\) in file vs \(64, 64, 3, 3\) "
        r"in model, .* \(and 15 more\)\. Use a checkpoint saved from a resnet18 model",
    ):
        build_model("resnet18", num_classes=2, weights="checkpoint", checkpoint_path=path)


def test_grouped_model_state_dict_gets_a_hint(tmp_path: Path) -> None:
    model = build_model("resnet18", num_classes=2, weights="none")
    path = _saved(tmp_path, model.state_dict())
    with pytest.raises(
        WeightsError,
        match=r"Its names start with 'net\.' \(a GroupedModel's state dict\); save "
        r"model\.net\.state_dict\(\) instead\.$",
    ):
        build_model("resnet18", num_classes=2, weights="checkpoint", checkpoint_path=path)


def test_pickle_payload_checkpoint_is_refused(tmp_path: Path) -> None:
    path = _saved(tmp_path, {"conv1.weight": torch.zeros(1), "meta": object()})  # type: ignore[dict-item]
    with pytest.raises(
        WeightsError, match=rf"^Weight file {path} is not a readable PyTorch state dict"
    ):
        build_model("resnet18", num_classes=2, weights="checkpoint", checkpoint_path=path)


def test_non_checkpoint_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("case,label\n1,0\n")
    with pytest.raises(
        WeightsError, match=rf"^Weight file {path} is not a readable PyTorch state dict"
    ):
        build_model("alexnet", num_classes=2, weights="checkpoint", checkpoint_path=path)


def test_missing_checkpoint_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.pt"
    with pytest.raises(
        WeightsError,
        match=rf"^Checkpoint file {path} does not exist; pass the path of a state dict saved with "
        r"torch\.save\(model\.net\.state_dict\(\), path\) from a 'resnet18' model\.$",
    ):
        build_model("resnet18", num_classes=2, weights="checkpoint", checkpoint_path=path)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"architecture": "alexnett", "weights": "none"},
            r"^Unknown architecture 'alexnett'\. Did you mean 'alexnet'\? Available: alexnet, "
            r"efficientnet_lite0, resnet18, resnet50(, toy4)?\.$",
            id="unknown-architecture",
        ),
        pytest.param(
            {"architecture": "alexnet", "weights": "imagenet1k"},
            r"^Unknown weight source 'imagenet1k'\. Did you mean 'imagenet'\? Available: "
            r"checkpoint, imagenet, none\.$",
            id="unknown-weights",
        ),
        pytest.param(
            {"architecture": "alexnet", "weights": "checkpoint"},
            r"'checkpoint_path' parameter of resolve_weights is required with weights='checkpoint'",
            id="checkpoint-without-path",
        ),
        pytest.param(
            {"architecture": "alexnet", "weights": "none", "checkpoint_path": Path("x.pt")},
            r"'checkpoint_path' parameter of resolve_weights is only used with "
            r"weights='checkpoint'; got 'x\.pt' with weights='none'",
            id="path-without-checkpoint",
        ),
        pytest.param(
            {"architecture": "alexnet", "weights": "none", "checkpoint_sha256": "0" * 64},
            r"'checkpoint_sha256' parameter of resolve_weights is only used with "
            r"weights='checkpoint'; got '0{64}' with weights='none'",
            id="sha256-without-checkpoint",
        ),
        pytest.param(
            {"architecture": "alexnet", "weights": "none", "head_init": "xavier"},
            r"'head_init' parameter of build_model must be one of \['architecture', 'zero'\]; got 'xavier' instead\.",
            id="unknown-head-init",
        ),
        pytest.param(
            {"architecture": "alexnet", "weights": "none", "num_classes": 0},
            r"'num_classes' parameter of alexnet\.build must be an int >= 1; got 0 instead\.",
            id="zero-classes",
        ),
    ],
)
def test_bad_arguments_raise_config_errors(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"num_classes": 2, **kwargs}
    with pytest.raises(ConfigError, match=message):
        build_model(**arguments)  # type: ignore[arg-type]
