"""Offline evaluation: temporal splits, ranking metrics, models tuned on validation and compared on test."""

from xingqu.evaluation.metrics import ranking_metrics
from xingqu.evaluation.runner import DEFAULT_MODELS, EvaluationReport, Split, evaluate

__all__ = ["DEFAULT_MODELS", "EvaluationReport", "Split", "evaluate", "ranking_metrics"]
