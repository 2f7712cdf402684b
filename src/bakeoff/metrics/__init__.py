"""Metric definitions (pure functions over records) and statistics."""

from .request import RequestMetrics, request_metrics
from .stats import Stats, stats

__all__ = ["RequestMetrics", "Stats", "request_metrics", "stats"]
