"""Turn one model's records into its summary row (pure: records in, numbers out)."""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bakeoff.metrics import definitions
from bakeoff.metrics.request import request_metrics
from bakeoff.metrics.stats import stats
from bakeoff.records import REASONING_EXHAUSTED, RequestRecord
from bakeoff.results.schema import ModelSummary, PromptSummary, RequestCounts, TokenInfo

_SOURCE_RANK = {"usage": 0, "native": 1, "counted": 2, "estimated": 3}


def _mean(values: Sequence[float | int | None]) -> float | None:
    xs = [float(v) for v in values if v is not None]
    return float(np.mean(xs)) if xs else None


@dataclass
class _PromptSamples:
    """One prompt's successful requests' values, in the order they were sent, and its failures."""

    n: int = 0
    errors: int = 0
    latency: list[float | None] = field(default_factory=list)
    ttft: list[float | None] = field(default_factory=list)
    completion: list[int | None] = field(default_factory=list)


def summarize_model(
    model: str,
    backend: str,
    status: str,
    error: str | None,
    records: Sequence[RequestRecord],
    info: dict[str, Any] | None = None,
    resources: dict[str, Any] | None = None,
) -> ModelSummary:
    """Statistics over the measured (non-warm-up) records of one model.

    Every metric in ``metrics.definitions`` is computed here: request metrics as STATS over the
    successful measured requests, window metrics over the measured records (the aggregate output
    rate spans the first scheduled send to the last end, so it reflects concurrency). The token
    source reported is the least trustworthy one any request used.
    """
    measured = [r for r in records if not r.warmup]
    ok = [r for r in measured if r.status == "ok"]
    defs = definitions.request_metrics_defs()
    # one pass: each request's metrics go into float64 columns (unknown values dropped, as stats()
    # drops them) and its prompt's sums, and are not kept (a long run's RequestMetrics are many)
    samples: dict[str, array[float]] = {d.name: array("d") for d in defs}
    prompts: dict[str, _PromptSamples] = {}
    for r in measured:
        mine = prompts.get(r.prompt_id)
        if mine is None:
            mine = prompts[r.prompt_id] = _PromptSamples()
        if r.status != "ok":
            mine.errors += 1
            continue
        rm = request_metrics(r)
        for d in defs:
            assert d.per_request is not None
            v = d.per_request(rm)
            col = samples[d.name]
            if isinstance(v, tuple):
                col.extend(v)
            elif v is not None:
                col.append(v)
        mine.n += 1
        mine.latency.append(rm.latency_s)
        mine.ttft.append(rm.ttft_s)
        mine.completion.append(r.completion_tokens)
    windows = {}
    for d in definitions.window_metrics_defs():
        assert d.over_window is not None
        windows[d.name] = d.over_window(measured)
    sources: set[str] = {r.token_source for r in ok if r.token_source}
    source = max(sources, key=lambda s: _SOURCE_RANK[s]) if sources else None
    per_prompt = [
        PromptSummary(
            prompt_id=pid,
            n=p.n,
            latency_s_mean=_mean(p.latency),
            ttft_s_mean=_mean(p.ttft),
            completion_tokens_mean=_mean(p.completion),
            errors=p.errors,
        )
        for pid, p in prompts.items()
    ]
    sample = next((r.output for r in ok if r.output), None)
    return ModelSummary(
        model=model,
        backend=backend,
        status=status,  # type: ignore[arg-type]
        error=error,
        requests=RequestCounts(ok=len(ok), error=len(measured) - len(ok)),
        stats={name: stats(values) for name, values in samples.items()},
        windows=windows,
        tokens=TokenInfo(
            prompt_mean=_mean([r.prompt_tokens for r in ok]),
            completion_mean=_mean([r.completion_tokens for r in ok]),
            source=source,  # type: ignore[arg-type]
            reasoning_mean=(
                _mean([r.reasoning_tokens or 0 for r in ok]) if any(r.reasoning for r in ok) else None
            ),
            reasoning_exhausted=sum(r.error_kind == REASONING_EXHAUSTED for r in measured),
        ),
        errors_by_kind=dict(Counter(r.error_kind or "unknown" for r in measured if r.status != "ok")),
        per_prompt=per_prompt,
        sample_response=sample,
        info=info or {},
        resources=resources or {},
    )


WARM_CACHE_RATIO = 0.5
"""Repeats answering their first token in under this share of the first sending's time look cached."""
MIN_WARM_CACHE_SAMPLES = 2
"""Sendings needed on each side (first, repeated) before the two are compared."""


def warm_cache_note(model: str, records: Sequence[RequestRecord], mode: str) -> str | None:
    """A note when repeated prompts read a TTFT far below their first sending's (warm-up included):
    a server's prompt cache answering the repeats, which makes a warm number look like a cold one."""
    first: list[float] = []
    repeat: list[float] = []
    seen: set[str] = set()
    for r in records:  # in the order they were sent
        t = request_metrics(r).ttft_s  # None for failures and non-streamed requests
        if t is None:
            continue
        (repeat if r.prompt_id in seen else first).append(t)
        seen.add(r.prompt_id)
    if min(len(first), len(repeat)) < MIN_WARM_CACHE_SAMPLES:
        return None
    cold, warm = float(np.median(first)), float(np.median(repeat))
    if warm >= WARM_CACHE_RATIO * cold:
        return None
    why = (
        "expected with --reuse-prompt-cache: the repeats' figures include the cache"
        if mode == "reuse"
        else "a prompt cache may be answering them (an engine's reuse_prompt_cache option, or a server "
        "cache that the per-request tag does not defeat); read the first sendings as the cold figure"
    )
    return (
        f"{model}: median TTFT of repeated prompts ({warm * 1000:.1f} ms) is under half of their first "
        f"sending's ({cold * 1000:.1f} ms); {why}."
    )


def data_notes(model: str, records: Sequence[RequestRecord]) -> list[str]:
    """``--data`` runs: where the forced answer length did not hold, and prompt lengths counted in
    whitespace words (no tokenizer known) rather than the model's tokens."""
    asked = [r for r in records if not r.warmup and r.status == "ok" and "data" in r.extra]
    if not asked:
        return []
    notes = []
    short = [r for r in asked if r.extra["data"].get("length_held") is False]
    if short:
        got = sorted({r.completion_tokens for r in short if r.completion_tokens is not None})
        notes.append(
            f"{model}: the forced answer length did not hold for {len(short)} of {len(asked)} requests "
            f"(answers of {', '.join(map(str, got[:5]))}{'...' if len(got) > 5 else ''} tokens): the engine "
            "ignores min_tokens / ignore_eos, so its timings are over shorter answers"
        )
    names = {str(r.extra["data"].get("tokenizer")) for r in asked}
    if any(n.startswith("approximate") for n in names):
        notes.append(
            f"{model}: --data prompt lengths are approximate (whitespace words, not the model's tokens): "
            "give --tokenizer a GGUF file or tokenizer.json"
        )
    return notes
