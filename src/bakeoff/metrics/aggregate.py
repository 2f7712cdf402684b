"""Turn one model's records into its summary row (pure: records in, numbers out)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..records import RequestRecord
from ..results import ModelSummary, PromptSummary, RequestCounts, TokenInfo
from .request import NS, request_metrics
from .stats import stats

_SOURCE_RANK = {"usage": 0, "native": 1, "estimated": 2}


def _mean(values: Sequence[float | int | None]) -> float | None:
    xs = [float(v) for v in values if v is not None]
    return float(np.mean(xs)) if xs else None


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

    The aggregate output rate is sum N_out over the wall window from the first measured request's
    send to the last one's end, so it reflects concurrency; the token source reported is the least
    trustworthy one any request used.
    """
    measured = [r for r in records if not r.warmup]
    ok = [r for r in measured if r.status == "ok"]
    metrics = [request_metrics(r) for r in ok]
    agg = None
    if measured and ok:
        window = (max(r.t_end_ns for r in measured) - min(r.t_scheduled_ns for r in measured)) * NS
        total = sum(r.completion_tokens or 0 for r in ok)
        agg = total / window if window > 0 else None
    sources: set[str] = {r.token_source for r in ok if r.token_source}
    source = max(sources, key=lambda s: _SOURCE_RANK[s]) if sources else None
    per_prompt: list[PromptSummary] = []
    for pid in dict.fromkeys(r.prompt_id for r in measured):
        rs = [r for r in measured if r.prompt_id == pid]
        good = [r for r in rs if r.status == "ok"]
        ms = [request_metrics(r) for r in good]
        per_prompt.append(
            PromptSummary(
                prompt_id=pid,
                n=len(good),
                latency_s_mean=_mean([m.latency_s for m in ms]),
                ttft_s_mean=_mean([m.ttft_s for m in ms]),
                completion_tokens_mean=_mean([r.completion_tokens for r in good]),
                errors=len(rs) - len(good),
            )
        )
    sample = next((r.output for r in ok if r.output), None)
    return ModelSummary(
        model=model,
        backend=backend,
        status=status,  # type: ignore[arg-type]
        error=error,
        requests=RequestCounts(ok=len(ok), error=len(measured) - len(ok)),
        ttft_s=stats(m.ttft_s for m in metrics),
        latency_s=stats(m.latency_s for m in metrics),
        tpot_s=stats(m.tpot_s for m in metrics),
        itl_s=stats(x for m in metrics for x in m.itl_s),
        decode_tokens_per_s=stats(m.decode_tokens_per_s for m in metrics),
        output_tokens_per_s=stats(m.output_tokens_per_s for m in metrics),
        latency_from_scheduled_s=stats(m.latency_from_scheduled_s for m in metrics),
        ttft_from_scheduled_s=stats(m.ttft_from_scheduled_s for m in metrics),
        aggregate_output_tokens_per_s=agg,
        tokens=TokenInfo(
            prompt_mean=_mean([r.prompt_tokens for r in ok]),
            completion_mean=_mean([r.completion_tokens for r in ok]),
            source=source,  # type: ignore[arg-type]
        ),
        errors_by_kind=dict(Counter(r.error_kind or "unknown" for r in measured if r.status != "ok")),
        per_prompt=per_prompt,
        sample_response=sample,
        info=info or {},
        resources=resources or {},
    )
