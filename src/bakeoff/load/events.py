"""Progress events of a run, as typed records: what the runner tells the library and the CLI."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bakeoff.records import RequestRecord


@dataclass(frozen=True)
class ModelStarted:
    """A model's turn begins; ``total`` requests (warm-up included) are planned (None: a profile,
    whose stages are bounded by time or depend on what earlier stages measured)."""

    model: str
    total: int | None


@dataclass(frozen=True)
class StageStarted:
    """A load stage of ``--profile`` begins (``label`` as its records carry it)."""

    model: str
    label: str


@dataclass(frozen=True)
class ModelLoaded:
    model: str
    load_s: float | None


@dataclass(frozen=True)
class MeasureStarted:
    """Warm-up is over: the measured phase (and its resource window) starts now."""

    model: str


@dataclass(frozen=True)
class RequestDone:
    """One request finished (warm-up or measured, ok or failed); its record is already on disk."""

    record: RequestRecord


@dataclass(frozen=True)
class ModelEnded:
    model: str
    status: str
    error: str | None


ProgressEvent = ModelStarted | ModelLoaded | MeasureStarted | StageStarted | RequestDone | ModelEnded
EventSink = Callable[[ProgressEvent], None]
