"""Every figure a summary table shows is the statistic its header names (issue 32, 15).

A summary whose every statistic of every metric has a distinct value is rendered by the terminal,
Markdown and CSV renderers; each cell is parsed back (``146.0 ms ± 4.4`` -> 0.146 s) and compared with
the value of the metric and statistic the header names. The header -> (metric, statistic) map is
written here by hand from the README's column descriptions, never read from the code that renders,
so a column that shows p95 under "TTFT p50", latency under a TTFT heading or a spread in the wrong
unit fails."""

from __future__ import annotations

import csv
import io
import re

import pytest
from rich.console import Console

from bakeoff.reporters.csv import render_csv
from bakeoff.reporters.markdown import render_markdown
from bakeoff.reporters.report import RunReport
from bakeoff.reporters.terminal import summary_table
from bakeoff.results.schema import ModelSummary, RequestCounts, RunInfo, Stats, Summary

STATS = ("mean", "min", "max", "p50", "p90", "p95", "p99", "std")
METRICS = (
    "latency_s", "ttft_s", "tpot_s", "decode_tokens_per_s", "output_tokens_per_s", "prefill_tokens_per_s",
    "ttfo_s", "reasoning_s", "answer_decode_tokens_per_s",
)  # fmt: skip
# header -> (metric, statistic): what the README says each column is
TERMINAL = {
    "Avg latency": ("latency_s", "mean"), "p95": ("latency_s", "p95"), "TTFT p50": ("ttft_s", "p50"),
    "Decode tok/s": ("decode_tokens_per_s", "p50"), "TPS": ("output_tokens_per_s", "mean"),
    "TTFO p50": ("ttfo_s", "p50"), "Agg tok/s": ("aggregate_output_tokens_per_s", ""),
    "Req/s": ("request_throughput_per_s", ""),
}  # fmt: skip
MARKDOWN = {
    **TERMINAL, "TTFT p95": ("ttft_s", "p95"), "Prefill tok/s": ("prefill_tokens_per_s", "p50"),
    "Think p50": ("reasoning_s", "p50"), "Answer tok/s": ("answer_decode_tokens_per_s", "p50"),
}  # fmt: skip
SPREAD = {"Avg latency", "TPS"}  # "mean ± std" columns


def _row(name: str, k: int) -> ModelSummary:
    """Every statistic of every metric distinct (and distinct between the two rows): metric i,
    statistic j of row k is base * (1 + i/10 + j/100 + k/1000), seconds below 1 s for the times."""
    stats = {}
    for i, metric in enumerate(METRICS):
        base = 0.3 if metric.endswith("_s") and not metric.endswith("per_s") else 30.0
        vals = {st: round(base * (1 + i / 10 + j / 100 + k / 1000), 6) for j, st in enumerate(STATS)}
        stats[metric] = Stats(n=5 + k, **vals)
    windows = {"aggregate_output_tokens_per_s": 91.5 + k, "request_throughput_per_s": 1.25 + k / 10}
    return ModelSummary(model=name, backend="openai", status="ok", requests=RequestCounts(ok=5 + k, error=0),
                        stats=stats, windows=windows)  # fmt: skip


def _summary() -> Summary:
    run = RunInfo(settings={"models": ["a", "b"]}, environment={}, started_at="2026-12-07T00:00:00Z")
    return Summary(run=run, models=[_row("model-a", 0), _row("model-b", 1)])


def _value(row: ModelSummary, metric: str, stat: str) -> float:
    v = row.window(metric) if stat == "" else getattr(row.stat(metric), stat)
    assert v is not None
    return float(v)


def _parse(cell: str) -> tuple[float, float | None]:
    """``146.0 ms ± 4.4`` -> (0.146, 0.0044); ``1.23 s`` -> (1.23, None); ``53.5`` -> (53.5, None)."""
    m = re.fullmatch(r"~?([\d.]+)( ms| s)?(?: ± ([\d.]+))?(/s)?", cell.strip())
    assert m, f"unreadable cell {cell!r}"
    scale = 1e-3 if m.group(2) == " ms" else 1.0
    spread = float(m.group(3)) * scale if m.group(3) else None
    return float(m.group(1)) * scale, spread


def _check(
    headers: list[str], cells: list[str], row: ModelSummary, expect: dict[str, tuple[str, str]]
) -> int:
    seen = 0
    for h, cell in zip(headers, cells, strict=True):
        if h not in expect:
            continue
        metric, stat = expect[h]
        got, spread = _parse(cell)
        want = _value(row, metric, stat)
        assert got == pytest.approx(want, rel=2e-3, abs=6e-5), (h, cell, want)
        if h in SPREAD:
            assert spread == pytest.approx(_value(row, metric, "std"), rel=0.02, abs=6e-5), (h, cell)
        seen += 1
    return seen


def test_terminal_cells_are_the_statistics_their_headers_name() -> None:
    s = _summary()
    con = Console(width=400, record=True)
    con.print(summary_table(s))
    lines = [x for x in con.export_text().splitlines() if "│" in x or "┃" in x]
    headers = [c.strip() for c in lines[0].split("┃")[1:-1]]
    assert set(TERMINAL) <= set(headers), headers
    for line, row in zip(lines[1:], s.models, strict=True):
        assert _check(headers, [c.strip() for c in line.split("│")[1:-1]], row, TERMINAL) == len(TERMINAL)


def test_markdown_cells_are_the_statistics_their_headers_name() -> None:
    s = _summary()
    text = render_markdown(RunReport(summary=s, records=[]))
    table = [x for x in text.splitlines() if x.startswith("| Model | Status |")]
    assert table, "no summary table"
    lines = text.splitlines()
    at = lines.index(table[0])
    headers = [c.strip() for c in lines[at].strip("|").split("|")]
    assert set(MARKDOWN) <= set(headers), headers
    for line, row in zip(lines[at + 2 : at + 4], s.models, strict=True):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert _check(headers, cells, row, MARKDOWN) == len(MARKDOWN)


def test_csv_columns_are_named_by_metric_and_statistic() -> None:
    s = _summary()
    rows = list(csv.DictReader(io.StringIO(render_csv(RunReport(summary=s, records=[])))))
    for row, m in zip(rows, s.models, strict=True):
        for metric in METRICS:
            for st in (*STATS, "n"):
                assert float(row[f"{metric}_{st}"]) == pytest.approx(float(getattr(m.stat(metric), st))), (
                    metric,
                    st,
                )
        assert float(row["aggregate_output_tokens_per_s"]) == m.window("aggregate_output_tokens_per_s")
