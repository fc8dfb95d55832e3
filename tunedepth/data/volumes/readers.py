"""Reading a CT or MR volume from disk as a (Z, Y, X) array with its voxel size and world frame.

Conventions (those of :mod:`tunedepth.data.volumes.geometry`):

* :attr:`Volume.array` has shape (Z, Y, X): voxel (k, j, i) is slice k, row j, column i, centred at integer
  coordinates.
* :attr:`Volume.spacing` is (sz, sy, sx) in mm, or None where the file does not record it (``.npy`` arrays,
  MedMNIST 3D ``.npz`` files); the sections then work in voxel units (spacing 1s).
* :attr:`Volume.affine` maps a voxel (z, y, x, 1) = (k, j, i, 1) to the world point (x, y, z, 1) in mm, in the
  **LPS** frame: x grows towards the patient's Left, y towards Posterior, z towards Superior. That is the DICOM and
  ITK frame (and that of LUNA16-style candidate files); NIfTI stores RAS, so its x and y are negated here. The
  affine is None where the file has no world frame.

NIfTI needs nibabel and DICOM needs pydicom, both in the optional extra: ``pip install 'tunedepth[volumes]'``.
"""

from __future__ import annotations

import importlib
import logging
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from tunedepth._checks import check_int
from tunedepth.data.volumes import _dicom_series
from tunedepth.data.volumes._dicom_series import SLICE_STEP_TOLERANCE, one_line
from tunedepth.data.volumes._inputs import check_spacing
from tunedepth.errors import ConfigError, DataError

__all__ = ["SLICE_STEP_TOLERANCE", "Volume", "VolumeStack", "read_dicom_series", "read_nifti", "read_npz_volumes",
           "read_volume"]

logger = logging.getLogger(__name__)

# NIfTI spatial units (nibabel's names) in mm. 'unknown' (code 0, which many writers leave) is read as mm, the usual
# assumption for medical images; the docstring of read_nifti says so.
_NIFTI_UNIT_MM = {"mm": 1.0, "meter": 1000.0, "micron": 0.001, "unknown": 1.0}
# Voxel (z, y, x, 1) -> nibabel's (i, j, k, 1) = (x, y, z, 1) index order, and RAS -> LPS world.
_ZYX_TO_IJK = np.array([[0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]], dtype=np.float64)
_RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass(frozen=True, eq=False)
class Volume:
    """One volume with its voxel size and world frame, as read by :func:`read_volume`.

    Attributes:
        array: float32 array of shape (Z, Y, X), read-only (a read-only view: float32 input is not copied).
        spacing: voxel size (sz, sy, sx) in mm, each > 0, or None when unknown.
        affine: float64 array of shape (4, 4) mapping a voxel (z, y, x, 1) to the LPS world point (x, y, z, 1) in
            mm, or None when the world frame is unknown.
        volume_id: the name a candidate table refers to the volume by (by default the file or folder name).
        source: the file or folder it was read from.

    Example:
        >>> vol = Volume(np.zeros((2, 3, 4)), spacing=(2.5, 0.8, 0.7), affine=None, volume_id="ct1", source="-")
        >>> vol.array.shape, vol.array.dtype, vol.array.flags.writeable
        ((2, 3, 4), dtype('float32'), False)
    """

    array: np.ndarray
    spacing: tuple[float, float, float] | None
    affine: np.ndarray | None
    volume_id: str
    source: str

    def __post_init__(self) -> None:
        array = np.asarray(self.array)
        if array.ndim != 3 or min(array.shape) < 1 or not _is_real(array):
            raise ValueError(f"The 'array' parameter of Volume must be a real array of shape (Z, Y, X), each size "
                             f">= 1; got shape {array.shape} and dtype {array.dtype}.")
        view = array.astype(np.float32, copy=False).view()
        view.flags.writeable = False
        object.__setattr__(self, "array", view)
        if self.spacing is not None:
            object.__setattr__(self, "spacing", check_spacing(self.spacing, "spacing", "Volume"))
        if self.affine is not None:
            object.__setattr__(self, "affine", _check_affine(self.affine))
        if not isinstance(self.volume_id, str) or not self.volume_id.strip():
            raise ValueError(f"The 'volume_id' parameter of Volume must be a non-empty string; got {self.volume_id!r}.")
        object.__setattr__(self, "source", str(self.source))

    @property
    def shape(self) -> tuple[int, int, int]:
        """(Z, Y, X)."""
        z, y, x = self.array.shape
        return z, y, x

    def voxel_to_world(self, points: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """Voxel coordinates (z, y, x), shape (..., 3), as LPS world points (x, y, z) in mm, same shape.

        Raises:
            ConfigError: the volume has no affine.

        Example:
            >>> affine = np.diag([1.0, 1.0, 1.0, 1.0])[:, [2, 1, 0, 3]] * [2.5, 0.8, 0.7, 1]  # x=0.7 i, z=2.5 k
            >>> Volume(np.zeros((2, 2, 2)), (2.5, 0.8, 0.7), affine, "v", "-").voxel_to_world((1, 0, 1)).tolist()
            [0.7, 0.0, 2.5]
        """
        return _apply(self._affine("voxel_to_world"), _points(points, "voxel_to_world"))

    def world_to_voxel(self, points: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """LPS world points (x, y, z) in mm, shape (..., 3), as voxel coordinates (z, y, x), same shape.

        Raises:
            ConfigError: the volume has no affine.

        Example:
            >>> affine = np.diag([1.0, 1.0, 1.0, 1.0])[:, [2, 1, 0, 3]] * [2.5, 0.8, 0.7, 1]
            >>> Volume(np.zeros((2, 2, 2)), (2.5, 0.8, 0.7), affine, "v", "-").world_to_voxel((0.7, 0, 2.5)).tolist()
            [1.0, 0.0, 1.0]
        """
        return _apply(np.linalg.inv(self._affine("world_to_voxel")), _points(points, "world_to_voxel"))

    def _affine(self, func: str) -> np.ndarray:
        if self.affine is None:
            raise ConfigError(f"Volume.{func} needs the world frame of volume {self.volume_id!r} (from "
                              f"{self.source}), but it has none (no affine in the file); use voxel coordinates "
                              "(z, y, x) for it, or read it from a NIfTI file or DICOM series that records one.")
        return self.affine


@dataclass(frozen=True, eq=False)
class VolumeStack:
    """The volumes and labels of one split of a MedMNIST-style ``.npz`` file (:func:`read_npz_volumes`).

    Attributes:
        images: float32 array of shape (N, Z, Y, X), read-only.
        labels: int64 array of shape (N,), read-only.
        split: the split read, e.g. "train".
        source: the file read.
        spacing: always None: these files record no voxel size, so widths are in voxels.

    Example:
        >>> stack = VolumeStack(np.zeros((2, 3, 3, 3), np.float32), np.array([0, 1]), "val", "x.npz")
        >>> stack.volume(1).volume_id, stack.volume(1).shape
        ('val_1', (3, 3, 3))
    """

    images: np.ndarray
    labels: np.ndarray
    split: str
    source: str
    spacing: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        images, labels = np.asarray(self.images, dtype=np.float32), np.asarray(self.labels, dtype=np.int64)
        if images.ndim != 4 or labels.shape != (images.shape[0],):
            raise ValueError(f"VolumeStack needs 'images' of shape (N, Z, Y, X) and 'labels' of shape (N,); got "
                             f"{images.shape} and {labels.shape}.")
        for name, value in (("images", images), ("labels", labels)):
            value = value.view()
            value.flags.writeable = False
            object.__setattr__(self, name, value)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def volume(self, index: int) -> Volume:
        """Volume ``index`` (in [0, N - 1]) of the split as a :class:`Volume` with id ``f"{split}_{index}"``."""
        index = check_int(index, "index", "VolumeStack.volume", minimum=0, maximum=len(self) - 1)
        return Volume(self.images[index], self.spacing, None, f"{self.split}_{index}", self.source)


def read_volume(path: str | os.PathLike[str], *, volume_id: str | None = None) -> Volume:
    """Read one volume, choosing the reader by the path: a NIfTI file, a DICOM series folder or a ``.npy`` array.

    Args:
        path: a ``.nii`` or ``.nii.gz`` file (:func:`read_nifti`), a folder holding one DICOM series
            (:func:`read_dicom_series`), or a ``.npy`` array of shape (Z, Y, X) (no spacing, no affine).
        volume_id: the volume's name in a candidate table; by default the file name without its suffix, or the
            folder name.

    Returns:
        The volume, as described in the module docstring.

    Raises:
        DataError: the path does not exist, or the file is unreadable or not a volume.
        ConfigError: the suffix is none of the above (MedMNIST ``.npz`` files: use :func:`read_npz_volumes`).

    Example:
        >>> read_volume("scans/ct01.nii.gz").spacing  # doctest: +SKIP
        (2.5, 0.8, 0.7)
    """
    file = Path(path)
    if not file.exists():
        raise DataError(f"The volume path {file} does not exist; pass a .nii or .nii.gz file, a .npy array or a "
                        "folder holding one DICOM series.")
    if file.is_dir():
        return read_dicom_series(file, volume_id=volume_id)
    name = file.name.lower()
    if name.endswith((".nii", ".nii.gz")):
        return read_nifti(file, volume_id=volume_id)
    if name.endswith(".npy"):
        return _read_npy(file, volume_id)
    hint = " (a MedMNIST .npz file holds many volumes: read it with read_npz_volumes)" if name.endswith(".npz") else ""
    raise ConfigError(f"read_volume cannot read {file}: expected a .nii or .nii.gz file (NIfTI), a .npy array of "
                      f"shape (Z, Y, X) or a folder holding one DICOM series; got suffix {file.suffix!r}{hint}.")


def read_nifti(path: str | os.PathLike[str], *, volume_id: str | None = None) -> Volume:
    """Read a NIfTI-1 or NIfTI-2 file with nibabel, as a (Z, Y, X) volume in mm and LPS.

    nibabel's array is indexed (i, j, k) = (x, y, z); it is transposed to (Z, Y, X), the voxel sizes (pixdim) are
    reversed to (sz, sy, sx), and the affine (nibabel's choice: sform, else qform) is reordered to (z, y, x) and
    turned from RAS to LPS. ``scl_slope`` and ``scl_inter`` are applied (nibabel's ``get_fdata``). Lengths in metres
    or microns are converted to mm; unknown units (xyzt_units code 0) are read as mm.

    Args:
        path: a ``.nii`` or ``.nii.gz`` file of shape (X, Y, Z), or (X, Y, Z, 1).
        volume_id: the name in a candidate table; by default the file name without ``.nii`` / ``.nii.gz``.

    Returns:
        The volume; its affine is None when both ``sform_code`` and ``qform_code`` are 0 (no world frame).

    Raises:
        ConfigError: nibabel is not installed.
        DataError: the file is missing or unreadable, is 4D with more than one volume, or its voxel sizes are not
            finite numbers > 0.

    Example:
        >>> vol = read_nifti("ct01.nii.gz")  # doctest: +SKIP
        >>> vol.array.shape, vol.spacing  # doctest: +SKIP
        ((40, 512, 512), (2.5, 0.8, 0.7))
    """
    nib = _import_optional("nibabel", "reading NIfTI")
    file = _existing_file(path, "read_nifti")
    try:
        image = nib.load(file)
        if not isinstance(image, nib.Nifti1Pair):
            raise DataError(f"it is a {type(image).__name__}, not NIfTI")
        shape = tuple(image.shape)
        if not (len(shape) == 3 or (len(shape) == 4 and shape[3] == 1)):
            raise DataError(f"its shape is {shape}; expected 3D (X, Y, Z), or 4D with one volume (X, Y, Z, 1)")
        data = np.asarray(image.get_fdata(dtype=np.float32))  # applies scl_slope and scl_inter
        raw_zooms = _raw_zooms(image)
    except Exception as err:  # nibabel raises many types for a damaged file (ImageFileError, EOFError, OSError, ...)
        raise DataError(f"Cannot read the NIfTI file {file}: {one_line(err)}. Pass a single 3D volume saved as "
                        ".nii or .nii.gz.") from err
    array = np.ascontiguousarray(data.reshape(shape[:3]).transpose(2, 1, 0))
    header = image.header
    unit = header.get_xyzt_units()[0]
    if unit not in _NIFTI_UNIT_MM:
        raise DataError(f"The NIfTI file {file} gives its lengths in {unit!r}; expected mm, meter, micron or unknown "
                        "(read as mm). Fix xyzt_units in its header.")
    scale = _NIFTI_UNIT_MM[unit]
    # pixdim is float32: its shortest repr is the value the writer meant (0.7, not 0.699999988).
    zooms = [float(str(np.float32(z))) * scale for z in raw_zooms]
    if not all(np.isfinite(z) and z > 0 for z in zooms):
        raise DataError(f"The NIfTI file {file} gives voxel sizes (pixdim x, y, z) {tuple(zooms)}; expected finite "
                        "numbers > 0. Fix pixdim[1:4] in its header.")
    affine = None
    if int(header["sform_code"]) > 0 or int(header["qform_code"]) > 0:
        affine = _RAS_TO_LPS @ np.asarray(image.affine, dtype=np.float64) @ _ZYX_TO_IJK
        affine[:3] *= scale
    else:
        logger.info("%s has sform_code = qform_code = 0: no world frame, affine None", file)
    name = file.name[:-7] if file.name.lower().endswith(".nii.gz") else file.stem
    return Volume(array, (zooms[2], zooms[1], zooms[0]), affine, volume_id or name, str(file))


def read_dicom_series(folder: str | os.PathLike[str], *, volume_id: str | None = None) -> Volume:
    """Read the one DICOM series in a folder with pydicom, as a (Z, Y, X) volume in mm and LPS.

    Every file of the folder is read (not its subfolders); a file that is not DICOM (no ``DICM`` preamble, as
    pydicom judges it) is skipped, and so is a DICOMDIR. The slices are sorted by ``ImagePositionPatient`` projected
    on the slice normal (row cosine x column cosine of ``ImageOrientationPatient``), ascending; ``RescaleSlope`` and
    ``RescaleIntercept`` are applied (1 and 0 where absent), so CT values are in HU.

    Args:
        folder: a folder holding the files of one series.
        volume_id: the name in a candidate table; by default the folder's name.

    Returns:
        The volume, with spacing (slice step along the normal, ``PixelSpacing`` row, ``PixelSpacing`` column) and
        the affine of the DICOM geometry: its z column is the step between consecutive ``ImagePositionPatient``
        (so a gantry tilt shears it), its y column the column cosine times the row spacing, its x column the row
        cosine times the column spacing, and its translation the first slice's position.

    Raises:
        ConfigError: pydicom is not installed.
        DataError: the folder is missing or holds no DICOM file, or several series (their UIDs are listed); a DICOM
            file is damaged, its pixels cannot be decoded, or it lacks a geometry tag; the slices differ in size,
            orientation or pixel spacing, share a position, or are unevenly spaced (a step departs from the median
            by more than :data:`SLICE_STEP_TOLERANCE`, 1%); the series has one slice.

    Example:
        >>> vol = read_dicom_series("patient7/ctpa")  # doctest: +SKIP
        >>> vol.spacing  # doctest: +SKIP
        (1.25, 0.68, 0.68)
    """
    pydicom = _import_optional("pydicom", "reading DICOM")
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"The 'folder' parameter of read_dicom_series must be a folder holding one DICOM series; "
                        f"{root} {'is a file' if root.exists() else 'does not exist'}.")
    series = _dicom_series.one_series(root, _dicom_series.read_folder(root, pydicom))
    array, spacing, affine = _dicom_series.stack(root, series)
    return Volume(array, spacing, affine, volume_id or root.resolve().name, str(root))


def read_npz_volumes(path: str | os.PathLike[str], *, split: str, key_prefix: str = "") -> VolumeStack:
    """Read one split of a MedMNIST 3D ``.npz`` file (VesselMNIST3D, AdrenalMNIST3D, ...).

    The official files hold ``train_images``, ``val_images``, ``test_images`` of shape (N, D, H, W), uint8, read
    here as (N, Z, Y, X), and ``train_labels``, ... of shape (N, 1), uint8. ``vesselmnist3d.npz`` has 28^3 volumes
    (1335 / 191 / 382 in train / val / test; ``_64`` files have 64^3), ``adrenalmnist3d.npz`` 1188 / 98 / 298;
    both hold binary shape masks with values 0 and 255, labels 0 and 1. Values are kept as stored (no rescaling).
    These files record **no voxel size**, so ``spacing`` is None and widths are in voxels.

    Args:
        path: the ``.npz`` file.
        split: the split to read; keys ``{key_prefix}{split}_images`` and ``{key_prefix}{split}_labels``.
        key_prefix: prepended to every key (default none, as in the official files).

    Returns:
        The split: images float32 (N, Z, Y, X), labels int64 (N,), spacing None.

    Raises:
        DataError: the file is missing or not an ``.npz``, or its arrays have the wrong shapes or labels that are
            not integers.
        ConfigError: the file holds no such split (the message lists those it holds).

    Example:
        >>> val = read_npz_volumes("vesselmnist3d.npz", split="val")  # doctest: +SKIP
        >>> val.images.shape, val.labels.shape, val.spacing  # doctest: +SKIP
        ((191, 28, 28, 28), (191,), None)
    """
    file = _existing_file(path, "read_npz_volumes")
    image_key, label_key = f"{key_prefix}{split}_images", f"{key_prefix}{split}_labels"
    images: np.ndarray | None = None
    labels: np.ndarray | None = None
    try:
        loaded = np.load(file, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single array, not an archive of named arrays")
        with loaded as npz:
            keys = list(npz.files)
            if image_key in keys and label_key in keys:
                images, labels = npz[image_key], npz[label_key]
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise DataError(f"Cannot read {file} as an .npz file: {one_line(err)}.") from err
    if images is None or labels is None:
        raise ConfigError(_unknown_split(file, split, key_prefix, keys))
    if images.ndim != 4 or not _is_real(images):
        raise DataError(f"{image_key} in {file} must be a real array of shape (N, D, H, W); got shape {images.shape} "
                        f"and dtype {images.dtype}.")
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.shape != (images.shape[0],) or not _is_real(labels) or not np.all(np.round(labels) == labels):
        raise DataError(f"{label_key} in {file} must hold one integer label per volume, shape ({images.shape[0]},) or "
                        f"({images.shape[0]}, 1); got shape {labels.shape} and dtype {labels.dtype}.")
    return VolumeStack(images.astype(np.float32), labels.astype(np.int64), split, str(file))


def _read_npy(file: Path, volume_id: str | None) -> Volume:
    try:
        array = np.load(file, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise DataError(f"Cannot read {file} as a .npy array: {one_line(err)}.") from err
    if array.ndim != 3 or min(array.shape) < 1 or not _is_real(array):
        raise DataError(f"The .npy file {file} must hold a real array of shape (Z, Y, X); got shape {array.shape} and "
                        f"dtype {array.dtype}.")
    return Volume(array, None, None, volume_id or file.stem, str(file))


def _raw_zooms(image: object) -> tuple[float, float, float]:
    """pixdim[1:4] as stored: nibabel's loaded header has zeros already replaced by 1 and signs dropped."""
    file_map = image.file_map  # type: ignore[attr-defined]
    holder = file_map["header"] if "header" in file_map else file_map["image"]
    with holder.get_prepare_fileobj("rb") as handle:
        raw = type(image.header).from_fileobj(handle, check=False)  # type: ignore[attr-defined]
    x, y, z = (float(v) for v in raw["pixdim"][1:4])
    return x, y, z


def _import_optional(module: str, purpose: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ConfigError(f"{purpose} needs {module}: pip install 'tunedepth[volumes]'") from err


def _existing_file(path: str | os.PathLike[str], func: str) -> Path:
    file = Path(path)
    if not file.is_file():
        raise DataError(f"The 'path' parameter of {func} must be an existing file; {file} "
                        f"{'is a folder' if file.is_dir() else 'does not exist'}.")
    return file


def _unknown_split(file: Path, split: str, prefix: str, keys: list[str]) -> str:
    splits = sorted(k[len(prefix):-len("_images")] for k in keys if k.startswith(prefix) and k.endswith("_images")
                    and f"{k[:-len('_images')]}_labels" in keys)
    return (f"The 'split' parameter of read_npz_volumes must name a split of {file} (keys "
            f"'{prefix}<split>_images' and '{prefix}<split>_labels'); got {split!r}, available: "
            f"{', '.join(map(repr, splits)) or 'none'} (keys in the file: {', '.join(keys)}).")


def _is_real(array: np.ndarray) -> bool:
    return bool(np.issubdtype(array.dtype, np.number)) and not np.issubdtype(array.dtype, np.complexfloating)


def _check_affine(affine: object) -> np.ndarray:
    matrix = np.array(affine, dtype=np.float64)
    if matrix.shape != (4, 4) or not np.all(np.isfinite(matrix)) or not np.allclose(matrix[3], [0, 0, 0, 1]) \
            or abs(np.linalg.det(matrix[:3, :3])) < 1e-12:
        raise ValueError(f"The 'affine' parameter of Volume must be an invertible 4x4 matrix with last row "
                         f"(0, 0, 0, 1); got {np.array2string(matrix, separator=', ').replace(chr(10), '')}.")
    matrix.flags.writeable = False
    return matrix


def _points(points: object, func: str) -> np.ndarray:
    array = np.asarray(points, dtype=np.float64)
    if array.ndim < 1 or array.shape[-1] != 3 or not np.all(np.isfinite(array)):
        raise ValueError(f"The 'points' parameter of Volume.{func} must be finite coordinates of shape (..., 3); got "
                         f"shape {array.shape}.")
    return array


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return np.asarray(points @ matrix[:3, :3].T + matrix[:3, 3], dtype=np.float64)
