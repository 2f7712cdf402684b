"""Load stages and capacity: each ``--profile`` stage summarised, and the highest rate within the SLO.

**Capacity** (with ``--slo``) is the highest rate at which the model met the SLO. Stages are ordered
by the load they put on the server, the mean number of requests in flight (``mean_in_flight``: one in
the synchronous stage, up to its concurrency in a closed loop, growing with the backlog in an open
loop), so a synchronous stage sits below an open-loop stage at the same rate that queues. ``below`` is
the most loaded stage that met every term and ``above`` the next more loaded one (which missed). For
each term ``above`` missed, the rate where the term's statistic crosses its limit is interpolated
linearly between the two stages' (rate, value) points, a stage's rate being what it achieved (an
open-loop stage whose every request failed: what it offered); capacity is the lowest such crossing
(the term that limits first). A term whose statistic at ``above`` fell on failed requests has no
value to interpolate toward, so it crosses at ``below``'s rate. When the most loaded stage met the
SLO, capacity is its rate, marked ``at least``; when no stage met it, 0. Stages without a measured
request (their time ran out during warm-up) are no evidence either way and are left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from bakeoff.analysis.client import client_over
from bakeoff.analysis.slo import SloTerm, evaluate
from bakeoff.analysis.summarize import summarize_model
from bakeoff.load.client_watch import ClientSamples
from bakeoff.load.profile import Stage
from bakeoff.load.runner import achieved_rate
from bakeoff.metrics.definitions import per_window
from bakeoff.metrics.request import NS
from bakeoff.records import CUT_OFF, NOT_SENT, OUT_OF_TIME, WORKER_LOST, RequestRecord
from bakeoff.results.schema import Capacity, LoadSummary, SloResult, StageSummary

STAGE_METRICS = ("ttft_s", "itl_s", "tpot_s", "latency_s", "queue_delay_s")
"""The request metrics each stage keeps STATS of."""


def summarize_stage(stage: Stage, records: Sequence[RequestRecord], terms: Sequence[SloTerm]) -> StageSummary:
    """One stage from its records (warm-up ones are left out, as everywhere, and so are requests the
    run's --max-seconds cut off, or lost with a --workers process: neither says anything about the
    load)."""
    ended = sum(r.error_kind == OUT_OF_TIME for r in records if not r.warmup)
    records = [r for r in records if r.error_kind not in (OUT_OF_TIME, WORKER_LOST)]
    row = summarize_model("", "", "ok", None, records)
    measured = [r for r in records if not r.warmup]
    total = row.requests.ok + row.requests.error
    cut = sum(r.error_kind in (CUT_OFF, NOT_SENT) for r in measured)
    return StageSummary(
        label=stage.label,
        kind=stage.kind,
        concurrency=stage.concurrency,
        offered_rate_per_s=stage.rate,
        achieved_rate_per_s=achieved_rate(records),
        mean_in_flight=mean_in_flight(measured),
        output_tokens_per_s=row.window("aggregate_output_tokens_per_s"),
        requests=row.requests,
        cut_off=cut,
        out_of_time=ended,
        error_rate=(row.requests.error - cut) / (total - cut) if total > cut else None,
        stats={name: row.stat(name) for name in STAGE_METRICS},
        slo=_stage_slo(terms, records, achieved_rate(records)),
    )


def _stage_slo(
    terms: Sequence[SloTerm], records: Sequence[RequestRecord], rate: float | None
) -> SloResult | None:
    """The stage against the SLO. Its goodput is the achieved rate times the share of its measured
    requests that met every term each, so a stage where every request was good reads its achieved
    rate (the run-level goodput divides by the wall window instead, as vLLM does)."""
    if not terms:
        return None
    slo = evaluate(terms, records)
    share = slo.good_requests / slo.requests if slo.requests else None
    slo.goodput_per_s = None if rate is None or share is None else rate * share
    return slo


def summarize_load(
    records: Sequence[RequestRecord],
    stages: Sequence[Stage] | None,
    terms: Sequence[SloTerm],
    client: ClientSamples | None = None,
    in_process: bool = False,
) -> LoadSummary | None:
    """The model's stages in the order they ran (``stages``; read from the records' labels when None,
    as for a run rebuilt from ``records.jsonl``), its saturation rate and, with terms, its capacity;
    with the client's samples, each stage's client figures. None when no record belongs to a stage."""
    labels = [s.label for s in stages or ()]
    labels += [r.stage for r in records if r.stage is not None and r.stage not in labels]
    rows = []
    for label in dict.fromkeys(labels):
        mine = [r for r in records if r.stage == label]
        row = summarize_stage(Stage.from_label(label), mine, terms)
        if client is not None:
            row.client = client_over(client.lags, client.cpu, mine, in_process)
        rows.append(row)
    if not rows:
        return None
    rates = [r.achieved_rate_per_s for r in rows if r.achieved_rate_per_s is not None]
    return LoadSummary(
        stages=rows,
        saturation_per_s=max(rates) if rates else None,
        capacity=capacity(rows, terms) if terms else None,
    )


def rate_of(row: StageSummary) -> float | None:
    """A stage's rate: what it achieved, else (every request failed) what an open loop offered."""
    return row.achieved_rate_per_s if row.achieved_rate_per_s is not None else row.offered_rate_per_s


def mean_in_flight(records: Sequence[RequestRecord]) -> float | None:
    """Requests in flight on average over the records' window (Little's law: the sum of every
    request's time from its scheduled send to its end, over the window): the load a stage put on the
    server, comparable between closed loops (at most their concurrency) and open loops (a backlog
    makes it grow)."""
    return per_window(sum(r.t_end_ns - r.t_scheduled_ns for r in records) * NS, records)


def capacity(rows: Sequence[StageSummary], terms: Sequence[SloTerm]) -> Capacity:
    """The highest rate within the SLO, interpolated between stages (module docstring)."""
    ranked: list[tuple[float, float, StageSummary, SloResult]] = []  # (load, rate, stage, its SLO)
    for r in rows:
        rate = rate_of(r)
        if rate is not None and r.mean_in_flight is not None and r.slo is not None and r.slo.requests:
            ranked.append((r.mean_in_flight, rate, r, r.slo))
    ranked.sort(key=lambda x: x[0])
    met = [i for i, x in enumerate(ranked) if x[3].met]
    if not met:
        return Capacity(per_s=0.0)
    _, r_lo, lo, lo_slo = ranked[met[-1]]
    if met[-1] == len(ranked) - 1:
        return Capacity(per_s=r_lo, basis="at least", below=lo.label)
    _, r_hi, hi, hi_slo = ranked[met[-1] + 1]
    best, limiting = math.inf, None
    for i, term in enumerate(terms):
        a, b = lo_slo.terms[i], hi_slo.terms[i]
        if b.met:
            continue
        cross = r_lo  # the stage above failed on this term outright: nothing to interpolate toward
        if b.value is not None and a.value is not None:  # a met: a.value <= limit < b.value
            cross = r_lo + (term.limit_s - a.value) / (b.value - a.value) * (r_hi - r_lo)
        if cross < best:
            best, limiting = cross, term.text
    return Capacity(per_s=best, basis="interpolated", below=lo.label, above=hi.label, limiting=limiting)
