"""report.csv: one row per model, every statistic of every metric (metrics.definitions) in its own column."""

from __future__ import annotations

import csv
import io

from bakeoff.metrics import definitions
from bakeoff.metrics.stats import Stats
from bakeoff.quality.annotate import spreadsheet_safe
from bakeoff.reporters import load_stages
from bakeoff.reporters.report import RunReport
from bakeoff.results.schema import ModelQuality

_FIELDS = tuple(Stats.model_fields)  # n, mean, min, max, p50, p90, p95, p99, std
_RESOURCES = (
    "load_s",
    "first_request_ttft_s",
    "cold_start_s",
    "peak_rss_mb",
    "predicted_mb",
    "steady_rss_mb",
    "fits_memory",
    "disk_mb",
    "energy_j_per_token",
    "energy_source",
    "cost_per_mtok",
    "decode_ceiling_tok_s",
    "roofline_ratio",
    "other_load_pct",
)
_QUALITY = (
    "mean",
    "n",
    "source",
    "judge_mean",
    "human_mean",
    "judged",
    "unparsed",
    "unparsed_rate",
    "check_pass_rate",
    "aspect_coverage_mean",
)


def _cell(v: object) -> object:
    """A value as a cell: blank for None, and text a spreadsheet will not run as a formula."""
    if v is None:
        return ""
    return spreadsheet_safe(v) if isinstance(v, str) else v


def render_csv(report: RunReport) -> str:
    summary = report.summary
    header = ["model", "backend", "status", "error", "requests_ok", "requests_error"]
    request, window = definitions.request_metrics_defs(), definitions.window_metrics_defs()
    header += [f"{d.name}_{f}" for d in request for f in _FIELDS]
    header += [d.name for d in window]
    header += [
        "prompt_tokens_mean",
        "completion_tokens_mean",
        "token_source",
    ]
    header += list(_RESOURCES)
    header += [f"quality_{k}" for k in _QUALITY] + ["quality_ci95_low", "quality_ci95_high", "pairwise_bt"]
    header += [
        "quality_mean_trusting_judges",
        "quality_unqualified_judges",
        "reference_rouge_l",
        "reference_term_recall",
        "fact_recall",
        "fact_owner_right",
        "fact_due_right",
        "slo_met",
        "slo_goodput_per_s",
        *load_stages.CSV_HEADERS,
    ]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for m in summary.models:
        row: list[object] = [m.model, m.backend, m.status, m.error or "", m.requests.ok, m.requests.error]
        for d in request:
            st = m.stat(d.name)
            row += [_cell(getattr(st, f)) for f in _FIELDS]
        row += [_cell(m.window(d.name)) for d in window]
        row += [
            _cell(m.tokens.prompt_mean),
            _cell(m.tokens.completion_mean),
            m.tokens.source or "",
        ]
        row += [_cell(getattr(m.resources, k)) for k in _RESOURCES]
        q = m.quality or ModelQuality()
        ci: list[float | None] = list(q.ci95) if q.ci95 else [None, None]
        bt = q.pairwise.bt if q.pairwise else None
        row += [_cell(getattr(q, k)) for k in _QUALITY] + [_cell(ci[0]), _cell(ci[1]), _cell(bt)]
        ref = q.reference
        row += [
            _cell(q.mean_trusting_judges),
            ";".join(q.unqualified_judges),
            _cell(ref.rouge_l if ref else None),
            _cell(ref.term_recall if ref else None),
            _cell(q.facts.recall if q.facts else None),
            _cell(q.facts.owner_right if q.facts else None),
            _cell(q.facts.due_right if q.facts else None),
            _cell(m.slo.met if m.slo else None),
            _cell(m.slo.goodput_per_s if m.slo else None),
            *(_cell(v) for v in load_stages.csv_cells(m)),
        ]
        w.writerow([_cell(v) for v in row])  # every cell: a model name or an error is text too
    return buf.getvalue()
