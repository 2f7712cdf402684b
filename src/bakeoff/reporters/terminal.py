"""A Rich table a person can read at a glance, rendered from a saved summary."""

from __future__ import annotations

from collections.abc import Callable

from rich.markup import escape
from rich.table import Table

from bakeoff.reporters.format import metric_cell, metric_columns, pct, per_s, rate, secs, short_names
from bakeoff.results.schema import Agreement, ModelQuality, ModelSummary, Qualification, Resources, Summary

_STYLE = {"ok": "green", "error": "red", "skipped": "yellow"}


def summary_table(summary: Summary) -> Table:
    t = Table(title="bakeoff results", header_style="bold", show_lines=False)
    cols = metric_columns("terminal", summary.models)
    for col, just in [
        ("Model", "left"),
        ("Status", "left"),
        *((c.header, "right") for _, c in cols),
        ("Peak mem", "right"),
        ("ok/err", "right"),
    ]:
        t.add_column(col, justify=just, no_wrap=True)  # type: ignore[arg-type]
    has_q = any(m.quality and m.quality.mean is not None for m in summary.models)
    has_checks = any(m.quality and m.quality.check_pass_rate is not None for m in summary.models)
    has_ref = any(m.quality and m.quality.reference for m in summary.models)
    if has_q:
        t.add_column("Quality", justify="right", no_wrap=True)
    if has_checks:
        t.add_column("Checks", justify="right", no_wrap=True)
    if has_ref:  # narrow: this table is already wide
        t.add_column("R-L/terms", justify="right", no_wrap=True)
    has_slo = any(m.slo for m in summary.models)
    if has_slo:
        t.add_column("SLO", justify="left", no_wrap=True)
        t.add_column("Goodput", justify="right", no_wrap=True)
    for m, name in zip(summary.models, short_names([m.model for m in summary.models]), strict=True):
        q = m.quality or ModelQuality()
        extra = ([quality_cell(q)] if has_q else []) + ([pct(q.check_pass_rate)] if has_checks else [])
        extra += [reference_cell(q).replace(" / ", "/")] if has_ref else []
        extra += slo_cells(m) if has_slo else []
        t.add_row(
            escape(name),
            f"[{_STYLE[m.status]}]{m.status}[/]",
            *(metric_cell(m, d, c) for d, c in cols),
            _peak(m.resources),
            f"{m.requests.ok}/{m.requests.error}",
            *extra,
        )
    return t


def slo_cells(m: ModelSummary) -> list[str]:
    """``met`` / ``missed`` and the goodput in requests per second (``-`` without an SLO result)."""
    if m.slo is None:
        return ["-", "-"]
    return ["[green]met[/]" if m.slo.met else "[red]missed[/]", per_s(m.slo.goodput_per_s)]


def reference_cell(q: ModelQuality | None) -> str:
    """``0.41 / 78%``: ROUGE-L F1 and key-term recall against the reference answers, or ``n/a``."""
    ref = q.reference if q else None
    if ref is None or ref.rouge_l is None:
        return "n/a"
    return f"{ref.rouge_l:.2f} / {pct(ref.term_recall)}"


def judge_cell(q: ModelQuality) -> str:
    """The judges' mean score, marked when it counts unqualified judges (whose scores are not in
    Quality): ``(unqualified)`` when every judge is, ``(incl. unqualified)`` when some are."""
    if q.judge_mean is None:
        return "-"
    if not q.unqualified_judges:
        return f"{q.judge_mean:.2f}"
    every = set(q.unqualified_judges) >= set(q.judges)
    return f"{q.judge_mean:.2f} " + ("(unqualified)" if every else "(incl. unqualified)")


def qualification_table(label: str, q: Qualification) -> Table:
    """One judge's calibration result: each corruption caught or not, per mode, and the verdict."""
    t = Table(title=f"judge qualification: {escape(label)}", header_style="bold")
    parts = [(mode, part) for mode, part in (("rubric", q.rubric), ("pairwise", q.pairwise)) if part]
    t.add_column("Corruption", no_wrap=True)
    for mode, _ in parts:
        t.add_column(mode.capitalize(), justify="right", no_wrap=True)
    kinds = list(dict.fromkeys(k for _, part in parts for k in part.by_kind))
    for kind in kinds:
        t.add_row(kind, *("caught" if p.by_kind.get(kind) else "[red]missed[/]" for _, p in parts))
    t.add_row("caught", *(f"{p.passed}/{p.items} ({pct(p.accuracy)})" for _, p in parts))
    t.add_row("unparsed", *(str(p.unparsed) for _, p in parts))
    t.add_row(
        "bias",
        *(
            f"spread {_num(p.score_spread)}" if mode == "rubric" else f"A picked {pct(p.position_bias)}"
            for mode, p in parts
        ),
    )
    t.add_row("per verdict", *(secs(p.seconds_per_verdict) for _, p in parts))
    t.add_row(
        f"qualified (>= {q.threshold:.0%})",
        *("[green]yes[/]" if p.qualified else "[red]no[/]" for _, p in parts),
    )
    return t


def _num(v: object, fmt: str = ".2f") -> str:
    return format(v, fmt) if isinstance(v, int | float) else "n/a"


def quality_cell(q: ModelQuality | None) -> str:
    """``3.42 [3.10-3.75]`` or ``n/a``."""
    if q is None or q.mean is None:
        return "n/a"
    if q.ci95 is not None and len(q.ci95) == 2:
        return f"{q.mean:.2f} [{q.ci95[0]:.2f}-{q.ci95[1]:.2f}]"
    return f"{q.mean:.2f}"


def quality_table(summary: Summary) -> Table:
    """Quality beside speed: score with its interval, source, the judges' scores, unparsed rate, checks,
    reference figures, aspects, pairwise wins, speed. A column no model has a value for is left out."""
    t = Table(title="quality and speed", header_style="bold")
    names = short_names([m.model for m in summary.models])
    qs = [m.quality or ModelQuality() for m in summary.models]
    cols: list[tuple[str, str, Callable[[ModelSummary, ModelQuality], str], bool]] = [
        ("Model", "left", lambda m, q: "", True),
        ("Quality 1-5 [95% CI]", "right", lambda m, q: quality_cell(q), True),
        ("n", "right", lambda m, q: str(q.n), True),
        ("Source", "left", lambda m, q: str(q.source or "-"), True),
        ("Judge 1-5", "right", lambda m, q: judge_cell(q), any(q.judged for q in qs)),
        ("Unparsed", "right", lambda m, q: pct(q.unparsed_rate), any(q.judged for q in qs)),
        ("Checks", "right", lambda m, q: pct(q.check_pass_rate), True),
        ("ROUGE-L / terms", "right", lambda m, q: reference_cell(q), any(q.reference for q in qs)),
        ("Aspects", "right", lambda m, q: pct(q.aspect_coverage_mean), any(q.aspect_coverage for q in qs)),
        (
            "Pair wins",
            "right",
            lambda m, q: pct(q.pairwise.win_rate) if q.pairwise else "-",
            any(q.pairwise for q in qs),
        ),
        ("Decode tok/s", "right", lambda m, q: rate(m.decode_tokens_per_s.p50), True),
        ("TTFT p50", "right", lambda m, q: secs(m.ttft_s.p50), True),
    ]
    shown = [c for c in cols if c[3]]
    for col, just, _, _ in shown:
        t.add_column(col, justify=just, no_wrap=True)  # type: ignore[arg-type]
    for m, name, q in zip(summary.models, names, qs, strict=True):
        t.add_row(escape(name), *(cell(m, q) for _, _, cell, _ in shown[1:]))
    return t


def agreement_line(a: Agreement) -> str:
    """One line of human-judge agreement statistics."""
    return (
        f"n={a.n}, exact {pct(a.exact)}, within one {pct(a.within_one)}, "
        f"quadratic kappa {_num(a.kappa_quadratic)}, Spearman {_num(a.spearman)}"
    )


def _peak(r: Resources) -> str:
    if r.peak_rss_mb is None:
        return "n/a"
    return f"{r.peak_rss_mb:.0f} MB" + (" [red](over)[/]" if r.fits_memory is False else "")
