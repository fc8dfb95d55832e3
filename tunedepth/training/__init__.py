"""Training: the loop, early stopping and prediction."""

from __future__ import annotations

from tunedepth.training.loop import (
    EpochRecord,
    StoppingRule,
    TrainingDivergedError,
    TrainResult,
    predict_proba,
    train_model,
)

__all__ = ["EpochRecord", "StoppingRule", "TrainResult", "TrainingDivergedError", "predict_proba", "train_model"]
