"""``[execution]``: where and how a study's runs execute (this machine's processes, or Ray). None of these settings
changes what a run computes beyond floating-point rounding, so none is part of run ids."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from tunedepth.config._base import Frozen

__all__ = ["ExecutionConfig", "RayExecutionConfig"]


class RayExecutionConfig(Frozen):
    """``[execution.ray]``: how runs execute on Ray (``executor = "ray"``; docs/scale.md)."""

    address: str | None = Field(
        default=None,
        description="The Ray cluster to join: absent = start a local Ray instance with this machine's CPUs and GPUs "
                    "(shut down when the study ends); 'auto' = the cluster this machine belongs to (`ray start`); or "
                    "'ray://host:10001'. The study folder must be on a file system every node sees.",
    )
    cpus_per_run: Annotated[float, Field(gt=0)] = Field(
        default=1.0, description="CPUs Ray reserves for each run; torch threads = execution.num_threads or this."
    )
    gpus_per_run: Annotated[float, Field(ge=0)] = Field(
        default=0.0, description="GPUs Ray reserves for each run (fractions share a GPU, e.g. 0.5)."
    )
    max_concurrent: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="Most runs in flight at once; absent = as many as the cluster's resources allow."
    )
    max_retries: Annotated[int, Field(ge=0)] = Field(
        default=3,
        description="Times Ray re-runs a run whose worker process or node was lost (killed, out of memory). A run "
                    "that raises is not retried: it is recorded as failed, as with the local executor.",
    )
    ship_results: bool = Field(
        default=False,
        description="For clusters without a shared file system: each run trains in a temporary folder on its node, "
                    "returns its run folder's files to the driver (at most ship_max_mb), which writes them into the "
                    "study folder. Frozen features are then computed on each worker instead of read from the study "
                    "folder, and `tunedepth status` cannot see which runs are training.",
    )
    ship_max_mb: Annotated[float, Field(gt=0)] = Field(
        default=256.0, description="Largest run folder a worker returns with ship_results (a larger one fails)."
    )


class ExecutionConfig(Frozen):
    """Where and how the runs execute. None of these changes what a run computes (beyond floating-point
    rounding), so they are not part of run ids: a study may be resumed with other values."""

    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="'auto' uses CUDA when present, else the CPU."
    )
    executor: Literal["local", "ray"] = Field(
        default="local",
        description="'local': this process, or `workers` processes of this machine; 'ray': each run a Ray task on a "
                    "local Ray instance or a cluster ([execution.ray]; needs `pip install 'tunedepth[ray]'`). A "
                    "study can be resumed on either.",
    )
    ray: RayExecutionConfig = Field(default=RayExecutionConfig(), description="Settings of executor = 'ray'.")
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
    keep_checkpoints: Literal["none", "all"] = Field(
        default="none",
        description=(
            "'all' keeps each run's weights at its best epoch in its folder (weights.safetensors: the whole network, "
            "with 2 classes 13.1 MiB for EfficientNet-Lite0, 42.7 MiB for ResNet-18, 217.5 MiB for AlexNet); "
            "'none' keeps none (`tunedepth rerun` re-makes one run's weights, checked against its predictions)."
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
