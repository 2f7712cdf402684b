"""Per-request metrics, exactly as DESIGN.md defines them.

t0 = just before the request is written; t_k = arrival of the k-th content event;
N_out = usage.completion_tokens, else native counters, else an estimate (flagged by the record).

- TTFT = t1 - t0 (streaming only; unknown, not zero, without streaming)
- E2E latency = t_last - t0
- TPOT = (E2E - TTFT) / (N_out - 1), for N_out >= 2; decode tokens/s = 1 / TPOT
- ITL samples = gaps between content events / tokens each later event carries
- output tokens/s per request = N_out / E2E
- latency (and TTFT) from scheduled = the same, measured from the time an open-loop schedule meant
  the request to go out, so a backlog shows instead of being hidden (no coordinated omission)
- queue delay = t0 - scheduled send time: in an open loop, how far behind its schedule the client
  sent the request; in a closed loop, the client's own wait between taking the request and writing it
  (connection pool, connect), near 0
- prefill tokens/s = N_in / TTFT (prompt tokens over the time to the first token; streaming only)

Reasoning models (their thinking events flagged in the record; N_think = reasoning tokens):
- TTFO (time to first output token) = t_a - t0, t_a the first event of the answer; TTFT when the
  model did not reason (TTFT stays the first token of any kind)
- reasoning time = TTFO - TTFT, only for a request that reasoned
- answer decode tokens/s = (N_out - N_think - 1) / (E2E - TTFO), for at least 2 answer tokens
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bakeoff.records import ContentEvent, RequestRecord

NS = 1e-9


@dataclass(frozen=True)
class RequestMetrics:
    ttft_s: float | None
    latency_s: float | None
    tpot_s: float | None
    decode_tokens_per_s: float | None
    output_tokens_per_s: float | None
    itl_s: tuple[float, ...]
    latency_from_scheduled_s: float | None = None
    ttft_from_scheduled_s: float | None = None
    queue_delay_s: float | None = None
    prefill_tokens_per_s: float | None = None
    ttfo_s: float | None = None
    reasoning_s: float | None = None
    answer_decode_tokens_per_s: float | None = None


def request_metrics(rec: RequestRecord) -> RequestMetrics:
    """Metrics of one request; ``None`` wherever the definition does not apply."""
    if rec.status != "ok" or not rec.events:
        return RequestMetrics(None, None, None, None, None, ())
    latency = rec.events[-1].offset_ns * NS
    ttft = rec.events[0].offset_ns * NS if rec.stream else None
    n_out = rec.completion_tokens
    tpot = None
    if ttft is not None and n_out is not None and n_out >= 2:
        tpot = (latency - ttft) / (n_out - 1)
    decode = 1.0 / tpot if tpot else None
    out_tps = n_out / latency if (n_out and latency > 0) else None
    itl = itl_samples(rec.events, n_out) if rec.stream else ()
    wait = (rec.t0_ns - rec.t_scheduled_ns) * NS  # open loop: how late the request really went out
    n_in = rec.prompt_tokens
    prefill = n_in / ttft if (n_in and ttft) else None
    ttfo, reasoning, answer_rate = _answer_metrics(rec, ttft, latency)
    return RequestMetrics(
        ttft,
        latency,
        tpot,
        decode,
        out_tps,
        itl,
        latency + wait,
        None if ttft is None else ttft + wait,
        wait,
        prefill,
        ttfo,
        reasoning,
        answer_rate,
    )


def _answer_metrics(
    rec: RequestRecord, ttft: float | None, latency: float
) -> tuple[float | None, float | None, float | None]:
    """TTFO, reasoning time and answer decode rate (the module's docstring); None where undefined."""
    if ttft is None:
        return None, None, None
    first = next((e for e in rec.events if not e.reasoning), None)
    if first is None:
        return None, None, None
    ttfo = first.offset_ns * NS
    reasoned = first is not rec.events[0]
    n_answer = None if rec.completion_tokens is None else rec.completion_tokens - (rec.reasoning_tokens or 0)
    rate = None
    if n_answer is not None and n_answer >= 2 and latency > ttfo:
        rate = (n_answer - 1) / (latency - ttfo)
    return ttfo, (ttfo - ttft) if reasoned else None, rate


def itl_samples(events: Sequence[ContentEvent], n_out: int | None) -> tuple[float, ...]:
    """Gaps between consecutive content events, each divided by the tokens the later event carries.

    When events do not say how many tokens they carry (an HTTP stream), the tokens after the
    first event are spread evenly over the later events: exact when every chunk carries the same
    number of tokens, as servers do. A first event that claims every token leaves none to spread:
    each later event then counts as one token (not a division by zero).
    """
    if len(events) < 2:
        return ()
    if all(e.tokens for e in events):
        per_event = [float(e.tokens or 1) for e in events[1:]]
    elif n_out and n_out >= len(events):
        first = float(events[0].tokens) if events[0].tokens else n_out / len(events)
        spread = (n_out - first) / (len(events) - 1)
        per_event = [spread if spread > 0 else 1.0] * (len(events) - 1)
    else:
        per_event = [1.0] * (len(events) - 1)
    offsets = [e.offset_ns for e in events]
    return tuple((b - a) * NS / k for a, b, k in zip(offsets, offsets[1:], per_event, strict=False))
