"""Number formatting shared by the renderers."""

from __future__ import annotations

from ..metrics.definitions import Column, Metric, all_metrics
from ..results import ModelSummary


def secs(v: float | None) -> str:
    """Seconds, shown in ms below one second so small differences stay readable."""
    if v is None:
        return "n/a"
    return f"{v * 1000:.1f} ms" if v < 1 else f"{v:.2f} s"


def rate(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1f}"


def num(v: float | None, digits: int = 1) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def metric_columns(output: str) -> list[tuple[Metric, Column]]:
    """The summary-table columns of one output (terminal, markdown, html), in the table's order."""
    return [(m, c) for m in all_metrics() for c in m.columns if output in c.outputs]


def metric_cell(row: ModelSummary, metric: Metric, column: Column) -> str:
    """One metric value of a row, formatted by the metric's unit."""
    v = (
        row.stat(metric.name).model_dump().get(column.stat)
        if metric.kind == "request"
        else row.window(metric.name)
    )
    return secs(v) if metric.unit == "s" else rate(v)
