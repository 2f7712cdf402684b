"""The fleet's reports (fleet.md, fleet.csv, fleet.html), rendered from its saved ``fleet.json``: the
recommendations, one model x machine-group matrix per figure, and every node with its status."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Callable
from pathlib import Path

from bakeoff.fleet.results import FleetSummary, GroupPick, MatrixCell
from bakeoff.reporters.format import md, num, per_s, secs

CSS = (
    "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem}"
    "table{border-collapse:collapse;font-size:.9rem}"
    "td,th{padding:.3rem .6rem;border-bottom:1px solid #eee;text-align:right}"
    "td:first-child,th:first-child{text-align:left}"
    ".win{background:#ecfdf5;border:1px solid #10b981;padding:.8rem 1rem;border-radius:6px}"
    ".bad{color:#b91c1c}"
)
MATRICES: list[tuple[str, Callable[[MatrixCell], str]]] = [
    ("Decode tokens/s (p50)", lambda c: per_s(c.decode_tokens_per_s)),
    ("TTFT (p50)", lambda c: secs(c.ttft_p50_s)),
    ("Latency (p50)", lambda c: secs(c.latency_p50_s)),
    ("Peak memory (MB)", lambda c: num(c.peak_memory_mb, 0)),
    ("Fits the group's memory budget", lambda c: "-" if c.fits is None else ("yes" if c.fits else "NO")),
    ("Quality (1-5)", lambda c: num(c.quality, 2)),
]


def pick_text(p: GroupPick) -> str:
    """A pick in words: the winner, on how many nodes, its confidence (or why there is none)."""
    if p.winner is None:
        return f"none ({p.why or 'no finished node'})"
    on = f" (picked on {p.picked_on} of {p.of_nodes} nodes)" if p.of_nodes > 1 else ""
    return f"{p.winner}{on}" + (f", confidence: {p.confidence}" if p.confidence else "")


def _matrices(fs: FleetSummary) -> list[tuple[str, Callable[[MatrixCell], str]]]:
    """The figures to show: quality only when some model was judged."""
    judged = any(c.quality is not None for c in fs.matrix)
    return [(t, f) for t, f in MATRICES if judged or not t.startswith("Quality")]


def _grid(fs: FleetSummary) -> tuple[list[str], list[str], dict[tuple[str, str], MatrixCell]]:
    groups = [g.name for g in fs.groups]
    models = list(dict.fromkeys(c.model for c in fs.matrix))
    return groups, models, {(c.model, c.group): c for c in fs.matrix}


def _value(cell: MatrixCell | None, show: Callable[[MatrixCell], str]) -> str:
    if cell is None:
        return ""
    if cell.nodes == 0:
        return cell.status
    return show(cell) + ("" if cell.status == "ok" else f" ({cell.status})")


def render_fleet_markdown(fs: FleetSummary) -> str:
    groups, models, cells = _grid(fs)
    out = ["# Fleet bake-off", ""]
    out.append(f"bakeoff {fs.tool.version}; started {fs.started_at}, {num(fs.wall_s, 0)} s"
               + (" (**interrupted**: partial results)" if fs.interrupted else ""))  # fmt: skip
    out += ["", "## Recommendation", ""]
    why = fs.fleet_recommendation.why
    out.append(
        f"- **Fleet-wide default: {md(pick_text(fs.fleet_recommendation))}**"
        + (f" ({md(why)})" if why else "")
    )
    for g in fs.groups:
        budget = f", budget {num(g.max_memory_mb, 0)} MB" if g.max_memory_mb else ""
        out.append(f"- {md(g.name)}{budget}: {md(pick_text(g.recommendation))}")
    for title, show in _matrices(fs):
        out += ["", f"## {title}", "", "| model | " + " | ".join(md(g) for g in groups) + " |"]
        out.append("|---|" + "---|" * len(groups))
        for m in models:
            out.append(
                f"| {md(m)} | " + " | ".join(md(_value(cells.get((m, g)), show)) for g in groups) + " |"
            )
    out += ["", "## Nodes", "", "| group | node | host | labels | status | records | run folder |",
            "|---|---|---|---|---|---|---|"]  # fmt: skip
    for g in fs.groups:
        for n in g.nodes:
            labels = ", ".join(f"{k}={v}" for k, v in n.labels.items())
            status = n.status + (f": {n.error}" if n.error else "")
            out.append(f"| {md(g.name)} | {n.node_id[:8]} | {md(n.host or '')} | {md(labels)} | {md(status)} "
                       f"| {n.records} | {md(n.folder)} |")  # fmt: skip
    shipped = [
        (g.name, n, alias, note) for g in fs.groups for n in g.nodes for alias, note in n.model_files.items()
    ]
    if shipped:
        out += ["", "## Model files", "", "| group | node | model | how it got there |", "|---|---|---|---|"]
        out += [f"| {md(g)} | {n.node_id[:8]} | {md(a)} | {md(note)} |" for g, n, a, note in shipped]
    if fs.notes:
        out += [""] + [f"> **Note:** {md(note)}" for note in fs.notes]
    return "\n".join(out) + "\n"


def render_fleet_csv(fs: FleetSummary) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["model", "group", "nodes", "status", "decode_tokens_per_s", "ttft_p50_s", "latency_p50_s",
                "peak_memory_mb", "decode_ceiling_tok_s", "fits", "quality"])  # fmt: skip
    for c in fs.matrix:
        w.writerow([c.model, c.group, c.nodes, c.status, c.decode_tokens_per_s, c.ttft_p50_s, c.latency_p50_s,
                    c.peak_memory_mb, c.decode_ceiling_tok_s, c.fits, c.quality])  # fmt: skip
    return buf.getvalue()


def render_fleet_html(fs: FleetSummary) -> str:
    groups, models, cells = _grid(fs)
    e = html.escape
    why = fs.fleet_recommendation.why
    parts = ["<!doctype html><meta charset='utf-8'><title>Fleet bake-off</title>", f"<style>{CSS}</style>",
             "<h1>Fleet bake-off</h1>",
             f"<p>bakeoff {e(fs.tool.version)}; started {e(str(fs.started_at))}, {e(num(fs.wall_s, 0))} s"
             + (" <b class='bad'>(interrupted: partial results)</b>" if fs.interrupted else "") + "</p>",
             f"<div class='win'><b>Fleet-wide default: {e(pick_text(fs.fleet_recommendation))}</b>"
             + (f"<br>{e(why)}" if why else "") + "<ul>"]  # fmt: skip
    parts += [f"<li>{e(fg.name)}: {e(pick_text(fg.recommendation))}</li>" for fg in fs.groups]
    parts.append("</ul></div>")
    for title, show in _matrices(fs):
        parts.append(f"<h2>{e(title)}</h2><table><tr><th>model</th>"
                     + "".join(f"<th>{e(g)}</th>" for g in groups) + "</tr>")  # fmt: skip
        for m in models:
            tds = []
            for g in groups:
                c = cells.get((m, g))
                cls = " class='bad'" if c is not None and c.status != "ok" else ""
                tds.append(f"<td{cls}>{e(_value(c, show))}</td>")
            parts.append(f"<tr><td>{e(m)}</td>{''.join(tds)}</tr>")
        parts.append("</table>")
    parts.append("<h2>Nodes</h2><table><tr><th>group</th><th>node</th><th>host</th><th>status</th>"
                 "<th>records</th><th>run folder</th></tr>")  # fmt: skip
    for fg in fs.groups:
        for n in fg.nodes:
            cls = "" if n.status == "ok" else " class='bad'"
            status = n.status + (f": {n.error}" if n.error else "")
            parts.append(f"<tr><td>{e(fg.name)}</td><td>{e(n.node_id[:8])}</td><td>{e(n.host or '')}</td>"
                         f"<td{cls}>{e(status)}</td><td>{n.records}</td>"
                         f"<td><a href='{e(n.folder)}/report.html'>{e(n.folder)}</a></td></tr>")  # fmt: skip
    parts.append("</table>")
    shipped = [
        (fg.name, n, a, note) for fg in fs.groups for n in fg.nodes for a, note in n.model_files.items()
    ]
    if shipped:
        parts.append("<h2>Model files</h2><table><tr><th>group</th><th>node</th><th>model</th>"
                     "<th>how it got there</th></tr>")  # fmt: skip
        parts += [f"<tr><td>{e(g)}</td><td>{e(n.node_id[:8])}</td><td>{e(a)}</td><td>{e(note)}</td></tr>"
                  for g, n, a, note in shipped]  # fmt: skip
        parts.append("</table>")
    parts += [f"<p><b>Note:</b> {e(note)}</p>" for note in fs.notes]
    return "\n".join(parts) + "\n"


FLEET_RENDERERS: dict[str, tuple[str, Callable[[FleetSummary], str]]] = {
    "md": ("fleet.md", render_fleet_markdown),
    "csv": ("fleet.csv", render_fleet_csv),
    "html": ("fleet.html", render_fleet_html),
}


def write_fleet_reports(fs: FleetSummary, out_dir: Path) -> None:
    for filename, render in FLEET_RENDERERS.values():
        (out_dir / filename).write_text(render(fs), encoding="utf-8")
