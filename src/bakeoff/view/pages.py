"""The pages of ``bakeoff view``, as HTML strings (server-side; no CDN, no framework: opens offline).

Every text that comes from a run (model names, answers, prompts, paths) is escaped. The little
JavaScript there is (selecting runs to compare, rating keys) is inline and talks only to this server.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from urllib.parse import urlencode

from bakeoff.analysis.compare import Comparison
from bakeoff.results.index import HEADLINE, IndexedRun, SkippedRun
from bakeoff.view.rating import Item, Pair

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:0;color:#111}
header{background:#1f2937;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1.2rem;align-items:center}
header a{color:#e5e7eb;text-decoration:none}header b{font-size:1.1rem}
main{max-width:1200px;margin:1rem auto;padding:0 1rem}
table{border-collapse:collapse;font-size:.88rem;margin:.5rem 0}
td,th{padding:.3rem .55rem;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:top}
th{background:#f9fafb}.num{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#6b7280;font-size:.85rem}.bad{color:#b91c1c}.good{color:#047857}
form.filters input{width:9rem}button{cursor:pointer}
pre{white-space:pre-wrap;background:#f8f8f8;padding:.6rem;border-radius:4px;font-size:.85rem;max-height:28rem;
overflow:auto}
.answer{border:1px solid #d1d5db;border-radius:6px;padding:.8rem;margin:.6rem 0}
.scores button{font-size:1.1rem;width:2.6rem;margin-right:.2rem}
.scores button.on{background:#2563eb;color:#fff}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:1rem}iframe{width:100%;height:80vh;border:1px solid #ddd}
kbd{border:1px solid #ccc;border-radius:3px;padding:0 .25rem;font-size:.8rem}
"""


def e(s: object) -> str:
    return html.escape("" if s is None else str(s))


def fmt(v: float | None, unit: str = "") -> str:
    return "–" if v is None else f"{v:.4g}{unit}"


def page(title: str, body: str, script: str = "") -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{e(title)} · bakeoff view</title><style>{CSS}</style></head><body>"
        "<header><b>bakeoff view</b><a href='/'>Runs</a><a href='/trend'>Trends</a></header>"
        f"<main>{body}</main>" + (f"<script>{script}</script>" if script else "") + "</body></html>"
    )


def _commit(run: IndexedRun) -> str:
    if not run.commit:
        return "<span class=muted>–</span>"
    dirty = " <span class=bad title='uncommitted changes'>dirty</span>" if run.dirty else ""
    return f"<code title='{e(run.commit)}'>{e(run.commit[:10])}</code>{dirty}"


def runs_page(runs: Sequence[IndexedRun], skipped: Sequence[SkippedRun], filters: dict[str, str]) -> str:
    """The runs list: filters, one row per run (newest first), and the skipped folders with why."""
    inputs = "".join(
        f"<label>{e(k)} <input name={k} value='{e(filters.get(k, ''))}'></label> "
        for k in ("model", "machine", "suite", "commit")
    )
    rows = []
    for r in runs:
        models = "<br>".join(
            f"{'' if st == 'ok' else '<span class=bad>'}{e(m)}{'' if st == 'ok' else f' ({e(st)})</span>'}"
            f" <span class=muted>TTFT p50 {fmt(r.figures.get(m, {}).get('ttft_s.p50'), ' s')}, "
            f"decode p50 {fmt(r.figures.get(m, {}).get('decode_tokens_per_s.p50'), ' tok/s')}</span>"
            for m, st in zip(r.models, r.statuses, strict=True)
        )
        rows.append(
            f"<tr data-run='{e(r.id)}'><td><input type=checkbox name=ids value='{e(r.id)}' form=cmp></td>"
            f"<td><a href='/run/{e(r.id)}'>{e(r.started_at)}</a></td><td>{_commit(r)}</td>"
            f"<td>{e(r.host)}<br><span class=muted>{e(r.machine)}</span></td><td>{e(r.suite)}</td>"
            f"<td>{models}</td></tr>"
        )
    skip = ""
    if skipped:
        skip = (
            "<h2>Skipped folders</h2><table id=skipped><tr><th>Folder</th><th>Why</th></tr>"
            + "".join(
                f"<tr><td><code>{e(s.path)}</code></td><td class=bad>{e(s.reason)}</td></tr>" for s in skipped
            )
            + "</table>"
        )
    body = (
        f"<h1>Runs</h1><form class=filters method=get action='/'>{inputs}<button>Filter</button> "
        "<a href='/'>clear</a></form>"
        "<form id=cmp method=get action='/compare'><p><button id=compare>Compare selected</button> "
        "<span class=muted>pick two or more: the oldest is the base</span></p></form>"
        f"<p class=muted id=count>{len(runs)} run{'s' if len(runs) != 1 else ''}</p>"
        "<table id=runs><tr><th></th><th>Started</th><th>Commit</th><th>Machine</th><th>Suite</th>"
        f"<th>Models</th></tr>{''.join(rows)}</table>{skip}"
    )
    return page("Runs", body)


def run_page(run: IndexedRun, notes: Sequence[str], answers: Sequence[tuple[str, str, str]]) -> str:
    """One run: what it was, its notes, the report (rendered from summary.json) and its answers."""
    ans = "".join(f"<tr><td>{e(m)}</td><td>{e(p)}</td><td><pre>{e(t)}</pre></td></tr>" for m, p, t in answers)
    body = (
        f"<h1>Run {e(run.started_at)}</h1>"
        f"<p class=muted><code>{e(run.path)}</code> · commit {_commit(run)} · {e(run.host)} · "
        f"{e(run.machine)} · suite {e(run.suite)}</p>"
        f"<p><a href='/rate/{e(run.id)}'>Rate answers</a> · "
        f"<a href='/rate/{e(run.id)}/pairs'>Compare answers "
        f"in pairs</a> · <a href='/run/{e(run.id)}/records'>Records</a> · "
        f"<a href='/run/{e(run.id)}/report' target=_blank>Report on its own page</a></p>"
        + ("<h2>Notes</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>" if notes else "")
        + f"<h2>Report</h2><iframe id=report src='/run/{e(run.id)}/report' title='report'></iframe>"
        + "<h2>Answers</h2><p class=muted>each model's first answer to each prompt</p>"
        + f"<table id=answers><tr><th>Model</th><th>Prompt</th><th>Answer</th></tr>{ans}</table>"
    )
    return page(f"Run {run.started_at}", body)


def records_page(
    run: IndexedRun, rows: Sequence[dict[str, object]], offset: int, limit: int, more: bool
) -> str:
    head = (
        "<tr><th>#</th><th>Model</th><th>Prompt</th><th>Status</th><th>TTFT s</th><th>Latency s</th>"
        "<th>Tokens</th><th>Warm-up</th><th>Error</th></tr>"
    )
    body_rows = "".join(
        f"<tr><td class=num>{offset + i}</td><td>{e(r.get('model'))}</td><td>{e(r.get('prompt_id'))}</td>"
        f"<td class='{'good' if r.get('status') == 'ok' else 'bad'}'>{e(r.get('status'))}</td>"
        f"<td class=num>{fmt(_metric(r, 'ttft_s'))}</td><td class=num>{fmt(_metric(r, 'latency_s'))}</td>"
        f"<td class=num>{e(r.get('completion_tokens'))}</td><td>{'warm-up' if r.get('warmup') else ''}</td>"
        f"<td>{e(r.get('error') or '')}</td></tr>"
        for i, r in enumerate(rows)
    )
    nav = []
    if offset:
        nav.append(f"<a href='?{urlencode({'offset': max(0, offset - limit)})}'>previous</a>")
    if more:
        nav.append(f"<a href='?{urlencode({'offset': offset + limit})}'>next</a>")
    body = (
        f"<h1>Records of <a href='/run/{e(run.id)}'>{e(run.started_at)}</a></h1>"
        f"<p>{' · '.join(nav)}</p><table id=records>{head}{body_rows}</table>"
    )
    return page("Records", body)


def _metric(r: dict[str, object], name: str) -> float | None:
    m = r.get("metrics")
    v = m.get(name) if isinstance(m, dict) else None
    return float(v) if isinstance(v, int | float) else None


def compare_page(runs: Sequence[IndexedRun], comparisons: Sequence[Comparison], rules: str) -> str:
    """Each later run against the first (the base): the aligned diff, its verdicts and intervals'
    method, and the gate."""
    parts = [
        "<h1>Compare</h1>",
        "<form method=get action='/compare'>"
        + "".join(f"<input type=hidden name=ids value='{e(r.id)}'>" for r in runs)
        + f"<label>Gate rules <input name=rules size=50 value='{e(rules)}' "
        "placeholder='ttft_s.p50>+10%,decode_tokens_per_s.mean<-5%'></label> <button>Apply</button></form>",
        f"<p>Base: <a href='/run/{e(runs[0].id)}'>{e(runs[0].started_at)}</a> {_commit(runs[0])}</p>",
    ]
    for run, c in zip(runs[1:], comparisons, strict=True):
        parts.append(f"<h2>New: <a href='/run/{e(run.id)}'>{e(run.started_at)}</a> {_commit(run)}</h2>")
        if c.settings_differ:
            parts.append(
                "<p class=bad>The runs differ in settings or machine; deltas may reflect that:</p><ul>"
                + "".join(f"<li>{e(d)}</li>" for d in c.settings_differ)
                + "</ul>"
            )
        parts.append(
            "<table class=diff><tr><th>Model</th><th>Metric</th><th class=num>Base</th>"
            "<th class=num>New</th><th class=num>Change</th><th>Verdict</th><th>How</th></tr>"
        )
        for d in c.deltas:
            rel = f" ({d.relative:+.1%})" if d.relative is not None else ""
            cls = {"better": "good", "worse": "bad"}.get(d.verdict, "")
            parts.append(
                f"<tr><td>{e(d.model)}</td><td>{e(d.metric)}.{e(d.stat)}</td><td class=num>{fmt(d.base)}</td>"
                f"<td class=num>{fmt(d.new)}</td><td class=num>{fmt(d.change)}{rel}</td>"
                f"<td class='verdict {cls}'>{e(d.verdict)}</td><td class=muted>{e(d.method)}</td></tr>"
            )
        parts.append("</table>")
        if c.only_base or c.only_new:
            parts.append(
                f"<p class=muted>Only in base: {e(', '.join(c.only_base) or '-')}; only in new: "
                f"{e(', '.join(c.only_new) or '-')}</p>"
            )
        gate = [f"<li class=bad>failed: {e(g)}</li>" for g in c.gate_failed]
        gate += [
            f"<li class=bad>broken <code>{e(r)}</code>: {e(d.model)} {e(d.metric)}.{e(d.stat)}</li>"
            for r, d in c.broken
        ]
        if not gate:
            gate = [
                "<li class=good>no rule broken</li>"
                if c.rules
                else "<li class=muted>no gate: no rules given</li>"
            ]
        parts.append(f"<h3>Gate</h3><ul class=gate>{''.join(gate)}</ul>")
    return page("Compare", "".join(parts))


PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#be185d", "#4b5563")


def trend_page(
    points: Sequence[tuple[IndexedRun, str, float]],
    metric: str,
    model: str,
    by: str,
    rule: float | None,
    models: Sequence[str],
) -> str:
    """A metric across runs (oldest first), one line per model, with the gate's rule drawn as each
    model's limit: its first value changed by ``rule`` percent (``ttft_s.p50>+10%`` draws +10%)."""
    metrics = [f"{m}.{s}" for m, s in HEADLINE] + ["peak_rss_mb", "quality.mean"]
    opts = "".join(f"<option{' selected' if m == metric else ''}>{e(m)}</option>" for m in metrics)
    mopts = "<option value=''>every model</option>" + "".join(
        f"<option{' selected' if m == model else ''}>{e(m)}</option>" for m in models
    )
    form = (
        f"<form method=get action='/trend'><select name=metric>{opts}</select> <select name=model>{mopts}"
        f"</select> <select name=by><option{' selected' if by == 'time' else ''}>time</option>"
        f"<option{' selected' if by == 'commit' else ''}>commit</option></select> "
        "<label>gate rule % <input name=rule size=5 "
        f"value='{'' if rule is None else e(f'{rule:g}')}'></label> "
        "<button>Show</button></form>"
    )
    if not points:
        return page("Trends", f"<h1>Trends</h1>{form}<p>No indexed run has {e(metric)}.</p>")
    order = list(dict.fromkeys(run.id for run, _, _ in points))
    x_of = {rid: i for i, rid in enumerate(order)}
    values = [v for _, _, v in points]
    lines: dict[str, list[tuple[int, float, IndexedRun]]] = {}
    for run, name, v in points:
        lines.setdefault(name, []).append((x_of[run.id], v, run))
    limits = {n: pts[0][1] * (1 + rule / 100) for n, pts in lines.items()} if rule is not None else {}
    lo, hi = min([*values, *limits.values()]), max([*values, *limits.values()])
    lo, hi = (lo - 1, hi + 1) if lo == hi else (lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
    w, h, left, bottom = 900, 360, 70, 40

    def X(i: int) -> float:
        return left + (w - left - 20) * (i / max(1, len(order) - 1))

    def anchor(i: int) -> str:  # the first and last labels stay inside the chart
        return "start" if i == 0 and len(order) > 1 else "end" if i == len(order) - 1 and i else "middle"

    def Y(v: float) -> float:
        return 10 + (h - bottom - 10) * (1 - (v - lo) / (hi - lo))

    svg = [f"<svg class=chart width={w} height={h} viewBox='0 0 {w} {h}' role=img aria-label='{e(metric)}'>"]
    svg.append(f"<line x1={left} y1={h - bottom} x2={w - 10} y2={h - bottom} stroke='#999'/>")
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        svg.append(f"<text x={left - 6} y={Y(v) + 4:.1f} text-anchor=end font-size=11>{v:.4g}</text>")
    for i, name in enumerate(lines):
        c = PALETTE[i % len(PALETTE)]
        pts = lines[name]
        path = " ".join(f"{X(x):.1f},{Y(v):.1f}" for x, v, _ in pts)
        svg.append(f"<polyline fill=none stroke='{c}' stroke-width=2 points='{path}'/>")
        for x, v, run in pts:
            svg.append(
                f"<circle cx={X(x):.1f} cy={Y(v):.1f} r=4 fill='{c}'><title>{e(name)} · "
                f"{e(run.started_at)} · {e((run.commit or '')[:10])}: {v:.4g}</title></circle>"
            )
        if name in limits:
            y = Y(limits[name])
            svg.append(
                f"<line class=rule x1={left} y1={y:.1f} x2={w - 10} y2={y:.1f} stroke='{c}' "
                "stroke-dasharray='6 4'/>"
            )
        svg.append(
            f"<text x={w - 12} y={16 + 14 * i} text-anchor=end fill='{c}' font-size=12>{e(name)}</text>"
        )
    for rid, i in x_of.items():
        run = next(r for r, _, _ in points if r.id == rid)
        label = (run.commit or "")[:7] if by == "commit" else run.started_at[5:16]
        svg.append(
            f"<text x={X(i):.1f} y={h - bottom + 16} text-anchor={anchor(i)} font-size=10>{e(label)}</text>"
        )
    svg.append("</svg>")
    note = (
        f"<p class=muted>dashed: each model's first value {rule:+g}% (the gate rule's limit)</p>"
        if rule is not None
        else ""
    )
    return page("Trends", f"<h1>Trends: {e(metric)}</h1>{form}{''.join(svg)}{note}")


RATE_JS = """
(function(){var f=document.getElementById('rate');if(!f)return;var score=null;
function pick(n){score=n;document.querySelectorAll('.scores button').forEach(function(b){
b.classList.toggle('on',Number(b.dataset.score)===n);});}
document.querySelectorAll('.scores button').forEach(function(b){b.addEventListener('click',function(ev){
ev.preventDefault();pick(Number(b.dataset.score));});});
function send(){if(score===null){document.getElementById('msg').textContent='pick a score 1-5 first';return;}
var aspects={};document.querySelectorAll('select.aspect').forEach(function(s){
aspects[s.name]=s.value||null;});
fetch(f.dataset.post,{method:'POST',headers:{'Content-Type':'application/json'},body:JSON.stringify({
row_id:f.dataset.row,rater:f.dataset.rater,score:score,aspects:aspects,
notes:document.getElementById('notes').value})}).then(function(r){return r.json().then(function(j){
if(!r.ok){document.getElementById('msg').textContent=j.error||'failed';return;}location.reload();});});}
f.addEventListener('submit',function(ev){ev.preventDefault();send();});
document.addEventListener('keydown',function(ev){if(ev.target.tagName==='TEXTAREA')return;
if(ev.ctrlKey||ev.metaKey||ev.altKey||ev.repeat)return;
if(ev.key>='1'&&ev.key<='5'){pick(Number(ev.key));}else if(ev.key==='Enter'){ev.preventDefault();send();}});
})();
"""

PAIR_JS = """
(function(){var f=document.getElementById('prefer');if(!f)return;
function send(w){fetch(f.dataset.post,{method:'POST',headers:{'Content-Type':'application/json'},
body:JSON.stringify({rater:f.dataset.rater,first:f.dataset.first,second:f.dataset.second,winner:w})})
.then(function(r){return r.json().then(function(j){
if(!r.ok){document.getElementById('msg').textContent=j.error||'failed';return;}location.reload();});});}
document.querySelectorAll('#prefer button').forEach(function(b){b.addEventListener('click',function(ev){
ev.preventDefault();send(b.dataset.winner);});});
document.addEventListener('keydown',function(ev){if(ev.ctrlKey||ev.metaKey||ev.altKey||ev.repeat)return;
var k=ev.key.toLowerCase();
if(k==='a')send('A');else if(k==='b')send('B');else if(k==='t')send('tie');});
})();
"""


def rater_form(action: str) -> str:
    body = (
        "<h1>Who is rating?</h1><p>Your name keeps your scores apart from other raters'.</p>"
        f"<form method=get action='{e(action)}'><input name=rater autofocus required maxlength=40> "
        "<button>Start</button></form>"
    )
    return page("Rate", body)


def _case_block(item_case_prompt: str, source: str | None) -> str:
    src = f"<h3>Source / transcript</h3><pre>{e(source)}</pre>" if source else ""
    return f"<h3>Prompt</h3><pre>{e(item_case_prompt)}</pre>{src}"


def rate_page(run: IndexedRun, rater: str, item: Item | None, left: int, total: int) -> str:
    """One answer, blind (no model name anywhere on the page), with 1-5, aspect marks and a comment."""
    head = (
        f"<h1>Rate answers</h1><p class=muted>run {e(run.started_at)} · rater <b id=rater>{e(rater)}</b> · "
        f"<span id=left>{left}</span> of {total} left · keys: <kbd>1</kbd>-<kbd>5</kbd> score, "
        "<kbd>Enter</kbd> save</p>"
    )
    if item is None:
        return page(
            "Rate",
            head + f"<p id=done>All {total} answers rated. <a href='/run/{e(run.id)}'>Back to "
            "the run</a></p>",
        )
    aspects = "".join(
        f"<tr><td>{e(a.id)}</td><td>{e(a.text)}</td><td><select class=aspect name='{e(a.id)}'>"
        "<option value=''>–</option><option value=y>met</option><option value=p>partly</option>"
        "<option value=n>not met</option></select></td></tr>"
        for a in item.case.aspects
    )
    aspect_table = f"<h3>Aspects</h3><table>{aspects}</table>" if aspects else ""
    buttons = "".join(f"<button data-score={n}>{n}</button>" for n in range(1, 6))
    body = (
        head
        + _case_block(item.case.prompt, item.case.source)
        + f"<h3>Answer</h3><div class=answer id=answer>{e(item.text)}</div>"
        + f"<form id=rate data-post='/api/run/{e(run.id)}/rate' data-row='{e(item.row_id)}' "
        f"data-rater='{e(rater)}'>{aspect_table}<h3>Score</h3><p class=scores>{buttons}</p>"
        "<p><textarea id=notes rows=2 cols=70 placeholder='comment (optional)'></textarea></p>"
        "<button type=submit id=save>Save</button> <span id=msg class=bad></span></form>"
    )
    return page("Rate", body, RATE_JS)


def pair_page(run: IndexedRun, rater: str, pair: Pair | None, left: int, total: int) -> str:
    """Two answers to one prompt in a random order, blind: which is better, or a tie."""
    head = (
        f"<h1>Which answer is better?</h1><p class=muted>run {e(run.started_at)} · rater <b>{e(rater)}</b> · "
        f"{left} of {total} pairs left · keys: <kbd>a</kbd>, <kbd>b</kbd>, <kbd>t</kbd> tie</p>"
    )
    if pair is None:
        return page(
            "Pairs", head + f"<p id=done>All {total} pairs compared. <a href='/run/{e(run.id)}'>Back</a></p>"
        )
    body = (
        head
        + _case_block(pair.case.prompt, pair.case.source)
        + f"<div class=pair><div><h3>A</h3><div class=answer>{e(pair.first.text)}</div></div>"
        f"<div><h3>B</h3><div class=answer>{e(pair.second.text)}</div></div></div>"
        f"<form id=prefer data-post='/api/run/{e(run.id)}/prefer' data-rater='{e(rater)}' "
        f"data-first='{e(pair.first.row_id)}' data-second='{e(pair.second.row_id)}'>"
        "<button data-winner=A>A is better</button> "
        "<button data-winner=tie>Tie</button> <button data-winner=B>B is better</button> "
        "<span id=msg class=bad></span></form>"
    )
    return page("Pairs", body, PAIR_JS)


def error_page(status: int, message: str) -> str:
    return page(f"{status}", f"<h1>{status}</h1><p class=bad>{e(message)}</p><p><a href='/'>Runs</a></p>")


def as_json(obj: object) -> str:
    return json.dumps(obj)
