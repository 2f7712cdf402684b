"""Metric definitions and statistics on hand-made records with exactly known timing."""

from __future__ import annotations

import numpy as np
import pytest

from bakeoff.analysis.summarize import summarize_model
from bakeoff.metrics import request_metrics, stats
from bakeoff.records import RequestRecord

from .test_known_answers import rec

MS = 1_000_000


def test_ttft_tpot_decode_and_output_rate() -> None:
    # TTFT 200 ms, then 63 tokens 20 ms apart: N_out = 64
    r = rec([(200 * MS + i * 20 * MS, None) for i in range(64)], 64)
    m = request_metrics(r)
    assert m.ttft_s == pytest.approx(0.2)
    assert m.latency_s == pytest.approx(0.2 + 63 * 0.02)
    assert m.tpot_s == pytest.approx(0.02)
    assert m.decode_tokens_per_s == pytest.approx(50.0)
    # output rate counts completion tokens only (the session script's bug counted prompt tokens too)
    assert m.output_tokens_per_s == pytest.approx(64 / 1.46)
    assert len(m.itl_s) == 63 and all(x == pytest.approx(0.02) for x in m.itl_s)


def test_session_script_defect_is_not_repeated() -> None:
    """The session script read 54 tok/s where the true decode rate was 50."""
    r = rec([(200 * MS + i * 20 * MS, None) for i in range(64)], 64, prompt_tokens=20)
    m = request_metrics(r)
    wrong = (64 + 20) / m.latency_s  # total tokens over whole latency
    assert m.decode_tokens_per_s == pytest.approx(50.0)
    assert wrong != pytest.approx(50.0, abs=1)


def test_single_token_has_no_tpot() -> None:
    m = request_metrics(rec([(100 * MS, None)], 1))
    assert m.ttft_s == pytest.approx(0.1) and m.tpot_s is None and m.decode_tokens_per_s is None


def test_non_streaming_has_no_ttft() -> None:
    m = request_metrics(rec([(500 * MS, None)], 10, stream=False))
    assert m.ttft_s is None and m.tpot_s is None
    assert m.latency_s == pytest.approx(0.5) and m.output_tokens_per_s == pytest.approx(20.0)


def test_itl_uses_tokens_per_event_when_known() -> None:
    # 3 events carrying 1, 2 and 4 tokens, 20 and 40 ms apart
    m = request_metrics(rec([(100 * MS, 1), (120 * MS, 2), (160 * MS, 4)], 7))
    assert m.itl_s == pytest.approx((0.010, 0.010))


def test_itl_spreads_tokens_evenly_when_unknown() -> None:
    # 4 chunks of 4 tokens, 40 ms apart: 10 ms per token
    m = request_metrics(rec([(100 * MS + i * 40 * MS, None) for i in range(4)], 16))
    assert m.itl_s == pytest.approx((0.010, 0.010, 0.010))


def test_failed_request_has_no_metrics() -> None:
    m = request_metrics(rec([(100 * MS, None)], None, status="error", error="boom"))
    assert m.latency_s is None and m.itl_s == ()


def test_stats_match_numpy_linear_and_stay_within_samples() -> None:
    xs = [1.0, 2.0, 10.0]
    s = stats(xs)
    assert s.n == 3 and s.mean == pytest.approx(13 / 3)
    assert s.p95 == pytest.approx(float(np.percentile(xs, 95)))
    # the session script's p95 over 3 samples came out above the max; ours never does
    assert s.p95 <= s.max and s.p99 <= s.max and s.min <= s.p50


def test_stats_drop_unknown_values_and_handle_empty() -> None:
    assert stats([None, 2.0]).n == 1
    empty = stats([])
    assert empty.n == 0 and empty.mean is None and empty.p95 is None


def test_per_prompt_counts_every_answer_and_error_in_any_order() -> None:
    # p1: an error first, then two answers (TTFT 100 and 300 ms), then another error; p2: two errors.
    # By hand: p1 n 2, errors 2, TTFT mean 0.2 s; p2 n 0, errors 2.
    bad = {"status": "error", "error": "HTTP 500: x", "error_kind": "http"}
    recs = [
        rec([], None, **bad),
        rec([(100 * MS, None), (120 * MS, None)], 2),
        rec([(300 * MS, None), (320 * MS, None)], 2),
        rec([], None, **bad),
        rec([], None, prompt_id="p2", **bad),
        rec([], None, prompt_id="p2", **bad),
    ]
    by = {p.prompt_id: p for p in summarize_model("m", "openai", "ok", None, recs).per_prompt}
    assert (by["p1"].n, by["p1"].errors) == (2, 2)
    assert by["p1"].ttft_s_mean == pytest.approx(0.2)
    assert (by["p2"].n, by["p2"].errors) == (0, 2)


def test_summary_excludes_warmup_and_counts_errors() -> None:
    good = rec([(100 * MS, None), (120 * MS, None)], 2)
    warm = rec([(900 * MS, None), (950 * MS, None)], 2, warmup=True)
    bad = rec([], None, status="error", error="HTTP 500: x", error_kind="http")
    s = summarize_model("m", "openai", "ok", None, [warm, good, bad])
    assert s.requests.ok == 1 and s.requests.error == 1
    assert s.ttft_s.n == 1 and s.ttft_s.mean == pytest.approx(0.1)
    assert s.errors_by_kind == {"http": 1}
    assert s.per_prompt[0].n == 1 and s.per_prompt[0].errors == 1


def test_summary_token_source_is_least_trustworthy() -> None:
    a = rec([(100 * MS, None), (120 * MS, None)], 2)
    b = rec([(100 * MS, None), (120 * MS, None)], 2, token_source="estimated")
    assert summarize_model("m", "openai", "ok", None, [a, b]).tokens.source == "estimated"


def test_aggregate_rate_uses_wall_window() -> None:
    # two requests overlapping completely: 2 x 10 tokens in 1 s of wall time
    a = rec([(500 * MS, None), (1000 * MS, None)], 10)
    b = rec([(500 * MS, None), (1000 * MS, None)], 10)
    s = summarize_model("m", "openai", "ok", None, [a, b])
    assert s.aggregate_output_tokens_per_s == pytest.approx(20.0)


def test_record_json_round_trip() -> None:
    r = rec([(100 * MS, 1), (120 * MS, None)], 2)
    assert RequestRecord.from_json(r.to_json()) == r
