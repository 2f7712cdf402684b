"""Durations as people write them on a command line: ``90``, ``30s``, ``500ms``, ``10m``, ``1.5h``."""

from __future__ import annotations

import math
import re

from bakeoff.errors import UsageError

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d)?\s*", re.IGNORECASE)


def parse_duration(text: str, flag: str) -> float:
    """Seconds in ``text`` (a bare number is seconds); a usage error naming ``flag`` otherwise.
    Zero, negative and infinite durations are errors: every flag that takes one means a real wait."""
    m = _DURATION.fullmatch(text)
    seconds = float(m.group(1)) * _UNITS[(m.group(2) or "s").lower()] if m else math.nan
    if not m or not math.isfinite(seconds) or seconds <= 0:
        raise UsageError(
            f"cannot read {flag} {text!r} as a duration",
            hint=f"write a positive number of seconds or one with a unit: {flag} 30s, 500ms, 10m, 1.5h",
        )
    return seconds
