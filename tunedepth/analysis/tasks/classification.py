"""``task = "classification"``: nothing beyond the tables every study has (scores, significance, recommendation)."""

from __future__ import annotations

from tunedepth.analysis.tasks.base import ANALYSIS_TASKS, TaskAnalysis

__all__ = ["CLASSIFICATION_ANALYSIS"]

CLASSIFICATION_ANALYSIS = TaskAnalysis(name="classification")
ANALYSIS_TASKS.register(CLASSIFICATION_ANALYSIS.name, CLASSIFICATION_ANALYSIS)
