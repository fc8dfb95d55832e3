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
    Trainer,
    TrainingDivergedError,
    TrainResult,
    train_model,
)
from tunedepth.training.predict import predict_log_odds, predict_proba

__all__ = [
    "CacheDtype",
    "CachedInputs",
    "EpochRecord",
    "FeatureStore",
    "StoppingRule",
    "TrainResult",
    "Trainer",
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
