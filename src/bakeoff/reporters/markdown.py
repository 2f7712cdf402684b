"""benchmark_report.md: the session's table (Model | Avg latency | p95 | TPS) extended with TTFT,
decode rate and status, then highlights, failures, per-prompt latency and sample responses."""

from __future__ import annotations

from bakeoff.monitors.energy import ENERGY_FORMULA
from bakeoff.reporters import load_stages
from bakeoff.reporters.format import md, metric_cell, metric_columns, num, pct, per_s, secs, token_rate
from bakeoff.reporters.report import RunReport
from bakeoff.results.schema import JudgeInfo, ModelQuality, ModelSummary, RunQuality, Summary

DEFINITIONS = """\
- **TTFT** = t1 - t0: from just before the request is written to the first content-carrying event.
- **Latency** (E2E) = t_last - t0.
- **TPOT** = (E2E - TTFT) / (N_out - 1); **decode tok/s** = 1 / TPOT (streaming, N_out >= 2).
- **Output tok/s** (TPS) = N_out / E2E per request; **aggregate** (Agg tok/s) = sum N_out / wall window of
  the model's run (first scheduled send to last end); **Req/s** = successful requests / the same window.
- **mean ± std**: the sample standard deviation (n - 1), as llama-bench prints it.
- N_out = server `usage.completion_tokens`, else the engine's native count, else an estimate (flagged).
- Percentiles: numpy linear interpolation over the raw per-request samples; n is shown beside them.
  Warm-up requests are excluded.
- Reasoning models: **TTFO** = time to the first token of the answer (after the thinking; TTFT without
  any); **Think** = TTFO - TTFT; **Answer tok/s** = (N_out - N_think - 1) / (E2E - TTFO). Checks and
  judges read the answer only."""


def _highlights(models: list[ModelSummary]) -> list[str]:
    ok = [m for m in models if m.status == "ok"]
    out: list[str] = []

    def best(key: str, attr: str, low: bool) -> ModelSummary | None:
        cands = [m for m in ok if getattr(getattr(m, key), attr) is not None]
        if not cands:
            return None
        return (min if low else max)(cands, key=lambda m: getattr(getattr(m, key), attr))

    if m := best("ttft_s", "p50", True):
        out.append(f"Fastest first token: **{md(m.model)}** (TTFT p50 {secs(m.ttft_s.p50)}, n={m.ttft_s.n})")
    if m := best("decode_tokens_per_s", "p50", False):
        out.append(
            f"Highest decode rate: **{md(m.model)}** ({token_rate(m, m.decode_tokens_per_s.p50)} tok/s p50, "
            f"n={m.decode_tokens_per_s.n})"
        )
    if m := best("latency_s", "p95", True):
        out.append(f"Lowest p95 latency: **{md(m.model)}** ({secs(m.latency_s.p95)}, n={m.latency_s.n})")
    for m in models:
        if m.resources.fits_memory is False:
            out.append(
                f"**{md(m.model)}** does not fit the memory budget: peak {m.resources.peak_rss_mb} MB "
                f"> {m.resources.max_memory_mb or 0:g} MB"
            )
        if m.status != "ok":
            out.append(f"**{md(m.model)}** {m.status}: {md(m.error)}")
        elif m.requests.error:
            kinds = ", ".join(f"{md(k)} x{v}" for k, v in sorted(m.errors_by_kind.items()))
            why = f"; {md(m.error)}" if m.error else ""
            out.append(f"**{md(m.model)}**: {m.requests.error} failed requests ({kinds}){why}")
        if m.status == "ok" and m.info.get("ttft"):
            out.append(f"**{md(m.model)}**: TTFT {md(m.info['ttft'])}")
        if m.tokens.source == "estimated":
            out.append(
                f"**{md(m.model)}**: token counts are estimated (the server sent no usage; --tokenizer "
                "counts them exactly)"
            )
        if m.tokens.source == "counted":
            out.append(
                f"**{md(m.model)}**: the server sent no usage; its answers were counted with --tokenizer"
            )
    return out


def _mb(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.0f} MB"


def _resources(summary: Summary) -> list[str]:
    rows = [m for m in summary.models if m.resources.memory_source or m.resources.disk_mb]
    if not rows:
        return []
    out = [
        "",
        "## Resources",
        "",
        "| Model | Peak memory | Predicted | Steady | Fits budget | Disk | Cold load | First answer TTFT "
        "| Cold start | Warm TTFT | Energy/token | Cost per 1M tokens | Decode ceiling | Of ceiling |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in rows:
        r = m.resources
        fits = "-" if r.max_memory_mb is None else {True: "yes", False: "**no**", None: "n/a"}[r.fits_memory]
        e = r.energy_j_per_token
        energy = "n/a" if e is None else f"{e:.3f} J ({md(r.energy_source)})"
        cost = "n/a" if r.cost_per_mtok is None else f"{r.cost_per_mtok:.4f}"
        ratio = r.roofline_ratio
        out.append(
            f"| {md(m.model)} | {_mb(r.peak_rss_mb)} | {_mb(r.predicted_mb)} | {_mb(r.steady_rss_mb)} "
            f"| {fits} "
            f"| {_mb(r.disk_mb)} | {secs(r.load_s)} | {secs(r.first_request_ttft_s)} "
            f"| {secs(r.cold_start_s)} | {secs(r.warm_ttft_s)} | {energy} | {cost} "
            f"| {num(r.decode_ceiling_tok_s)} tok/s | {'n/a' if ratio is None else f'{ratio:.0%}'} |"
        )
    env = summary.run.environment
    bw = env.get("memory_bandwidth") or {}
    out += [
        "",
        "- Memory: "
        + "; ".join(sorted({md(m.resources.memory_source or m.resources.memory_unavailable) for m in rows})),
        f"- Energy: {ENERGY_FORMULA}; price {rows[0].resources.price_per_kwh or 'n/a'} per kWh. "
        "An *estimated* figure assumes a draw per busy core (`--watts-per-core`); RAPL was "
        + ("read." if any(m.resources.energy_source == "measured" for m in rows) else "not readable here."),
        f"- Decode ceiling = memory bandwidth / model bytes (each token reads every weight once); "
        f"bandwidth {md(bw.get('gbs', 'n/a'))} GB/s ({md(bw.get('method', 'not measured'))}).",
        "- First answer TTFT is the first (warm-up) request after load; warm TTFT is the measured p50.",
    ]
    busy = [m.model for m in rows if (m.resources.other_load_pct or 0) > 20]
    if busy:
        out.append(
            f"- **Other load** on the machine during {', '.join(md(b) for b in busy)} "
            "(over 20% of the CPUs): its figures may be low."
        )
    return out


MAX_CHECK_ROWS = 12


def _secs(v: object) -> str:
    return secs(v) if isinstance(v, int | float) else "n/a"


def _slo(summary: Summary) -> list[str]:
    """Each model against the run's --slo: every term's value, met or not, and the goodput."""
    rows = [m for m in summary.models if m.slo is not None]
    if not rows:
        return []
    terms = list(dict.fromkeys(t.term for m in rows if m.slo for t in m.slo.terms))
    out = [
        "",
        f"## Service-level objective: {md(str(summary.run.settings.get('slo', '')))}",
        "",
        "Met when every term holds for the model's statistic; goodput = requests per second that met every "
        "term by their own values (vLLM's definition).",
        "",
        "| Model | " + " | ".join(md(t) for t in terms) + " | SLO | Goodput | Good requests |",
        "|---" * (len(terms) + 4) + "|",
    ]
    for m in rows:
        assert m.slo is not None
        by = {t.term: t for t in m.slo.terms}
        cells = [
            f"{secs(by[t].value)} ({'met' if by[t].met else '**missed**'})" if t in by else "-" for t in terms
        ]
        out.append(
            f"| {md(m.model)} | " + " | ".join(cells) + f" | {'met' if m.slo.met else '**missed**'} "
            f"| {per_s(m.slo.goodput_per_s)} | {m.slo.good_requests}/{m.slo.requests} |"
        )
    return out


def _facts(summary: Summary) -> list[str]:
    """Planted facts kept (the long-meetings suite, or any case with ``facts``): recall overall, by
    transcript length and by position, action items' owners and dates, and what was invented."""
    rows = [(m, m.quality.facts) for m in summary.models if m.quality and m.quality.facts]
    if not rows:
        return []
    lengths = list(dict.fromkeys(k for _, f in rows for k in f.by_length))
    positions = [p for p in ("start", "middle", "end") if any(p in f.by_position for _, f in rows)]
    head = ["Model", "Recall", *(f"{md(x)} tokens" for x in lengths), *positions]
    head += ["Owner right", "Date right", "Invented owners / dates"]
    out = [
        "",
        "## Facts kept",
        "",
        "Share of the planted facts each model's notes kept (no judge: a fact is kept when its key "
        "phrase is in the notes), by transcript length and by where the fact sat in the transcript; "
        "owner and due date right among the action items kept; owners and dates the notes invented.",
        "",
        "| " + " | ".join(head) + " |",
        "|---" * len(head) + "|",
    ]
    for m, f in rows:
        cells = [md(m.model), f"{pct(f.recall)} ({f.recalled}/{f.checked})"]
        cells += [pct(f.by_length.get(x)) for x in lengths] + [pct(f.by_position.get(p)) for p in positions]
        cells += [pct(f.owner_right), pct(f.due_right), f"{f.invented_owners} / {f.invented_dates}"]
        out.append("| " + " | ".join(cells) + " |")
    return out


def _fields(summary: Summary) -> list[str]:
    """Structured notes read field by field (``quality.fields``): what an app parsing them would get."""
    rows = [(m, m.quality.fields) for m in summary.models if m.quality and m.quality.fields]
    if not rows:
        return []
    head = ["Model", "Parsed", "Decisions recall / precision", "Actions recall / precision", "Owner right",
            "Due right", "Questions", "Numbers", "Invented owners"]  # fmt: skip
    out = [
        "",
        "## Fields of the structured notes",
        "",
        "The JSON notes read as an app reads them: a decision counts only in `decisions`, an action "
        "only as an item of `action_items` (with its owner and due date), a question only in "
        "`open_questions`; precision is the share of listed decisions and actions that the meeting "
        "had. An answer that is not a notes object recalls nothing.",
        "",
        "| " + " | ".join(head) + " |",
        "|---" * len(head) + "|",
    ]
    for m, f in rows:
        cells = [
            md(m.model), f"{f.parsed}/{f.answers}", f"{pct(f.decision_recall)} / {pct(f.decision_precision)}",
            f"{pct(f.action_recall)} / {pct(f.action_precision)}", pct(f.owner_right), pct(f.due_right),
            pct(f.question_recall), pct(f.number_recall), str(f.invented_owners),
        ]  # fmt: skip
        out.append("| " + " | ".join(cells) + " |")
    return out


def _reasoning(summary: Summary) -> list[str]:
    """Thinking apart from the answer, for the models that reasoned (or ran out of tokens doing so)."""
    rows = [m for m in summary.models if m.tokens.reasoning_mean is not None or m.tokens.reasoning_exhausted]
    if not rows:
        return []
    out = [
        "",
        "## Reasoning",
        "",
        "Tokens a model spent thinking before its answer (within its completion tokens), the time to the "
        "first token of any kind (TTFT) and of the answer (TTFO), and the requests whose thinking used up "
        "max_tokens before any answer (failed, never an empty answer).",
        "",
        "| Model | Thinking tokens | Answer tokens | TTFT p50 | TTFO p50 | Ran out thinking |",
        "|---|---|---|---|---|---|",
    ]
    for m in rows:
        t = m.tokens
        answer = None if t.completion_mean is None else t.completion_mean - (t.reasoning_mean or 0)
        out.append(
            f"| {md(m.model)} | {num(t.reasoning_mean)} | {num(answer)} | {secs(m.ttft_s.p50)} "
            f"| {secs(m.stat('ttfo_s').p50)} | {t.reasoning_exhausted} |"
        )
    return out


def _qualified_text(info: JudgeInfo) -> str:
    q = info.qualification
    if q is None:
        return "**not qualified** (never tested: scores kept out of Quality)"
    said = []
    for mode, part in (("rubric", q.rubric), ("pairwise", q.pairwise)):
        if part is not None:
            verdict = "qualified" if part.qualified else "**not qualified**"
            said.append(f"{verdict} for {mode} ({part.passed}/{part.items} corruptions caught)")
    return "; ".join(said) or "**not qualified**"


def _qualification_table(rq: RunQuality) -> list[str]:
    """Per judge and mode, which corruption kinds of the calibration set it caught."""
    rows = [
        (label, mode, part)
        for label, info in rq.judges.items()
        if info.qualification is not None
        for mode, part in (("rubric", info.qualification.rubric), ("pairwise", info.qualification.pairwise))
        if part is not None
    ]
    if not rows:
        return []
    kinds = list(dict.fromkeys(k for _, _, p in rows for k in p.by_kind))
    out = [
        "",
        "Judge qualification (gold answers against corrupted copies; a rubric item is caught when the gold "
        "scores higher, a pairwise item when the gold wins in both orders):",
        "",
        "| Judge | Mode | " + " | ".join(kinds) + " | Caught | Spread / A-bias | Qualified |",
        "|---" * (len(kinds) + 5) + "|",
    ]
    for label, mode, p in rows:
        marks = " | ".join("yes" if p.by_kind.get(k) else "**no**" for k in kinds)
        bias = (
            f"spread {p.score_spread:.2f}"
            if p.score_spread is not None
            else f"A {pct(p.position_bias)}"
            if p.position_bias is not None
            else "n/a"
        )
        out.append(
            f"| {md(label)} | {mode} | {marks} | {p.passed}/{p.items} | {bias} "
            f"| {'yes' if p.qualified else '**no**'} |"
        )
    return out


def _quality(summary: Summary) -> list[str]:
    """Quality beside speed, the judges, agreement with people, pairwise ranking and warnings."""
    from bakeoff.reporters.terminal import agreement_line, judge_cell, quality_cell, reference_cell

    if not any(m.quality is not None for m in summary.models):
        return []
    rq = summary.quality or RunQuality()
    out = [
        "",
        "## Quality beside speed",
        "",
        "| Model | Quality 1-5 [95% CI] | n cases | Source | Judge 1-5 | Judged | Unparsed | Checks passed "
        "| ROUGE-L / key terms | Aspects covered | Decode tok/s (p50) | TTFT p50 | Peak memory |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    quality = {m.model: m.quality or ModelQuality() for m in summary.models}
    ranked = sorted(summary.models, key=lambda m: -(quality[m.model].mean or -99))
    for m in ranked:
        q = quality[m.model]
        unparsed = f"{q.unparsed} ({pct(q.unparsed_rate)})" if q.judged else "-"
        ch = q.checks
        checks = f"{pct(ch.pass_rate)} ({ch.passed}/{ch.total})" if ch.total else "-"
        peak = m.resources.peak_rss_mb
        lines_src = md(q.source or "-")
        if q.self_judging_skipped and not q.human_scored:
            lines_src += " (judge: not self-scored)"
        out.append(
            f"| {md(m.model)} | {quality_cell(q)} | {q.n} | {lines_src} | {judge_cell(q)} | {q.judged} "
            f"| {unparsed} | {checks} | {reference_cell(q)} | {pct(q.aspect_coverage_mean)} "
            f"| {token_rate(m, m.decode_tokens_per_s.p50)} | {secs(m.ttft_s.p50)} "
            f"| {_mb(peak) if isinstance(peak, int | float) else 'n/a'} |"
        )
    if rq.judges:
        out += ["", "Judges:"]
        for label, info in rq.judges.items():
            parts = ["temperature 0, seed 0"]
            if info.verdicts:
                parts.append(
                    f"{info.verdicts} rubric verdicts ({info.rubric}), {info.unparsed} unparsed, "
                    f"{info.retried} retried, {_secs(info.seconds_per_verdict)} per verdict"
                )
            if info.pairwise_verdicts:
                parts.append(
                    f"{info.pairwise_verdicts} pairwise verdicts ({info.pairwise_rubric}), "
                    f"{info.pairwise_unparsed} unparsed, "
                    f"{_secs(info.pairwise_seconds_per_verdict)} per verdict"
                )
            if info.disk_mb is not None:
                parts.append(f"{info.disk_mb:.0f} MB of weights")
            parts.append(_qualified_text(info))
            out.append(f"- {md(label)}: " + "; ".join(parts))
        out += _qualification_table(rq)
    else:
        out += ["", "No judge has scored this run yet: `bakeoff judge RUN_DIR --judge MODEL`."]
    aspects = rq.shared_aspects
    if aspects:
        out += [
            "",
            "Aspect coverage, aspects shared by several cases (share of answers covering it; partial = "
            "half; every aspect is in summary.json):",
            "",
        ]
        out += ["| Model | " + " | ".join(md(a) for a in aspects) + " |", "|---" * (len(aspects) + 1) + "|"]
        for m in summary.models:
            cov = quality[m.model].aspect_coverage
            out.append(f"| {md(m.model)} | " + " | ".join(pct(cov.get(a)) for a in aspects) + " |")
    by_check = {m.model: quality[m.model].checks.by_check for m in summary.models}
    failing = {c for d in by_check.values() for c, r in d.items() if r < 1}

    def spread(c: str) -> float:
        rates = [d[c] for d in by_check.values() if c in d]
        return max(rates) - min(rates) if rates else 0.0

    shown = sorted(failing, key=lambda c: (-spread(c), c))[:MAX_CHECK_ROWS]
    if shown:
        out += [
            "",
            "Checks that failed somewhere, those that separate the models most first (pass rate):",
            "",
        ]
        out += ["| Check | " + " | ".join(md(x) for x in by_check) + " |", "|---" * (len(by_check) + 1) + "|"]
        for c in shown:
            out.append(f"| {md(c)} | " + " | ".join(pct(by_check[mm].get(c)) for mm in by_check) + " |")
        if len(failing) > len(shown):
            out.append(f"\n{len(failing) - len(shown)} more failing checks: per answer in checks.jsonl.")
    for label, a in rq.agreement.items():
        out += ["", f"Human vs judge {md(label)}: {agreement_line(a)}"]
    pw = rq.pairwise
    if pw is not None:
        out += [
            "",
            (
                "Pairwise, **by a judge not qualified for pairwise verdicts: for reference only** "
                if any(i.pairwise_verdicts and not i.qualified("pairwise") for i in rq.judges.values())
                else "Pairwise "
            )
            + f"({pw.comparisons} order-swapped comparisons, judge consistent across orders in "
            f"{pct(pw.position_consistency)}; inconsistent pairs are ties):",
            "",
            "| Model | Bradley-Terry (log, 0 = average) [95% CI] | Win rate | W/L/T |",
            "|---|---|---|---|",
        ]
        for name in pw.order:
            r = pw.models[name]
            ci = r.bt_ci95
            cis = f" [{ci[0]:+.2f}, {ci[1]:+.2f}]" if ci else ""
            out.append(
                f"| {md(name)} | {r.bt:+.2f}{cis} | {pct(r.win_rate)} | {r.wins}/{r.losses}/{r.ties} |"
            )
    if rq.notes:
        out += [""] + [f"> **Note:** {md(n)}" for n in rq.notes]
    return out


def render_markdown(report: RunReport) -> str:
    summary = report.summary
    cols = metric_columns("markdown", summary.models)
    s = summary.run.settings
    env = summary.run.environment
    lines = [
        "# Benchmark report",
        "",
        f"bakeoff {summary.tool.version} · started {summary.run.started_at}"
        + (" · **interrupted: partial results**" if summary.run.interrupted else ""),
        "",
        f"Settings: rounds={s.get('rounds')}, warm-up={s.get('warmup')}, max_tokens={s.get('max_tokens')}, "
        f"temperature={s.get('temperature')}, seed={s.get('seed')}, stream={s.get('stream')}, "
        f"concurrency={s.get('concurrency')}, "
        f"prompts: {md(s.get('prompts_source'))} ({s.get('prompt_count')})",
        "",
        f"Machine: {md(env.get('cpu_model', '?'))}, {env.get('cpu_count', '?')} cores, "
        f"{num(env.get('ram_gb'))} GB RAM, {md(env.get('os', '?'))}, Python {md(env.get('python', '?'))}",
        "",
        "| Model | Status | " + " | ".join(c.header for _, c in cols) + " | n ok/err |",
        "|---|---|" + "---|" * len(cols) + "---|",
    ]
    for m in summary.models:
        values = " | ".join(metric_cell(m, d, c) for d, c in cols)
        lines.append(f"| {md(m.model)} | {m.status} | {values} | {m.requests.ok}/{m.requests.error} |")
    if s.get("rate"):
        lines += [
            "",
            f"Open loop: {s.get('arrival')} arrivals at {s.get('rate')} requests/s. "
            "Latency from the scheduled send time (a backlog shows here, not hidden):",
            "",
            "| Model | Latency p50 from scheduled | p95 | TTFT p50 from scheduled | Aggregate output tok/s |",
            "|---|---|---|---|---|",
        ]
        for m in summary.models:
            ls = m.latency_from_scheduled_s
            lines.append(
                f"| {md(m.model)} | {secs(ls.p50)} | {secs(ls.p95)} "
                f"| {secs(m.ttft_from_scheduled_s.p50)} | {token_rate(m, m.aggregate_output_tokens_per_s)} |"
            )
    if summary.run.notes:
        lines += [""] + [f"> **Note:** {md(n)}" for n in summary.run.notes]
    lines += _slo(summary)
    lines += load_stages.markdown(summary)
    lines += load_stages.prefill_generation(report)
    lines += _quality(summary)
    lines += _facts(summary)
    lines += _fields(summary)
    lines += _reasoning(summary)
    hl = _highlights(summary.models)
    if hl:
        lines += ["", "## Highlights", ""] + [f"- {h}" for h in hl]
    lines += ["", "## Latency per prompt (mean, seconds)", ""]
    prompt_ids = list(dict.fromkeys(p.prompt_id for m in summary.models for p in m.per_prompt))
    if prompt_ids:
        lines.append("| Model | " + " | ".join(md(p) for p in prompt_ids) + " |")
        lines.append("|---|" + "---|" * len(prompt_ids))
        for m in summary.models:
            by = {p.prompt_id: p for p in m.per_prompt}
            cells = [num(by[p].latency_s_mean, 3) if p in by else "" for p in prompt_ids]
            lines.append(f"| {md(m.model)} | " + " | ".join(cells) + " |")
    else:
        lines.append("No measured requests.")
    lines += [
        "",
        "## Tokens",
        "",
        "| Model | Prompt tokens (mean) | Completion tokens (mean) | Source | Load |",
    ]
    lines.append("|---|---|---|---|---|")
    for m in summary.models:
        load = m.resources.load_s
        lines.append(
            f"| {md(m.model)} | {num(m.tokens.prompt_mean)} | {num(m.tokens.completion_mean)} | "
            f"{m.tokens.source or 'n/a'} | {secs(load) if load is not None else 'n/a'} |"
        )
    lines += _resources(summary)
    lines += ["", "## Sample responses", ""]
    for m in summary.models:
        text = " ".join((m.sample_response or "(none)").split())
        lines.append(f"- **{md(m.model)}**: {md(text[:400])}{'...' if len(text) > 400 else ''}")
    lines += ["", "## Definitions", "", DEFINITIONS, ""]
    return "\n".join(lines)
