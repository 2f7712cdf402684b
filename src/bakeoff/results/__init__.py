"""What a run leaves behind: the saved report's schema (summary.json) and the run folder.

The names of ``bakeoff.results.schema`` stay reachable here (``from bakeoff.results import
load_summary``), the import path of releases before the stage packages; they load on first use."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """Hand out a name of ``bakeoff.results.schema`` on first use (the old ``bakeoff.results`` module)."""
    if name.startswith("__"):
        raise AttributeError(name)
    from bakeoff.results import schema

    try:
        return getattr(schema, name)
    except AttributeError:
        raise AttributeError(f"module 'bakeoff.results' has no attribute {name!r}") from None
