"""Renderers. Each takes a saved ``Summary`` (never live objects) and returns text."""

from .csv import render_csv
from .markdown import render_markdown

__all__ = ["render_csv", "render_markdown"]
