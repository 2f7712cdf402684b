"""Renderers. Each is ``render(report: RunReport) -> str`` over a saved run, registered by format
name with the file it is written to; ``bakeoff bench`` and ``bakeoff report`` write every one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bakeoff.reporters.csv import render_csv
from bakeoff.reporters.html import render_html
from bakeoff.reporters.markdown import render_markdown
from bakeoff.reporters.report import RunReport

Renderer = Callable[[RunReport], str]

RENDERERS: dict[str, tuple[str, Renderer]] = {
    "md": ("report.md", render_markdown),
    "csv": ("report.csv", render_csv),
    "html": ("report.html", render_html),
}


def register_renderer(fmt: str, filename: str, render: Renderer) -> None:
    """Add an output format (a plugin's): written beside summary.json by every run and report."""
    if fmt in RENDERERS:
        raise ValueError(f"a renderer for {fmt!r} is already registered")
    RENDERERS[fmt] = (filename, render)


def write_all(report: RunReport, out_dir: Path) -> None:
    for filename, render in RENDERERS.values():
        (out_dir / filename).write_text(render(report), encoding="utf-8")


__all__ = [
    "RENDERERS",
    "Renderer",
    "register_renderer",
    "render_csv",
    "render_html",
    "render_markdown",
    "write_all",
]
