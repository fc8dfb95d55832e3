"""Assembling one DICOM series into a (Z, Y, X) volume: read a folder, keep its one series, sort and check slices.

Private to :func:`tunedepth.data.volumes.readers.read_dicom_series`, which documents the conventions; this module
holds the checks. Every error is one line naming the folder or the file and the fix.

Geometry (DICOM PS3.3 C.7.6.2): ``ImageOrientationPatient`` is the row cosine (the direction in which the column
index i grows) then the column cosine (the direction in which the row index j grows), in LPS; ``PixelSpacing`` is
(spacing between rows, spacing between columns) = (sy, sx); ``ImagePositionPatient`` is the centre of the slice's
first voxel. The slice normal is row cosine x column cosine, and slices are sorted by position along it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from tunedepth.errors import DataError

__all__ = ["ORIENTATION_TOLERANCE", "SLICE_STEP_TOLERANCE", "one_line", "one_series", "read_folder", "stack"]

logger = logging.getLogger(__name__)

SLICE_STEP_TOLERANCE = 0.01
"""How far a slice step may depart from the median step, as a fraction of it (1%): beyond, the series is refused."""

ORIENTATION_TOLERANCE = 1e-4
"""How far direction cosines may differ between slices, and from unit length and orthogonality."""

_GEOMETRY_TAGS = ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "Rows", "Columns", "PixelData")
_DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"

Slice = tuple[Path, Any]
"""A file and its pydicom ``Dataset``."""


@dataclass(frozen=True)
class _Geometry:
    position: np.ndarray     # ImagePositionPatient, (3,) LPS mm
    orientation: np.ndarray  # ImageOrientationPatient, (6,)
    pixel_spacing: np.ndarray  # (sy, sx) mm
    size: tuple[int, int]    # (Rows, Columns)


def one_line(err: BaseException) -> str:
    """A third-party error message on one line, at most 200 characters.

    Example:
        >>> one_line(ValueError("bad\\nfile"))
        'bad file'
    """
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def read_folder(root: Path, pydicom: ModuleType) -> list[Slice]:
    """Every DICOM file directly in ``root``, read with pixels undecoded; non-DICOM files and DICOMDIRs skipped."""
    from pydicom.errors import InvalidDicomError

    found, skipped = [], []
    for path in sorted(p for p in root.iterdir() if p.is_file()):
        try:
            dataset = pydicom.dcmread(path)
        except InvalidDicomError:  # no 'DICM' preamble: not a DICOM file (a README, a thumbnail...)
            skipped.append(path.name)
            continue
        except Exception as err:  # a DICOM file damaged past its preamble: pydicom raises many types
            raise DataError(f"The DICOM file {path} cannot be read: {one_line(err)}. Replace or remove it.") from err
        if str(dataset.get("SOPClassUID", "")) == _DICOMDIR_SOP_CLASS:
            skipped.append(path.name)
            continue
        found.append((path, dataset))
    if skipped:
        # A .dcm file without the preamble may be a slice pydicom cannot recognise: say so louder.
        log = logger.warning if any(name.lower().endswith(".dcm") for name in skipped) else logger.info
        log("%s: skipped %d files that are not DICOM images (%s)", root, len(skipped), ", ".join(skipped[:5]))
    if not found:
        seen = f" ({len(skipped)} files that are not DICOM images, e.g. {skipped[0]})" if skipped else ""
        raise DataError(f"The folder {root} holds no DICOM files{seen}; pass the folder of one DICOM series.")
    return found


def one_series(root: Path, slices: list[Slice]) -> list[Slice]:
    """The slices, after checking that they all belong to one ``SeriesInstanceUID``."""
    by_uid: dict[str, list[Slice]] = {}
    for path, dataset in slices:
        uid = str(dataset.get("SeriesInstanceUID", "")).strip()
        if not uid:
            raise DataError(f"The DICOM file {path} has no SeriesInstanceUID (0020,000E), so its series is unknown; "
                            "replace the file or remove it from the folder.")
        by_uid.setdefault(uid, []).append((path, dataset))
    if len(by_uid) > 1:
        listed = "; ".join(f"{uid} ({len(files)} files, e.g. {files[0][0].name})" for uid, files in by_uid.items())
        raise DataError(f"The folder {root} holds {len(by_uid)} DICOM series: {listed}. read_dicom_series reads one "
                        "series: move each series' files into a folder of its own and pass that folder.")
    return slices


def stack(root: Path, series: list[Slice]) -> tuple[np.ndarray, tuple[float, float, float], np.ndarray]:
    """The series as a float32 (Z, Y, X) array in rescaled units, its spacing (sz, sy, sx) and LPS affine."""
    geometries = [_geometry(path, dataset) for path, dataset in series]
    _check_alike(root, series, geometries)
    if len(series) < 2:
        raise DataError(f"The DICOM series in {root} has one slice ({series[0][0].name}); read_dicom_series needs at "
                        "least 2 to measure the slice step. Pass a folder holding the whole series.")
    row, col = geometries[0].orientation[:3], geometries[0].orientation[3:]
    normal = np.cross(row, col)
    normal /= np.linalg.norm(normal)
    positions = np.array([g.position for g in geometries])
    order = np.argsort(positions @ normal, kind="stable")
    positions, series = positions[order], [series[k] for k in order]
    sz = _check_steps(root, series, positions, normal)
    sy, sx = (float(v) for v in geometries[0].pixel_spacing)
    affine = np.eye(4)
    affine[:3, 0] = (positions[-1] - positions[0]) / (len(series) - 1)
    affine[:3, 1] = col * sy
    affine[:3, 2] = row * sx
    affine[:3, 3] = positions[0]
    return _pixels(series, geometries[0].size), (sz, sy, sx), affine


def _geometry(path: Path, dataset: Any) -> _Geometry:
    missing = [tag for tag in _GEOMETRY_TAGS if tag not in dataset]
    if missing:
        raise DataError(f"The DICOM file {path} lacks {', '.join(missing)}, which read_dicom_series needs to place "
                        "its slice in the volume; replace the file or remove it from the series folder.")
    frames, samples = dataset.get("NumberOfFrames", 1) or 1, dataset.get("SamplesPerPixel", 1) or 1
    if int(frames) != 1 or int(samples) != 1:
        raise DataError(f"The DICOM file {path} has NumberOfFrames = {frames} and SamplesPerPixel = {samples}; "
                        "read_dicom_series reads single-frame greyscale slices (one file per slice).")
    orientation = _floats(path, dataset, "ImageOrientationPatient", 6)
    row, col = orientation[:3], orientation[3:]
    if max(abs(np.linalg.norm(row) - 1), abs(np.linalg.norm(col) - 1), abs(row @ col)) > 10 * ORIENTATION_TOLERANCE:
        raise DataError(f"The DICOM file {path} has ImageOrientationPatient = {tuple(orientation.tolist())}; expected "
                        "two orthogonal unit vectors (row cosine, column cosine). Fix or remove the file.")
    pixel_spacing = _floats(path, dataset, "PixelSpacing", 2)
    if not np.all(pixel_spacing > 0):
        raise DataError(f"The DICOM file {path} has PixelSpacing = {tuple(pixel_spacing.tolist())}; expected two "
                        "numbers > 0 (mm between rows, between columns). Fix or remove the file.")
    return _Geometry(_floats(path, dataset, "ImagePositionPatient", 3), orientation, pixel_spacing,
                     (int(dataset.Rows), int(dataset.Columns)))


def _floats(path: Path, dataset: Any, keyword: str, n: int) -> np.ndarray:
    value = dataset.get(keyword)
    try:
        array = np.array([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError):
        array = np.empty(0)
    if array.shape != (n,) or not np.all(np.isfinite(array)):
        raise DataError(f"The DICOM file {path} has {keyword} = {value!r}; expected {n} finite numbers. Fix or remove "
                        "the file.")
    return array


def _check_alike(root: Path, series: list[Slice], geometries: list[_Geometry]) -> None:
    first, name = geometries[0], series[0][0].name
    for (path, _), g in zip(series[1:], geometries[1:], strict=True):
        if g.size != first.size:
            raise DataError(f"The DICOM slices in {root} differ in size: {name} is {first.size[0]} x {first.size[1]} "
                            f"(Rows x Columns), {path.name} is {g.size[0]} x {g.size[1]}; a series must hold slices "
                            "of one size. Remove the files that do not belong to the series.")
        if np.max(np.abs(g.orientation - first.orientation)) > ORIENTATION_TOLERANCE:
            raise DataError(f"The DICOM slices in {root} differ in ImageOrientationPatient: {name} has "
                            f"{tuple(first.orientation.tolist())}, {path.name} {tuple(g.orientation.tolist())}; "
                            "a series must hold parallel slices. Remove the files that do not belong to it.")
        if np.max(np.abs(g.pixel_spacing / first.pixel_spacing - 1)) > ORIENTATION_TOLERANCE:
            raise DataError(f"The DICOM slices in {root} differ in PixelSpacing: {name} has "
                            f"{tuple(first.pixel_spacing.tolist())}, {path.name} {tuple(g.pixel_spacing.tolist())}; "
                            "remove the files that do not belong to the series.")


def _check_steps(root: Path, series: list[Slice], positions: np.ndarray, normal: np.ndarray) -> float:
    """The mean step along the normal of the sorted ``positions``, after checking the steps are equal."""
    steps = np.diff(positions @ normal)
    median = float(np.median(steps))
    off = np.abs(steps - median)
    if median <= 0 or np.any(off > SLICE_STEP_TOLERANCE * median):
        k = int(np.argmax(off)) if median > 0 else int(np.argmin(steps))
        raise DataError(
            f"The DICOM slices in {root} are unevenly spaced: steps along the slice normal run from {steps.min():.4g} "
            f"to {steps.max():.4g} mm (median {median:.4g}), e.g. {steps[k]:.4g} mm between {series[k][0].name} and "
            f"{series[k + 1][0].name}; read_dicom_series needs equal steps (within {SLICE_STEP_TOLERANCE:.0%}). A "
            "missing slice, or several images at one position (echoes, phases)? Keep one complete series in the "
            "folder.")
    mean_step = (positions[-1] - positions[0]) / (len(positions) - 1)
    drift = np.linalg.norm(np.diff(positions, axis=0) - mean_step, axis=1)
    if np.max(drift) > SLICE_STEP_TOLERANCE * median:
        k = int(np.argmax(drift))
        raise DataError(f"The DICOM slices in {root} do not lie on one line: the step from {series[k][0].name} to "
                        f"{series[k + 1][0].name} departs {drift[k]:.4g} mm from the mean step (ImagePositionPatient "
                        f"of {median:.4g} mm slices); keep one complete series in the folder.")
    return float(np.mean(steps))


def _pixels(series: list[Slice], size: tuple[int, int]) -> np.ndarray:
    array = np.empty((len(series), *size), dtype=np.float32)
    for k, (path, dataset) in enumerate(series):
        try:
            pixels = np.asarray(dataset.pixel_array)
        except Exception as err:  # pydicom's pixel handlers raise ValueError, NotImplementedError, RuntimeError...
            syntax = getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", None)
            named = f" (transfer syntax {getattr(syntax, 'name', syntax)})" if syntax is not None else ""
            raise DataError(f"The pixel data of the DICOM file {path} cannot be decoded{named}: {one_line(err)}. "
                            "Replace the file, or install a pixel-data decoder for its transfer syntax (see "
                            "pydicom's documentation).") from err
        if pixels.shape != size:
            raise DataError(f"The DICOM file {path} decodes to pixels of shape {pixels.shape}; its Rows x Columns "
                            f"say {size}. Replace the file.")
        slope, intercept = _number(path, dataset, "RescaleSlope", 1.0), _number(path, dataset, "RescaleIntercept", 0.0)
        array[k] = pixels.astype(np.float64) * slope + intercept
    return array


def _number(path: Path, dataset: Any, keyword: str, default: float) -> float:
    """A numeric tag, or ``default`` where absent or empty (the DICOM identity rescale, for RescaleSlope/Intercept)."""
    value = dataset.get(keyword)
    if value is None or str(value).strip() == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not np.isfinite(number):
        raise DataError(f"The DICOM file {path} has {keyword} = {value!r}; expected a finite number. Fix the file.")
    return number
