"""A finished study's statistics: scores, paired comparisons, significance, the depth recommendation, and each
task's own tables (:mod:`tunedepth.analysis.tasks`). Reads the study folder through :mod:`tunedepth.results`;
never imports the training side or torch.
"""

from __future__ import annotations

from tunedepth.analysis.analyze import ANALYSIS_FILES, StudyAnalysis, analyze_study
from tunedepth.analysis.compare import RegimeComparison, RegimeScore, compare_regimes, score_regime
from tunedepth.analysis.methods import METHOD_COLUMNS, MethodChoice, compare_methods
from tunedepth.analysis.recommend import (
    DEPTH_RULES,
    RECOMMENDATION_COLUMNS,
    DepthRecommendation,
    WalkStep,
    recommend_depths,
    recommendation_table,
    regime_phrase,
)
from tunedepth.analysis.scores import score_table, sensitivity_column
from tunedepth.analysis.selection import DEPTH_METRICS, ValidationEvidence, confidence_set, validation_evidence
from tunedepth.analysis.significance import SIGNIFICANCE_COLUMNS, significance_table
from tunedepth.analysis.tasks import ANALYSIS_TASKS, FigureData, TaskAnalysis, TaskTable

__all__ = [
    "ANALYSIS_FILES",
    "ANALYSIS_TASKS",
    "DEPTH_METRICS",
    "DEPTH_RULES",
    "METHOD_COLUMNS",
    "RECOMMENDATION_COLUMNS",
    "SIGNIFICANCE_COLUMNS",
    "DepthRecommendation",
    "FigureData",
    "MethodChoice",
    "RegimeComparison",
    "RegimeScore",
    "StudyAnalysis",
    "TaskAnalysis",
    "TaskTable",
    "ValidationEvidence",
    "WalkStep",
    "analyze_study",
    "compare_methods",
    "compare_regimes",
    "confidence_set",
    "recommend_depths",
    "recommendation_table",
    "regime_phrase",
    "score_regime",
    "score_table",
    "sensitivity_column",
    "significance_table",
    "validation_evidence",
]
