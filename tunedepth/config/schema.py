"""The study file's schema: frozen pydantic models, one per TOML table.

Every setting that can change a result is a named, typed field here, with one documented
default where a default is scientifically safe. The resolved values are written next to
every run's results (see ``tunedepth.config.load.dump_resolved``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "AnalysisConfig",
    "CsvManifestDataConfig",
    "DataConfig",
    "DetectionConfig",
    "ExecutionConfig",
    "GridConfig",
    "ImageFolderDataConfig",
    "MedmnistDataConfig",
    "ModelConfig",
    "PolypDataConfig",
    "SegmentationConfig",
    "SegmentationDataConfig",
    "StudyConfig",
    "TrainingConfig",
]


_SHA256 = re.compile(r"[0-9a-f]{64}")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _DataCommon(_Frozen):
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


class PolypDataConfig(_Frozen):
    """Colonoscopy frames with polyp masks, for ``task = "detection"``: Kvasir-SEG (each image its own group, a
    seeded image-level split) or CVC-ClinicDB (split by the videos derived from the frames; see
    :mod:`tunedepth.data.video_segments`)."""

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


class SegmentationDataConfig(_Frozen):
    """Images for ``task = "segmentation"``: the carotid ultrasound proxy ('carotid': transverse B-mode images with
    expert artery masks, split by acquisition sequence; tunedepth/data/carotid.py) or your own layered annotations
    ('layered': images/ plus one JSON file with two interface polylines per image; tunedepth/data/layered.py)."""

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


DataConfig = Annotated[
    MedmnistDataConfig | ImageFolderDataConfig | CsvManifestDataConfig | PolypDataConfig | SegmentationDataConfig,
    Field(discriminator="source"),
]


class SegmentationConfig(_Frozen):
    """Boundary segmentation by pixel-patch classification (``task = "segmentation"``; paper section II-D)."""

    work_size_px: Annotated[int, Field(ge=32, le=2048)] = Field(
        default=128,
        description="Images are resampled so that their longer side has this many pixels (masks: nearest) before "
        "patches are cut; distances are converted back to the original pixels.",
    )
    pixel_spacing_um: Annotated[float, Field(gt=0)] | None = Field(
        default=None,
        description="Pixel spacing of the ORIGINAL images in micrometres; None (unknown) reports errors in pixels, "
        "except for layered annotations that carry their own pixel_spacing_um.",
    )
    unit: Literal["auto", "um", "px"] = Field(
        default="auto",
        description="Unit of the boundary errors: 'um' needs the pixel spacing of every image (pixel_spacing_um "
        "here, or in every layered annotation) and refuses the study otherwise; 'px' reports pixels of the original "
        "images even when a spacing is known; 'auto' gives um when the spacing of every image is known, px when none "
        "is, and refuses a mix.",
    )
    pixels_per_class: Annotated[int, Field(ge=1)] = Field(
        default=100, description="Training pixels drawn per image for the boundary and for the background."
    )
    near_fraction: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.5, description="Share of the background pixels drawn near the boundary (hard negatives)."
    )
    near_distance_px: Annotated[int, Field(ge=1)] = Field(
        default=3, description="Largest distance of a hard background pixel to the boundary, in resampled pixels."
    )
    val_pixels_per_class: Annotated[int, Field(ge=1)] = Field(
        default=50, description="Validation (and test) pixels per image and class for the AUC tables."
    )
    stride: Annotated[int, Field(ge=1)] = Field(
        default=2, description="Dense inference on a stride-s grid of patch centres, bilinear in between (1 = every "
        "pixel).",
    )
    roi_margin_px: Annotated[int, Field(ge=0)] = Field(
        default=12,
        description="Region of interest: the reference region's bounding box grown by this many resampled pixels "
        "(the paper also segmented within a region of interest around the vessel wall).",
    )
    n_rays: Annotated[int, Field(ge=8)] = Field(
        default=180, description="Rays from the region's centre along which a closed boundary is read."
    )
    smoothing: Annotated[float, Field(ge=0)] = Field(
        default=2.0, description="Smoothing of the boundary read off the map (0 = none): sigma in rays for closed "
        "boundaries, bandwidth in columns of a smoothing spline for layered ones; see "
        "tunedepth/evaluation/boundary_extraction.py.",
    )
    max_step_px: Annotated[float, Field(ge=0.25)] | None = Field(
        default=None,
        description="Closed boundaries: read the radii of all rays together, as the path of highest summed "
        "confidence whose radius changes by at most this many working pixels between neighbouring rays (dynamic "
        "programming; at least 0.25, the radial sampling step); None (default) takes each ray's own maximum.",
    )


class DetectionConfig(_Frozen):
    """Candidates and patches of ``task = "detection"`` (paper section II-A; paper-protocol.md section 1.3)."""

    max_candidates: Annotated[int, Field(ge=1)] = Field(
        default=50, description="Most candidates per frame from the handcrafted generator (tunedepth.data.candidates)."
    )
    min_polyp_area_px: Annotated[int, Field(ge=1)] = Field(
        default=50, description="Smallest mask component counted as a polyp, in pixels."
    )
    scales: tuple[Annotated[float, Field(gt=0)], ...] = Field(
        default=(1.0, 1.2, 1.5), min_length=1, description="Box enlargements of a candidate's patches (paper)."
    )
    shift_fraction: Annotated[float, Field(ge=0, lt=0.5)] = Field(
        default=0.1,
        description="Translations by this share of the box left, right, up and down, plus the centre (paper: 10%); "
        "0 = centre only.",
    )
    orientations: Annotated[int, Field(ge=1, le=8)] = Field(
        default=8, description="Mirror/rotation copies of each patch, the first n of the 8 (paper: 8)."
    )
    train_patches: Annotated[int, Field(ge=2)] = Field(
        default=100_000,
        description="Size of the stratified training patch set at train_fraction 1 (half positive; paper: 100,000).",
    )
    test_views: Literal["all", "scales"] = Field(
        default="all",
        description="Patches averaged per candidate at validation and test: 'all' views (paper) or one centred, "
        "unrotated patch per scale.",
    )

    @field_validator("scales")
    @classmethod
    def _scales_unique(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if len(set(v)) != len(v):
            raise ValueError(f"scales must be unique; got {list(v)}")
        return v


class ModelConfig(_Frozen):
    """Which network and which starting weights for the fine-tuning regime."""

    architecture: str = Field(description="Registered architecture, see `tunedepth models`.")
    weights: Literal["imagenet", "checkpoint"] = Field(
        default="imagenet",
        description="Starting weights of the finetune regime; scratch always starts from random init.",
    )
    checkpoint: Path | None = Field(
        default=None, description="State-dict file, required when weights = 'checkpoint'."
    )
    checkpoint_sha256: str | None = Field(
        default=None,
        description=(
            "Expected sha256 of the checkpoint file (64 lower-case hex digits, as `sha256sum` prints it); when set, "
            "a checkpoint with another sha256 is refused. Only with weights = 'checkpoint'. Not part of run ids "
            "(they hash the file's actual sha256, which this must equal)."
        ),
    )

    @field_validator("checkpoint_sha256")
    @classmethod
    def _sha256_is_hex(cls, v: str | None) -> str | None:
        if v is not None and not _SHA256.fullmatch(v):
            raise ValueError(
                f"checkpoint_sha256 must be 64 lower-case hex digits, as `sha256sum <checkpoint>` prints them; got "
                f"{v!r} ({len(v)} characters)"
            )
        return v

    @model_validator(mode="after")
    def _checkpoint_given_when_needed(self) -> ModelConfig:
        if self.weights == "checkpoint" and self.checkpoint is None:
            raise ValueError("weights = 'checkpoint' needs a 'checkpoint' path to a state-dict file.")
        for key in ("checkpoint", "checkpoint_sha256"):
            if self.weights != "checkpoint" and getattr(self, key) is not None:
                raise ValueError(f"{key!r} is only read when weights = 'checkpoint'; got weights = {self.weights!r}. "
                                 f"Remove {key!r} or set weights = 'checkpoint'.")
        return self


class GridConfig(_Frozen):
    """The grid of runs: regime x depth x train_fraction x seed."""

    regimes: tuple[Literal["scratch", "finetune"], ...] = Field(
        description="Which regimes to run; scratch is its own regime, not depth 0."
    )
    depths: Literal["all"] | tuple[Annotated[int, Field(ge=1)] | str, ...] = Field(
        description=(
            "Fine-tuning depths: 'all' for 1..n_groups, or a list whose entries are depths (trainable "
            "groups counted from the output) or group names meaning 'tune from this group to the output' "
            "(e.g. 'conv3' on AlexNet = depth 6 = ft:conv3-fc8)."
        )
    )
    train_fractions: tuple[Annotated[float, Field(gt=0, le=1)], ...] = Field(
        description="Shares of the training split, each in (0, 1]; subsets are nested and stratified."
    )
    seeds: tuple[int, ...] = Field(description="Seeds; each sets the training subset and the initialisation.")

    @field_validator("regimes", "train_fractions", "seeds")
    @classmethod
    def _non_empty_unique(cls, v: tuple[object, ...]) -> tuple[object, ...]:
        if len(v) == 0:
            raise ValueError("must list at least one value (an empty list never means 'all')")
        if len(set(v)) != len(v):
            raise ValueError(f"values must be unique; got {list(v)}")
        return v

    @field_validator("depths")
    @classmethod
    def _depths_non_empty(cls, v: str | tuple[int | str, ...]) -> str | tuple[int | str, ...]:
        if not isinstance(v, str) and (len(v) == 0 or len(set(v)) != len(v)):
            raise ValueError(f"must be 'all' or a non-empty list of unique depths; got {list(v)}")
        return v


class TrainingConfig(_Frozen):
    """Optimisation, schedule and stopping. Defaults follow the paper (Table II)."""

    optimizer: Literal["sgd", "adamw"] = Field(default="sgd", description="SGD with momentum (paper) or AdamW.")
    lr: Annotated[float, Field(gt=0)] | tuple[Annotated[float, Field(gt=0)], ...] = Field(
        default=0.001,
        description=(
            "Base learning rate of tuned groups (paper: 0.001). A list trains every run at each value "
            "and keeps the one with the best validation AUC."
        ),
    )
    head_lr_mult: Annotated[float, Field(gt=0)] = Field(
        default=10.0, description="Head lr = head_lr_mult x lr when fine-tuning (paper: 10). Scratch uses 1."
    )
    bias_lr_mult: Annotated[float, Field(gt=0)] = Field(
        default=2.0, description="Bias lr = bias_lr_mult x the weight lr of the same group (paper: 2)."
    )
    momentum: Annotated[float, Field(ge=0, lt=1)] = Field(default=0.9, description="SGD momentum (paper: 0.9).")
    weight_decay: Annotated[float, Field(ge=0)] = Field(
        default=0.0, description="Weight decay on weights (not biases or norm parameters)."
    )
    lr_decay_per_epoch: Annotated[float, Field(gt=0, le=1)] = Field(
        default=0.95, description="The lr is multiplied by this after every epoch (paper's gamma: 0.95)."
    )
    batch_size: Annotated[int, Field(ge=1)] = Field(default=64, description="Mini-batch size (paper: not stated).")
    max_epochs: Annotated[int, Field(ge=1)] = Field(default=30, description="Upper bound on epochs.")
    patience: Annotated[int, Field(ge=1)] = Field(
        default=5, description="Stop after this many epochs without a better validation AUC."
    )
    min_iterations: Annotated[int, Field(ge=0)] = Field(
        default=0,
        description=(
            "Train at least this many mini-batches before stopping (even past max_epochs), so small "
            "training fractions, with few mini-batches per epoch, still converge."
        ),
    )
    bn_policy: Literal["freeze", "train"] = Field(
        default="freeze",
        description=(
            "BatchNorm layers of frozen groups: 'freeze' keeps them in eval mode (running statistics "
            "fixed), 'train' lets them use batch statistics and update running statistics."
        ),
    )
    augment: bool = Field(
        default=False, description="Random online augmentation of training images (flips, small shifts/rotations)."
    )
    @field_validator("lr")
    @classmethod
    def _lr_list_non_empty(cls, v: float | tuple[float, ...]) -> float | tuple[float, ...]:
        if isinstance(v, tuple) and (len(v) == 0 or len(set(v)) != len(v)):
            raise ValueError(f"a list of learning rates must be non-empty and unique; got {list(v)}")
        return v

    @property
    def lrs(self) -> tuple[float, ...]:
        """The learning rates to try, as a tuple."""
        return self.lr if isinstance(self.lr, tuple) else (self.lr,)


class ExecutionConfig(_Frozen):
    """Where and how the runs execute. None of these changes what a run computes (beyond floating-point
    rounding), so they are not part of run ids: a study may be resumed with other values."""

    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="'auto' uses CUDA when present, else the CPU."
    )
    workers: Annotated[int, Field(ge=1)] | Literal["auto"] = Field(
        default="auto",
        description=(
            "Runs trained in parallel, each in its own process. 'auto': 1 on CUDA and on CPU (measured faster "
            "than 2 processes x 1 thread on 2 cores; see docs/benchmarks.md)."
        ),
    )
    num_threads: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="torch CPU threads per worker; default: the cores divided among the workers."
    )
    feature_cache: bool = Field(
        default=True,
        description=(
            "Compute the frozen groups' output once per image and train the rest on it, where that is exact "
            "(frozen BatchNorm, no augmentation, no dropout in the frozen part; never for scratch or depth = all). "
            "Each run records whether it was used."
        ),
    )
    feature_cache_dtype: Literal["float32", "float16"] = Field(
        default="float32",
        description=(
            "Storage precision of cached features (computed in float32). float32 reproduces uncached runs (the demo's "
            "33 test AUCs were equal); float16 halves the memory but its rounding changes training trajectories "
            "(test AUC differences up to 0.09 on the demo; docs/benchmarks.md)."
        ),
    )
    feature_cache_memory_gb: Annotated[float, Field(gt=0)] = Field(
        default=2.0,
        description="Cached features beyond this many GB go to memory-mapped files in the study folder.",
    )
    feature_cache_max_gb: Annotated[float, Field(gt=0)] = Field(
        default=16.0,
        description=(
            "Largest total size of cached features (memory and files). Cuts are cached smallest first while they fit; "
            "a run whose cut does not fit uses the deepest cached cut before it (still exact), or none. Features at "
            "early cuts of large inputs can be larger than the images (a 224-px EfficientNet stem output is 1.6 MB)."
        ),
    )


class AnalysisConfig(_Frozen):
    """How a finished study is analysed: significance level, intervals, operating points, the depth rule.

    None of these changes a run's result, so they are not part of run ids: ``tunedepth recommend`` and
    ``tunedepth report`` can re-analyse a finished study with other values (their ``--alpha`` and ``--rule``).
    """

    alpha: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.05,
        description=(
            "Significance level of the recommendation's steps (on validation), of its test against scratch and "
            "of the significance table (after Holm)."
        ),
    )
    confidence: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.95, description="Level of every two-sided confidence interval."
    )
    fpr_targets: tuple[Annotated[float, Field(gt=0, lt=1)], ...] = Field(
        default=(0.10, 0.15, 0.20),
        min_length=1,
        description="False-positive rates at which sensitivity is reported (binary tasks; paper: 10%, 15%, 20%).",
    )
    n_boot: Annotated[int, Field(ge=100)] = Field(
        default=2000, description="Bootstrap resamples of a one-seed sensitivity interval."
    )
    bootstrap_seed: Annotated[int, Field(ge=0)] = Field(default=0, description="Seed of that bootstrap.")
    fps_targets: tuple[Annotated[float, Field(gt=0)], ...] = Field(
        default=(0.01, 0.1, 1.0),
        min_length=1,
        description="False positives per frame at which detection sensitivity is reported (task = 'detection').",
    )
    depth_rule: Literal["lookahead", "stepwise"] = Field(
        default="lookahead",
        description=(
            "How the recommendation walks from depth 1 deeper, on validation: 'stepwise' moves to the next depth "
            "while it is significantly better than the current one; 'lookahead' compares the current depth with "
            "every deeper one (Holm-adjusted) and moves to the shallowest that is significantly better, until "
            "none is. See tunedepth/study/recommend.py."
        ),
    )

    @field_validator("fpr_targets", "fps_targets")
    @classmethod
    def _fpr_unique(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if len(set(v)) != len(v):
            raise ValueError(f"operating points must be unique; got {list(v)}")
        return v


class StudyConfig(_Frozen):
    """A whole study: data, model, grid and training settings."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Study name; default output folder.")
    task: Literal["classification", "detection", "segmentation"] = Field(
        default="classification",
        description=(
            "'classification': one label per image. 'detection': polyp candidates in colonoscopy frames, "
            "classified from patches and scored by FROC (data.source kvasir_seg or cvc_clinicdb). 'segmentation': "
            "boundaries by pixel-patch classification, scored by boundary distance (data.source carotid, "
            "layered, kvasir_seg or cvc_clinicdb)."
        ),
    )
    data: DataConfig
    model: ModelConfig
    grid: GridConfig
    training: TrainingConfig = TrainingConfig()
    detection: DetectionConfig | None = Field(
        default=None, description="Candidates and patches; only with task = 'detection' (default settings if absent)."
    )
    segmentation: SegmentationConfig | None = Field(
        default=None, description="Pixel patches, dense inference and boundary reading; only with task = "
        "'segmentation' (default settings if absent).",
    )
    execution: ExecutionConfig = ExecutionConfig()
    analysis: AnalysisConfig = AnalysisConfig()

    @model_validator(mode="after")
    def _task_fits_data(self) -> StudyConfig:
        polyp = isinstance(self.data, PolypDataConfig)
        masks = polyp or isinstance(self.data, SegmentationDataConfig)
        if self.task == "detection" and not polyp:
            raise ValueError(
                f"task = 'detection' needs data.source 'kvasir_seg' or 'cvc_clinicdb'; got {self.data.source!r}."
            )
        if self.task == "segmentation" and not masks:
            raise ValueError(f"task = 'segmentation' needs data.source 'carotid', 'layered', 'kvasir_seg' or "
                             f"'cvc_clinicdb'; got {self.data.source!r}.")
        if self.task == "classification" and masks:
            raise ValueError(f"data.source {self.data.source!r} holds masks, not image labels; set task = 'detection' "
                             "or 'segmentation'.")
        if self.task == "segmentation" and polyp and self.data.test_source is not None:  # type: ignore[union-attr]
            raise ValueError("cross-data-set mode (data.test_source) is for task = 'detection' only.")
        for table in ("detection", "segmentation"):
            if self.task != table and getattr(self, table) is not None:
                raise ValueError(f"the [{table}] table is only read with task = '{table}'; remove it or set the task.")
        return self

    @property
    def segmentation_settings(self) -> SegmentationConfig:
        """The [segmentation] table, or its defaults when the study file has none."""
        return self.segmentation if self.segmentation is not None else SegmentationConfig()

    @property
    def detection_settings(self) -> DetectionConfig:
        """The [detection] table, or its defaults when the study file has none."""
        return self.detection if self.detection is not None else DetectionConfig()
