"""The load sections of every report (``--profile`` runs): the capacity table, each model's stages,
and in HTML the latency-versus-load curves with the SLO's limits drawn."""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from typing import Any

from rich.markup import escape
from rich.table import Table

from bakeoff.analysis.slo import parse_slo
from bakeoff.metrics.stats import Stats, stats
from bakeoff.reporters.format import md, num, per_s, secs
from bakeoff.reporters.report import RunReport
from bakeoff.results.schema import ModelSummary, StageSummary, Summary
from bakeoff.workload.synthetic import parse_data

W, H = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 60, 20, 20, 40
CURVES = (("ttft_s", "p50", "TTFT p50", "#2563eb"), ("ttft_s", "p95", "TTFT p95", "#93c5fd"),
          ("itl_s", "p50", "ITL p50", "#dc2626"), ("latency_s", "p95", "Latency p95", "#16a34a"))  # fmt: skip
SLO_COLOURS = {"ttft_s": "#2563eb", "itl_s": "#dc2626", "latency_s": "#16a34a", "tpot_s": "#9333ea"}


def loaded(summary: Summary) -> list[ModelSummary]:
    """The models that ran load stages."""
    return [m for m in summary.models if m.load is not None and m.load.stages]


def capacity_cells(m: ModelSummary) -> tuple[str, str, str, str]:
    """(capacity, how it was found, between which stages, the term that limits) for one model."""
    cap = m.load.capacity if m.load else None
    if cap is None:
        return ("n/a", "no --slo", "", "")
    value = per_s(cap.per_s) if cap.basis != "at least" else f">= {per_s(cap.per_s)}"
    between = f"{cap.below} .. {cap.above}" if cap.above else (cap.below or "")
    return (value, cap.basis, between, cap.limiting or "")


def _stage_cells(s: StageSummary) -> list[str]:
    st = s.stats
    ttft, itl, lat = st.get("ttft_s"), st.get("itl_s"), st.get("latency_s")
    offered = per_s(s.offered_rate_per_s) if s.offered_rate_per_s is not None else f"closed c={s.concurrency}"
    slo = "-" if s.slo is None else ("met" if s.slo.met else "missed")
    return [
        s.label,
        offered,
        per_s(s.achieved_rate_per_s),
        secs(ttft.p50 if ttft else None),
        secs(ttft.p95 if ttft else None),
        secs(itl.p50 if itl else None),
        secs(lat.p95 if lat else None),
        f"{s.requests.ok}/{s.requests.error}" + _cuts(s),
        "n/a" if s.error_rate is None else f"{s.error_rate:.0%}",
        slo,
        per_s(s.slo.goodput_per_s) if s.slo else "-",
        _client(s),
    ]


def _client(s: StageSummary) -> str:
    """The client's loop lag p99, marked when the client was the limit."""
    c = s.client
    if c is None or c.loop_lag_p99_s is None:
        return "-"
    return secs(c.loop_lag_p99_s) + (" (client-limited)" if c.limited else "")


def _cuts(s: StageSummary) -> str:
    said = [f"{s.cut_off} cut off"] if s.cut_off else []
    said += [f"+{s.out_of_time} at --max-seconds"] if s.out_of_time else []
    return f" ({', '.join(said)})" if said else ""


STAGE_HEADERS = ["Stage", "Offered", "Achieved", "TTFT p50", "TTFT p95", "ITL p50", "Latency p95",
                 "ok/err", "Errors", "SLO", "Goodput", "Client lag p99"]  # fmt: skip
CAPACITY_HEADERS = ["Model", "Capacity", "Found", "Between stages", "Limiting term", "Saturation"]


def markdown(summary: Summary) -> list[str]:
    """The capacity table and one table of stages per model (empty without load stages)."""
    rows = loaded(summary)
    if not rows:
        return []
    settings = summary.run.settings
    out = [
        "",
        f"## Load: {md(settings.get('profile'))}",
        "",
        "Achieved = requests completed per second while the stage ran (the rate the server sustained). "
        "Saturation = the highest achieved rate. Capacity = the highest rate that met the SLO, "
        "interpolated between the stages around it, stages ordered by load (mean requests in flight).",
        "",
        "| " + " | ".join(CAPACITY_HEADERS) + " |",
        "|---" * len(CAPACITY_HEADERS) + "|",
    ]
    for m in rows:
        assert m.load is not None
        value, *words = capacity_cells(m)
        cells = [value.replace(">", "\\>"), *(md(c) for c in words)]
        out.append(f"| {md(m.model)} | " + " | ".join(cells) + f" | {per_s(m.load.saturation_per_s)} |")
    for m in rows:
        assert m.load is not None
        out += ["", f"### Stages: {md(m.model)}", "", "| " + " | ".join(STAGE_HEADERS) + " |"]
        out.append("|---" * len(STAGE_HEADERS) + "|")
        for s in m.load.stages:
            label, *figures = _stage_cells(s)  # figures are digits and units: nothing to escape
            out.append(f"| {md(label)} | " + " | ".join(figures) + " |")
    return out


def terminal_tables(summary: Summary) -> list[Table]:
    """Rich tables: capacity per model, then each model's stages."""
    rows = loaded(summary)
    if not rows:
        return []
    cap = Table(title=f"capacity ({escape(str(summary.run.settings.get('slo') or 'no --slo'))})")
    for h in CAPACITY_HEADERS:
        cap.add_column(h, justify="left" if h == "Model" else "right", no_wrap=True)
    tables = [cap]
    for m in rows:
        assert m.load is not None
        cap.add_row(escape(m.model), *(escape(c) for c in capacity_cells(m)), per_s(m.load.saturation_per_s))
        t = Table(title=f"stages: {escape(m.model)}")
        for h in STAGE_HEADERS:
            t.add_column(h, justify="left" if h == "Stage" else "right", no_wrap=True)
        for s in m.load.stages:
            t.add_row(*(escape(c) for c in _stage_cells(s)))
        tables.append(t)
    return tables


def csv_cells(m: ModelSummary) -> list[float | str | None]:
    """saturation_per_s, capacity_per_s, capacity_basis, capacity_limiting of one model."""
    cap = m.load.capacity if m.load else None
    return [
        m.load.saturation_per_s if m.load else None,
        cap.per_s if cap else None,
        cap.basis if cap else None,
        cap.limiting if cap else None,
    ]


CSV_HEADERS = ["saturation_per_s", "capacity_per_s", "capacity_basis", "capacity_limiting"]


def _e(s: object) -> str:
    return html.escape(str(s))


Limits = list[tuple[str, str, float]]
"""The SLO's terms to draw: (term text, metric name, limit in seconds)."""


def slo_limits(summary: Summary) -> Limits:
    """The run's --slo terms on TTFT, ITL, TPOT and latency, to draw on the curves."""
    text = summary.run.settings.get("slo")
    return [(t.text, t.metric, t.limit_s) for t in parse_slo(str(text))] if text else []


def curves(m: ModelSummary, limits: Limits) -> str:
    """Latency against achieved rate for one model (log scale in ms), each SLO limit a dashed line,
    and the goodput against achieved rate beside it."""
    assert m.load is not None
    stages = sorted(
        (s for s in m.load.stages if s.achieved_rate_per_s is not None),
        key=lambda s: s.achieved_rate_per_s or 0,
    )
    pts = {
        (metric, stat): [
            (s.achieved_rate_per_s or 0.0, v * 1000)
            for s in stages
            if (v := getattr(s.stats.get(metric), stat, None)) is not None and v > 0
        ]
        for metric, stat, _, _ in CURVES
    }
    values = [y for series in pts.values() for _, y in series] + [v * 1000 for _, _, v in limits]
    if not stages or not values:
        return f"<p class=muted>{_e(m.model)}: no stage with an achieved rate.</p>"
    xmax = max(s.achieved_rate_per_s or 0.0 for s in stages) * 1.1 or 1.0
    lo, hi = math.log10(min(values)) - 0.1, math.log10(max(values)) + 0.1

    def px(x: float) -> float:
        return LEFT + (W - LEFT - RIGHT) * x / xmax

    def py(ms: float) -> float:
        return H - BOTTOM - (H - BOTTOM - TOP) * (math.log10(ms) - lo) / (hi - lo or 1)

    out = [f'<svg class="chart" role="img" aria-label="latency against load: {_e(m.model)}" '
           f'width="{W}" height="{H}">']  # fmt: skip
    out += _axes(f"{m.model}: latency (ms, log scale) against achieved requests/s")
    for exp in range(math.floor(lo), math.ceil(hi) + 1):
        if lo <= exp <= hi:
            out.append(f'<text x="4" y="{py(10**exp) + 4:.1f}">{10**exp:g}</text>')
    for text, metric, limit in limits:
        y = py(limit * 1000)
        out.append(
            f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{SLO_COLOURS[metric]}" '
            f'stroke-dasharray="6,4"/><text x="{W - RIGHT - 150}" y="{y - 4:.1f}">SLO {_e(text)}</text>'
        )
    for i, (metric, stat, label, colour) in enumerate(CURVES):
        series = pts[(metric, stat)]
        if not series:
            continue
        d = " ".join(f"{'M' if j == 0 else 'L'}{px(x):.1f},{py(y):.1f}" for j, (x, y) in enumerate(series))
        out.append(f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="2"/>')
        out += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}"/>' for x, y in series]
        out.append(f'<rect x="{LEFT + 10 + i * 110}" y="{TOP}" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{LEFT + 24 + i * 110}" y="{TOP + 9}">{label}</text>')
    out.append(_x_ticks(xmax, px))
    out.append("</svg>")
    good = [(s.achieved_rate_per_s or 0.0, s.slo.goodput_per_s) for s in stages if s.slo is not None]
    if good and any(g is not None for _, g in good):
        out.append(_goodput(m.model, [(x, g or 0.0) for x, g in good], xmax, px))
    return "".join(out)


def _axes(title: str) -> list[str]:
    return [
        f'<line x1="{LEFT}" y1="{H - BOTTOM}" x2="{W - RIGHT}" y2="{H - BOTTOM}" stroke="#999"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{H - BOTTOM}" stroke="#999"/>',
        f'<text x="{LEFT}" y="{H - 6}">{_e(title)}</text>',
    ]


def _x_ticks(xmax: float, px: Callable[[float], float]) -> str:
    step = 10 ** math.floor(math.log10(xmax)) if xmax > 0 else 1.0
    if xmax / step < 3:
        step /= 2
    ticks = []
    x = 0.0
    while x <= xmax:
        ticks.append(f'<text x="{px(x) - 6:.1f}" y="{H - BOTTOM + 14}">{x:g}</text>')
        x += step
    return "".join(ticks)


def _goodput(model: str, pts: list[tuple[float, float]], xmax: float, px: Callable[[float], float]) -> str:
    """Goodput against achieved rate, with the line where every request was good (goodput = rate)."""
    ymax = max([y for _, y in pts] + [xmax]) or 1.0

    def py(y: float) -> float:
        return H - BOTTOM - (H - BOTTOM - TOP) * y / ymax

    out = [f'<svg class="chart" role="img" aria-label="goodput against load: {_e(model)}" width="{W}" '
           f'height="{H}">']  # fmt: skip
    out += _axes(f"{model}: goodput (requests/s that met the SLO each) against achieved requests/s")
    out.append(
        f'<line x1="{px(0):.1f}" y1="{py(0):.1f}" x2="{px(xmax):.1f}" y2="{py(xmax):.1f}" '
        'stroke="#999" stroke-dasharray="4,4"/>'
    )
    d = " ".join(f"{'M' if j == 0 else 'L'}{px(x):.1f},{py(y):.1f}" for j, (x, y) in enumerate(pts))
    out.append(f'<path d="{d}" fill="none" stroke="#9333ea" stroke-width="2"/>')
    out += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="#9333ea"/>' for x, y in pts]
    out.append(f'<text x="4" y="{TOP + 4}">{ymax:.3g}/s</text>')
    out.append(_x_ticks(xmax, px))
    out.append("</svg>")
    return "".join(out)


def html_section(summary: Summary) -> list[str]:
    """Capacity table, stage tables and curves (the SLO's limits drawn) for report.html."""
    limits = slo_limits(summary)
    rows = loaded(summary)
    if not rows:
        return []
    out = [
        f"<h2>Load: {_e(summary.run.settings.get('profile'))}</h2>",
        "<p class=muted>Achieved = requests completed per second while the stage ran. Capacity = the "
        "highest rate that met the SLO, interpolated between stages ordered by load (mean requests in "
        "flight).</p><table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in CAPACITY_HEADERS) + "</tr>",
    ]
    for m in rows:
        assert m.load is not None
        cells = "".join(f"<td>{_e(c)}</td>" for c in capacity_cells(m))
        out.append(f"<tr><td>{_e(m.model)}</td>{cells}<td>{per_s(m.load.saturation_per_s)}</td></tr>")
    out.append("</table>")
    for m in rows:
        assert m.load is not None
        out.append(f"<h3>{_e(m.model)}</h3><div class=chart>{curves(m, limits)}</div><table><tr>")
        out.append("".join(f"<th>{_e(h)}</th>" for h in STAGE_HEADERS) + "</tr>")
        for s in m.load.stages:
            bad = " class=bad" if s.slo is not None and not s.slo.met else ""
            out.append(f"<tr{bad}>" + "".join(f"<td>{_e(c)}</td>" for c in _stage_cells(s)) + "</tr>")
        out.append("</table>")
    return out


def prefill_generation(report: RunReport) -> list[str]:
    """llama-bench's table for a ``--data`` run of fixed lengths: prefill (pp) and generation (tg)
    rates as mean ± std, the engine's own prompt count, and how many answers reached their length.
    In a ``--profile`` run, from the synchronous stage only (under load, TTFT includes queueing)."""
    summary = report.summary
    text = summary.run.settings.get("data")
    if not text:
        return []
    spec = parse_data(str(text))
    if spec.prompt.stdev or spec.output.stdev:
        return []
    pp, tg = f"pp{spec.prompt.mean}", f"tg{spec.output.mean}"
    out = [
        "",
        "## Prefill and generation (llama-bench style)",
        "",
        f"{pp}: prompt tokens / TTFT; {tg}: decode rate over the answer. Prompt text built to "
        f"{spec.prompt.mean} tokens; the engine's count adds the chat template (and, for a server, the "
        "3-word tag that keeps its prompt cache cold).",
        "",
        f"| Model | {pp} tok/s | {tg} tok/s | Prompt tokens (engine) | Length held | Tokenizer |",
        "|---|---|---|---|---|---|",
    ]
    sync_only = bool(summary.run.settings.get("profile"))  # one request at a time: no queueing in TTFT
    for m in summary.models:
        asked: list[dict[str, Any]] = [  # what the table reads of each record, not the record
            {"held": r["extra"]["data"].get("length_held") is True, "prompt_tokens": r.get("prompt_tokens"),
             "metrics": {k: (r.get("metrics") or {}).get(k) for k in _DATA_METRICS}}
            for r in report.iter_records()
            if r.get("model") == m.model and not r.get("warmup") and r.get("status") == "ok"
            and "data" in (r.get("extra") or {}) and (not sync_only or r.get("stage") == "sync")
        ]  # fmt: skip
        held = sum(bool(r["held"]) for r in asked)
        prompt = [r["prompt_tokens"] for r in asked if r.get("prompt_tokens") is not None]
        out.append(
            f"| {md(m.model)} | {_spread(_values(asked, 'prefill_tokens_per_s'))} "
            f"| {_spread(_values(asked, 'decode_tokens_per_s'))} "
            f"| {num(sum(prompt) / len(prompt) if prompt else None, 0)} | {held}/{len(asked)} "
            f"| {md(m.info.get('data_tokenizer', 'n/a'))} |"
        )
    return out


_DATA_METRICS = ("prefill_tokens_per_s", "decode_tokens_per_s")


def _values(records: Sequence[dict[str, Any]], metric: str) -> Stats:
    got = [(r.get("metrics") or {}).get(metric) for r in records]
    return stats(v for v in got if isinstance(v, int | float))


def _spread(st: Stats) -> str:
    if st.mean is None:
        return "n/a"
    return f"{st.mean:.1f} ± {st.std:.1f}" if st.std is not None else f"{st.mean:.1f}"
