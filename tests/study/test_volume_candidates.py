"""task = "volume_candidates": the generated-CTA study end to end (volumes -> candidates -> vessel-aligned patches ->
runs -> FROC per volume), the patches' geometry, rotations fixed per seed, test-time averaging, FROC per volume on a
hand-made table, bad input through the command line, and VesselMNIST3D on real data."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from tunedepth.analysis import analyze_study
from tunedepth.analysis.tasks import volume_hits
from tunedepth.cli import main
from tunedepth.config import parse_study
from tunedepth.data.crops import average_over_crops
from tunedepth.data.volumes import cross_section, estimate_vessel_axis, longitudinal_section, tube_phantom
from tunedepth.data.volumes.cases import candidate_patches, patch_views
from tunedepth.evaluation import candidate_hits_from_table, roc_auc_score, sensitivity_at_fps
from tunedepth.report import write_report
from tunedepth.results import load_finished_study
from tunedepth.study import run_study
from tunedepth.study.tasks import prepare_volumes


@pytest.fixture
def volumes_raw(toy_checkpoint: Path) -> dict[str, Any]:
    """Generated volumes of 32^3 voxels (1 mm), 3 vessels of contrast 400 over noise of SD 60 (SNR 6.7), 0-2 emboli
    of value 60 each, 6 false candidates per volume; toy network on 16-px patches 12 mm wide."""
    return copy.deepcopy({
        "name": "toy-volumes",
        "task": "volume_candidates",
        "data": {"source": "generated_cta", "image_size": 16, "n_volumes": [40, 12, 12], "shape": [32, 32, 32],
                 "negatives_per_volume": 6},
        "model": {"architecture": "toy4", "weights": "checkpoint", "checkpoint": str(toy_checkpoint)},
        "grid": {"regimes": ["scratch", "finetune"], "depths": [4], "train_fractions": [1.0, 0.5], "seeds": [0]},
        "volume_candidates": {"widths": [12.0], "train_angles": 4, "test_angles": 2, "vessel_sigma": 1.5},
        "training": {"lr": 0.05, "batch_size": 16, "max_epochs": 15, "patience": 15, "epoch_images": 512},
        "analysis": {"n_boot": 200, "fps_targets": [0.5, 1.0, 2.0]},
        "execution": {"num_threads": 1},
    })


def test_generated_volume_study_end_to_end(volumes_raw: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "out"
    summary = run_study(parse_study(volumes_raw, base_dir=tmp_path), out)
    results = summary.results
    assert summary.n_executed == 4
    full = results[results["train_fraction"] == 1.0]
    # the stated contrast and noise: every regime at 100% separates emboli from false candidates
    assert (full["test_auc"] >= 0.90).all(), full[["label", "test_auc"]]
    assert (full["test_sensitivity_at_1_fpv"] >= 0.80).all(), full[["label", "test_sensitivity_at_1_fpv"]]
    study = load_finished_study(out)
    volumes = json.loads((out / "volume_candidates" / "summary.json").read_text())
    assert volumes["test"]["volumes"] == 12 and volumes["unit"] == "mm"
    assert (results["n_test_volumes"] == 12).all()
    # the stored FROC points are recomputed from the study folder's tables (cases = candidates, unit = volume)
    for run in study.runs:
        hits = volume_hits(study, "test", run.test_scores[:, 1])
        assert hits.n_frames == 12
        expected = sensitivity_at_fps(hits, fps_targets=(0.5, 1.0, 2.0))
        row = results[results["run_id"] == run.run_id]
        np.testing.assert_allclose([row[f"test_sensitivity_at_{t:g}_fpv"].item() for t in (0.5, 1, 2)], expected)
    analysis = analyze_study(out)
    froc = analysis.task_tables["froc_per_volume"]
    assert len(froc) == 4 * 3 and "fps_per_volume" in froc and (out / "froc_per_volume.csv").is_file()
    html = write_report(out, analysis=analysis).read_text()
    assert "Volumes: sensitivity at false positives per volume" in html and "false positives per volume" in html


def test_test_time_views_are_averaged_and_training_rotations_fixed_per_seed(volumes_raw: dict[str, Any],
                                                                            tmp_path: Path) -> None:
    raw = copy.deepcopy(volumes_raw)
    raw["volume_candidates"] |= {"views": "both", "widths": [10.0, 14.0], "test_angles": 3}
    data, task = prepare_volumes(parse_study(raw, base_dir=tmp_path))
    n_test = len(task.cases["test"])
    assert task.n_eval_views == 2 * 2 * 3 and len(data.test) == 12 * n_test
    # orthogonal views use the z axis for every candidate; vessel-aligned ones find tubes for some
    assert np.all(task.axes["test"][1].axes == [1.0, 0.0, 0.0]) and not task.axes["test"][1].tubular.any()
    assert task.axes["test"][0].tubular.any()
    # a candidate's score is the mean of its views' probabilities (view-major rows)
    z = np.random.default_rng(0).normal(0, 2, size=(12 * n_test, 2))
    p = 1 / (1 + np.exp(-task.case_log_odds(z)))
    np.testing.assert_allclose(p, (1 / (1 + np.exp(-z))).reshape(12, n_test, 2).mean(axis=0))
    np.testing.assert_allclose(task.case_log_odds(z), average_over_crops(z, n_test, 12))
    views = task.train_views(data, seed=1)
    assert views.shape == (2 * 2 * 4 * len(data.train), 3, 16, 16)
    assert torch.equal(views, task.train_views(data, seed=1))
    assert not torch.equal(views, task.train_views(data, seed=2))


def test_cross_section_of_a_straight_tube_is_a_disc_and_longitudinal_sections_are_bands() -> None:
    tube = tube_phantom((41, 41, 41), spacing=(1.0, 1.0, 1.0), direction=(1.0, 2.0, -1.5), radius=4.0,
                        contrast=1.0, noise_sd=0.0, seed=0)
    centre = np.array([20.0, 20.0, 20.0])
    axis = estimate_vessel_axis(tube.volume, (1, 1, 1), tuple(centre), sigma=2.0)
    assert axis.is_tubular
    patch = candidate_patches(tube.volume, (1, 1, 1), centre, axis.axis, patch_views((20.0,), (30.0,)), size=21,
                              window=(0.0, 1.0))[0].astype(float) / 255
    yy, xx = np.mgrid[:21, :21] - 10
    disc = np.hypot(yy, xx) <= 3
    ring = (np.hypot(yy, xx) >= 6) & (np.hypot(yy, xx) <= 9)
    assert patch[0][disc].min() > 0.9 and patch[0][ring].max() < 0.1  # across: a disc of radius 4 mm (4 px)
    for band in patch[1:]:  # along: rows run along the axis, a band of 8 columns
        assert band[:, 8:13].min() > 0.9 and band[:, :4].max() < 0.1 and band[:, 17:].max() < 0.1
        np.testing.assert_allclose(band.std(axis=0), 0.0, atol=0.02)  # the same along the axis


def test_thin_patches_are_the_geometry_sections_and_a_slab_takes_the_maximum_across_it() -> None:
    rng = np.random.default_rng(0)
    volume = rng.normal(size=(20, 22, 24))
    centre, axis = np.array([9.5, 10.0, 11.2]), np.array([0.6, 0.0, 0.8])
    thin = candidate_patches(volume, (1.2, 1.0, 0.8), centre, axis, [(9.0, 25.0)], size=9, window=(-3.0, 3.0))
    expected = [cross_section(volume, (1.2, 1.0, 0.8), tuple(centre), axis, size=9, step=1.0, angle_deg=25.0),
                longitudinal_section(volume, (1.2, 1.0, 0.8), tuple(centre), axis, size=9, step=1.0, angle_deg=25.0),
                longitudinal_section(volume, (1.2, 1.0, 0.8), tuple(centre), axis, size=9, step=1.0, angle_deg=115.0)]
    for got, want in zip(thin[0], expected, strict=True):
        np.testing.assert_array_equal(got, np.clip(np.rint((want + 3) * 255 / 6), 0, 255).astype(np.uint8))
    # a bright dot 3 voxels off the axial plane: absent from the thin cross-section, present in a 7-voxel slab
    dots = np.zeros((15, 15, 15))
    dots[10, 7, 9] = 1.0
    z = np.array([1.0, 0.0, 0.0])
    assert candidate_patches(dots, (1, 1, 1), np.array([7.0, 7, 7]), z, [(15.0, 0.0)], size=15,
                             window=(0.0, 1.0))[0, 0].max() == 0
    slab = candidate_patches(dots, (1, 1, 1), np.array([7.0, 7, 7]), z, [(15.0, 0.0)], size=15, window=(0.0, 1.0),
                             slab=7.0)
    assert slab[0, 0].max() == 255 and int(slab[0, 0].argmax()) == 7 * 15 + 9


def test_froc_per_volume_on_a_hand_made_table() -> None:
    # volume 0: lesion 1 hit by .9 and .4, false candidates .8 and .3; volume 1: none, false .7; volume 2: lesion
    # 1 missed by the generator (no candidate), false .2
    hits = candidate_hits_from_table([0, 0, 0, 0, 1, 2], [1, 1, 0, 0, 0, 0], [0.9, 0.4, 0.8, 0.3, 0.7, 0.2], [1, 0, 1])
    # thresholds: > .9 nothing; at .9 one lesion of 2 with 0 FP; .8 and .7 add FPs (2 FP over 3 volumes = 0.67/vol)
    np.testing.assert_allclose(sensitivity_at_fps(hits, fps_targets=(0.1, 1.0)), [0.5, 0.5])
    assert hits.n_frames == 3  # volumes without lesions count in the FP rate


def _write_npz_volumes(root: Path, flag: str, n: int = 6) -> Path:
    """A MedMNIST-3D-like file of n volumes per split (16^3 voxels, a bright rod; labels alternate)."""
    root.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split in ("train", "val", "test"):
        images = np.zeros((n, 16, 16, 16), dtype=np.uint8)
        images[:, :, 7:9, 7:9] = 255
        arrays[f"{split}_images"] = images
        arrays[f"{split}_labels"] = (np.arange(n) % 2).reshape(-1, 1).astype(np.uint8)
    np.savez(root / f"{flag}.npz", **arrays)
    return root


def test_mm_without_a_spacing_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _write_npz_volumes(tmp_path / "medmnist", "synapsemnist3d")
    study = tmp_path / "study.toml"
    study.write_text('name = "v"\ntask = "volume_candidates"\n[data]\nsource = "medmnist3d"\nflag = "synapsemnist3d"\n'
                     f'image_size = 16\nroot = "{root}"\n[model]\narchitecture = "efficientnet_lite0"\n'
                     '[grid]\nregimes = ["scratch"]\ntrain_fractions = [1.0]\nseeds = [0]\n'
                     '[volume_candidates]\nunit = "mm"\nwidths = [12.0]\n')
    code = main(["study", str(study), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "mm" in err and "spacing" in err
    assert not (tmp_path / "out").exists()


def test_mm_on_volumes_without_spacing_names_the_fix(tmp_path: Path) -> None:
    from tunedepth.data.volumes.cases import VolumeCases
    from tunedepth.errors import ConfigError
    from tunedepth.study.tasks.volume_candidates import _unit

    cases = {"train": VolumeCases([np.zeros((4, 4, 4))], (None,), ("a",), np.zeros(1, np.int64), np.ones((1, 3)),
                                  np.zeros(1, np.int64), np.zeros(1, np.int64), np.zeros(1, np.int64))}
    assert _unit(cases, "auto") == "voxel"
    with pytest.raises(ConfigError, match="spacing") as info:
        _unit(cases, "mm")
    assert "\n" not in str(info.value)


@pytest.mark.slow
def test_real_vesselmnist3d_study_runs(data_dir: Path, tmp_path: Path) -> None:
    """VesselMNIST3D (28^3, official split), EfficientNet-Lite0 on 32-px vessel-aligned patches, 10% of the training
    volumes, one epoch: the study file through run, analysis and report."""
    raw = {
        "name": "vessel-integration", "task": "volume_candidates",
        "data": {"source": "medmnist3d", "flag": "vesselmnist3d", "size": 28, "image_size": 32},
        "model": {"architecture": "efficientnet_lite0", "weights": "imagenet"},
        "grid": {"regimes": ["scratch", "finetune"], "depths": [1], "train_fractions": [0.1], "seeds": [0]},
        "volume_candidates": {"widths": [24.0], "train_angles": 2, "test_angles": 1, "vessel_sigma": 2.0},
        "training": {"lr": 0.003, "batch_size": 64, "max_epochs": 1, "patience": 1},
        "execution": {"num_threads": 2},
    }
    out = tmp_path / "out"
    results = run_study(parse_study(raw, base_dir=tmp_path), out).results
    assert set(results["n_test"]) == {382} and set(results["n_train"]) == {134}
    study = load_finished_study(out)
    assert roc_auc_score(study.test_labels, study.runs[0].test_scores) == pytest.approx(study.runs[0].test_auc)
    write_report(out)


def _write_nifti_table(root: Path, n: int = 16) -> tuple[Path, Path]:
    """n generated volumes (24^3 voxels of 1.5 x 1 x 1 mm) as NIfTI files, and their candidates as a CSV in voxel
    coordinates with a lesion column."""
    import nibabel as nib

    from tunedepth.data.volumes.generated import generated_candidates, generated_cta_volume

    folder = root / "volumes"
    folder.mkdir(parents=True)
    rows = ["volume_id,z,y,x,label,lesion"]
    for i in range(n):
        v = generated_cta_volume(100 + i, shape=(24, 24, 24), spacing=(1.5, 1.0, 1.0), max_emboli=1)
        image = nib.Nifti1Image(np.ascontiguousarray(v.volume.transpose(2, 1, 0)), np.diag([1.0, 1.0, 1.5, 1.0]))
        nib.save(image, folder / f"ct{i:02d}.nii.gz")
        centers, lesion = generated_candidates(v, n_negatives=4, seed=i)
        rows += [f"ct{i:02d},{c[0]:.2f},{c[1]:.2f},{c[2]:.2f},{int(k > 0)},{k if k else ''}"
                 for c, k in zip(centers, lesion, strict=True)]
    table = root / "candidates.csv"
    table.write_text("\n".join(rows) + "\n")
    return folder, table


def nifti_table_study(checkpoint: Path) -> dict[str, Any]:
    """A volume-table study of :func:`_write_nifti_table`'s volumes and table (relative to the study's folder)."""
    return {"name": "nifti-volumes", "task": "volume_candidates",
            "data": {"source": "volume_table", "volumes": "volumes", "candidates": "candidates.csv",
                     "image_size": 16, "val_fraction": 0.25, "test_fraction": 0.25},
            "model": {"architecture": "toy4", "weights": "checkpoint", "checkpoint": str(checkpoint)},
            "grid": {"regimes": ["finetune"], "depths": [4], "train_fractions": [1.0], "seeds": [0]},
            "volume_candidates": {"widths": [10.0], "train_angles": 2, "test_angles": 1},
            "training": {"lr": 0.05, "batch_size": 16, "max_epochs": 2},
            "execution": {"num_threads": 1}}


def test_volume_table_study_from_nifti_files(tmp_path: Path, toy_checkpoint: Path) -> None:
    folder, table = _write_nifti_table(tmp_path)
    raw = nifti_table_study(toy_checkpoint)
    out = tmp_path / "out"
    results = run_study(parse_study(raw, base_dir=tmp_path), out).results  # relative paths: against the study file
    summary = json.loads((out / "volume_candidates" / "summary.json").read_text())
    assert summary["unit"] == "mm"  # NIfTI volumes carry their spacing
    sizes = [summary[s]["volumes"] for s in ("train", "val", "test")]
    assert sum(sizes) == 16 and sizes[0] == 8 and min(sizes) >= 3  # by volume, stratified by "holds a lesion"
    volumes = __import__("pandas").read_csv(out / "volume_candidates" / "volumes.csv")
    assert volumes.groupby("volume_id")["split"].nunique().max() == 1  # no volume on two sides
    assert int(results["n_test_volumes"].item()) == sizes[2]


def _refused_volume_table_study(tmp_path: Path, toy_checkpoint: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Run `tunedepth study` on a volume-table study of tmp_path's volumes/ and candidates.csv; assert it is refused
    in one line with exit code 2; return that line."""
    study = tmp_path / "study.toml"
    study.write_text('name = "v"\ntask = "volume_candidates"\n[data]\nsource = "volume_table"\nvolumes = "volumes"\n'
                     'candidates = "candidates.csv"\nimage_size = 16\n[model]\narchitecture = "toy4"\n'
                     f'weights = "checkpoint"\ncheckpoint = "{toy_checkpoint}"\n'
                     '[grid]\nregimes = ["scratch"]\ndepths = [1]\ntrain_fractions = [1.0]\nseeds = [0]\n')
    code = main(["study", str(study), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    return err


def test_a_candidate_outside_its_volume_is_refused_in_one_line(tmp_path: Path, toy_checkpoint: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    folder, table = _write_nifti_table(tmp_path, n=4)
    table.write_text(table.read_text() + "ct01,30.0,5.0,5.0,0,\n")
    err = _refused_volume_table_study(tmp_path, toy_checkpoint, capsys)
    assert "candidates.csv" in err and "row" in err and "outside" in err
    assert not (tmp_path / "out").exists()


def test_an_unreadable_dicom_series_is_refused_in_one_line(tmp_path: Path, toy_checkpoint: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from tests.data.test_volume_readers import _series

    _series(tmp_path / "volumes" / "ct00")
    damaged = tmp_path / "volumes" / "ct00" / "IM0003.dcm"
    damaged.write_bytes(damaged.read_bytes()[:200])  # a truncated DICOM file
    (tmp_path / "candidates.csv").write_text("volume_id,z,y,x,label\nct00,2,1,1,1\nct00,1,1,2,0\n")
    err = _refused_volume_table_study(tmp_path, toy_checkpoint, capsys)
    assert "IM0003.dcm" in err
    assert not (tmp_path / "out").exists()
