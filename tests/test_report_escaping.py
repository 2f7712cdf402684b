"""report.md and the compare diff show every name, error, note and answer as itself: no HTML, link or
emphasis a model (or a server naming its models) could inject, and no table broken by a "|" (issue 15,
"Reports"). Checked by parsing the Markdown with markdown-it (CommonMark + tables), independent of the
renderer."""

from __future__ import annotations

from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from bakeoff.analysis.compare import compare
from bakeoff.reporters.diff import render_diff
from bakeoff.reporters.markdown import render_markdown
from bakeoff.reporters.report import RunReport
from bakeoff.results.schema import (
    ModelSummary,
    PromptSummary,
    Resources,
    RunInfo,
    Summary,
    save_summary,
)

EVIL = "<script>alert(1)</script> | **b** _i_ [x](javascript:alert(1)) `c` <img src=x onerror=1> &lt; ~~s~~"
EVIL2 = "line one\nline two | <b>x</b>\r\n# heading? ![img](http://x/y.png)"


def _summary() -> Summary:
    def row(name: str) -> ModelSummary:
        return ModelSummary(
            model=name,
            backend="openai",
            status="error",
            error=EVIL2,
            sample_response=EVIL + "\n" + EVIL2,
            info={"ttft": EVIL},
            per_prompt=[PromptSummary(prompt_id=EVIL, n=1, latency_s_mean=0.5)],
            resources=Resources(peak_rss_mb=100.0, memory_source=EVIL, disk_mb=1.0),
            quality={
                "mean": 3.0,
                "n": 2,
                "source": EVIL,
                "checks": {"total": 2, "passed": 1, "pass_rate": 0.5, "by_check": {EVIL: 0.5}},
            },
        )

    run = RunInfo(
        settings={"prompts_source": EVIL, "rounds": 1, "prompt_count": 1},
        environment={"cpu_model": EVIL, "os": EVIL2},
        started_at="2026-11-27T00:00:00+00:00",
        notes=[EVIL, EVIL2],
    )
    quality = {"judges": {EVIL: {"verdicts": 2, "unparsed": 0, "retried": 0}}, "notes": [EVIL2]}
    return Summary(run=run, models=[row(EVIL), row(EVIL2 + "2")], quality=quality)


def _tokens(text: str) -> list[Token]:
    out: list[Token] = []
    stack = MarkdownIt("commonmark").enable("table").enable("strikethrough").parse(text)
    while stack:
        t = stack.pop(0)
        out.append(t)
        stack[:0] = t.children or []
    return out


def _check(text: str) -> None:
    tokens = _tokens(text)
    kinds = {t.type for t in tokens}
    for bad in ("html_inline", "html_block", "link_open", "image", "s_open"):
        assert bad not in kinds, f"{bad} in the rendered Markdown"
    # the report's own code spans (commands, field names) hold none of the hostile text
    assert not [
        t.content for t in tokens if t.type == "code_inline" and ("alert" in t.content or t.content == "c")
    ]
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    # every table row has as many cells as its header
    width = None
    for t in tokens:
        if t.type == "tr_open":
            width, cells = None if width is None else width, 0
        if t.type in ("th_open", "td_open"):
            cells += 1
        if t.type == "tr_close":
            width = cells if width is None else width
            assert cells == width, "a row with a different number of cells than the header"
        if t.type == "table_close":
            width = None
    # the text survives: every hostile name is shown, as text, somewhere
    shown = "".join(t.content for t in tokens if t.type == "text")
    assert "<script>alert(1)</script>" in shown and "onerror" in shown


def test_report_md_shows_hostile_text_as_text(tmp_path: Path) -> None:
    s = _summary()
    text = render_markdown(RunReport(s))
    _check(text)
    # one logical line per row: a newline inside a value does not end the table
    assert "line one line two" in " ".join(t.content for t in _tokens(text) if t.type == "text")


def test_compare_diff_shows_hostile_text_as_text(tmp_path: Path) -> None:
    s = _summary()
    for side in ("a", "b"):
        save_summary(s, tmp_path / side)
    c = compare(tmp_path / "a", tmp_path / "b", [], min_change=0.02)
    text = render_diff(c, tmp_path / "a", tmp_path / "b")
    _check_diff(text)


def _check_diff(text: str) -> None:
    kinds = {t.type for t in _tokens(text)}
    assert not kinds & {"html_inline", "html_block", "link_open", "image"}, kinds
    assert "<script" not in MarkdownIt("commonmark").enable("table").render(text)


@pytest.mark.parametrize(
    "name", ["a|b", "x*y*z", "<b>bold</b>", "qwen2.5_coder_0.5b", "m&amp;m", "a -> b", "phi-3.5"]
)
def test_an_ordinary_odd_name_reads_back_unchanged(name: str) -> None:
    s = _summary()
    s.models[0].model = name
    shown = "".join(t.content for t in _tokens(render_markdown(RunReport(s))) if t.type == "text")
    assert name in shown


@pytest.mark.parametrize("text", ["_x_", "__x__", "a _b_ c", "(_x_)", "é_x_é", "_", "x_", "a\\_b_"])
def test_underscores_never_make_emphasis(text: str) -> None:
    from bakeoff.reporters.format import md

    tokens = _tokens(f"| h |\n|---|\n| {md(text)} |\n\n{md(text)}\n")
    assert not {t.type for t in tokens} & {"em_open", "strong_open"}
    shown = [t.content for t in tokens if t.type == "text"]
    assert shown.count(text) == 2  # in the cell and in the paragraph, as itself


@pytest.mark.parametrize(
    "text", ["> quoted", "# heading", "- item", "+ item", "1. first", "2) second", "===", "  # x", "    code"]
)
def test_a_value_at_the_start_of_a_list_item_stays_text(text: str) -> None:
    from bakeoff.reporters.format import md

    tokens = _tokens(f"- {md(text)}\n")
    kinds = [t.type for t in tokens]
    assert kinds.count("bullet_list_open") == 1 and "ordered_list_open" not in kinds
    assert not {"blockquote_open", "heading_open"} & set(kinds)
    assert text.strip() in [t.content for t in tokens if t.type == "text"]
    assert "code_block" not in kinds


FORMULAS = ['=HYPERLINK("http://x","click")', "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


def test_csv_cells_never_start_a_formula(tmp_path: Path) -> None:
    """OWASP's rule for CSV injection: a text cell that starts with = + - @ tab or CR gets a leading '.
    Checked on report.csv and on the annotation sheet people open in a spreadsheet, read back with the
    csv module."""
    import csv
    import io

    from bakeoff.config.settings import PromptCase
    from bakeoff.quality.annotate import export_sheet, spreadsheet_safe
    from bakeoff.quality.store import Output
    from bakeoff.reporters.csv import render_csv

    assert [spreadsheet_safe(f) for f in FORMULAS] == ["'" + f for f in FORMULAS]
    assert spreadsheet_safe("plain -1") == "plain -1" and spreadsheet_safe("'=x") == "'=x"
    rows = [ModelSummary(model=f, backend="openai", status="error", error=f) for f in FORMULAS[:4]]
    summary = Summary(run=RunInfo(settings={}, environment={}, started_at="x"), models=rows)
    save_summary(summary, tmp_path)
    table = list(csv.reader(io.StringIO(render_csv(RunReport(summary)))))
    assert [(r[0], r[3]) for r in table[1:]] == [("'" + f, "'" + f) for f in FORMULAS[:4]]
    case = PromptCase(id="c", prompt="=1+1", source="-rm", aspects=[{"id": "a", "text": "@x"}])
    outs = [Output("m", "c", str(i), f) for i, f in enumerate(FORMULAS)]
    export_sheet(tmp_path, [case], outs, tmp_path / "sheet.csv", seed=0)
    with (tmp_path / "sheet.csv").open(newline="", encoding="utf-8") as fh:
        sheet = list(csv.DictReader(fh))
    assert sorted(r["output"] for r in sheet) == sorted("'" + f for f in FORMULAS)
    assert {(r["prompt"], r["source"], r["aspect_1"]) for r in sheet} == {("'=1+1", "'-rm", "a: @x")}
