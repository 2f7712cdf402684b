"""A fixed, seeded records file of 20,000 requests (issue 30): the exact figures bakeoff computes from
it are kept in ``tests/data/golden_20k_figures.json`` so a change to how records are held or read
(streaming, columnar) must reproduce them byte for byte."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson

from bakeoff.records import ContentEvent, RequestRecord

N = 20_000
SLO = "ttft_p95<=200ms,itl_p50<=30ms,latency_p99<=1.5s"
STAGES = ("c=1", "c=8", "rate=40/s")


def golden_records(n: int = N, seed: int = 30) -> list[RequestRecord]:
    """Two models, four prompts, three load stages, warm-ups, failures, non-streamed answers."""
    rng = random.Random(seed)
    out: list[RequestRecord] = []
    t = 1_000_000_000
    for i in range(n):
        model = "alpha" if i % 3 else "beta"
        t_sched = t
        t0 = t + rng.randrange(0, 3_000_000)
        stream = rng.random() > 0.05
        failed = rng.random() < 0.02
        k = rng.randrange(1, 24)
        events: list[ContentEvent] = []
        offset = rng.randrange(20_000_000, 250_000_000)
        for _ in range(k):
            events.append(ContentEvent(offset, rng.choice((1, 1, 1, 2)) if rng.random() > 0.5 else None))
            offset += rng.randrange(5_000_000, 60_000_000)
        if not stream:
            events = [ContentEvent(offset, None)]
        ev = () if failed else tuple(events)
        end = t0 + (ev[-1].offset_ns if ev else rng.randrange(1_000_000, 9_000_000))
        out.append(
            RequestRecord(
                model=model,
                backend="openai",
                prompt_id=f"p{i % 4}",
                round=i // 4,
                warmup=i < 8,
                stream=stream,
                status="error" if failed else "ok",
                t_scheduled_ns=t_sched,
                t0_ns=t0,
                t_end_ns=end,
                events=ev,
                prompt_tokens=None if failed else rng.randrange(10, 400),
                completion_tokens=None if failed else k + rng.randrange(0, 3),
                token_source=None if failed else rng.choice(("usage", "usage", "counted")),
                finish_reason=None if failed else "length",
                output="" if failed else f"answer {i % 7}",
                error="HTTP 500" if failed else None,
                error_kind="http_500" if failed else None,
                stage=STAGES[(i * len(STAGES)) // n],
            )
        )
        t += rng.randrange(1_000_000, 40_000_000)
    return out


def write_golden(path: Path, records: list[RequestRecord]) -> None:
    with path.open("wb") as fh:
        for r in records:
            fh.write(orjson.dumps(r.to_json()) + b"\n")


def figures(summary_models: list[Any]) -> dict[str, Any]:
    """Every figure of the rows as summary.json holds them (counts, STATS, windows, tokens, errors, per
    prompt, SLO and goodput, stages and capacity); the rebuild's status line and info left out."""
    skip = {"status", "error", "info", "resources", "quality", "client", "sample_response"}
    return {
        m.model: {k: v for k, v in m.model_dump(mode="json").items() if k not in skip} for m in summary_models
    }
