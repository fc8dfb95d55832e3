"""Evaluation metrics and statistics (numpy, scipy and scikit-learn only; no torch)."""

from __future__ import annotations

from tunedepth.evaluation.boundary_extraction import (
    ClosedContour,
    extract_closed_boundary,
    extract_layered_boundaries,
    extract_layered_boundary,
)
from tunedepth.evaluation.calibration import (
    ReliabilityCurve,
    brier_loss,
    case_losses,
    expected_calibration_error,
    log_loss,
    reliability_curve,
)
from tunedepth.evaluation.candidate_hits import CandidateHits, candidate_hits_from_table, match_candidates
from tunedepth.evaluation.confidence_set import (
    ModelConfidenceSet,
    PairedLossTest,
    model_confidence_set,
    paired_loss_test,
)
from tunedepth.evaluation.decision_threshold import threshold_at_fpr
from tunedepth.evaluation.delong import (
    AucInterval,
    PairedAucTest,
    auc_ci,
    delong_test,
    roc_auc_ci,
    roc_auc_delong_test,
)
from tunedepth.evaluation.delong_seeds import roc_auc_case_losses, roc_auc_seeds_ci, roc_auc_seeds_test
from tunedepth.evaluation.froc import (
    DEFAULT_FPS_TARGETS,
    FrameLevelScores,
    FrocCurve,
    frame_level_scores,
    froc_curve,
    sensitivity_at_fps,
)
from tunedepth.evaluation.froc_bootstrap import (
    FrocSensitivityDifference,
    FrocSensitivityInterval,
    paired_sensitivity_difference,
    sensitivity_at_fps_ci,
)
from tunedepth.evaluation.operating_points import (
    DEFAULT_FPR_TARGETS,
    PairedSensitivityTest,
    SensitivityInterval,
    sensitivity_at_fpr,
    sensitivity_at_fpr_ci,
    sensitivity_at_fpr_seeds_ci,
    sensitivity_at_fpr_test,
)
from tunedepth.evaluation.roc import accuracy_score, roc_auc_score
from tunedepth.evaluation.segmentation import (
    BoundaryDistance,
    dice_score,
    hausdorff95_boundary_error,
    iou_score,
    layered_boundary_error,
    mean_boundary_error,
)
from tunedepth.evaluation.stats import MeanInterval, PairedMeanTest, holm_adjust, seed_mean_ci, seed_paired_test

__all__ = [
    "DEFAULT_FPR_TARGETS",
    "DEFAULT_FPS_TARGETS",
    "AucInterval",
    "BoundaryDistance",
    "CandidateHits",
    "ClosedContour",
    "FrameLevelScores",
    "FrocCurve",
    "FrocSensitivityDifference",
    "FrocSensitivityInterval",
    "MeanInterval",
    "ModelConfidenceSet",
    "PairedAucTest",
    "PairedLossTest",
    "PairedMeanTest",
    "PairedSensitivityTest",
    "ReliabilityCurve",
    "SensitivityInterval",
    "accuracy_score",
    "auc_ci",
    "brier_loss",
    "candidate_hits_from_table",
    "case_losses",
    "delong_test",
    "dice_score",
    "expected_calibration_error",
    "extract_closed_boundary",
    "extract_layered_boundaries",
    "extract_layered_boundary",
    "frame_level_scores",
    "froc_curve",
    "hausdorff95_boundary_error",
    "holm_adjust",
    "iou_score",
    "layered_boundary_error",
    "log_loss",
    "match_candidates",
    "model_confidence_set",
    "mean_boundary_error",
    "paired_loss_test",
    "paired_sensitivity_difference",
    "reliability_curve",
    "roc_auc_case_losses",
    "roc_auc_ci",
    "roc_auc_delong_test",
    "roc_auc_score",
    "roc_auc_seeds_ci",
    "roc_auc_seeds_test",
    "seed_mean_ci",
    "seed_paired_test",
    "sensitivity_at_fpr",
    "sensitivity_at_fpr_ci",
    "sensitivity_at_fpr_seeds_ci",
    "sensitivity_at_fpr_test",
    "threshold_at_fpr",
    "sensitivity_at_fps",
    "sensitivity_at_fps_ci",
]
