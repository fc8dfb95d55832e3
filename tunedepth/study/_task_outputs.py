"""What differs between tasks inside a run: the cases scored (images, candidates, pixels), the validation score,
and the task's own test outputs (FROC operating points, boundary errors).

Classification scores images; detection scores candidates (each the mean of its patches); segmentation scores
sampled pixels and, on whole test images, boundary errors. :mod:`tunedepth.study.runner` calls these for every run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch

from tunedepth.data import ImageSet
from tunedepth.evaluation import candidate_hits_from_table, roc_auc_score, sensitivity_at_fps
from tunedepth.models import GroupedModel
from tunedepth.study.detection import candidate_log_odds
from tunedepth.study.prepare import PreparedStudy
from tunedepth.study.segmentation import boundary_errors

__all__ = ["case_labels", "case_log_odds", "detection_metrics", "segmentation_outputs", "val_score"]


def case_log_odds(prepared: PreparedStudy, log_odds: np.ndarray) -> np.ndarray:
    """Per-case log-odds: the rows themselves for classification; per candidate (mean patch probability) for
    detection, as columns (background, polyp)."""
    if prepared.detection is None:
        return log_odds
    polyp = candidate_log_odds(log_odds[:, 1], prepared.detection.n_eval_views)
    return np.c_[-polyp, polyp]


def val_score(prepared: PreparedStudy) -> Callable[[np.ndarray, np.ndarray], float]:
    """The validation score that stops training and picks the lr: ROC AUC of the cases (candidates, for detection)."""
    if prepared.detection is None:
        return roc_auc_score
    labels = prepared.detection.candidates["val"].labels
    return lambda _patch_labels, log_odds: roc_auc_score(labels, case_log_odds(prepared, log_odds))


def case_labels(prepared: PreparedStudy, split: str) -> torch.Tensor:
    if prepared.detection is None:
        images: ImageSet = getattr(prepared.data, split)
        return images.labels
    return torch.from_numpy(prepared.detection.candidates[split].labels)


def segmentation_outputs(prepared: PreparedStudy, model: GroupedModel, device: torch.device
                          ) -> tuple[dict[str, Any], dict[str, pd.DataFrame], dict[str, np.ndarray]]:
    """A segmentation run's per-image boundary errors on the test images, their means, and the overlays of the
    first test images (all empty for other tasks)."""
    if prepared.segmentation is None:
        return {}, {}, {}
    result = boundary_errors(model, prepared.segmentation, patch_size=prepared.config.data.image_size, device=device)
    errors = result.errors
    unit = str(errors["unit"].iloc[0]) if len(errors) else ""
    metrics: dict[str, Any] = {f"test_{column}": float(errors[column].mean()) for column in
               ("mean_boundary_error", "hausdorff95_boundary_error", "dice_score", "iou_score")}
    metrics |= {"boundary_error_unit": unit, "n_test_images": len(errors)}
    return metrics, {"boundary_errors_test": errors}, result.overlays


def detection_metrics(prepared: PreparedStudy, test_log_odds: np.ndarray) -> dict[str, Any]:
    """FROC sensitivity of the test candidates at each ``analysis.fps_targets`` (empty for classification)."""
    if prepared.detection is None:
        return {}
    targets = prepared.config.analysis.fps_targets
    cands = prepared.detection.candidates["test"]
    hits = candidate_hits_from_table(cands.frame_index, cands.polyp_index, test_log_odds[:, 1], cands.n_polyps)
    sens = sensitivity_at_fps(hits, fps_targets=targets)
    out: dict[str, Any] = {f"test_sensitivity_at_{t:g}_fps": float(v) for t, v in zip(targets, sens, strict=True)}
    out |= {"n_test_frames": len(cands.frames), "n_test_polyps": int(cands.n_polyps.sum()),
            "test_candidate_recall": cands.recall}
    return out
