"""Load profiles: ``--profile sweep | rates=1,2,4 | concurrency=1,4,16`` as a list of stages (pure).

A **stage** is one load level held for a while: closed loop (``concurrency`` requests in flight, a
new one sent as each ends) or open loop (``rate`` requests per second on a schedule, whatever is in
flight). A sweep, as GuideLLM runs it, is a synchronous stage (closed loop, one at a time), then a
throughput stage (closed loop at ``--max-concurrency``), then rate stages spaced evenly between the
two achieved rates, the last at the throughput stage's rate.

Every record carries its stage's label; ``Stage.from_label`` reads it back, so a report can be
rebuilt from ``records.jsonl`` alone.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from bakeoff.errors import UsageError

EXAMPLE = (
    'e.g. --profile sweep, --profile "sweep=6", --profile "rates=1,2,4" or --profile "concurrency=1,4,16"'
)
SWEEP_STAGES = 10
"""Stages in ``--profile sweep`` (synchronous, throughput and 8 rates), as GuideLLM's default."""
MIN_SWEEP_STAGES = 3
DEFAULT_MAX_CONCURRENCY = 32
"""In-flight cap of the throughput stage (and of every open-loop stage) without --max-concurrency."""


@dataclass(frozen=True)
class Stage:
    """One load level: closed loop at ``concurrency``, or open loop at ``rate`` per second."""

    kind: Literal["closed", "open"]
    concurrency: int | None = None
    rate: float | None = None
    role: Literal["sync", "throughput", ""] = ""

    @property
    def label(self) -> str:
        """``sync``, ``throughput c=32``, ``c=4`` or ``rate=2.5/s`` (what records carry)."""
        if self.kind == "open":
            return f"rate={self.rate:.6g}/s"
        if self.role == "sync":
            return "sync"
        return f"throughput c={self.concurrency}" if self.role == "throughput" else f"c={self.concurrency}"

    @classmethod
    def from_label(cls, label: str) -> Stage:
        """The stage a record's label names (the inverse of ``label``)."""
        if label == "sync":
            return cls("closed", 1, role="sync")
        if m := re.fullmatch(r"throughput c=(\d+)", label):
            return cls("closed", int(m[1]), role="throughput")
        if m := re.fullmatch(r"c=(\d+)", label):
            return cls("closed", int(m[1]))
        if m := re.fullmatch(r"rate=([0-9.e+-]+)/s", label):
            return cls("open", rate=float(m[1]))
        raise ValueError(f"not a stage label: {label!r}")


@dataclass(frozen=True)
class Profile:
    """A parsed ``--profile``: ``sweep`` (``count`` stages) or fixed ``rates`` / ``concurrency`` levels."""

    kind: Literal["sweep", "rates", "concurrency"]
    values: tuple[float, ...] = ()
    count: int = SWEEP_STAGES

    def fixed_stages(self) -> list[Stage]:
        """The stages known before anything runs (all of them, except a sweep's rate stages)."""
        if self.kind == "rates":
            return [Stage("open", rate=v) for v in self.values]
        if self.kind == "concurrency":
            return [Stage("closed", int(v)) for v in self.values]
        return [Stage("closed", 1, role="sync")]


def parse_profile(text: str) -> Profile:
    """``--profile``'s string as a Profile; a UsageError naming the part that is wrong."""
    name, sep, rest = text.strip().partition("=")
    name = name.strip().lower()
    if name == "sweep":
        if not sep:
            return Profile("sweep")
        try:
            count = int(rest.strip())
        except ValueError:
            raise UsageError(
                f"--profile sweep={rest.strip()!r}: the stage count is not a whole number"
            ) from None
        if count < MIN_SWEEP_STAGES:
            raise UsageError(
                f"--profile sweep={count}: a sweep needs at least {MIN_SWEEP_STAGES} stages "
                "(synchronous, throughput and one rate)"
            )
        return Profile("sweep", count=count)
    if name not in ("rates", "concurrency"):
        raise UsageError(f"--profile {text!r}: unknown profile {name!r}", hint=EXAMPLE)
    if not sep or not rest.strip():
        raise UsageError(f"--profile {name} needs its levels, as {name}=1,2,4", hint=EXAMPLE)
    values: list[float] = []
    for part in (p.strip() for p in rest.split(",")):
        try:
            v = float(part) if name == "rates" else int(part)
        except ValueError:
            what = "a number" if name == "rates" else "a whole number"
            raise UsageError(f"--profile {name}: {part!r} is not {what}", hint=EXAMPLE) from None
        if not math.isfinite(v):
            raise UsageError(f"--profile {name}: {part!r} is not a finite number", hint=EXAMPLE)
        if v <= 0:
            raise UsageError(f"--profile {name}: {part!r} must be above 0", hint=EXAMPLE)
        values.append(float(v))
    if len({f"{v:.6g}" if name == "rates" else v for v in values}) != len(values):  # as labels write them
        raise UsageError(
            f"--profile {name}: a level is given twice",
            hint="give each level once (rates must differ in their first 6 digits)",
        )
    return Profile(name, tuple(values))  # type: ignore[arg-type]


SERIAL_RATIO = 1.1
"""A throughput stage less than this many times the synchronous rate means an engine that serves one
request at a time (in-process llama.cpp): there is nothing between the two to sweep."""


def sweep_rates(sync_rate: float, max_rate: float, count: int) -> list[float]:
    """The rate stages of a sweep: ``count`` rates evenly spaced above the synchronous rate, the last
    at the throughput rate (GuideLLM's spacing). When the throughput rate is under ``SERIAL_RATIO``
    times the synchronous one, the rates are spaced from half the throughput rate up to it instead,
    so the sweep shows how the queue grows on the way to saturation."""
    if count <= 0 or not max_rate > 0:
        return []
    low = sync_rate if max_rate >= sync_rate * SERIAL_RATIO else max_rate / 2
    step = (max_rate - low) / count
    return [low + step * (i + 1) for i in range(count)]
