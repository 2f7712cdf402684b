"""One row of ``bakeoff models list``, the type catalog hooks return (backends build these, so it lives
below both ``catalog`` and ``backends``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Progress = Callable[[str, float, float], None]
"""Called with (what, done, total); total may be 100 for percentages."""


@dataclass(frozen=True)
class Entry:
    """One row of ``bakeoff models list``."""

    alias: str
    id: str
    backend: str
    source: str
    device: str | None = None
    size_mb: float | None = None
    size_is_download: bool = False
    license: str | None = None
    capabilities: tuple[str, ...] = ()
    cached: bool | None = None
    loaded: bool | None = None
    path: str | None = None


def size_mb(path: Path) -> float | None:
    """Size of a file or folder in MB (one decimal), None when unreadable or absent."""
    try:
        if path.is_file():
            return round(path.stat().st_size / 1e6, 1)
        if path.is_dir():
            return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6, 1)
    except OSError:
        return None
    return None
