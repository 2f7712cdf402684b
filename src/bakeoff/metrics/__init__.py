"""Metric definitions (pure functions over records) and statistics."""

from bakeoff.metrics.request import RequestMetrics, request_metrics
from bakeoff.metrics.stats import Stats, stats

__all__ = ["RequestMetrics", "Stats", "request_metrics", "stats"]
