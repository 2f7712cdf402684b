"""Number formatting shared by the renderers."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bakeoff.metrics.definitions import Column, Metric, all_metrics
from bakeoff.results.schema import ModelSummary


def secs(v: float | None) -> str:
    """Seconds, shown in ms below one second so small differences stay readable."""
    if v is None:
        return "n/a"
    return f"{v * 1000:.1f} ms" if v < 1 else f"{v:.2f} s"


def per_s(v: float | None) -> str:
    """A rate in requests per second: ``2.50/s`` or ``n/a``."""
    return "n/a" if v is None else f"{v:.2f}/s"


def rate(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1f}"


def pct(v: object) -> str:
    """A fraction as a whole percentage (``0.625`` -> ``62%``), or ``n/a``."""
    return f"{v:.0%}" if isinstance(v, int | float) else "n/a"


def num(v: float | None, digits: int = 1) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def metric_columns(output: str, rows: Sequence[ModelSummary] = ()) -> list[tuple[Metric, Column]]:
    """The summary-table columns of one output (terminal, markdown, html), in the table's order; a
    column ``shown_with`` a metric only when one of ``rows`` has samples of it."""

    def shown(c: Column) -> bool:
        return c.shown_with is None or any((r.stat(c.shown_with).n or 0) > 0 for r in rows)

    return [(m, c) for m in all_metrics() for c in m.columns if output in c.outputs and shown(c)]


TOKEN_TIMES = frozenset({"itl_s", "tpot_s"})
"""Time metrics divided by a token count: estimated when the counts are."""


def counts_tokens(metric: Metric) -> bool:
    """Whether the metric rests on token counts (rates in tok/s, ITL, TPOT)."""
    return metric.unit == "tok/s" or metric.name in TOKEN_TIMES


def token_rate(row: ModelSummary, v: float | None) -> str:
    """A rate in tokens per second of ``row``, ``~`` before it when its token counts are estimated."""
    return ("~" if v is not None and row.tokens.source == "estimated" else "") + rate(v)


def metric_cell(row: ModelSummary, metric: Metric, column: Column) -> str:
    """One metric value of a row, formatted by the metric's unit; ``~`` before a figure that rests on
    estimated token counts (a server that sent no usage)."""
    st = row.stat(metric.name) if metric.kind == "request" else None
    v = st.model_dump().get(column.stat) if st is not None else row.window(metric.name)
    show = secs if metric.unit == "s" else (lambda x: num(x, 2)) if metric.unit == "req/s" else rate
    mark = "~" if v is not None and row.tokens.source == "estimated" and counts_tokens(metric) else ""
    if column.spread and v is not None and st is not None and st.std is not None:
        # llama-bench's "mean ± std", the spread in the value's own unit: "146.0 ms ± 4.4", "1.23 s ± 0.05"
        sd = st.std * 1000 if metric.unit == "s" and v < 1 else st.std
        return f"{mark}{show(v)} ± {sd:.{2 if metric.unit in ('s', 'req/s') and v >= 1 else 1}f}"
    return mark + show(v)


# Markdown punctuation that can start markup (emphasis, code, links, images, HTML, entities, tables,
# strikethrough, math); a backslash makes each a literal character (CommonMark's backslash escapes).
# An underscore right after a letter or digit can never open emphasis (CommonMark's flanking rules), so
# snake_case names and paths stay readable in the raw text. ">", "#", "+", "=", "-" only mean something at
# the start of a line (quote, heading, list, setext), where every value may be put ("- " + value).
_MD_SPECIAL = re.compile(r"[\\`*{}\[\]<|!~&$]|(?<![^\W_])_|^[#>+=-]")


def md(text: object) -> str:
    """Any text (a model name, an error, an answer) shown in Markdown as itself: markup characters
    escaped, line breaks flattened, so it is safe inside a paragraph or a table cell."""
    flat = " ".join(str(text).splitlines()).strip()  # leading spaces would make a code block or heading
    out = _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), flat)
    return re.sub(r"^(\d+)([.)])", r"\1\\\2", out)  # "1. x" would start an ordered list


def md_code(text: object) -> str:
    """Text as a Markdown code span (a path, a rule): shown verbatim, its own backticks fenced off.
    Not for table cells, where a ``|`` would still split the cell."""
    flat = " ".join(str(text).splitlines())
    runs = [len(r) for r in re.findall(r"`+", flat)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


NAME_WIDTH = 32


def short_name(name: str, width: int = NAME_WIDTH) -> str:
    """A model name that fits a table column, readably: a file path (llama.cpp's server lists the whole
    GGUF path as the id) keeps its file name, anything else keeps its start and end. The full name
    stays in summary.json and the CSV."""
    if len(name) <= width:
        return name
    if "/" in name.rstrip("/"):
        base = name.rstrip("/").rsplit("/", 1)[1]
        name = "…/" + base
        if len(name) <= width:
            return name
    head = (width - 1) // 2
    return name[:head] + "…" + name[len(name) - (width - 1 - head) :]


def short_names(names: list[str], width: int = NAME_WIDTH) -> list[str]:
    """``short_name`` of each, falling back to start-and-end where two would read the same."""
    shorts = [short_name(n, width) for n in names]
    for i, n in enumerate(names):
        if shorts.count(shorts[i]) > 1 and len(n) > width:
            head = (width - 1) // 2
            shorts[i] = n[:head] + "…" + n[len(n) - (width - 1 - head) :]
    alike = list(shorts)
    for i, short in enumerate(alike):
        if alike.count(short) > 1:  # still alike: number them in table order (the JSON has the full ids)
            shorts[i] = f"{short} #{i + 1}"
    return shorts
