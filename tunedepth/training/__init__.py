"""Training: the loop, early stopping and prediction."""

from __future__ import annotations

from tunedepth.training.dense import cut_pixel_patches, dense_class_probabilities, patch_centres
from tunedepth.training.features import (
    CachedInputs,
    CacheDtype,
    FeatureStore,
    cache_cut,
    plan_cached_cuts,
    rows_of,
    run_cut,
)
from tunedepth.training.loop import (
    EpochRecord,
    StoppingRule,
    TrainingDivergedError,
    TrainResult,
    predict_log_odds,
    predict_proba,
    train_model,
)

__all__ = [
    "CacheDtype",
    "CachedInputs",
    "EpochRecord",
    "FeatureStore",
    "StoppingRule",
    "TrainResult",
    "TrainingDivergedError",
    "cache_cut",
    "cut_pixel_patches",
    "dense_class_probabilities",
    "patch_centres",
    "plan_cached_cuts",
    "predict_log_odds",
    "predict_proba",
    "rows_of",
    "run_cut",
    "train_model",
]
