"""Service-level objectives: ``--slo "ttft_p95<=2s,itl_p50<=50ms,latency_p95<=10s"``.

Each term names a metric (``ttft``, ``itl``, ``tpot``, ``latency``), a statistic (``p50``, ``p90``,
``p95``, ``p99`` or ``mean``) and a limit in ``s`` or ``ms``. Two readings, as vLLM's ``bench serve``
and GuideLLM use them:

- **the SLO is met** when every term holds for the model's statistic over its measured requests
  (``ttft_p95<=2s``: the p95 of TTFT is at most 2 s);
- **goodput** is the rate of requests that each met every term by their own values (vLLM's
  definition): a request's TTFT, TPOT and latency are one value each; its ITL is the same statistic of
  its own gaps (``itl_p50<=50ms``: the median of that request's gaps). A failed request, or one without
  the value (no stream, so no TTFT), is not good. The rate is over the window of the request-rate
  metric: good requests / (last end - first scheduled send).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import UsageError
from .metrics.request import NS, request_metrics
from .records import RequestRecord
from .results import ModelSummary, SloResult, SloTermResult

METRICS = {"ttft": "ttft_s", "itl": "itl_s", "tpot": "tpot_s", "latency": "latency_s"}
STATS = ("p50", "p90", "p95", "p99", "mean")
EXAMPLE = 'e.g. --slo "ttft_p95<=2s,itl_p50<=50ms,latency_p95<=10s"'
_TERM = re.compile(r"(?P<metric>[a-z]+)_(?P<stat>p\d+|mean)\s*<=\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>ms|s)")


@dataclass(frozen=True)
class SloTerm:
    """``ttft_p95<=2s``: ``metric`` is the metric's name (``ttft_s``), ``limit_s`` in seconds."""

    text: str
    metric: str
    stat: str
    limit_s: float


def parse_slo(text: str) -> tuple[SloTerm, ...]:
    """The terms of an ``--slo`` string; a UsageError naming the part that is wrong."""
    terms = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            raise UsageError(f"--slo {text!r} has an empty term", hint=EXAMPLE)
        m = _TERM.fullmatch(part)
        if m is None:
            raise UsageError(
                f"--slo term {part!r} is not METRIC_STAT<=LIMIT",
                hint=f"METRIC is one of {', '.join(METRICS)}; STAT one of {', '.join(STATS)}; "
                "LIMIT in s or ms, e.g. ttft_p95<=2s",
            )
        if m["metric"] not in METRICS:
            raise UsageError(
                f"--slo term {part!r}: unknown metric {m['metric']!r}", hint=f"use {', '.join(METRICS)}"
            )
        if m["stat"] not in STATS:
            raise UsageError(
                f"--slo term {part!r}: unknown statistic {m['stat']!r}", hint=f"use {', '.join(STATS)}"
            )
        limit = float(m["value"]) / (1000.0 if m["unit"] == "ms" else 1.0)
        terms.append(SloTerm(part, METRICS[m["metric"]], m["stat"], limit))
    names = [(t.metric, t.stat) for t in terms]
    dup = next((t.text for t in terms if names.count((t.metric, t.stat)) > 1), None)
    if dup is not None:
        raise UsageError(f"--slo names {dup.split('<=')[0]} twice")
    return tuple(terms)


def _statistic(values: Sequence[float], stat: str) -> float | None:
    if not values:
        return None
    if stat == "mean":
        return float(np.mean(values))
    return float(np.percentile(values, float(stat[1:]), method="linear"))


def request_value(term: SloTerm, rec: RequestRecord) -> float | None:
    """The request's own value for ``term`` (None when it has none)."""
    rm = request_metrics(rec)
    if term.metric == "itl_s":
        return _statistic(rm.itl_s, term.stat)
    value: float | None = getattr(rm, term.metric)
    return value


def evaluate(terms: Sequence[SloTerm], records: Sequence[RequestRecord], row: ModelSummary) -> SloResult:
    """Whether the model met each term over its measured requests, and its goodput."""
    measured = [r for r in records if not r.warmup]
    results = []
    for t in terms:
        value = getattr(row.stat(t.metric), t.stat)
        results.append(SloTermResult(term=t.text, value=value, met=value is not None and value <= t.limit_s))
    good = 0
    for r in measured:
        if r.status != "ok":
            continue
        values = [request_value(t, r) for t in terms]
        good += all(v is not None and v <= t.limit_s for v, t in zip(values, terms, strict=True))
    window = 0.0
    if measured:
        window = (max(r.t_end_ns for r in measured) - min(r.t_scheduled_ns for r in measured)) * NS
    return SloResult(
        met=all(x.met for x in results),
        terms=results,
        good_requests=good,
        requests=len(measured),
        goodput_per_s=good / window if window > 0 else None,
    )
