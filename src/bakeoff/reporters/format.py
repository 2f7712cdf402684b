"""Number formatting shared by the renderers."""

from __future__ import annotations


def secs(v: float | None) -> str:
    """Seconds, shown in ms below one second so small differences stay readable."""
    if v is None:
        return "n/a"
    return f"{v * 1000:.1f} ms" if v < 1 else f"{v:.2f} s"


def rate(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1f}"


def num(v: float | None, digits: int = 1) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"
