"""Bad-input corpus (issue 7): every user mistake in the study file, the data or the weights, run through the real
command line (``tunedepth study FILE --out DIR``), ends as exit code 2 and ONE line on stderr that names the
offending parameter or file and says how to fix it, with no traceback and no new run folder.

Each case starts from the toy classification study of ``tests/conftest.py`` (60 synthetic 16-px PNGs in two class
folders, the 4-group "toy4" network and its checkpoint) and breaks one thing; every case is refused before any
training starts.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import build_toy, write_carotid_like, write_kvasir_like
from tests.data.sources._fakes import TEST_FLAG, synthetic_arrays, truncate, write_npz
from tunedepth._io import file_sha256
from tunedepth.cli import main
from tunedepth.data.sources._medmnist_info import MEDMNIST_INFO, MedmnistInfo


@dataclass
class Study:
    """One case's study: the raw study mapping, written as TOML unless ``text`` replaces it, and ``--out``."""

    tmp: Path
    raw: dict[str, Any]
    monkeypatch: pytest.MonkeyPatch
    out: Path
    text: str | None = None

    def write(self) -> Path:
        path = self.tmp / "study.toml"
        path.write_text(self.text if self.text is not None else _toml(self.raw))
        return path


def _toml(raw: dict[str, Any]) -> str:
    """A study mapping as TOML: top-level scalars, then one table per section (JSON literals are valid TOML here)."""
    lines = [f"{k} = {json.dumps(v)}" for k, v in raw.items() if not isinstance(v, dict)]
    for section, table in raw.items():
        if isinstance(table, dict):
            lines += [f"[{section}]", *(f"{k} = {json.dumps(v)}" for k, v in table.items())]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Case:
    """A bad input: ``setup`` breaks the study; stderr must contain ``names`` (the parameter or file; ``{tmp}`` is the
    test's folder) and ``fix`` (how to fix it). ``check`` runs afterwards; ``folder_may_exist``: the error comes
    after the study folder was created (a failed write), so only ``out/runs`` must be free of run folders."""

    id: str
    setup: Callable[[Study], None]
    names: str
    fix: str
    check: Callable[[Study], None] | None = None
    folder_may_exist: bool = False


# --- helpers that break one thing ---------------------------------------------------------------------------------


def _set(dotted: str, value: Any) -> Callable[[Study], None]:
    def setup(s: Study) -> None:
        *parents, key = dotted.split(".")
        node = s.raw
        for p in parents:
            node = node.setdefault(p, {})
        node[key] = value

    return setup


def _delete(dotted: str) -> Callable[[Study], None]:
    def setup(s: Study) -> None:
        *parents, key = dotted.split(".")
        node = s.raw
        for p in parents:
            node = node[p]
        del node[key]

    return setup


def _both(*setups: Callable[[Study], None]) -> Callable[[Study], None]:
    def setup(s: Study) -> None:
        for step in setups:
            step(s)

    return setup


def _text(toml: str) -> Callable[[Study], None]:
    def setup(s: Study) -> None:
        s.text = toml

    return setup


def _medmnist(arrays: dict[str, np.ndarray] | None = None, *, md5: str | None = None,
              keep_file: bool = True) -> Callable[[Study], None]:
    """Data: a synthetic MedMNIST file of the flag 'testmnist', registered with the file's MD5 (or ``md5``)."""

    def setup(s: Study) -> None:
        folder = s.tmp / "medmnist"
        folder.mkdir()
        digest = write_npz(folder / f"{TEST_FLAG}.npz", synthetic_arrays() if arrays is None else arrays)
        if not keep_file:
            (folder / f"{TEST_FLAG}.npz").unlink()
        info = MedmnistInfo(flag=TEST_FLAG, task="binary-class", class_names=("negative", "positive"), n_channels=1,
                            n_samples=(12, 4, 6), md5={28: md5 or digest, 64: "0" * 32, 128: "0" * 32,
                                                       224: "0" * 32}, license="test only")
        s.monkeypatch.setitem(MEDMNIST_INFO, TEST_FLAG, info)
        s.raw["data"] = {"source": "medmnist", "flag": TEST_FLAG, "root": str(folder), "image_size": 16}

    return setup


def _without(arrays: dict[str, np.ndarray], key: str) -> dict[str, np.ndarray]:
    return {k: v for k, v in arrays.items() if k != key}


def _with_label(arrays: dict[str, np.ndarray], split: str, value: int) -> dict[str, np.ndarray]:
    labels = arrays[f"{split}_labels"].copy()
    labels[0] = value
    return {**arrays, f"{split}_labels": labels}


def _replace_image(relative: str, write: Callable[[Path], None]) -> Callable[[Study], None]:
    """Replace one image of the class-folder data set (``images/<class>/<file>``) by what ``write`` puts there."""

    def setup(s: Study) -> None:
        path = Path(s.raw["data"]["path"]) / relative
        for old in path.parent.glob(path.stem + ".*"):
            old.unlink()
        write(path)

    return setup


def _empty_class(*, remove_folder: bool) -> Callable[[Study], None]:
    """Data: the class folder 'lesion' emptied (or removed)."""

    def setup(s: Study) -> None:
        folder = Path(s.raw["data"]["path"]) / "lesion"
        for image in folder.iterdir():
            image.unlink()
        if remove_folder:
            folder.rmdir()

    return setup


def _truncated(fmt: str) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        rng = np.random.default_rng(0)
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(path, format=fmt)
        truncate(path, keep=0.6)

    return write


def _sixteen_bit(path: Path) -> None:
    Image.fromarray(np.full((16, 16), 40000, dtype=np.uint16)).save(path)


def _manifest(rows: list[str], *, header: str = "path,label,patient_id,split") -> Callable[[Study], None]:
    """Data: a CSV manifest over the class-folder images; ``{a<i>}`` / ``{b<i>}`` stand for image i of each class."""

    def setup(s: Study) -> None:
        root = Path(s.raw["data"]["path"])
        images = {c: sorted((root / folder).iterdir()) for c, folder in (("a", "normal"), ("b", "lesion"))}
        names = {f"{c}{i}": str(p) for c, files in images.items() for i, p in enumerate(files)}
        csv = s.tmp / "manifest.csv"
        csv.write_text("\n".join([header, *(row.format(**names) for row in rows)]) + "\n")
        s.raw["data"] = {"source": "csv_manifest", "path": str(csv), "image_size": 16}

    return setup


# Rows "path,label,patient_id,split": patients P0..P5, two images each, every class on every side.
_GOOD_ROWS = [f"{{{c}{2 * p + k}}},{c},P{p}{c},{side}" for c in "ab" for p, side in
              enumerate(["train", "train", "train", "val", "test", "test"]) for k in range(2)]


def _checkpoint(make: Callable[[Path], None]) -> Callable[[Study], None]:
    def setup(s: Study) -> None:
        path = s.tmp / "bad.pt"
        make(path)
        s.raw["model"]["checkpoint"] = str(path)

    return setup


def _wrong_shapes(path: Path) -> None:
    state = build_toy(num_classes=5).net.state_dict()
    state["1.0.weight"] = torch.zeros(8, 5, 3, 3)  # conv2 expects 4 input channels
    torch.save(state, path)


class _Payload:
    """A pickled object that creates a folder when unpickled (the payload of a malicious checkpoint)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (str(self.marker),))


def _pickle_payload(path: Path) -> None:
    marker = path.parent / "payload-ran"
    state: dict[str, Any] = dict(build_toy(num_classes=5).net.state_dict())
    state["3.weight"] = _Payload(marker)
    torch.save(state, path)
    torch.load(path, weights_only=False)  # the payload is real: an unsafe load runs it ...
    assert marker.is_dir()
    marker.rmdir()  # ... and the case checks that the study's load does not


def _payload_did_not_run(s: Study) -> None:
    assert not (s.tmp / "payload-ran").exists()


def _kvasir(bad_mask: bool, task: str) -> Callable[[Study], None]:
    """Data: a 6-frame Kvasir-SEG-like folder whose frame 2 has a mask of another size than its image."""

    def setup(s: Study) -> None:
        root = write_kvasir_like(s.tmp / "kvasir", n=6)
        if bad_mask:
            Image.new("L", (40, 30), 255).save(root / "masks" / "frame002.png")
        s.raw |= {"task": task, "data": {"source": "kvasir_seg", "root": str(root), "image_size": 16}}

    return setup


def _carotid_bad_mask(s: Study) -> None:
    root = write_carotid_like(s.tmp / "carotid", n_sequences=3, per_sequence=2)
    Image.new("L", (30, 32), 255).save(root / "Expert mask images" / "2022SEQ1VAS_slice_000.png")
    s.raw |= {"task": "segmentation", "data": {"source": "carotid", "root": str(root), "image_size": 16}}


def _carotid_in_micrometres(s: Study) -> None:
    root = write_carotid_like(s.tmp / "carotid", n_sequences=3, per_sequence=2)
    s.raw |= {"task": "segmentation", "data": {"source": "carotid", "root": str(root), "image_size": 16},
              "segmentation": {"unit": "um"}}


def _out_below_a_file(s: Study) -> None:
    (s.tmp / "a-file").write_text("not a folder\n")
    s.out = s.tmp / "a-file" / "out"


def _read_only_parent(s: Study) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders; the case below a regular file covers root")
    parent = s.tmp / "locked"
    parent.mkdir()
    parent.chmod(0o500)
    s.out = parent / "out"


def _disk_full(s: Study) -> None:
    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    # Every atomic write (tunedepth._io) ends with an fsync: the first one, study.json, fails as on a full disk.
    s.monkeypatch.setattr(os, "fsync", no_space)


def _no_cuda(s: Study) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA, so execution.device = 'cuda' is valid here")
    s.raw["execution"]["device"] = "cuda"


CASES = [
    # --- the study file ---------------------------------------------------------------------------------------
    Case("unknown-key", _set("training.max_epoch", 1), "'training.max_epoch'", "Did you mean 'max_epochs'?"),
    Case("unknown-table", _set("executon", {"num_threads": 1}), "'executon'", "Did you mean 'execution'?"),
    Case("wrong-type", _set("training.batch_size", "sixteen"), "'training.batch_size'", "valid integer"),
    Case("wrong-type-list", _set("grid.seeds", 0), "'grid.seeds'", "valid tuple"),
    Case("not-toml", _text("name = \n"), "{tmp}/study.toml", "line 1"),
    Case("fraction-0", _set("grid.train_fractions", [0]), "'grid.train_fractions.0'", "greater than 0"),
    Case("fraction-1.5", _set("grid.train_fractions", [1.5]), "'grid.train_fractions.0'", "less than or equal to 1"),
    Case("depth-beyond-architecture", _set("grid.depths", [5]), "'depth'", "int in [1, 4] for 'toy4'"),
    Case("unknown-group", _set("grid.depths", ["conv9"]), "'conv9' in grid.depths", "Did you mean 'conv3'?"),
    Case("unknown-architecture", _set("model.architecture", "toy5"), "'toy5'", "Did you mean 'toy4'?"),
    Case("unknown-weights", _set("model.weights", "imagenet21k"), "'model.weights'", "'imagenet' or 'checkpoint'"),
    Case("weights-not-offered", _both(_set("model.weights", "imagenet"), _delete("model.checkpoint")),
         "'imagenet'", "Available for 'toy4': checkpoint, none"),
    Case("unknown-data-source", _set("data.source", "dicom"), "'data.source'", "csv_manifest, cvc_clinicdb"),
    Case("unknown-task", _set("task", "detecton"), "'task'", "Did you mean 'detection'"),
    Case("unknown-key-in-task-table", _both(_kvasir(False, "detection"), _set("detection.max_candidate", 3)),
         "'detection.max_candidate'", "Did you mean 'max_candidates'"),
    Case("unknown-key-in-mask-data", _both(_kvasir(False, "detection"), _set("data.rooot", "kvasir")),
         "'data.rooot'", "Did you mean 'root'?"),
    Case("unknown-medmnist-flag", _both(_medmnist(), _set("data.flag", "pneumonia")), "'pneumonia'",
         "Did you mean 'pneumoniamnist'?"),
    Case("split-fractions", _both(_set("data.val_fraction", 0.5), _set("data.test_fraction", 0.5)),
         "val_fraction + test_fraction", "must be < 1"),
    Case("task-without-masks", _set("task", "detection"), "task = 'detection'", "'kvasir_seg' or 'cvc_clinicdb'"),
    Case("cuda-unavailable", _no_cuda, "execution.device = 'cuda'", "use 'auto' or 'cpu'"),
    Case("sha256-malformed", _set("model.checkpoint_sha256", "abc123"), "checkpoint_sha256", "64 lower-case hex"),
    Case("sha256-without-checkpoint",
         _both(_set("model.weights", "imagenet"), _delete("model.checkpoint"),
               _set("model.checkpoint_sha256", "0" * 64)),
         "'checkpoint_sha256' is only read", "set weights = 'checkpoint'"),
    # --- the data ---------------------------------------------------------------------------------------------
    Case("missing-data-folder", _set("data.path", "nowhere"), "{tmp}/nowhere", "Point it (data.path"),
    Case("one-class-folder", _empty_class(remove_folder=True), "{tmp}/images", "Put each class's images"),
    Case("empty-class-folder", _empty_class(remove_folder=False), "{tmp}/images/lesion",
         "add images or remove the folder"),
    Case("truncated-png", _replace_image("normal/000.png", _truncated("PNG")), "{tmp}/images/normal/000.png",
         "Replace or remove it"),
    Case("truncated-jpeg", _replace_image("normal/000.jpg", _truncated("JPEG")), "{tmp}/images/normal/000.jpg",
         "Replace or remove it"),
    Case("16-bit-image", _replace_image("lesion/001.png", _sixteen_bit), "{tmp}/images/lesion/001.png",
         "Convert it to 8 bits"),
    Case("npz-missing-file", _medmnist(keep_file=False), "testmnist.npz", "Download"),
    Case("npz-missing-keys", _medmnist(_without(synthetic_arrays(), "test_labels")), "test_labels",
         "Replace it with the official file"),
    Case("npz-md5-mismatch", _medmnist(md5="0" * 32), "{tmp}/medmnist/testmnist.npz",
         "replace it with the official file"),
    Case("npz-labels-out-of-range", _medmnist(_with_label(synthetic_arrays(), "val", 7)), "'val_labels'",
         "Replace it with the official file"),
    Case("detection-mask-size", _kvasir(True, "detection"), "{tmp}/kvasir/masks/frame002.png", "skip_bad_frames"),
    Case("segmentation-mask-size", _kvasir(True, "segmentation"), "{tmp}/kvasir/masks/frame002.png",
         "skip_bad_frames"),
    Case("carotid-mask-size", _carotid_bad_mask, "{tmp}/carotid/Expert mask images/2022SEQ1VAS_slice_000.png",
         "skip_bad_frames"),
    Case("um-without-pixel-spacing", _carotid_in_micrometres, "segmentation.unit = 'um'",
         "set segmentation.pixel_spacing_um"),
    Case("detection-without-root", _both(_kvasir(False, "detection"), _delete("data.root"),
                                         lambda s: s.monkeypatch.delenv("TUNEDEPTH_DATA_DIR", raising=False)),
         "data.root", "set TUNEDEPTH_DATA_DIR"),
    Case("class-absent-from-test", _manifest([r for r in _GOOD_ROWS if not r.endswith(",b,P4b,test")
                                              and not r.endswith(",b,P5b,test")]),
         "test split", "Fix the split or the labels"),
    Case("csv-missing-file", _both(_manifest(_GOOD_ROWS), _set("data.path", "nowhere.csv")), "{tmp}/nowhere.csv",
         "Point it (data.path"),
    Case("csv-missing-columns", _manifest(["{a0},a"] * 3, header="path,diagnosis"), "{tmp}/manifest.csv",
         "Add them to the header"),
    Case("csv-empty-patient-id", _manifest(_GOOD_ROWS[:2] + ["{a2},a,,train"] + _GOOD_ROWS[3:]),
         "'patient_id' is empty at line(s) 4", "fill every cell"),
    Case("csv-patient-on-both-sides", _manifest(_GOOD_ROWS[:11] + ["{a11},a,P0a,test"] + _GOOD_ROWS[12:]),
         "'P0a' (train, test)", "Put all images of a patient in one split"),
    Case("csv-missing-image", _manifest(["gone.png,a,P0,train"] + _GOOD_ROWS[1:]), "{tmp}/gone.png",
         "relative to the CSV's folder"),
    Case("csv-bad-split-value", _manifest(_GOOD_ROWS[:1] + ["{a1},a,P0a,training"] + _GOOD_ROWS[2:]),
         "column 'split'", "Fix those cells"),
    # --- the weights ------------------------------------------------------------------------------------------
    Case("checkpoint-missing", _set("model.checkpoint", "missing.pt"), "{tmp}/missing.pt",
         "torch.save(model.net.state_dict(), path)"),
    Case("checkpoint-not-a-checkpoint", _checkpoint(lambda p: p.write_text("case,label\n1,0\n")), "{tmp}/bad.pt",
         "torch.save(model.net.state_dict(), path)"),
    Case("checkpoint-not-a-state-dict", _checkpoint(lambda p: torch.save([torch.zeros(2)], p)), "{tmp}/bad.pt",
         "torch.save(model.net.state_dict(), path)"),
    Case("checkpoint-wrong-shapes", _checkpoint(_wrong_shapes), "{tmp}/bad.pt", "saved from a toy4 model"),
    Case("checkpoint-pickle-payload", _checkpoint(_pickle_payload), "{tmp}/bad.pt",
         "torch.save(model.net.state_dict(), path)", check=_payload_did_not_run),
    Case("checkpoint-sha256-mismatch", _set("model.checkpoint_sha256", "0" * 64), "{tmp}/toy.pt",
         "Point model.checkpoint at the right file"),
    # --- the output folder ------------------------------------------------------------------------------------
    Case("out-below-a-file", _out_below_a_file, "{tmp}/a-file/out", "choose another --out"),
    Case("out-read-only", _read_only_parent, "{tmp}/locked/out", "choose another --out"),
    Case("disk-full", _disk_full, "{tmp}/out", "free", folder_may_exist=True),
]


@pytest.fixture
def study(study_raw: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Study:
    raw = {**study_raw, "grid": {"regimes": ["scratch", "finetune"], "depths": [1], "train_fractions": [1.0],
                                 "seeds": [0]},
           "training": {**study_raw["training"], "max_epochs": 1}}
    monkeypatch.chdir(tmp_path)  # relative paths in a case resolve against the study file's folder, tmp_path
    return Study(tmp_path, raw, monkeypatch, tmp_path / "out")


def test_the_corpus_is_large_and_distinct() -> None:
    assert len(CASES) >= 28
    assert len({c.id for c in CASES}) == len(CASES)


def test_the_unbroken_study_passes_every_check(study: Study) -> None:
    """The cases' starting point is valid: each case breaks exactly what it names."""
    from tunedepth.config import load_study
    from tunedepth.study import prepare_study

    prepared = prepare_study(load_study(study.write()), study.out)
    assert len(prepared.runs) == 2 and not study.out.exists()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_exits_2_with_one_line(case: Case, study: Study, capsys: pytest.CaptureFixture[str]) -> None:
    case.setup(study)
    path = study.write()
    code = main(["study", str(path), "--out", str(study.out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("error: ") and len(err) > len("error: \n"), err
    assert "Traceback" not in err
    assert case.names.format(tmp=study.tmp) in err, err
    assert case.fix in err, err
    if case.folder_may_exist:
        runs = study.out / "runs"
        assert not runs.exists() or not any(runs.iterdir())
    else:
        assert not study.out.exists()
    if case.check is not None:
        case.check(study)


def test_checkpoint_sha256_match_passes_and_is_not_hashed_into_run_ids(study: Study, toy_checkpoint: Path) -> None:
    """A declared checkpoint_sha256 that matches lets the study through, with the same run ids as without it: run ids
    hash the file's actual sha256, which the declaration only confirms."""
    from tunedepth.config import load_study
    from tunedepth.study import prepare_study

    plain = prepare_study(load_study(study.write()), study.out)
    study.raw["model"]["checkpoint_sha256"] = file_sha256(toy_checkpoint)
    declared = prepare_study(load_study(study.write()), study.out)
    assert declared.run_ids == plain.run_ids
    assert declared.weights is not None and declared.weights.sha256 == file_sha256(toy_checkpoint)
