"""Service-level objectives: ``--slo "ttft_p95<=2s,itl_p50<=50ms,latency_p95<=10s"``.

Each term names a metric (``ttft``, ``itl``, ``tpot``, ``latency``), a statistic (``p50``, ``p90``,
``p95``, ``p99`` or ``mean``) and a limit in ``s`` or ``ms``. Two readings, as vLLM's ``bench serve``
and GuideLLM use them:

- **the SLO is met** when every term holds for the model's statistic over its measured requests
  (``ttft_p95<=2s``: the p95 of TTFT is at most 2 s); a failed request counts as missing every limit,
  so a model whose failures reach the percentile does not meet it. ITL is taken over every gap of every
  request; a streamed one-token answer, which has none, adds one gap of 0, and its TPOT is 0, as in
  goodput below: both readings use one definition, so the SLO and goodput never contradict;
- **goodput** is the rate of requests that each met every term by their own values (vLLM's
  definition): a request's TTFT, TPOT and latency are one value each; its ITL is the same statistic of
  its own gaps (``itl_p50<=50ms``: the median of that request's gaps); a one-token answer has TPOT and
  ITL 0. A failed request is not good. TTFT, ITL and TPOT need streaming (refused with --no-stream).
  The rate is over the window of the request-rate metric: good requests / (last end - first scheduled
  send).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bakeoff.errors import UsageError
from bakeoff.metrics.definitions import per_window
from bakeoff.metrics.request import request_metrics
from bakeoff.records import RequestRecord
from bakeoff.results.schema import SloResult, SloTermResult

METRICS = {"ttft": "ttft_s", "itl": "itl_s", "tpot": "tpot_s", "latency": "latency_s"}
STATS = ("p50", "p90", "p95", "p99", "mean")
EXAMPLE = 'e.g. --slo "ttft_p95<=2s,itl_p50<=50ms,latency_p95<=10s"'
_LIMIT = re.compile(r"(?P<value>\d+(?:\.\d+)?|\.\d+)\s*(?P<unit>ms|s)")
STREAM_ONLY = frozenset({"ttft_s", "itl_s", "tpot_s"})
FAILED = 1e300
"""A failed request's value in a term's statistic: it met no limit (kept finite so that a percentile
that falls between a real value and it interpolates, not NaN)."""
TOUCHED_A_FAILURE = 1e290
"""A statistic above this came from a failed request (alone, in a mean, or in an interpolation):
no real time is anywhere near it."""


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
        left, sep, right = part.partition("<=")
        if not sep:
            raise UsageError(f"--slo term {part!r} has no '<=' (a limit is an upper bound)", hint=EXAMPLE)
        metric, _, stat = left.strip().lower().rpartition("_")
        if metric not in METRICS:
            raise UsageError(
                f"--slo term {part!r}: unknown metric {metric or left.strip()!r}",
                hint=f"use {', '.join(METRICS)}",
            )
        if stat not in STATS:
            raise UsageError(
                f"--slo term {part!r}: unknown statistic {stat!r}", hint=f"use {', '.join(STATS)}"
            )
        m = _LIMIT.fullmatch(right.strip().lower())
        if m is None:
            raise UsageError(
                f"--slo term {part!r}: limit {right.strip()!r} is not a number in s or ms", hint=EXAMPLE
            )
        limit = float(m["value"]) / (1000.0 if m["unit"] == "ms" else 1.0)
        if limit <= 0:
            raise UsageError(f"--slo term {part!r}: a limit of 0 can never be met")
        terms.append(SloTerm(f"{metric}_{stat}<={right.strip()}", METRICS[metric], stat, limit))
    names = [(t.metric, t.stat) for t in terms]
    dup = next((t for t in terms if names.count((t.metric, t.stat)) > 1), None)
    if dup is not None:
        raise UsageError(
            f"--slo names {dup.text.split('<=')[0]} twice", hint="give each metric and statistic once"
        )
    return tuple(terms)


def check_streaming(terms: Sequence[SloTerm], stream: bool) -> None:
    """TTFT, ITL and TPOT exist only in a streamed answer: refuse them with --no-stream."""
    bad = [t.text for t in terms if t.metric in STREAM_ONLY]
    if bad and not stream:
        raise UsageError(
            f"--slo {', '.join(bad)} needs streaming: without it there is no first token",
            hint="drop --no-stream, or use latency terms only",
        )


def _statistic(values: Sequence[float], stat: str) -> float | None:
    if not values:
        return None
    if stat == "mean":
        return float(np.mean(values))
    return float(np.percentile(values, float(stat[1:]), method="linear"))


def request_value(term: SloTerm, rec: RequestRecord) -> float | None:
    """The request's own value for ``term`` (None when it has none). As vLLM's goodput does, an answer
    of one token has TPOT 0 and an answer without gaps ITL 0: nothing in them was slow."""
    rm = request_metrics(rec)
    if term.metric == "itl_s":
        return _statistic(rm.itl_s, term.stat) if rm.itl_s else (0.0 if rm.ttft_s is not None else None)
    if term.metric == "tpot_s" and rm.tpot_s is None and rm.ttft_s is not None:
        return 0.0
    value: float | None = getattr(rm, term.metric)
    return value


def term_samples(term: SloTerm, measured: Sequence[RequestRecord]) -> list[float]:
    """What a term's statistic is taken over: the model's samples of the metric (every gap for ITL,
    one value per request otherwise), and one ``FAILED`` value per failed request."""
    out: list[float] = []
    for r in measured:
        if r.status != "ok":
            out.append(FAILED)
            continue
        rm = request_metrics(r)
        if term.metric == "itl_s" and rm.itl_s:
            out += rm.itl_s
        elif (v := request_value(term, r)) is not None:
            out.append(v)  # a streamed answer without gaps adds one ITL of 0, as its goodput reads it
    return out


def evaluate(terms: Sequence[SloTerm], records: Sequence[RequestRecord]) -> SloResult:
    """Whether the model met each term over its measured requests, and its goodput."""
    measured = [r for r in records if not r.warmup]
    results = []
    for t in terms:
        value = _statistic(term_samples(t, measured), t.stat)
        if value is not None and value > TOUCHED_A_FAILURE:
            value = None  # the statistic fell on failed requests: no time to show, and not met
        results.append(SloTermResult(term=t.text, value=value, met=value is not None and value <= t.limit_s))
    good = 0
    for r in measured:
        if r.status != "ok":
            continue
        values = [request_value(t, r) for t in terms]
        good += all(v is not None and v <= t.limit_s for v, t in zip(values, terms, strict=True))
    return SloResult(
        met=all(x.met for x in results),
        terms=results,
        good_requests=good,
        requests=len(measured),
        goodput_per_s=per_window(good, measured),
    )
