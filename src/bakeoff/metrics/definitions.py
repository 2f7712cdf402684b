"""Every metric bakeoff reports, defined once.

A ``Metric`` says what a number is called, its unit, which way is better, how it is computed (per
request from the request's metrics, or once over a model's window of records) and where it shows
(summary tables, ``compare``). Everything else is generated from this table: the summary row's STATS
and window values (``summary.json``), the per-request ``metrics`` in ``records.jsonl``, the CSV
columns, the terminal / Markdown / HTML summary tables, and ``compare``'s metrics and directions.

Adding a metric is one entry here (or ``register()`` from a plugin), its function, and a test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from bakeoff.metrics.request import NS, RequestMetrics
from bakeoff.records import RequestRecord

Value = float | None
RequestFn = Callable[[RequestMetrics], "Value | tuple[float, ...]"]
WindowFn = Callable[[Sequence[RequestRecord]], Value]


@dataclass(frozen=True)
class Column:
    """One column of the summary tables: a statistic of a metric (``""`` for a window value)."""

    stat: str
    header: str
    outputs: frozenset[str] = frozenset({"terminal", "markdown", "html"})
    spread: bool = False
    """Show ``± std`` beside the value (for a mean, as llama-bench does)."""
    shown_with: str | None = None
    """Show the column only when some row has samples of this metric (the reasoning columns appear
    when a model reasoned)."""


@dataclass(frozen=True)
class Metric:
    """One metric. ``request`` metrics are computed per request and summarised as STATS; ``window``
    metrics are one value per model over its measured records."""

    name: str
    label: str
    unit: Literal["s", "tok/s", "req/s"]
    higher_is_better: bool
    kind: Literal["request", "window"]
    per_request: RequestFn | None = None
    over_window: WindowFn | None = None
    columns: tuple[Column, ...] = ()
    compare: bool = True
    """Whether ``compare`` resamples it per request (request metrics) and rules may name it."""
    compare_view: tuple[str, ...] = ()
    """Statistics ``compare`` shows without being asked (a rule adds any other)."""

    def __post_init__(self) -> None:
        if (self.kind == "request") != (self.per_request is not None) or (self.kind == "window") != (
            self.over_window is not None
        ):
            raise ValueError(f"metric {self.name}: a {self.kind} metric needs exactly its own function")


def per_window(count: float, records: Sequence[RequestRecord]) -> Value:
    """``count`` per second of the records' wall window, from the first scheduled send to the last end
    (every window rate uses it: aggregate tok/s, Req/s, goodput); None for an empty or zero window."""
    if not records:
        return None
    window = (max(r.t_end_ns for r in records) - min(r.t_scheduled_ns for r in records)) * NS
    return count / window if window > 0 else None


def _aggregate_output_rate(records: Sequence[RequestRecord]) -> Value:
    """sum N_out over the wall window from the first measured request's scheduled send to the last end."""
    ok = [r for r in records if r.status == "ok"]
    return per_window(sum(r.completion_tokens or 0 for r in ok), records) if ok else None


def _request_rate(records: Sequence[RequestRecord]) -> Value:
    """Successful requests per second over the same window as the aggregate output rate."""
    ok = [r for r in records if r.status == "ok"]
    return per_window(len(ok), records) if ok else None


def completion_rate(records: Sequence[RequestRecord]) -> Value:
    """Successful requests completed per second between the first and the last completion:
    (n - 1) / (last end - first end). Unlike the window rate it leaves out the time before the first
    answer (a queue filling, warm-up requests ahead), so a load stage reads the rate the server
    sustained: the offered rate below saturation, the service rate above it. None below 2 requests."""
    ends = sorted(r.t_end_ns for r in records if r.status == "ok")
    if len(ends) < 2 or ends[-1] == ends[0]:
        return None
    return (len(ends) - 1) / ((ends[-1] - ends[0]) * NS)


_BUILTIN = (
    Metric("latency_s", "E2E latency", "s", False, "request", per_request=lambda m: m.latency_s,
           columns=(Column("mean", "Avg latency", spread=True), Column("p95", "p95")),
           compare_view=("p50", "p95")),
    Metric("ttft_s", "TTFT", "s", False, "request", per_request=lambda m: m.ttft_s,
           columns=(Column("p50", "TTFT p50"), Column("p95", "TTFT p95", frozenset({"markdown", "html"}))),
           compare_view=("p50",)),
    Metric("ttfo_s", "TTFO (first answer token)", "s", False, "request", per_request=lambda m: m.ttfo_s,
           columns=(Column("p50", "TTFO p50", shown_with="reasoning_s"),)),
    Metric("reasoning_s", "Reasoning time", "s", False, "request", per_request=lambda m: m.reasoning_s,
           columns=(Column("p50", "Think p50", frozenset({"markdown", "html"}), shown_with="reasoning_s"),)),
    Metric("answer_decode_tokens_per_s", "Answer decode tok/s", "tok/s", True, "request",
           per_request=lambda m: m.answer_decode_tokens_per_s,
           columns=(Column("p50", "Answer tok/s", frozenset({"markdown", "html"}),
                           shown_with="reasoning_s"),)),
    Metric("tpot_s", "TPOT", "s", False, "request", per_request=lambda m: m.tpot_s),
    Metric("itl_s", "ITL", "s", False, "request", per_request=lambda m: m.itl_s, compare=False),
    Metric("decode_tokens_per_s", "Decode tok/s", "tok/s", True, "request",
           per_request=lambda m: m.decode_tokens_per_s, columns=(Column("p50", "Decode tok/s"),),
           compare_view=("p50",)),
    Metric("output_tokens_per_s", "Output tok/s", "tok/s", True, "request",
           per_request=lambda m: m.output_tokens_per_s,
           columns=(Column("mean", "TPS", spread=True),)),
    Metric("latency_from_scheduled_s", "Latency from schedule", "s", False, "request",
           per_request=lambda m: m.latency_from_scheduled_s, compare=False),
    Metric("ttft_from_scheduled_s", "TTFT from schedule", "s", False, "request",
           per_request=lambda m: m.ttft_from_scheduled_s, compare=False),
    Metric("queue_delay_s", "Queue delay", "s", False, "request", per_request=lambda m: m.queue_delay_s,
           compare=False),
    Metric("prefill_tokens_per_s", "Prefill tok/s", "tok/s", True, "request",
           per_request=lambda m: m.prefill_tokens_per_s,
           columns=(Column("p50", "Prefill tok/s", frozenset({"markdown", "html"})),)),
    Metric("aggregate_output_tokens_per_s", "Aggregate tok/s", "tok/s", True, "window",
           over_window=_aggregate_output_rate, columns=(Column("", "Agg tok/s"),), compare=False),
    Metric("request_throughput_per_s", "Request throughput", "req/s", True, "window",
           over_window=_request_rate, columns=(Column("", "Req/s"),), compare=False),
    Metric("completion_rate_per_s", "Completion rate", "req/s", True, "window",
           over_window=completion_rate, compare=False),
)  # fmt: skip

_REGISTRY: dict[str, Metric] = {m.name: m for m in _BUILTIN}


def all_metrics() -> tuple[Metric, ...]:
    """Every metric, built-in first, in the order reports show them."""
    return tuple(_REGISTRY.values())


def request_metrics_defs() -> tuple[Metric, ...]:
    return tuple(m for m in _REGISTRY.values() if m.kind == "request")


def window_metrics_defs() -> tuple[Metric, ...]:
    return tuple(m for m in _REGISTRY.values() if m.kind == "window")


def get(name: str) -> Metric:
    return _REGISTRY[name]


def register(metric: Metric) -> None:
    """Add a metric (a plugin's, or a test's). Names are unique; built-ins cannot be replaced."""
    if metric.name in _REGISTRY:
        raise ValueError(f"a metric named {metric.name!r} is already registered")
    _REGISTRY[metric.name] = metric


def unregister(name: str) -> None:
    if any(m.name == name for m in _BUILTIN):
        raise ValueError(f"{name!r} is built in")
    _REGISTRY.pop(name, None)


@contextmanager
def registered(metric: Metric) -> Iterator[Metric]:
    """``register`` for the duration of a block (tests, one-off analyses)."""
    register(metric)
    try:
        yield metric
    finally:
        unregister(metric.name)


def per_request_values(rm: RequestMetrics) -> dict[str, Value | list[float]]:
    """The ``metrics`` object of one line of records.jsonl: every request metric of one request."""
    out: dict[str, Value | list[float]] = {}
    for m in request_metrics_defs():
        assert m.per_request is not None
        v = m.per_request(rm)
        out[m.name] = list(v) if isinstance(v, tuple) else v
    return out
