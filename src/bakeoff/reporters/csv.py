"""report.csv: one row per model, every statistic flattened into its own column."""

from __future__ import annotations

import csv
import io

from ..results import Summary

_STATS = ("ttft_s", "latency_s", "tpot_s", "itl_s", "decode_tokens_per_s", "output_tokens_per_s")
_FIELDS = ("n", "mean", "min", "max", "p50", "p90", "p95", "p99")


def render_csv(summary: Summary) -> str:
    header = ["model", "backend", "status", "error", "requests_ok", "requests_error"]
    header += [f"{s}_{f}" for s in _STATS for f in _FIELDS]
    header += [
        "aggregate_output_tokens_per_s",
        "prompt_tokens_mean",
        "completion_tokens_mean",
        "token_source",
        "load_s",
    ]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for m in summary.models:
        row: list[object] = [m.model, m.backend, m.status, m.error or "", m.requests.ok, m.requests.error]
        for s in _STATS:
            st = getattr(m, s)
            row += ["" if getattr(st, f) is None else getattr(st, f) for f in _FIELDS]
        row += [
            "" if m.aggregate_output_tokens_per_s is None else m.aggregate_output_tokens_per_s,
            "" if m.tokens.prompt_mean is None else m.tokens.prompt_mean,
            "" if m.tokens.completion_mean is None else m.tokens.completion_mean,
            m.tokens.source or "",
            m.resources.get("load_s", ""),
        ]
        w.writerow(row)
    return buf.getvalue()
