"""tunedepth.data.volumes.readers and candidate_table: NIfTI, DICOM series, npz and candidate tables (issue 16, part 2).

Every file is written here with nibabel or pydicom, tiny and synthetic; the one real-data test reads
$TUNEDEPTH_DATA_DIR/medmnist/vesselmnist3d.npz and skips without it.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from nibabel.affines import apply_affine
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from tunedepth.data.volumes import (
    CandidateTable,
    Volume,
    read_candidate_table,
    read_dicom_series,
    read_nifti,
    read_npz_volumes,
    read_volume,
    resolve_unit,
)
from tunedepth.errors import ConfigError, DataError

LPS_FROM_RAS = np.array([-1.0, -1.0, 1.0])


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


# --- NIfTI ----------------------------------------------------------------------------------------------------------

def _ras_affine() -> np.ndarray:
    """Zooms (0.7, 0.8, 2.5) in x, y, z, rotated 30 degrees about z, origin (10, -20, 30) mm (RAS)."""
    c, s = np.cos(np.radians(30)), np.sin(np.radians(30))
    affine = np.eye(4)
    affine[:3, :3] = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ np.diag([0.7, 0.8, 2.5])
    affine[:3, 3] = (10.0, -20.0, 30.0)
    return affine


def _write_nifti(path: Path, data_xyz: np.ndarray, affine: np.ndarray | None = None) -> Path:
    nib.save(nib.Nifti1Image(data_xyz, _ras_affine() if affine is None else affine), path)
    return path


def _xyz_data(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(-1000, 1000, size=(4, 3, 5)).astype(np.int16)  # X=4, Y=3, Z=5


def test_nifti_reads_back_as_zyx_with_reversed_zooms_and_the_scaling_applied(tmp_path):
    data = _xyz_data()
    image = nib.Nifti1Image(data, _ras_affine())
    image.header.set_slope_inter(2.0, -100.0)
    nib.save(image, tmp_path / "ct01.nii.gz")
    vol = read_nifti(tmp_path / "ct01.nii.gz")
    assert vol.array.shape == (5, 3, 4) and vol.array.dtype == np.float32
    assert vol.spacing == (2.5, 0.8, 0.7)
    assert vol.volume_id == "ct01" and vol.source == str(tmp_path / "ct01.nii.gz")
    assert vol.array[4, 1, 3] == data[3, 1, 4] * 2.0 - 100.0  # voxel (x, y, z) = (3, 1, 4) is (z, y, x) = (4, 1, 3)
    np.testing.assert_array_equal(vol.array, data.transpose(2, 1, 0) * 2.0 - 100.0)
    assert not vol.array.flags.writeable


def test_nifti_world_coordinates_agree_with_nibabels_apply_affine(tmp_path):
    vol = read_nifti(_write_nifti(tmp_path / "v.nii", _xyz_data()), volume_id="chosen")
    assert vol.volume_id == "chosen"
    zyx = np.array([[0, 0, 0], [4, 2, 3], [1.5, 0.25, 2.0]])
    expected_lps = apply_affine(_ras_affine(), zyx[:, ::-1]) * LPS_FROM_RAS
    np.testing.assert_allclose(vol.voxel_to_world(zyx), expected_lps, atol=1e-5)
    np.testing.assert_allclose(vol.world_to_voxel(expected_lps), zyx, atol=1e-5)


def test_a_4d_nifti_with_one_volume_is_read_as_3d(tmp_path):
    data = _xyz_data()
    vol = read_nifti(_write_nifti(tmp_path / "v.nii.gz", data[..., None]))
    np.testing.assert_array_equal(vol.array, data.transpose(2, 1, 0))


def test_a_nifti_without_a_world_frame_has_no_affine(tmp_path):
    image = nib.Nifti1Image(_xyz_data(), None)
    image.header.set_zooms((0.7, 0.8, 2.5))
    nib.save(image, tmp_path / "v.nii.gz")
    vol = read_nifti(tmp_path / "v.nii.gz")
    assert vol.affine is None and vol.spacing == (2.5, 0.8, 0.7)
    with pytest.raises(ConfigError, match="world_to_voxel needs the world frame of volume 'v'") as exc:
        vol.world_to_voxel((0.0, 0.0, 0.0))
    _one_line(exc)


def _zero_zoom(path: Path) -> Path:
    image = nib.Nifti1Image(_xyz_data(), None)
    image.header["pixdim"][1:4] = (0.7, 0.0, 2.5)
    nib.save(image, path)
    return path


def _garbage(path: Path) -> Path:
    path.write_bytes(b"not a nifti file at all" * 20)
    return path


BAD_NIFTI = {
    "two-volumes": (lambda p: _write_nifti(p, np.zeros((4, 3, 5, 2), np.int16)), r"shape is \(4, 3, 5, 2\)"),
    "zero-voxel-size": (_zero_zoom, r"voxel sizes \(pixdim x, y, z\) \(0.7, 0.0, 2.5\)"),
    "not-nifti": (_garbage, "Cannot read the NIfTI file"),
}


@pytest.mark.parametrize(("make", "match"), BAD_NIFTI.values(), ids=BAD_NIFTI.keys())
def test_a_bad_nifti_is_refused_in_one_line_naming_the_file(tmp_path, make, match):
    path = make(tmp_path / "bad.nii.gz")
    with pytest.raises(DataError, match=match) as exc:
        read_nifti(path)
    assert str(path) in _one_line(exc)


def test_reading_nifti_without_nibabel_says_how_to_install_it(tmp_path, monkeypatch):
    path = _write_nifti(tmp_path / "v.nii.gz", _xyz_data())
    monkeypatch.setitem(sys.modules, "nibabel", None)
    with pytest.raises(ConfigError) as exc:
        read_nifti(path)
    assert _one_line(exc) == "reading NIfTI needs nibabel: pip install 'tunedepth[volumes]'"


# --- DICOM ----------------------------------------------------------------------------------------------------------

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)      # normal +z (S)
CORONAL = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)   # rows go down (-z), normal +y (P)
ORIGIN = np.array([-100.5, 20.25, 300.0])
STEP, ROW_SPACING, COL_SPACING = 2.5, 0.8, 0.7
SLOPE, INTERCEPT = 2.0, -1024.0


def _slice(path: Path, raw: np.ndarray, position, *, orientation=AXIAL, series="1.2.826.0.1.1",
           truncate: bool = False, drop: str | None = None) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID, ds.SeriesInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID, series
    ds.Modality = "CT"
    ds.Rows, ds.Columns = raw.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.ImagePositionPatient = [float(v) for v in position]
    ds.ImageOrientationPatient = list(orientation)
    ds.PixelSpacing = [ROW_SPACING, COL_SPACING]
    ds.RescaleSlope, ds.RescaleIntercept = SLOPE, INTERCEPT
    data = raw.astype(np.int16).tobytes()
    ds.PixelData = data[:-6] if truncate else data
    if drop is not None:
        delattr(ds, drop)
    if int(pydicom.__version__.split(".")[0]) >= 3:
        ds.save_as(path, enforce_file_format=True)
    else:  # pydicom 2.4
        ds.is_little_endian, ds.is_implicit_VR = True, False
        ds.save_as(path, write_like_original=False)


def _normal(orientation) -> np.ndarray:
    return np.cross(orientation[:3], orientation[3:])


def _series(folder: Path, *, n: int = 5, orientation=AXIAL, steps=None, seed: int = 0, **kwargs) -> np.ndarray:
    """Write ``n`` slices in shuffled file order; return the stored values (Z, Y, X) in slice order."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = np.random.default_rng(seed).integers(0, 1500, size=(n, 3, 4))
    offsets = np.concatenate([[0.0], np.cumsum(steps if steps is not None else [STEP] * (n - 1))])
    names = list(range(n))
    random.Random(seed).shuffle(names)
    for k in range(n):
        _slice(folder / f"IM{names[k]:04d}.dcm", raw[k], ORIGIN + offsets[k] * _normal(orientation),
               orientation=orientation, **kwargs)
    return raw


@pytest.mark.parametrize("orientation", [AXIAL, CORONAL], ids=["axial", "coronal"])
def test_a_shuffled_dicom_series_reads_back_in_slice_order_with_spacing_and_hu(tmp_path, orientation):
    raw = _series(tmp_path / "ctpa", orientation=orientation)
    (tmp_path / "ctpa" / "README.txt").write_text("not DICOM: skipped")
    vol = read_dicom_series(tmp_path / "ctpa")
    assert vol.array.shape == (5, 3, 4) and vol.volume_id == "ctpa"
    assert vol.spacing == pytest.approx((STEP, ROW_SPACING, COL_SPACING), abs=1e-9)
    np.testing.assert_array_equal(vol.array, raw * SLOPE + INTERCEPT)
    row, col = np.array(orientation[:3]), np.array(orientation[3:])
    for k, j, i in [(0, 0, 0), (4, 2, 3), (2, 1, 0)]:
        expected = ORIGIN + k * STEP * _normal(orientation) + j * ROW_SPACING * col + i * COL_SPACING * row
        np.testing.assert_allclose(vol.voxel_to_world((k, j, i)), expected, atol=1e-9)


def test_read_volume_dispatches_on_the_path(tmp_path):
    raw = _series(tmp_path / "dicom")
    nifti = _write_nifti(tmp_path / "scan.nii", _xyz_data())
    np.save(tmp_path / "array.npy", np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
    assert read_volume(tmp_path / "dicom").array[0, 0, 0] == raw[0, 0, 0] * SLOPE + INTERCEPT
    assert read_volume(nifti).spacing == (2.5, 0.8, 0.7)
    array = read_volume(tmp_path / "array.npy")
    assert (array.spacing, array.affine, array.volume_id, array.array[1, 2, 3]) == (None, None, "array", 23.0)


def _two_series(folder: Path) -> None:
    _series(folder, series="1.2.3.1")
    _slice(folder / "other.dcm", np.zeros((3, 4)), ORIGIN, series="1.2.3.2")


def _rewrite(path: Path, raw: np.ndarray | None = None, **kwargs) -> None:
    """Write ``path`` again at its own position, with other pixels or options."""
    ds = pydicom.dcmread(path)
    _slice(path, ds.pixel_array if raw is None else raw, ds.ImagePositionPatient, series=ds.SeriesInstanceUID, **kwargs)


def _truncated_pixels(folder: Path) -> None:
    _series(folder)
    _rewrite(folder / "IM0002.dcm", truncate=True)


def _truncated_file(folder: Path) -> None:
    _series(folder)
    (folder / "IM0003.dcm").write_bytes((folder / "IM0003.dcm").read_bytes()[:200])


def _other_size(folder: Path) -> None:
    _series(folder)
    _rewrite(folder / "IM0001.dcm", np.zeros((3, 5)))


BAD_SERIES = {
    "two-series": (_two_series, r"holds 2 DICOM series: 1\.2\.3\.1 \(5 files, e\.g\. IM0000\.dcm\); 1\.2\.3\.2 "
                   r"\(1 files, e\.g\. other\.dcm\)\. read_dicom_series reads one series: move each series"),
    "uneven-steps": (lambda f: _series(f, steps=[2.5, 2.5, 3.5, 2.5]), r"are unevenly spaced: steps along the slice "
                     r"normal run from 2\.5 to 3\.5 mm \(median 2\.5\), e\.g\. 3\.5 mm between"),
    "duplicate-position": (lambda f: _series(f, steps=[2.5, 0.0, 2.5, 2.5]), "unevenly spaced.*0 mm between"),
    "undecodable-pixels": (_truncated_pixels, r"pixel data of the DICOM file .*IM0002\.dcm cannot be decoded"),
    "truncated-file": (_truncated_file, r"DICOM file .*IM0003\.dcm has no SeriesInstanceUID"),
    "missing-position": (lambda f: _series(f, drop="ImagePositionPatient"), r"lacks ImagePositionPatient, which"),
    "differing-size": (_other_size, r"differ in size: .* is 3 x 4 \(Rows x Columns\), IM0001\.dcm is 3 x 5"),
    "one-slice": (lambda f: _series(f, n=1), "has one slice"),
    "no-dicom": (lambda f: (f.mkdir(), (f / "notes.txt").write_text("x")), r"holds no DICOM files \(1 files"),
}


@pytest.mark.parametrize(("make", "match"), BAD_SERIES.values(), ids=BAD_SERIES.keys())
def test_a_bad_dicom_series_is_refused_in_one_line_naming_the_folder_or_file(tmp_path, make, match):
    folder = tmp_path / "series"
    make(folder)
    with pytest.raises(DataError, match=match) as exc:
        read_dicom_series(folder)
    assert str(folder) in _one_line(exc)


def test_reading_dicom_without_pydicom_says_how_to_install_it(tmp_path, monkeypatch):
    _series(tmp_path / "s")
    monkeypatch.setitem(sys.modules, "pydicom", None)
    with pytest.raises(ConfigError) as exc:
        read_dicom_series(tmp_path / "s")
    assert _one_line(exc) == "reading DICOM needs pydicom: pip install 'tunedepth[volumes]'"


# --- npz and read_volume ----------------------------------------------------------------------------------------------

def test_npz_volumes_are_float32_zyx_with_int64_labels_and_no_spacing(tmp_path):
    images = np.arange(3 * 2 * 3 * 4, dtype=np.uint8).reshape(3, 2, 3, 4)
    np.savez(tmp_path / "m.npz", val_images=images, val_labels=np.array([[1], [0], [1]], np.uint8),
             train_images=images[:1], train_labels=np.array([[0]], np.uint8))
    stack = read_npz_volumes(tmp_path / "m.npz", split="val")
    assert stack.images.dtype == np.float32 and stack.labels.dtype == np.int64 and stack.spacing is None
    np.testing.assert_array_equal(stack.images, images)
    assert stack.labels.tolist() == [1, 0, 1] and len(stack) == 3
    assert stack.volume(2).volume_id == "val_2" and stack.volume(2).array[1, 2, 3] == images[2, 1, 2, 3]
    with pytest.raises(ValueError, match=r"The 'index' parameter of VolumeStack.volume must be an int in \[0, 2\]"):
        stack.volume(3)
    with pytest.raises(ConfigError, match=r"got 'test', available: 'train', 'val'") as exc:
        read_npz_volumes(tmp_path / "m.npz", split="test")
    assert str(tmp_path / "m.npz") in _one_line(exc)


def test_vesselmnist3d_holds_binary_28_cubed_volumes_without_spacing(data_dir):
    path = data_dir / "medmnist" / "vesselmnist3d.npz"
    if not path.is_file():
        pytest.skip(f"{path} is not there.")
    val = read_npz_volumes(path, split="val")
    assert val.images.shape == (191, 28, 28, 28) and val.labels.shape == (191,) and val.spacing is None
    assert set(np.unique(val.images).tolist()) == {0.0, 255.0} and set(val.labels.tolist()) == {0, 1}


BAD_PATHS = {
    "missing": ("nothing.nii.gz", DataError, "does not exist"),
    "npz": ("m.npz", ConfigError, "got suffix '.npz' .*read it with read_npz_volumes"),
    "mha": ("scan.mha", ConfigError, r"expected a \.nii or \.nii\.gz file .*got suffix '\.mha'"),
}


@pytest.mark.parametrize(("name", "error", "match"), BAD_PATHS.values(), ids=BAD_PATHS.keys())
def test_read_volume_refuses_what_it_cannot_read_in_one_line(tmp_path, name, error, match):
    if name != "nothing.nii.gz":
        (tmp_path / name).write_bytes(b"x")
    with pytest.raises(error, match=match) as exc:
        read_volume(tmp_path / name)
    assert str(tmp_path / name) in _one_line(exc)


# --- Candidate table ------------------------------------------------------------------------------------------------

VOXELS = [(0.0, 0.0, 0.0), (4.0, 2.0, 3.0), (2.5, 1.25, 0.5)]  # (z, y, x); the last two: the far corner, a fraction


def _volumes(tmp_path: Path) -> dict[str, Volume]:
    ct = read_nifti(_write_nifti(tmp_path / "ct.nii.gz", _xyz_data()))
    bare = Volume(np.zeros((2, 2, 2)), None, None, "bare", "bare.npy")
    return {"ct": ct, "bare": bare}


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "candidates.csv"
    path.write_text(text)
    return path


def test_voxel_and_world_coordinates_give_the_same_candidates(tmp_path):
    volumes = _volumes(tmp_path)
    world = apply_affine(_ras_affine(), np.array(VOXELS)[:, ::-1]) * LPS_FROM_RAS  # nibabel's, not ours
    voxel_rows = "".join(f"ct,{z},{y},{x},{k % 2},c{k}\n" for k, (z, y, x) in enumerate(VOXELS))
    world_rows = "".join(f"c{k},{k % 2},ct,{wx},{wy},{wz}\n" for k, (wx, wy, wz) in enumerate(world.tolist()))
    by_voxel = read_candidate_table(_csv(tmp_path, "volume_id,z,y,x,label,candidate_id\n" + voxel_rows), volumes,
                                    coordinates="voxel")
    by_world = read_candidate_table(_csv(tmp_path, "candidate_id,label,volume_id,world_x,world_y,world_z\n"
                                         + world_rows), volumes, coordinates="world")
    for table in (by_voxel, by_world):
        assert isinstance(table, CandidateTable)
        np.testing.assert_allclose(table.centers, VOXELS, atol=1e-6)
        assert table.volume_id == ("ct", "ct", "ct") and table.label.tolist() == [0, 1, 0]
        assert table.candidate_id == ("c0", "c1", "c2")
    assert read_candidate_table(_csv(tmp_path, "volume_id,z,y,x,label\nbare,1,1,0,1\n"), volumes,
                                coordinates="voxel").candidate_id is None



def test_the_lesion_column_is_kept_and_numbers_lesions_per_volume(tmp_path):
    volumes = _volumes(tmp_path)
    text = "volume_id,z,y,x,label,lesion\nct,0,0,0,1,A\nct,1,0,0,1,A\nct,1,1,0,1,\nct,0,1,0,0,\nct,1,1,1,1,B\n"
    table = read_candidate_table(_csv(tmp_path, text), volumes, coordinates="voxel")
    assert table.lesion == ("A", "A", "", "", "B")
    # two candidates on lesion A, a positive without a key is a lesion of its own, a negative is 0
    assert table.lesion_numbers().tolist() == [1, 1, 2, 0, 3]
    bare = read_candidate_table(_csv(tmp_path, "volume_id,z,y,x,label\nct,0,0,0,1\nct,1,0,0,1\n"), volumes,
                                coordinates="voxel")
    assert bare.lesion is None and bare.lesion_numbers().tolist() == [1, 2]

BAD_TABLES = {
    "outside": ("volume_id,z,y,x,label\nct,0,0,0,1\nct,5,0,0,0\n", DataError,
                r"Row 3 of .* \(header = row 1\): the candidate at voxel \(z, y, x\) = \(5, 0, 0\) lies outside volume "
                r"'ct' of shape \(Z, Y, X\) = \(5, 3, 4\)"),
    "negative": ("volume_id,z,y,x,label\nct,0,-0.5,0,1\n", DataError, "Row 2 .* lies outside volume 'ct'"),
    "unknown-volume": ("volume_id,z,y,x,label\nct1,0,0,0,1\n", DataError,
                       r"Row 2 .*volume_id 'ct1' is not among the 2 volumes given \('bare', 'ct'\)\. Did you mean "
                       "'ct'?"),
    "missing-column": ("volume_id,z,y,x\nct,0,0,0\n", DataError, r"lacks the column\(s\) label; coordinates='voxel'"),
    "world-columns-for-voxel": ("volume_id,world_x,world_y,world_z,label\nct,0,0,0,1\n", DataError,
                                r"lacks the column\(s\) z, y, x.* pass coordinates='world'"),
    "non-integer-label": ("volume_id,z,y,x,label\nct,0,0,0,1\nct,0,0,0,0.5\n", DataError,
                          "Row 3 .*column label must be an integer such as 0 or 1; got '0.5'"),
    "non-number": ("volume_id,z,y,x,label\nct,0,abc,0,1\n", DataError, "Row 2 .*column y must be a finite number"),
    "repeated-id": ("volume_id,z,y,x,label,candidate_id\nct,0,0,0,1,a\n\nct,1,0,0,1,a\n", DataError,
                    "Row 4 .*candidate_id repeats 'a'"),
    "no-rows": ("volume_id,z,y,x,label\n", DataError, "has a header but no candidate rows"),
}


@pytest.mark.parametrize(("text", "error", "match"), BAD_TABLES.values(), ids=BAD_TABLES.keys())
def test_a_bad_candidate_table_is_refused_in_one_line_naming_the_row_or_column(tmp_path, text, error, match):
    path = _csv(tmp_path, text)
    with pytest.raises(error, match=match) as exc:
        read_candidate_table(path, _volumes(tmp_path), coordinates="voxel")
    assert str(path) in _one_line(exc)


def test_world_coordinates_for_a_volume_without_affine_are_refused_naming_the_volume(tmp_path):
    path = _csv(tmp_path, "volume_id,world_x,world_y,world_z,label\nct,-10,20,30,1\nbare,0,0,0,1\n")
    with pytest.raises(ConfigError, match=r"Row 3 of .*coordinates='world' needs the world frame of volume 'bare', "
                       r"but it has no affine \(bare\.npy\); give that volume's candidates in voxel columns") as exc:
        read_candidate_table(path, _volumes(tmp_path), coordinates="world")
    assert str(path) in _one_line(exc)


UNIT_CASES = {
    "auto-known": ("auto", (2.5, 0.8, 0.7), "mm"),
    "auto-unknown": ("auto", None, "voxel"),
    "mm-known": ("mm", (2.5, 0.8, 0.7), "mm"),
    "voxel-known": ("voxel", (2.5, 0.8, 0.7), "voxel"),
    "voxel-unknown": ("voxel", None, "voxel"),
}


@pytest.mark.parametrize(("unit", "spacing", "expected"), UNIT_CASES.values(), ids=UNIT_CASES.keys())
def test_resolve_unit_gives_mm_only_with_a_spacing(unit, spacing, expected):
    assert resolve_unit(unit, spacing) == expected


BAD_UNITS = {
    "mm-without-spacing": ("mm", None, ConfigError, r"The 'unit' parameter of resolve_unit is 'mm', which needs the "
                           r"volume's voxel spacing, but the spacing is unknown .*set unit = 'voxel' or 'auto'"),
    "unknown-unit": ("auot", None, ConfigError, r"must be one of 'auto', 'mm', 'voxel'; got 'auot'\. Did you mean "
                     "'auto'"),
    "px": ("px", None, ConfigError, r"got 'px'\. Did you mean 'voxel'\?"),
    "bad-spacing": ("auto", (0.0, 1.0, 1.0), ValueError, r"The 'spacing' parameter of resolve_unit must be"),
}


@pytest.mark.parametrize(("unit", "spacing", "error", "match"), BAD_UNITS.values(), ids=BAD_UNITS.keys())
def test_resolve_unit_refuses_in_one_line(unit, spacing, error, match):
    with pytest.raises(error, match=match) as exc:
        resolve_unit(unit, spacing)
    _one_line(exc)
