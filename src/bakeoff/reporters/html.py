"""report.html: one self-contained page (inline CSS and SVG, no network) rendered from the saved
summary, its records and the recommendation computed from them."""

from __future__ import annotations

import html
import json

import numpy as np

from bakeoff.analysis.recommend import Recommendation, recommend
from bakeoff.reporters import load_stages
from bakeoff.reporters.format import metric_cell, metric_columns, num, per_s, secs
from bakeoff.reporters.report import RunReport
from bakeoff.reporters.terminal import judge_cell, quality_cell, reference_cell
from bakeoff.results.schema import ModelQuality, Summary, measured_sample_arrays

W, ROW = 640, 26
PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#65a30d"]

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;
color:#111;padding:0 1rem}
h1{margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}
table{border-collapse:collapse;font-size:.9rem}
td,th{padding:.3rem .6rem;border-bottom:1px solid #eee;text-align:right}
td:first-child,th:first-child{text-align:left}.muted{color:#666;font-size:.85rem}
.win{background:#ecfdf5;border:1px solid #10b981;padding:.8rem 1rem;border-radius:6px}
.bad{color:#b91c1c}.chart{margin:.5rem 0 1rem}svg text{font-size:11px;fill:#333}
pre{white-space:pre-wrap;background:#f8f8f8;padding:.6rem;border-radius:4px;font-size:.85rem}
"""

CHECK_JS = """
(function(){var charts=document.querySelectorAll('svg.chart');var ok=charts.length>0;
charts.forEach(function(s){if(!s.querySelector('rect,circle,line,path')){ok=false;}});
document.body.setAttribute('data-rendered', ok ? 'ok' : 'empty');
document.body.setAttribute('data-charts', String(charts.length));})();
"""


def _e(s: object) -> str:
    return html.escape(str(s))


def _colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


MAX_DOTS = 1000
"""Dots drawn per box plot row at most: past it, evenly spaced order statistics stand for the rest
(the report's size stays bounded whatever the run's length; the quartiles use every sample)."""


def dot_sample(xs: np.ndarray, limit: int = MAX_DOTS) -> np.ndarray:
    """``xs`` itself when it has at most ``limit`` values, else ``limit`` of its order statistics at
    evenly spaced ranks, the smallest and the largest included."""
    if xs.size <= limit:
        return xs
    ranks = np.round(np.linspace(0, xs.size - 1, limit)).astype(np.int64)
    return np.sort(xs)[ranks]


def _box_plot(title: str, series: list[tuple[str, np.ndarray]], unit: float, label: str) -> str:
    """Horizontal box plots (min, quartiles, median, max) with every sample as a dot (past
    ``MAX_DOTS`` samples, that many order statistics, and the title says so)."""
    data = [(n, xs) for n, xs in series if xs.size]
    if not data:
        return f"<p class=muted>{_e(title)}: no samples.</p>"
    hi = max(float(xs.max()) for _, xs in data) * unit * 1.05 or 1.0
    left, width = 150, W - 170
    h = 30 + ROW * len(data)
    out = [f'<svg class="chart" role="img" aria-label="{_e(title)}" width="{W}" height="{h}">']
    cut = [f"{n} {MAX_DOTS:,} of {xs.size:,}" for n, xs in data if xs.size > MAX_DOTS]
    drawn = f"; dots drawn, evenly spaced by rank: {', '.join(cut)}" if cut else ""
    out.append(f'<text x="{left}" y="14">{_e(title)} ({_e(label)}; 0 to {hi:.3g}){_e(drawn)}</text>')
    for i, (name, xs) in enumerate(data):
        y = 30 + i * ROW
        q = np.percentile(xs * unit, [0, 25, 50, 75, 100])
        sx = [left + width * v / hi for v in q]
        c = _colour(i)
        out.append(f'<text x="0" y="{y + 12}">{_e(name)}</text>')
        out.append(f'<line x1="{sx[0]:.1f}" x2="{sx[4]:.1f}" y1="{y + 8}" y2="{y + 8}" stroke="{c}"/>')
        out.append(
            f'<rect x="{sx[1]:.1f}" y="{y + 2}" width="{max(sx[3] - sx[1], 1):.1f}" height="12" '
            f'fill="{c}" fill-opacity=".25" stroke="{c}"/>'
        )
        out.append(
            f'<line x1="{sx[2]:.1f}" x2="{sx[2]:.1f}" y1="{y}" y2="{y + 16}" stroke="{c}" stroke-width="2"/>'
        )
        for v in dot_sample(xs):
            out.append(f'<circle cx="{left + width * v * unit / hi:.1f}" cy="{y + 8}" r="1.6" fill="{c}"/>')
    out.append("</svg>")
    return "".join(out)


FRONTIER_TITLES = {"quality": "Quality", "checks": "Checks passed", "memory": "Memory"}


def _scatter(rec: Recommendation) -> str:
    xa, ya = rec.frontier_axes
    pts: list[tuple[str, float, float, bool]] = [
        (c.model, x, y, c.pareto)
        for c in rec.candidates
        if c.excluded is None and (x := c.values.get(xa)) is not None and (y := c.values.get(ya)) is not None
    ]
    if not pts:
        return "<p class=muted>Not enough data for the frontier chart.</p>"
    h, left, bottom = 300, 60, 40
    xs, ys = [p[1] for p in pts], [p[2] for p in pts]
    xmax, ymax = max(xs) * 1.15 or 1, max(ys) * 1.15 or 1

    def px(x: float) -> float:
        return left + (W - left - 20) * x / xmax

    def py(y: float) -> float:
        return h - bottom - (h - bottom - 20) * y / ymax

    out = [f'<svg class="chart" role="img" aria-label="{_e(ya)} against {_e(xa)}" width="{W}" height="{h}">']
    out.append(f'<line x1="{left}" y1="{h - bottom}" x2="{W - 10}" y2="{h - bottom}" stroke="#999"/>')
    out.append(f'<line x1="{left}" y1="10" x2="{left}" y2="{h - bottom}" stroke="#999"/>')
    out.append(f'<text x="{W // 2}" y="{h - 8}">{_e(xa)} (decode tok/s, higher is better)</text>')
    better = "MB, lower is better" if ya == "memory" else "higher is better"
    out.append(f'<text x="4" y="16">{_e(ya)} ({better})</text>')
    front = sorted((p for p in pts if p[3]), key=lambda p: p[1])
    if len(front) > 1:
        d = " ".join(f"{'M' if i == 0 else 'L'}{px(p[1]):.1f},{py(p[2]):.1f}" for i, p in enumerate(front))
        out.append(f'<path d="{d}" fill="none" stroke="#10b981" stroke-width="2" stroke-dasharray="5,3"/>')
    for i, (name, x, y, pareto) in enumerate(pts):
        ring = ' stroke="#10b981" stroke-width="2"' if pareto else ""
        out.append(
            f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="{6 if pareto else 4}" fill="{_colour(i)}"{ring}/>'
        )
        out.append(f'<text x="{px(x) + 8:.1f}" y="{py(y) + 4:.1f}">{_e(name)}</text>')
    out.append("</svg>")
    return "".join(out)


def _heat_map(summary: Summary) -> str:
    prompts = list(dict.fromkeys(p.prompt_id for m in summary.models for p in m.per_prompt))
    if not prompts:
        return "<p class=muted>No per-prompt data.</p>"
    vals = [p.latency_s_mean for m in summary.models for p in m.per_prompt if p.latency_s_mean is not None]
    lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
    cw, left = max(40, (W - 160) // max(1, len(prompts))), 150
    h = 30 + ROW * len(summary.models)
    total = left + cw * len(prompts) + 10
    out = [f'<svg class="chart" role="img" aria-label="latency per prompt" width="{total}" height="{h}">']
    for j, pid in enumerate(prompts):
        out.append(f'<text x="{left + j * cw + 4}" y="14">{_e(pid)}</text>')
    for i, m in enumerate(summary.models):
        y = 22 + i * ROW
        out.append(f'<text x="0" y="{y + 15}">{_e(m.model)}</text>')
        by = {p.prompt_id: p for p in m.per_prompt}
        for j, pid in enumerate(prompts):
            v = by[pid].latency_s_mean if pid in by else None
            if v is None:
                fill, label = "#eee", "n/a"
            else:
                t = (v - lo) / (hi - lo) if hi > lo else 0.0
                fill, label = f"rgb({int(255 * t)},{int(200 * (1 - t)) + 40},90)", f"{v:.2f}s"
            out.append(
                f'<rect x="{left + j * cw}" y="{y}" width="{cw - 2}" height="{ROW - 4}" fill="{fill}"/>'
            )
            out.append(f'<text x="{left + j * cw + 4}" y="{y + 15}">{label}</text>')
    out.append("</svg>")
    return "".join(out)


def _bars(summary: Summary) -> str:
    rows = [(m.model, m.resources.peak_rss_mb, m.resources.disk_mb) for m in summary.models]
    rows = [(n, p, d) for n, p, d in rows if p is not None or d is not None]
    if not rows:
        return "<p class=muted>No resource figures.</p>"
    hi = max(max(p or 0, d or 0) for _, p, d in rows) * 1.1 or 1
    left, width = 150, W - 230
    h = 30 + 2 * ROW * len(rows)
    out = [f'<svg class="chart" role="img" aria-label="memory and disk" width="{W}" height="{h}">']
    out.append(f'<text x="{left}" y="14">peak memory (dark) and disk (light), MB</text>')
    for i, (name, peak, disk) in enumerate(rows):
        y = 24 + i * 2 * ROW
        out.append(f'<text x="0" y="{y + 14}">{_e(name)}</text>')
        for k, (v, op) in enumerate(((peak, 1.0), (disk, 0.4))):
            if v is None:
                continue
            out.append(
                f'<rect x="{left}" y="{y + k * 18}" width="{max(1, width * v / hi):.1f}" height="14" '
                f'fill="{_colour(i)}" fill-opacity="{op}"/>'
            )
            out.append(f'<text x="{left + width * v / hi + 6:.1f}" y="{y + k * 18 + 11}">{v:.0f}</text>')
    out.append("</svg>")
    return "".join(out)


def _slo_table(summary: Summary) -> list[str]:
    """Each model against the run's --slo: every term, met or not, and the goodput."""
    rows = [m for m in summary.models if m.slo is not None]
    if not rows:
        return []
    terms = list(dict.fromkeys(t.term for m in rows if m.slo for t in m.slo.terms))
    slo = _e(str(summary.run.settings.get("slo", "")))
    out = [
        f"<h2>Service-level objective: {slo}</h2><table><tr><th>Model</th>"
        + "".join(f"<th>{_e(t)}</th>" for t in terms)
        + "<th>SLO</th><th>Goodput</th><th>Good requests</th></tr>"
    ]
    for m in rows:
        assert m.slo is not None
        by = {t.term: t for t in m.slo.terms}
        cells = "".join(
            f"<td>{_e(secs(by[t].value))} ({'met' if by[t].met else 'missed'})</td>"
            if t in by
            else "<td>-</td>"
            for t in terms
        )
        out.append(
            f"<tr{'' if m.slo.met else ' class=bad'}><td>{_e(m.model)}</td>{cells}"
            f"<td>{'met' if m.slo.met else 'missed'}</td><td>{per_s(m.slo.goodput_per_s)}</td>"
            f"<td>{m.slo.good_requests}/{m.slo.requests}</td></tr>"
        )
    return [*out, "</table>"]


def render_html(report: RunReport) -> str:
    summary = report.summary
    rec = report.recommendation or recommend(summary)  # no records: a recommendation on points only
    cols = metric_columns("html", summary.models)
    s = summary.run.settings
    env = summary.run.environment
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<meta name=viewport content='width=device-width,initial-scale=1'>",
        f"<title>bakeoff report {_e(summary.run.started_at)}</title><style>{CSS}</style></head><body>",
        "<h1>bakeoff report</h1>",
        f"<p class=muted>started {_e(summary.run.started_at)} · bakeoff {_e(summary.tool.version)} · "
        f"{_e(env.get('cpu_model', '?'))}, {_e(env.get('cpu_count', '?'))} cores · "
        f"rounds {_e(s.get('rounds'))}, "
        f"max_tokens {_e(s.get('max_tokens'))}, temperature {_e(s.get('temperature'))}, "
        f"{'streaming' if s.get('stream') else 'non-streaming'}, concurrency {_e(s.get('concurrency'))}"
        f"{' · <b>interrupted: partial results</b>' if summary.run.interrupted else ''}</p>",
        "<h2>Recommendation</h2>",
    ]
    if rec.winner:
        parts.append(f"<div class=win><b>{_e(rec.winner)}</b> — {_e(rec.confidence)}</div>")
    else:
        parts.append(f"<div class=win>No recommendation: {_e(rec.confidence)}</div>")
    parts.append("<ul>")
    for c in sorted(rec.candidates, key=lambda x: (x.excluded is not None, -x.score)):
        why = f" — {_e(c.lost_because)}" if c.lost_because else ""
        score = "" if c.excluded else f" score {c.score:.3f} (95% {c.interval[0]:.3f}–{c.interval[1]:.3f})"
        parts.append(f"<li><b>{_e(c.model)}</b>{score}{' · Pareto' if c.pareto else ''}{why}</li>")
    parts.append("</ul>")
    parts += [f"<p class=muted>{_e(n)}</p>" for n in rec.notes]
    parts.append(
        "<h2>Summary</h2><table><tr><th>Model</th><th>Status</th>"
        + "".join(f"<th>{_e(c.header)}</th>" for _, c in cols)
        + "<th>Peak memory</th><th>n ok/err</th><th>Quality 1-5 [95% CI]</th><th>Judge 1-5</th>"
        "<th>Unparsed</th><th>Checks passed</th><th>ROUGE-L / key terms</th></tr>"
    )
    for m in summary.models:
        cls = "" if m.status == "ok" else " class=bad"
        peak = m.resources.peak_rss_mb
        q = m.quality or ModelQuality()
        unparsed = q.unparsed_rate
        checks = q.check_pass_rate
        parts.append(
            f"<tr{cls}><td>{_e(m.model)}</td><td>{_e(m.status)}</td>"
            + "".join(f"<td>{metric_cell(m, d, c)}</td>" for d, c in cols)
            + f"<td>{num(peak, 0)} MB</td>"
            f"<td>{m.requests.ok}/{m.requests.error}</td><td>{_e(quality_cell(q))}</td>"
            f"<td>{_e(judge_cell(q))}</td>"
            f"<td>{f'{unparsed:.0%}' if unparsed is not None else '-'}</td>"
            f"<td>{f'{checks:.0%}' if checks is not None else '-'}</td><td>{_e(reference_cell(q))}</td></tr>"
        )
    parts.append("</table>")
    parts += _slo_table(summary)
    parts += load_stages.html_section(summary)
    notes = summary.quality.notes if summary.quality else []
    parts += [f"<p class=muted>Quality note: {_e(n)}</p>" for n in notes]
    for m in summary.models:
        if m.error:
            parts.append(f"<p class=bad>{_e(m.model)}: {_e(m.error)}</p>")
    names = [m.model for m in summary.models]
    samples = measured_sample_arrays(report.iter_records(), ["latency_s", "ttft_s"])

    def _of(name: str, metric: str) -> np.ndarray:
        return samples.get(name, {}).get(metric, np.empty(0))

    parts += [
        f"<h2>{FRONTIER_TITLES.get(rec.frontier_axes[1], 'Memory')} against speed</h2>"
        f"<div class=chart>{_scatter(rec)}</div>",
        "<p class=muted>Dashed: the Pareto frontier (no other model is better on both axes).</p>",
        "<h2>Latency distributions</h2><div class=chart>",
        _box_plot(
            "end-to-end latency",
            [(n, _of(n, "latency_s")) for n in names],
            1.0,
            "s",
        ),
        _box_plot(
            "time to first token",
            [(n, _of(n, "ttft_s")) for n in names],
            1000.0,
            "ms",
        ),
        "</div><h2>Latency per prompt</h2><div class=chart>",
        _heat_map(summary),
        "</div><h2>Resources</h2><div class=chart>",
        _bars(summary),
        "</div><h2>Sample outputs</h2>",
    ]
    for m in summary.models:
        parts.append(f"<h3>{_e(m.model)}</h3><pre>{_e(m.sample_response or '(none)')}</pre>")
    parts.append(f"<script>{CHECK_JS}</script>")
    parts.append(f"<script type='application/json' id=summary>{_e(json.dumps({'models': names}))}</script>")
    parts.append("</body></html>")
    return "\n".join(parts)
