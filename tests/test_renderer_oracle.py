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
from html.parser import HTMLParser
from pathlib import Path

import pytest
from rich.console import Console

from bakeoff.reporters.csv import render_csv
from bakeoff.reporters.html import render_html
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


class _Tables(HTMLParser):
    """Every <table> of a page as rows of cell texts (header cells included)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.tables and self.tables[-1]:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_html_cells_are_the_statistics_their_headers_name() -> None:
    s = _summary()
    parser = _Tables()
    parser.feed(render_html(RunReport(summary=s, records=[])))
    table = next(t for t in parser.tables if t and t[0][:2] == ["Model", "Status"])
    headers = table[0]
    shown = {h: MARKDOWN[h] for h in headers if h in MARKDOWN}
    assert {"Avg latency", "p95", "TTFT p50", "Decode tok/s"} <= set(shown), headers
    for cells, row in zip(table[1:], s.models, strict=True):
        assert cells[0] == row.model
        assert _check(headers, cells, row, shown) == len(shown)


def test_compare_diff_shows_each_runs_own_statistic_and_the_change(tmp_path: Path) -> None:
    """The diff's Base and New cells are the statistic its Metric column names, of each run; Change is
    New - Base and the percentage (New - Base) / Base, worked from the two summaries here."""
    from bakeoff.analysis.compare import compare
    from bakeoff.reporters.diff import render_diff
    from bakeoff.results.schema import save_summary

    base, new = _summary(), _summary()
    new.models = [_row("model-a", 7), _row("model-b", 9)]
    for name, summary in (("base", base), ("new", new)):
        (tmp_path / name).mkdir()
        save_summary(summary, tmp_path / name)
    text = render_diff(compare(tmp_path / "base", tmp_path / "new"), tmp_path / "base", tmp_path / "new")
    rows = [ln for ln in text.splitlines() if ln.startswith("| model-")]
    assert len(rows) >= 8  # two models x the default view's four statistics at least
    by = {m.model: m for m in base.models}, {m.model: m for m in new.models}
    for line in rows:
        model, metric_stat, b, n, change = (c.strip() for c in line.strip("|").split("|")[:5])
        metric, stat = metric_stat.split(".")
        want_b, want_n = _value(by[0][model], metric, stat), _value(by[1][model], metric, stat)
        assert float(b) == pytest.approx(want_b, rel=1e-3), line
        assert float(n) == pytest.approx(want_n, rel=1e-3), line
        m = re.fullmatch(r"(-?[\d.e+-]+) \(([+-][\d.]+)%\)", change)
        assert m, line
        assert float(m.group(1)) == pytest.approx(want_n - want_b, rel=1e-3), line
        assert float(m.group(2)) == pytest.approx(100 * (want_n - want_b) / want_b, abs=0.051), line


# load stages: header -> (metric, statistic) of the stage, as the README's stage table describes it
STAGE = {
    "TTFT p50": ("ttft_s", "p50"), "TTFT p95": ("ttft_s", "p95"), "ITL p50": ("itl_s", "p50"),
    "Latency p95": ("latency_s", "p95"),
}  # fmt: skip


def test_stage_cells_are_the_statistics_their_headers_name() -> None:
    from bakeoff.results.schema import LoadSummary, StageSummary

    s = _summary()
    for k, m in enumerate(s.models):
        stages = []
        for i, label in enumerate(("rate=2/s", "rate=4/s")):
            st = {
                metric: Stats(
                    n=9,
                    **{
                        q: round(0.2 * (1 + a / 10 + j / 100 + i / 1000 + k / 10_000), 6)
                        for j, q in enumerate(STATS)
                    },
                )
                for a, metric in enumerate(("ttft_s", "itl_s", "latency_s"))
            }
            stages.append(StageSummary(label=label, kind="open", offered_rate_per_s=2.0 * (i + 1),
                                       achieved_rate_per_s=1.9 * (i + 1) + k / 100,
                                       requests=RequestCounts(ok=9, error=0), stats=st))  # fmt: skip
        m.load = LoadSummary(stages=stages)
    s.run.settings["profile"] = "rates=2,4"
    lines = render_markdown(RunReport(summary=s, records=[])).splitlines()
    for m in s.models:
        at = lines.index(f"### Stages: {m.model}") + 2
        headers = [c.strip() for c in lines[at].strip("|").split("|")]
        assert m.load is not None
        for line, stage in zip(lines[at + 2 : at + 4], m.load.stages, strict=True):
            cells = dict(zip(headers, (c.strip() for c in line.strip("|").split("|")), strict=True))
            assert cells["Stage"] == stage.label
            for h, (metric, stat) in STAGE.items():
                got, _ = _parse(cells[h])
                assert got == pytest.approx(getattr(stage.stats[metric], stat), rel=2e-3), (h, cells[h])
            assert _parse(cells["Offered"])[0] == pytest.approx(stage.offered_rate_per_s, rel=1e-3)
            assert _parse(cells["Achieved"])[0] == pytest.approx(stage.achieved_rate_per_s, rel=1e-3)
