"""Known answers for every number bakeoff computes from records: statistics, per-request metrics,
aggregates, the open-loop schedule and the resource formulas.

Every expected value here was worked out by hand (the arithmetic is in the comments), never by
calling the code under test or the library it calls. ``make mutation`` runs these tests against
planted one-line bugs; each assertion below exists because some mutant survived without it.
"""

from __future__ import annotations

import pytest

from bakeoff.analysis.resources import derive_resources
from bakeoff.analysis.summarize import summarize_model
from bakeoff.metrics import request_metrics, stats
from bakeoff.monitors import energy
from bakeoff.records import ContentEvent, RequestRecord
from bakeoff.results.schema import ModelSummary

MS = 1_000_000
S = 1_000_000_000


def rec(
    events: list[tuple[int, int | None]],
    n_out: int | None,
    *,
    scheduled: int = 0,
    t0: int = 0,
    end: int | None = None,
    **kw: object,
) -> RequestRecord:
    """A record whose events are offsets from ``t0``; ``end`` defaults to the last event."""
    base: dict[str, object] = dict(
        model="m",
        backend="openai",
        prompt_id="p1",
        round=1,
        warmup=False,
        stream=True,
        status="ok",
        t_scheduled_ns=scheduled,
        t0_ns=t0,
        t_end_ns=end if end is not None else t0 + (events[-1][0] if events else 0),
        events=tuple(ContentEvent(o, t) for o, t in events),
        prompt_tokens=10,
        completion_tokens=n_out,
        token_source="usage",
    )
    base.update(kw)
    return RequestRecord(**base)  # type: ignore[arg-type]


# --- statistics: numpy's linear method, worked by hand --------------------------------------------


def test_percentiles_of_five_samples_by_hand() -> None:
    # sorted [1, 2, 3, 4, 10]; position = p/100 * (n-1) = 0.04 p
    s = stats([4.0, 1.0, 3.0, 2.0, 10.0])
    assert s.n == 5
    assert s.mean == pytest.approx(4.0)  # 20 / 5
    assert s.min == 1.0 and s.max == 10.0
    assert s.p50 == pytest.approx(3.0)  # position 2
    assert s.p90 == pytest.approx(7.6)  # position 3.6: 4 + 0.6 * (10 - 4)
    assert s.p95 == pytest.approx(8.8)  # position 3.8: 4 + 0.8 * 6
    assert s.p99 == pytest.approx(9.76)  # position 3.96: 4 + 0.96 * 6


def test_percentiles_of_two_samples_by_hand() -> None:
    s = stats([0.2, 0.1])
    assert (s.p50, s.p90, s.p95, s.p99) == pytest.approx((0.15, 0.19, 0.195, 0.199))
    assert s.mean == pytest.approx(0.15) and s.min == 0.1 and s.max == 0.2


def test_one_sample_is_every_percentile() -> None:
    s = stats([7.0, None])
    assert s.n == 1
    assert (s.mean, s.min, s.max, s.p50, s.p90, s.p95, s.p99) == (7.0,) * 7


def test_empty_samples_are_unknown_not_zero() -> None:
    s = stats([None, None])
    assert s.n == 0
    assert (s.mean, s.min, s.max, s.p50, s.p90, s.p95, s.p99) == (None,) * 7


# --- per-request metrics --------------------------------------------------------------------------


def test_open_loop_latency_counts_the_wait_behind_the_schedule() -> None:
    # meant to go out at 0, really sent at 300 ms (backlog); tokens at +100 ms and +150 ms after the send
    r = rec([(100 * MS, None), (150 * MS, None)], 2, scheduled=0, t0=300 * MS)
    m = request_metrics(r)
    assert m.ttft_s == pytest.approx(0.100) and m.latency_s == pytest.approx(0.150)
    assert m.ttft_from_scheduled_s == pytest.approx(0.400)  # 0.3 s wait + 0.1 s
    assert m.latency_from_scheduled_s == pytest.approx(0.450)  # 0.3 s wait + 0.15 s
    assert m.tpot_s == pytest.approx(0.050) and m.decode_tokens_per_s == pytest.approx(20.0)
    assert m.output_tokens_per_s == pytest.approx(2 / 0.150)


def test_queue_delay_and_prefill_rate_by_hand() -> None:
    # scheduled at 0, sent at 300 ms: 0.3 s behind the schedule; 512 prompt tokens, first token 80 ms
    # after the send: 512 / 0.08 = 6400 prompt tokens per second
    r = rec([(80 * MS, None), (130 * MS, None)], 2, scheduled=0, t0=300 * MS, prompt_tokens=512)
    m = request_metrics(r)
    assert m.queue_delay_s == pytest.approx(0.300) and m.prefill_tokens_per_s == pytest.approx(6400.0)
    # closed loop: sent when scheduled, no delay; prompt size unknown or no stream: no prefill rate
    m = request_metrics(rec([(80 * MS, None)], 1, scheduled=5 * S, t0=5 * S, prompt_tokens=None))
    assert m.queue_delay_s == 0.0 and m.prefill_tokens_per_s is None
    m = request_metrics(rec([(80 * MS, None)], 1, stream=False))
    assert m.prefill_tokens_per_s is None and m.queue_delay_s == 0.0
    # a failed request has neither
    m = request_metrics(rec([(80 * MS, None)], 1, status="error"))
    assert m.queue_delay_s is None and m.prefill_tokens_per_s is None


def test_closed_loop_latency_from_schedule_equals_latency() -> None:
    r = rec([(100 * MS, None), (150 * MS, None)], 2, scheduled=5 * S, t0=5 * S)
    m = request_metrics(r)
    assert m.latency_from_scheduled_s == pytest.approx(0.150) and m.ttft_from_scheduled_s == pytest.approx(
        0.1
    )


def test_non_streaming_has_no_ttft_from_schedule_either() -> None:
    m = request_metrics(rec([(400 * MS, None)], 8, scheduled=0, t0=100 * MS, stream=False))
    assert m.ttft_s is None and m.ttft_from_scheduled_s is None and m.itl_s == ()
    assert m.latency_from_scheduled_s == pytest.approx(0.5)
    assert m.output_tokens_per_s == pytest.approx(20.0)  # 8 / 0.4: per-request rate is from the send


def test_all_tokens_in_one_event_give_zero_tpot_and_no_decode_rate() -> None:
    # five tokens in a single chunk: E2E == TTFT, TPOT = 0 / 4 = 0, decode rate undefined (not infinite)
    m = request_metrics(rec([(100 * MS, 5)], 5))
    assert m.tpot_s == 0.0 and m.decode_tokens_per_s is None and m.itl_s == ()


def test_two_tokens_is_the_first_tpot() -> None:
    m = request_metrics(rec([(100 * MS, None), (130 * MS, None)], 2))
    assert m.tpot_s == pytest.approx(0.030)  # (0.13 - 0.10) / (2 - 1)


def test_unknown_token_count_has_no_rates() -> None:
    m = request_metrics(rec([(100 * MS, None), (130 * MS, None)], None))
    assert m.tpot_s is None and m.decode_tokens_per_s is None and m.output_tokens_per_s is None
    assert m.itl_s == pytest.approx((0.030,))  # one token per event when nothing says otherwise


def test_itl_spreads_the_tokens_after_a_known_first_event() -> None:
    # first event carries 2 tokens, 6 more over two events: 3 each; gaps 40 and 60 ms
    m = request_metrics(rec([(100 * MS, 2), (140 * MS, None), (200 * MS, None)], 8))
    assert m.itl_s == pytest.approx((0.040 / 3, 0.060 / 3))


def test_itl_spreads_evenly_when_the_first_event_is_unknown_too() -> None:
    # 9 tokens over 3 events of unknown size: 3 per event; gaps 30 and 60 ms -> 10 and 20 ms per token
    m = request_metrics(rec([(100 * MS, None), (130 * MS, None), (190 * MS, None)], 9))
    assert m.itl_s == pytest.approx((0.010, 0.020))


def test_itl_with_fewer_tokens_than_events_counts_one_per_event() -> None:
    m = request_metrics(rec([(100 * MS, None), (140 * MS, None), (200 * MS, None)], 2))
    assert m.itl_s == pytest.approx((0.040, 0.060))


def test_itl_when_every_event_says_its_tokens() -> None:
    m = request_metrics(rec([(100 * MS, 3), (160 * MS, 2), (190 * MS, 1)], 6))
    assert m.itl_s == pytest.approx((0.030, 0.030))  # 60 ms / 2 tokens, 30 ms / 1 token


def test_failed_and_empty_requests_have_no_numbers() -> None:
    for r in (rec([(100 * MS, None)], 3, status="error", error="x"), rec([], 3)):
        m = request_metrics(r)
        assert (m.ttft_s, m.latency_s, m.tpot_s, m.decode_tokens_per_s, m.output_tokens_per_s) == (None,) * 5
        assert m.latency_from_scheduled_s is None and m.ttft_from_scheduled_s is None


# --- one model's summary row --------------------------------------------------------------------


def _staggered() -> list[RequestRecord]:
    return [
        # warm-up long before: must not widen the window
        rec([(50 * MS, None), (100 * MS, None)], 4, scheduled=0, t0=0, warmup=True, prompt_id="p1"),
        # a: scheduled 0.2 s, first token +0.1 s, ends at 1.0 s, 10 tokens
        rec([(100 * MS, None), (800 * MS, None)], 10, scheduled=200 * MS, t0=200 * MS, prompt_id="p1"),
        # b: scheduled 0.5 s but sent at 0.6 s, ends at 2.2 s, 30 tokens
        rec(
            [(200 * MS, None), (1600 * MS, None)],
            30,
            scheduled=500 * MS,
            t0=600 * MS,
            prompt_id="p2",
            prompt_tokens=30,
            token_source="native",
        ),
        # a failure inside the window, no tokens
        rec([], None, scheduled=900 * MS, t0=900 * MS, end=1500 * MS, status="error", error="HTTP 500: x",
            error_kind="http", prompt_id="p2"),
    ]  # fmt: skip


def test_aggregate_rate_spans_first_scheduled_send_to_last_end() -> None:
    s = summarize_model("m", "openai", "ok", None, _staggered())
    # window 2.2 s - 0.2 s = 2.0 s; 10 + 30 tokens -> 20 tok/s (warm-up and failure add no tokens)
    assert s.aggregate_output_tokens_per_s == pytest.approx(20.0)


def test_request_rate_counts_successes_over_the_same_window() -> None:
    s = summarize_model("m", "openai", "ok", None, _staggered())
    # window 2.0 s (as above); 2 successful requests -> 1.0 req/s (the failure and the warm-up do not count)
    assert s.window("request_throughput_per_s") == pytest.approx(1.0)
    bad = rec([], None, scheduled=0, t0=0, end=2 * S, status="error", error="x", error_kind="http")
    assert summarize_model("m", "openai", "error", "x", [bad]).window("request_throughput_per_s") is None
    r = rec([(0, None)], 1, scheduled=0, t0=0, end=0)
    assert summarize_model("m", "openai", "ok", None, [r]).window("request_throughput_per_s") is None
    # one request in a 0.5 s window: 2 req/s (a window under a second is still a window)
    half = rec([(100 * MS, None), (500 * MS, None)], 5, scheduled=0, t0=0, end=500 * MS)
    assert summarize_model("m", "openai", "ok", None, [half]).window(
        "request_throughput_per_s"
    ) == pytest.approx(2.0)


def test_std_is_the_sample_standard_deviation() -> None:
    # 1, 2, 3, 4: mean 2.5, squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5, over n - 1 = 3
    assert stats([1.0, 2.0, 3.0, 4.0]).std == pytest.approx((5 / 3) ** 0.5, rel=1e-12)
    assert stats([7.0]).std is None and stats([]).std is None  # no spread from one sample
    assert stats([2.0, 2.0]).std == 0.0


def test_summary_row_by_hand() -> None:
    s = summarize_model("m", "openai", "ok", None, _staggered())
    assert s.requests.ok == 2 and s.requests.error == 1
    assert s.errors_by_kind == {"http": 1}
    assert s.ttft_s.n == 2 and s.ttft_s.mean == pytest.approx(0.15)  # (0.1 + 0.2) / 2
    assert s.latency_s.mean == pytest.approx(1.2)  # (0.8 + 1.6) / 2
    # TPOT a = 0.7 / 9, b = 1.4 / 29
    assert s.tpot_s.min == pytest.approx(1.4 / 29) and s.tpot_s.max == pytest.approx(0.7 / 9)
    assert s.decode_tokens_per_s.max == pytest.approx(29 / 1.4)
    assert s.output_tokens_per_s.mean == pytest.approx((10 / 0.8 + 30 / 1.6) / 2)
    assert s.latency_from_scheduled_s.max == pytest.approx(1.7)  # b waited 0.1 s
    assert s.ttft_from_scheduled_s.max == pytest.approx(0.3)
    assert s.itl_s.n == 2  # one gap per request
    assert s.tokens.prompt_mean == pytest.approx(20.0) and s.tokens.completion_mean == pytest.approx(20.0)
    assert s.tokens.source == "native"  # the least trustworthy source any request used
    p1, p2 = s.per_prompt
    assert (p1.prompt_id, p1.n, p1.errors) == ("p1", 1, 0)
    assert p1.latency_s_mean == pytest.approx(0.8) and p1.ttft_s_mean == pytest.approx(0.1)
    assert p1.completion_tokens_mean == pytest.approx(10.0)
    assert (p2.prompt_id, p2.n, p2.errors) == ("p2", 1, 1)
    assert p2.latency_s_mean == pytest.approx(1.6)


def test_estimated_token_counts_outrank_every_other_source() -> None:
    rs = _staggered()
    rs.append(rec([(10 * MS, None), (20 * MS, None)], 2, scheduled=S, t0=S, token_source="estimated"))
    assert summarize_model("m", "openai", "ok", None, rs).tokens.source == "estimated"
    only_usage = [r for r in _staggered() if r.token_source != "native"]
    assert summarize_model("m", "openai", "ok", None, only_usage).tokens.source == "usage"


def test_sample_response_is_the_first_answered_text() -> None:
    a = rec([(10 * MS, None)], 1, output="")
    b = rec([(10 * MS, None)], 1, output="second")
    c = rec([(10 * MS, None)], 1, output="third")
    assert summarize_model("m", "openai", "ok", None, [a, b, c]).sample_response == "second"


def test_no_successful_request_has_no_aggregate_rate() -> None:
    bad = rec([], None, status="error", error="x", error_kind=None)
    s = summarize_model("m", "openai", "error", "x", [bad])
    assert s.aggregate_output_tokens_per_s is None and s.errors_by_kind == {"unknown": 1}


# --- resources: energy, cost, roofline, budget ------------------------------------------------------


def _row(decode_p50: float | None = 25.0) -> ModelSummary:
    return ModelSummary(
        model="m",
        backend="llamacpp",
        status="ok",
        decode_tokens_per_s=stats([decode_p50] if decode_p50 else []),
        ttft_s=stats([0.1, 0.3]),
    )


def _token_records() -> list[RequestRecord]:
    return [
        rec([(900 * MS, None), (950 * MS, None)], 20, warmup=True),  # cold first answer: TTFT 0.9 s
        rec([(100 * MS, None), (200 * MS, None)], 40),
        rec([(100 * MS, None), (200 * MS, None)], 60),
        rec([], None, status="error", error="x"),
    ]


def _derive(raw: dict[str, float], **kw: object) -> dict[str, object]:
    args: dict[str, object] = dict(
        load_s=1.5,
        model_bytes=123_456_789,
        download_bytes=98_765_432,
        bandwidth_gbs=None,
        watts_per_core=10.0,
        price_per_kwh=0.30,
        max_memory_mb=None,
    )
    args.update(kw)
    return derive_resources(_row(), raw, _token_records(), **args)  # type: ignore[arg-type]


def test_measured_rapl_energy_per_token_and_cost() -> None:
    out = _derive({"rapl_j": 50.0, "cpu_s": 4.0, "peak_rss_mb": 300.0})
    # 100 measured tokens (the 20 warm-up tokens do not count): 0.5 J per token;
    # cost = 0.5 J x 1e6 tokens / 3.6e6 J per kWh x 0.30 = 0.041666...
    assert out["energy_j"] == 50.0 and out["energy_source"] == "measured"
    assert out["energy_method"] == "RAPL CPU package energy over the measured phase"
    assert out["energy_j_per_token"] == pytest.approx(0.5)
    assert out["cost_per_mtok"] == pytest.approx(0.5 * 1e6 / 3.6e6 * 0.30)
    assert out["price_per_kwh"] == 0.30
    assert "rapl_j" not in out and "cpu_s" not in out and out["peak_rss_mb"] == 300.0


def test_gpu_energy_plus_estimated_cpu() -> None:
    out = _derive({"gpu_energy_j": 30.0, "cpu_s": 2.0}, watts_per_core=12.0)
    # 30 J measured on the GPU + 2 CPU-s x 12 W = 24 J estimated -> 54 J, labelled estimated
    assert out["energy_j"] == pytest.approx(54.0) and out["energy_source"] == "estimated"
    assert out["energy_method"] == (
        "NVML GPU energy over the measured phase + CPU estimated (2.00 CPU-s x 12 W per busy core)"
    )
    assert out["energy_j_per_token"] == pytest.approx(0.54)
    assert "gpu_energy_j" not in out


def test_rapl_and_gpu_together_are_measured() -> None:
    out = _derive({"rapl_j": 10.0, "gpu_energy_j": 30.0, "cpu_s": 2.0})
    assert out["energy_j"] == pytest.approx(40.0) and out["energy_source"] == "measured"
    assert out["energy_method"] == "RAPL CPU package + NVML GPU energy over the measured phase"


def test_cpu_time_estimate_alone() -> None:
    out = _derive({"cpu_s": 3.0}, watts_per_core=12.0, price_per_kwh=0.5)
    assert out["energy_j"] == pytest.approx(36.0) and out["energy_source"] == "estimated"
    assert out["energy_j_per_token"] == pytest.approx(0.36)
    assert out["cost_per_mtok"] == pytest.approx(0.36 * 1e6 / 3.6e6 * 0.5)
    assert out["energy_method"] == "3.00 CPU-s x 12 W per busy core"


def test_no_energy_reading_is_unknown() -> None:
    out = _derive({})
    assert out["energy_j"] is None and out["energy_j_per_token"] is None and out["cost_per_mtok"] is None


def test_disk_download_load_and_first_answer() -> None:
    out = _derive({})
    assert out["disk_mb"] == 123.5 and out["download_mb"] == 98.8 and out["load_s"] == 1.5
    assert out["first_request_ttft_s"] == pytest.approx(0.9)  # the warm-up, answered cold
    assert out["warm_ttft_s"] == pytest.approx(0.2)  # p50 of the measured [0.1, 0.3]
    assert out["cold_start_s"] == pytest.approx(1.5 + 0.9)  # load, then the cold first token
    assert _derive({}, download_bytes=None)["download_mb"] is None


def test_disk_size_the_backend_reported_wins() -> None:
    row = _row()
    row.info["disk_mb"] = 77.0
    out = derive_resources(
        row, {}, [], load_s=None, model_bytes=1_000_000, download_bytes=None, bandwidth_gbs=None,
        watts_per_core=10, price_per_kwh=0.3, max_memory_mb=None,
    )  # fmt: skip
    assert out["disk_mb"] == 77.0 and out["first_request_ttft_s"] is None
    assert out["cold_start_s"] is None  # neither a load nor a first answer: unknown, never 0
    loaded = derive_resources(
        row, {}, [], load_s=2.0, model_bytes=None, download_bytes=None, bandwidth_gbs=None,
        watts_per_core=10, price_per_kwh=0.3, max_memory_mb=None,
    )  # fmt: skip
    assert loaded["cold_start_s"] is None  # loaded, but no answer came: no first answer to add


def test_the_memory_prediction_stands_beside_the_peak() -> None:
    row = _row()
    row.info["memory_prediction"] = {"total_mb": 190.0, "ram_mb": 150.5, "vram_mb": 39.5}
    out = derive_resources(
        row, {"peak_rss_mb": 160.0}, [], load_s=None, model_bytes=None, download_bytes=None,
        bandwidth_gbs=None, watts_per_core=10, price_per_kwh=0.3, max_memory_mb=None,
    )  # fmt: skip
    assert out["predicted_mb"] == 150.5 and out["peak_rss_mb"] == 160.0  # the RAM share, as the peak is RAM
    assert _derive({})["predicted_mb"] is None  # no prediction (an endpoint): unknown


def test_roofline_ratio() -> None:
    # 10 GB/s / 0.2 GB per token = 50 tok/s ceiling; decode p50 25 -> ratio 0.5
    out = _derive({}, bandwidth_gbs=10.0, model_bytes=200_000_000)
    assert out["decode_ceiling_tok_s"] == 50.0 and out["roofline_ratio"] == 0.5
    assert out["memory_bandwidth_gbs"] == 10.0
    assert _derive({}, bandwidth_gbs=None)["roofline_ratio"] is None


def test_memory_budget_boundary() -> None:
    assert _derive({"peak_rss_mb": 300.0}, max_memory_mb=300.0)["fits_memory"] is True  # equal fits
    out = _derive({"peak_rss_mb": 300.5}, max_memory_mb=300.0)
    assert out["fits_memory"] is False and out["max_memory_mb"] == 300.0
    assert _derive({}, max_memory_mb=300.0)["fits_memory"] is None  # unknown peak: unknown, not "fits"
    assert "fits_memory" not in _derive({"peak_rss_mb": 1.0})


def test_energy_helpers_by_hand(tmp_path: object) -> None:
    e = energy.estimate(2.5, 8.0)
    assert e.energy_j == 20.0 and e.source == "estimated"
    j, cost = energy.per_token(7.2, 4, 0.25)
    assert j == pytest.approx(1.8) and cost == pytest.approx(1.8 * 1e6 / 3.6e6 * 0.25)  # 0.125
    assert energy.estimate(1.0).energy_j == 10.0  # the documented default: 10 W per busy core
    assert energy.per_token(3.6, 1)[1] == pytest.approx(0.30)  # default price 0.30 per kWh


def test_rapl_zones_and_readings(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    root = Path(str(tmp_path))
    for name, uj in (("intel-rapl:0", "1000"), ("intel-rapl:1", "500"), ("intel-rapl:0:0", "7")):
        (root / name).mkdir()
        (root / name / "energy_uj").write_text(uj + "\n")
        (root / name / "max_energy_range_uj").write_text("10000\n")
    (root / "intel-rapl:2").mkdir()
    (root / "intel-rapl:2" / "energy_uj").write_text("unreadable\n")
    monkeypatch.setattr(energy, "RAPL", root)
    zones = energy.rapl_zones()
    assert [z.name for z in zones] == ["intel-rapl:0", "intel-rapl:1"]  # packages only, readable only
    assert energy.rapl_read(zones) == 1500
    assert energy.rapl_delta_j(zones, 1000, 4000) == pytest.approx(0.003)
    assert energy.rapl_delta_j(zones, 19_000, 1000) == pytest.approx(0.002)  # wrapped: + 2 x 10000 uJ
    monkeypatch.setattr(energy, "RAPL", root / "absent")
    assert energy.rapl_zones() == []


# --- edges that a planted bug would move ----------------------------------------------------------


def test_zero_duration_request_has_no_rates() -> None:
    # everything arrived at t0 (a clock too coarse to see it): no rate rather than a division by zero
    r = rec([(0, None)], 1, scheduled=0, t0=0, end=0)
    m = request_metrics(r)
    assert m.latency_s == 0.0 and m.output_tokens_per_s is None
    s = summarize_model("m", "openai", "ok", None, [r])
    assert s.aggregate_output_tokens_per_s is None  # a zero window


def test_requests_without_a_token_count_add_no_tokens() -> None:
    known = rec([(100 * MS, None), (1000 * MS, None)], 10, scheduled=0, t0=0)
    unknown = rec([(100 * MS, None), (1000 * MS, None)], None, scheduled=0, t0=0, token_source=None)
    s = summarize_model("m", "openai", "ok", None, [known, unknown])
    assert s.aggregate_output_tokens_per_s == pytest.approx(10.0, rel=1e-12)  # 10 tokens in 1 s
    out = derive_resources(
        s, {"cpu_s": 1.0}, [known, unknown], load_s=None, model_bytes=None, download_bytes=None,
        bandwidth_gbs=None, watts_per_core=10.0, price_per_kwh=0.3, max_memory_mb=None,
    )  # fmt: skip
    assert out["energy_j_per_token"] == pytest.approx(1.0, rel=1e-12)  # 10 J over 10 tokens


def test_failures_only_give_no_aggregate_even_over_a_real_window() -> None:
    bad = rec([], None, scheduled=0, t0=0, end=2 * S, status="error", error="x", error_kind="http")
    s = summarize_model("m", "openai", "error", "all failed", [bad], {"license": "MIT"}, {"peak_rss_mb": 5.0})
    assert s.aggregate_output_tokens_per_s is None
    assert s.error == "all failed" and s.status == "error"
    assert s.info == {"license": "MIT"} and s.resources.peak_rss_mb == 5.0
    assert s.per_prompt[0].latency_s_mean is None and s.per_prompt[0].ttft_s_mean is None
    assert s.sample_response is None


def test_unit_conversions_are_exact() -> None:
    # 1e6 bytes per MB and 1e9 ns per s, not approximately: a huge file and a long run show any slip
    out = _derive({}, model_bytes=500_000_000_000, download_bytes=700_000_000_000)
    assert out["disk_mb"] == 500_000.0 and out["download_mb"] == 700_000.0
    out = _derive({"rapl_j": 50.123456})
    assert out["energy_j"] == 50.123 and out["energy_j_per_token"] == pytest.approx(0.50123456, rel=1e-12)
    assert out["cost_per_mtok"] == pytest.approx(0.50123456 * 1e6 / 3.6e6 * 0.30, rel=1e-12)
    assert energy.per_token(3.6, 1, 1.0)[1] == pytest.approx(1.0, rel=1e-12)  # 3.6 J/token = 1 kWh/Mtok


def test_rounding_of_the_roofline() -> None:
    # 10 GB/s over 333,333,333 bytes: ceiling 30.00000003 -> 30.0; decode 25 -> ratio 0.83333 -> 0.833
    out = _derive({}, bandwidth_gbs=10.0, model_bytes=333_333_333)
    assert out["decode_ceiling_tok_s"] == 30.0 and out["roofline_ratio"] == 0.833
    out = _derive({}, bandwidth_gbs=10.0, model_bytes=300_000_000)
    assert out["decode_ceiling_tok_s"] == 33.3  # 33.333... to one decimal
    no_decode = derive_resources(
        _row(None), {}, [], load_s=None, model_bytes=300_000_000, download_bytes=None, bandwidth_gbs=10.0,
        watts_per_core=10.0, price_per_kwh=0.3, max_memory_mb=None,
    )  # fmt: skip
    assert no_decode["roofline_ratio"] is None and no_decode["decode_ceiling_tok_s"] == 33.3


def test_unknown_energy_keeps_every_key() -> None:
    out = _derive({})
    assert {"energy_j", "energy_source", "energy_j_per_token", "cost_per_mtok"} <= set(out)
    assert out["energy_source"] is None


def test_rapl_delta_without_wrap_and_zero() -> None:
    from pathlib import Path

    assert energy.rapl_delta_j([Path("/nonexistent")], 5000, 5000) == 0.0  # no wrap read for a zero delta
    assert energy.rapl_delta_j([], 1, 2_000_001) == 2.0  # exactly 1e6 uJ per J


def test_an_unreadable_zone_first_does_not_hide_the_others(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pathlib import Path

    root = Path(str(tmp_path))
    for name, uj in (("intel-rapl:0", "garbage"), ("intel-rapl:1", "10"), ("intel-rapl:2", "20")):
        (root / name).mkdir()
        (root / name / "energy_uj").write_text(uj)
    monkeypatch.setattr(energy, "RAPL", root)
    assert [z.name for z in energy.rapl_zones()] == ["intel-rapl:1", "intel-rapl:2"]


def test_poisson_offsets_are_numpys_exponential_gaps_in_whole_nanoseconds() -> None:
    """Independent reference: numpy's seeded exponential draws, summed and floored to nanoseconds."""
    import numpy as np

    from bakeoff.load.schedule import arrival_offsets

    gaps = np.random.default_rng(42).exponential(1 / 5.0, size=6)
    expected = [0] + [int(t * 1_000_000_000) for t in np.cumsum(gaps[:-1])]
    assert arrival_offsets(6, 5.0, "poisson", 42) == expected


def test_the_endless_schedule_is_numpys_draws_past_one_chunk() -> None:
    import itertools

    import numpy as np

    from bakeoff.load.schedule import SOAK_CHUNK, iter_arrival_offsets

    # poisson: the cumulative sum of numpy's exponential draws at 1/rate, starting at 0, and the same
    # past the first chunk as if drawn in one go (the generator draws SOAK_CHUNK at a time)
    n = SOAK_CHUNK + 5
    gaps = np.random.default_rng(9).exponential(1 / 2.0, size=2 * SOAK_CHUNK)[: n - 1]
    expected = [0] + [int(t * 1_000_000_000) for t in np.cumsum(gaps)]
    assert list(itertools.islice(iter_arrival_offsets(2.0, "poisson", 9), n)) == expected
    # constant at 4 per second: a quarter of a second apart, by hand
    assert list(itertools.islice(iter_arrival_offsets(4.0, "constant", None), 4)) == [
        0, 250_000_000, 500_000_000, 750_000_000,
    ]  # fmt: skip
    # any arrival that is not poisson is evenly spaced, and the seed does not matter to it
    assert list(itertools.islice(iter_arrival_offsets(8.0, "constant", 3), 2)) == [0, 125_000_000]
    # at half a request a second the gaps are 2 s exactly (a scale off by one part in 1e9 shows here)
    assert list(itertools.islice(iter_arrival_offsets(0.5, "constant", None), 3)) == [
        0, 2_000_000_000, 4_000_000_000,
    ]  # fmt: skip


def test_ci95_is_the_2_5th_and_97_5th_percentile() -> None:
    from bakeoff.metrics.stats import ci95

    # 1001 draws 0..1000: positions 0.025 x 1000 = 25 and 0.975 x 1000 = 975 exactly
    assert ci95(float(x) for x in range(1001)) == (25.0, 975.0)
    assert ci95([1, 2]) == pytest.approx((1.025, 1.975), rel=1e-12)  # integers are fine


def test_itl_samples_are_pooled_gap_by_gap() -> None:
    # three events then two: two gaps and one, three ITL samples in all (not one per request)
    a = rec([(100 * MS, None), (110 * MS, None), (130 * MS, None)], 3)
    b = rec([(100 * MS, None), (140 * MS, None)], 2)
    s = summarize_model("m", "openai", "ok", None, [a, b])
    assert s.itl_s.n == 3 and s.itl_s.min == pytest.approx(0.010) and s.itl_s.max == pytest.approx(0.040)
    assert s.itl_s.mean == pytest.approx((0.010 + 0.020 + 0.040) / 3)


def test_itl_when_the_first_event_claims_every_token() -> None:
    from bakeoff.metrics.request import itl_samples
    from bakeoff.records import ContentEvent

    # 2 tokens, the first event says it carried both, the second says nothing: no token is left to
    # spread, so the later event counts as one (the gap itself, 30 ms), never a division by zero
    events = (ContentEvent(100 * MS, 2), ContentEvent(130 * MS, None))
    assert itl_samples(events, 2) == pytest.approx((0.030,))
    # 5 tokens, the first carried 2: 3 left over 2 later events, 1.5 a gap: 30 / 1.5 = 20 ms, 40 / 1.5
    three = (ContentEvent(100 * MS, 2), ContentEvent(130 * MS, None), ContentEvent(190 * MS, None))
    assert itl_samples(three, 5) == pytest.approx((0.020, 0.040))
    # less than a token a later event is still spread: 3 tokens, first 2, so 0.5 a gap: 2 and 4 ms
    assert itl_samples((ContentEvent(0, 2), ContentEvent(MS, None), ContentEvent(3 * MS, None)), 3) == (
        pytest.approx((0.002, 0.004))
    )
    # no count on the first: n_out / events for it, the rest spread (4 tokens, 2 events: 2 and 2)
    assert itl_samples((ContentEvent(0, None), ContentEvent(10 * MS, None)), 4) == pytest.approx((0.005,))


def test_warm_cache_note_by_hand() -> None:
    from bakeoff.analysis.summarize import warm_cache_note

    def r(prompt: str, ttft_ms: float, **kw: object) -> RequestRecord:
        t = int(ttft_ms * MS)
        return rec([(t, None), (t + MS, None)], 2, prompt_id=prompt, **kw)

    # first sendings: a's warm-up (200 ms) and b (220 ms), median 210; repeats of a: 99 and 100.8, median 99.9
    sent = [r("a", 200, warmup=True, round=0), r("a", 99), r("b", 220), r("a", 100.8, round=2)]
    assert warm_cache_note("m", sent, "unique-prefix") == (
        "m: median TTFT of repeated prompts (99.9 ms) is under half of their first sending's (210.0 ms); a "
        "prompt cache may be answering them (an engine's reuse_prompt_cache option, or a server cache that "
        "the per-request tag does not defeat); read the first sendings as the cold figure."
    )
    assert (warm_cache_note("m", sent, "reuse") or "").endswith(
        "; expected with --reuse-prompt-cache: the repeats' figures include the cache."
    )
    firsts = [r("a", 200), r("b", 220)]
    assert (
        warm_cache_note("m", [*firsts, r("a", 105), r("b", 105)], "unique-prefix") is None
    )  # exactly half: not flagged
    assert warm_cache_note("m", [*firsts, r("a", 104.9), r("b", 104.9)], "unique-prefix") is not None
    assert (
        warm_cache_note("m", [*firsts, r("a", 20)], "unique-prefix") is None
    )  # one repeat is too few to tell
    assert (
        warm_cache_note("m", [r("a", 200), r("a", 20), r("a", 20)], "unique-prefix") is None
    )  # one first sending: too few
    assert (
        warm_cache_note("m", [*firsts, r("a", 20, stream=False), r("b", 20, stream=False)], "unique-prefix")
        is None
    )
    assert (
        warm_cache_note("m", [*firsts, r("a", 20, status="error", error="x"), r("b", 20)], "unique-prefix")
        is None
    )
    # a failed first try does not end the scan
    failed_first = [r("a", 200, status="error", error="x"), r("a", 200), r("b", 220), r("a", 20), r("b", 20)]
    assert warm_cache_note("m", failed_first, "unique-prefix") is not None
