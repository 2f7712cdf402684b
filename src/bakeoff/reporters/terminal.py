"""A Rich table a person can read at a glance, rendered from a saved summary."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from ..results import Summary
from .format import rate, secs

_STYLE = {"ok": "green", "error": "red", "skipped": "yellow"}


def summary_table(summary: Summary) -> Table:
    t = Table(title="bakeoff results", header_style="bold", show_lines=False)
    for col, just in [
        ("Model", "left"),
        ("Status", "left"),
        ("Avg latency", "right"),
        ("p95", "right"),
        ("TTFT p50", "right"),
        ("Decode tok/s", "right"),
        ("Output tok/s", "right"),
        ("Peak mem", "right"),
        ("ok/err", "right"),
    ]:
        t.add_column(col, justify=just, no_wrap=True)  # type: ignore[arg-type]
    for m in summary.models:
        t.add_row(
            escape(m.model),
            f"[{_STYLE[m.status]}]{m.status}[/]",
            secs(m.latency_s.mean),
            secs(m.latency_s.p95),
            secs(m.ttft_s.p50),
            rate(m.decode_tokens_per_s.p50),
            rate(m.output_tokens_per_s.mean),
            _peak(m.resources),
            f"{m.requests.ok}/{m.requests.error}",
        )
    return t


def _peak(r: dict[str, object]) -> str:
    peak = r.get("peak_rss_mb")
    if not isinstance(peak, int | float):
        return "n/a"
    return f"{peak:.0f} MB" + (" [red](over)[/]" if r.get("fits_memory") is False else "")


def failure_lines(summary: Summary) -> list[str]:
    return [f"{m.model}: {m.error}" for m in summary.models if m.error]
