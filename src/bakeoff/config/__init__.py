"""What a run is asked to do: the settings, the models file, prompt sets and suites, strict JSON reading.

The names of ``bakeoff.config.settings`` stay reachable here (``from bakeoff.config import
BenchSettings``), the import path of releases before the stage packages; they load on first use."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """Hand out a name of ``bakeoff.config.settings`` on first use (the old ``bakeoff.config`` module)."""
    if name.startswith("__"):
        raise AttributeError(name)
    from bakeoff.config import settings

    try:
        return getattr(settings, name)
    except AttributeError:
        raise AttributeError(f"module 'bakeoff.config' has no attribute {name!r}") from None
