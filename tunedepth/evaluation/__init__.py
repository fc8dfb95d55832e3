"""Evaluation metrics (numpy, scipy and scikit-learn only; no torch)."""

from __future__ import annotations

from tunedepth.evaluation.roc import accuracy_score, roc_auc_score

__all__ = ["accuracy_score", "roc_auc_score"]
