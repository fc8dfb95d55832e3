"""The ``[data]`` table: one config model per registered data source, and the registry that picks it.

A study file's ``data.source`` names the model its ``[data]`` table is validated with. Adding a data source = its
config model here (or in a module of its own) registered in :data:`DATA_CONFIGS` under the source's name, and its
loader registered under the same name in :data:`tunedepth.data.DATA_SOURCES`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from tunedepth._registry import Registry
from tunedepth.config._base import DataSourceConfig

__all__ = [
    "DATA_CONFIGS",
    "CsvManifestDataConfig",
    "FrameQualityDataConfig",
    "GeneratedCtaDataConfig",
    "Medmnist3dDataConfig",
    "ImageFolderDataConfig",
    "MedmnistDataConfig",
    "PolypDataConfig",
    "SegmentationDataConfig",
    "VolumeTableDataConfig",
]


class _DataCommon(DataSourceConfig):
    holds: ClassVar[str] = "image labels"

    image_size: Annotated[int, Field(ge=16, le=1024)] = Field(
        description="Side of the square model input in pixels; images are resized (bilinear) to it."
    )
    balance: Literal["none", "downsample", "weighted_loss"] = Field(
        default="none",
        description=(
            "Class imbalance handling on the training subset: 'downsample' randomly drops majority-class "
            "cases (the paper's choice), 'weighted_loss' weights the loss by inverse class frequency."
        ),
    )


class MedmnistDataConfig(_DataCommon):
    """A MedMNIST 2D data set, with its official train/val/test split."""

    source: Literal["medmnist"]
    flag: str = Field(description="MedMNIST flag, e.g. 'pneumoniamnist', 'breastmnist', 'retinamnist'.")
    size: Literal[28, 64, 128, 224] = Field(
        default=28, description="Which official file to read: 28 -> '<flag>.npz', 64 -> '<flag>_64.npz', ..."
    )
    root: Path | None = Field(
        default=None,
        description=(
            "Folder holding the .npz files. Default: $TUNEDEPTH_DATA_DIR/medmnist if set, "
            "else the user cache (~/.cache/tunedepth/medmnist), downloading there when absent."
        ),
    )
    mirror_url: str | None = Field(
        default=None,
        description="Base URL to download from instead of the official Zenodo record (a local mirror).",
    )


class _SeededSplit(_DataCommon):
    path: Path = Field(description="Folder (image_folder) or CSV file (csv_manifest).")
    val_fraction: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.2, description="Share of the cases held out for validation when no split is given."
    )
    test_fraction: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.2, description="Share of the cases held out for testing when no split is given."
    )
    split_seed: int = Field(default=0, description="Seed of the train/val/test split (not of the runs).")

    @model_validator(mode="after")
    def _fractions_leave_training_data(self) -> _SeededSplit:
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError(
                f"val_fraction + test_fraction must be < 1 to leave training data; "
                f"got {self.val_fraction} + {self.test_fraction}."
            )
        return self


class ImageFolderDataConfig(_SeededSplit):
    """An image folder with one sub-folder per class (sub-folder names are the class names)."""

    source: Literal["image_folder"]


class CsvManifestDataConfig(_SeededSplit):
    """A CSV manifest with columns path, label and optional patient_id and split."""

    source: Literal["csv_manifest"]


class FrameQualityDataConfig(_DataCommon):
    """The frame-quality proxy (issue 16): Kvasir-SEG or CVC-ClinicDB frames, each kept clean (informative) or
    degraded (non-informative), split by group (see :mod:`tunedepth.data.sources.frame_quality`)."""

    source: Literal["colonoscopy_frame_quality"]
    frames: Literal["kvasir_seg", "cvc_clinicdb"] = Field(
        description="Whose frames: 'kvasir_seg' (split by image) or 'cvc_clinicdb' (split by derived video)."
    )
    root: Path | None = Field(
        default=None,
        description="That data set's folder (images/ and masks/). Default: its place under $TUNEDEPTH_DATA_DIR. "
        "Not part of run ids.",
    )
    non_informative_fraction: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.5, description="Share of the frames degraded (label 1, non_informative)."
    )
    val_fraction: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.2, description="Share of the frames (whole groups) held out for validation."
    )
    test_fraction: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.2, description="Share of the frames (whole groups) held out for testing."
    )
    split_seed: int = Field(
        default=0, description="Seed of the split, of which frames are degraded and of every degradation's parameters."
    )
    max_frames: Annotated[int, Field(ge=10)] | None = Field(
        default=None, description="Use only the first max_frames frames in file order (quick trials, tests)."
    )
    skip_bad_frames: bool = Field(default=False, description="Leave out unreadable frames instead of refusing.")

    @model_validator(mode="after")
    def _fractions_leave_training_data(self) -> FrameQualityDataConfig:
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError(f"val_fraction + test_fraction must be < 1 to leave training data; got "
                             f"{self.val_fraction} + {self.test_fraction}.")
        return self


class Medmnist3dDataConfig(DataSourceConfig):
    """A binary MedMNIST 3D data set with its official split, for ``task = "volume_candidates"``: every volume is
    one candidate at its centre (see :mod:`tunedepth.data.sources.medmnist3d`)."""

    holds: ClassVar[str] = "volumes"

    source: Literal["medmnist3d"]
    flag: Literal["vesselmnist3d", "adrenalmnist3d", "nodulemnist3d", "synapsemnist3d"] = Field(
        description="MedMNIST 3D flag."
    )
    size: Literal[28, 64] = Field(default=28, description="Which official file: 28 -> '<flag>.npz', 64 -> "
                                  "'<flag>_64.npz' (voxels per side).")
    root: Path | None = Field(
        default=None,
        description="Folder holding the .npz files. Default: $TUNEDEPTH_DATA_DIR/medmnist, else the user cache "
        "(no download). Not part of run ids.",
    )
    image_size: Annotated[int, Field(ge=16, le=1024)] = Field(
        description="Side of the square 2.5D patches fed to the network, in pixels."
    )


class GeneratedCtaDataConfig(DataSourceConfig):
    """Generated CT-angiography-like volumes with known emboli and a candidate table each, for
    ``task = "volume_candidates"`` (see :mod:`tunedepth.data.volumes.generated`)."""

    holds: ClassVar[str] = "volumes"

    source: Literal["generated_cta"]
    image_size: Annotated[int, Field(ge=16, le=1024)] = Field(
        description="Side of the square 2.5D patches fed to the network, in pixels."
    )
    n_volumes: tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)]] = Field(
        default=(60, 20, 20), description="Volumes of train, validation and test."
    )
    shape: tuple[Annotated[int, Field(ge=16)], Annotated[int, Field(ge=16)], Annotated[int, Field(ge=16)]] = Field(
        default=(40, 40, 40), description="Voxels (Z, Y, X) per volume."
    )
    spacing: tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)]] = \
        Field(default=(1.0, 1.0, 1.0), description="Voxel size (sz, sy, sx) in mm.")
    n_tubes: Annotated[int, Field(ge=1, le=10)] = Field(default=3, description="Straight vessels per volume.")
    max_emboli: Annotated[int, Field(ge=0, le=10)] = Field(default=2, description="Most emboli per volume.")
    contrast: Annotated[float, Field(gt=0)] = Field(default=400.0, description="Lumen value over the background.")
    defect_contrast: float = Field(default=60.0, description="Value inside an embolus.")
    noise_sd: Annotated[float, Field(ge=0)] = Field(default=60.0, description="Standard deviation of the noise.")
    negatives_per_volume: Annotated[int, Field(ge=0)] = Field(
        default=10, description="False candidates per volume (on vessel axes, walls and background)."
    )
    seed: Annotated[int, Field(ge=0)] = Field(default=0, description="Seed of the volumes and their candidates.")


class VolumeTableDataConfig(DataSourceConfig):
    """Your volumes and a CSV of candidates in them, for ``task = "volume_candidates"`` (see
    :mod:`tunedepth.data.sources.volume_table`); split by volume."""

    holds: ClassVar[str] = "volumes"

    source: Literal["volume_table"]
    volumes: Path = Field(description="Folder of volumes: .nii/.nii.gz files, .npy arrays or DICOM series folders.")
    candidates: Path = Field(
        description="CSV of candidates: volume_id, label (1 = lesion), z, y, x (voxel) or world_x, world_y, world_z "
        "(LPS mm), optional lesion (candidates of one lesion share it)."
    )
    coordinates: Literal["voxel", "world"] = Field(default="voxel", description="Which coordinate columns to read.")
    image_size: Annotated[int, Field(ge=16, le=1024)] = Field(
        description="Side of the square 2.5D patches fed to the network, in pixels."
    )
    val_fraction: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.2, description="Share of the volumes held out for validation."
    )
    test_fraction: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.2, description="Share of the volumes held out for testing."
    )
    split_seed: int = Field(default=0, description="Seed of the split by volume.")


class PolypDataConfig(DataSourceConfig):
    """Colonoscopy frames with polyp masks, for ``task = "detection"``: Kvasir-SEG (each image its own group, a
    seeded image-level split) or CVC-ClinicDB (split by the videos derived from the frames; see
    :mod:`tunedepth.data.masked.video_segments`)."""

    holds: ClassVar[str] = "masks"

    source: Literal["kvasir_seg", "cvc_clinicdb"]
    root: Path | None = Field(
        default=None,
        description=(
            "The data set folder (images/ and masks/). Default: $TUNEDEPTH_DATA_DIR/kvasir-seg or "
            "$TUNEDEPTH_DATA_DIR/cvc-clinicdb-pranet-train550. Not part of run ids."
        ),
    )
    image_size: Annotated[int, Field(ge=16, le=1024)] = Field(
        description="Side of the square patches fed to the network, in pixels (paper: 227, implied)."
    )
    val_fraction: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.1, description="Share of the frames (whole groups) held out for validation."
    )
    test_fraction: Annotated[float, Field(ge=0, lt=1)] = Field(
        default=0.2,
        description="Share of the frames (whole groups) held out for testing; 0 exactly when test_source is set.",
    )
    split_seed: int = Field(default=0, description="Seed of the frame split and of the training patch draw.")
    max_frames: Annotated[int, Field(ge=3)] | None = Field(
        default=None, description="Use only the first max_frames frames in file order (quick trials, tests)."
    )
    skip_bad_frames: bool = Field(
        default=False,
        description=(
            "Skip frames that cannot be used (missing or unreadable file, mask size mismatch, mask without polyp) "
            "and list them in the study folder, instead of refusing the data set."
        ),
    )
    test_source: Literal["kvasir_seg", "cvc_clinicdb"] | None = Field(
        default=None,
        description="Cross-data-set mode: test on every frame of this other data set (train and validate on source).",
    )
    test_root: Path | None = Field(default=None, description="Folder of test_source (default as for root).")

    @model_validator(mode="after")
    def _split_is_consistent(self) -> PolypDataConfig:
        if self.test_source is None and self.test_root is not None:
            raise ValueError("'test_root' is only read in cross-data-set mode; set test_source too, or remove it.")
        if self.test_source is not None:
            if self.test_source == self.source:
                raise ValueError(f"test_source must be the other data set than source; both are {self.source!r}.")
            if self.test_fraction != 0:
                raise ValueError(
                    f"with test_source = {self.test_source!r} the test split is that data set; set test_fraction = 0 "
                    f"(got {self.test_fraction})."
                )
        elif self.test_fraction == 0:
            raise ValueError("test_fraction = 0 leaves no test frames; give a share in (0, 1) or set test_source.")
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError(
                f"val_fraction + test_fraction must be < 1 to leave training frames; got {self.val_fraction} + "
                f"{self.test_fraction}."
            )
        return self


class SegmentationDataConfig(DataSourceConfig):
    """Images for ``task = "segmentation"``: the carotid ultrasound proxy ('carotid': transverse B-mode images with
    expert artery masks, split by acquisition sequence; tunedepth/data/masked/carotid.py) or your own layered
    annotations ('layered': images/ plus one JSON file with two interface polylines per image;
    tunedepth/data/boundaries/layered.py)."""

    holds: ClassVar[str] = "masks"

    source: Literal["carotid", "layered"]
    root: Path | None = Field(
        default=None,
        description="The data set folder. Default for 'carotid': $TUNEDEPTH_DATA_DIR/carotid-cca-us-subset; "
        "required for 'layered'. Not part of run ids.",
    )
    image_size: Annotated[int, Field(ge=8, le=256)] = Field(
        description="Side of the square pixel patches fed to the network, in pixels of the resampled image."
    )
    val_fraction: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.15, description="Share of the images (whole groups) held out for validation."
    )
    test_fraction: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.25, description="Share of the images (whole groups) held out for testing."
    )
    split_seed: int = Field(default=0, description="Seed of the split and of the training pixel draw.")
    max_frames: Annotated[int, Field(ge=3)] | None = Field(
        default=None, description="Use only the first max_frames images in file order (quick trials, tests)."
    )
    skip_bad_frames: bool = Field(
        default=False, description="Skip and list unusable images (missing or unreadable file, bad mask) instead of "
        "refusing the data set.",
    )

    @model_validator(mode="after")
    def _fractions_leave_training_data(self) -> SegmentationDataConfig:
        if self.source == "layered" and self.root is None:
            raise ValueError("data.source = 'layered' needs data.root, the folder holding images/ and annotations/.")
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError(
                f"val_fraction + test_fraction must be < 1 to leave training images; got {self.val_fraction} + "
                f"{self.test_fraction}."
            )
        return self


DATA_CONFIGS: Registry[type[DataSourceConfig]] = Registry("data source")
"""The config model of each ``data.source``, by name (in registration order in messages)."""

for _model in (MedmnistDataConfig, ImageFolderDataConfig, CsvManifestDataConfig, FrameQualityDataConfig,
               GeneratedCtaDataConfig, Medmnist3dDataConfig, PolypDataConfig, SegmentationDataConfig,
               VolumeTableDataConfig):
    for _source in _model.model_fields["source"].annotation.__args__:  # type: ignore[union-attr]
        DATA_CONFIGS.register(_source, _model)
