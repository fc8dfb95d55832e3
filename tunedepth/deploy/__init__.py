"""Using a study's answer: a run exported as a standalone model folder, and its scores for new images."""

from __future__ import annotations

from tunedepth.deploy.export import ExportResult, export_model
from tunedepth.deploy.model_folder import MODEL_FILE, ExportedModel, load_model
from tunedepth.deploy.predict import predict_arrays, scores_frame

__all__ = ["MODEL_FILE", "ExportResult", "ExportedModel", "export_model", "load_model", "predict_arrays",
           "scores_frame"]
