"""The Markdown diff of two runs that ``bakeoff compare`` prints and writes (renders a Comparison)."""

from __future__ import annotations

from pathlib import Path

from bakeoff.analysis.compare import Comparison
from bakeoff.reporters.format import md, md_code
from bakeoff.results.schema import Summary


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4g}"


def render_diff(c: Comparison, base_dir: Path, new_dir: Path) -> str:
    def about(s: Summary) -> str:
        return md(f"{s.run.started_at}, bakeoff {s.tool.version}, schema {s.schema_version}")

    lines = [
        "# Run comparison",
        "",
        f"Base: {md_code(base_dir)} ({about(c.base)})  ",
        f"New: {md_code(new_dir)} ({about(c.new)})",
        "",
    ]
    if c.settings_differ:
        lines += ["**Warning:** the two runs differ in settings or machine; deltas may reflect that:", ""]
        lines += [f"- {md(d)}" for d in c.settings_differ] + [""]
    lines += ["| Model | Metric | Base | New | Change | Verdict |", "|---|---|---|---|---|---|"]
    for d in c.deltas:
        rel = f" ({d.relative:+.1%})" if d.relative is not None else ""
        lines.append(
            f"| {md(d.model)} | {md(d.metric)}.{md(d.stat)} | {_fmt(d.base)} | {_fmt(d.new)} | "
            f"{_fmt(d.change)}{rel} | {d.verdict} |"
        )
    if c.only_base or c.only_new:
        lines += [
            "",
            f"Only in base: {', '.join(md(x) for x in c.only_base) or '-'}; "
            f"only in new: {', '.join(md(x) for x in c.only_new) or '-'}",
        ]
    lines += ["", "## Gate", ""]
    lines += [f"- **failed**: {md(reason)}" for reason in c.gate_failed]
    if c.broken:
        lines += [
            f"- **broken** {md_code(r)}: {md(d.model)} {md(d.metric)}.{md(d.stat)} "
            f"{d.base:.4g} -> {d.new:.4g} ({md(d.method)})"
            for r, d in c.broken
        ]
    elif not c.gate_failed:
        lines.append("- no rule broken" if c.rules else "- no gate: no --fail-on rules were given")
    methods = "; ".join(dict.fromkeys(d.method.split(" [")[0].split(":")[0] for d in c.deltas if d.method))
    lines += [
        "",
        (f"Verdicts: {methods}" if methods else "Verdicts: none, no model is in both runs")
        + f"; a change inside the runs' own spread, or under {c.min_change * 100:g}% of the base, "
        "is *unchanged*.",
        "",
    ]
    return "\n".join(lines)
