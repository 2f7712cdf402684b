"""The metrics table itself: entries are validated, registration is guarded, and one request's
``metrics`` line holds every request metric (fast unit tests; the end-to-end test of a new metric
is tests/test_metric_table.py)."""

from __future__ import annotations

import pytest

from bakeoff.metrics import definitions as d
from bakeoff.metrics.request import RequestMetrics


def _m(name: str, kind: str = "request") -> d.Metric:
    if kind == "request":
        return d.Metric(name, name, "s", False, "request", per_request=lambda m: m.latency_s)
    return d.Metric(name, name, "tok/s", True, "window", over_window=lambda rs: float(len(rs)))


def test_a_metric_needs_exactly_the_function_of_its_kind() -> None:
    _m("a")
    _m("b", "window")
    msg = r"^metric bad: a (request|window) metric needs exactly its own function$"
    with pytest.raises(ValueError, match=msg):
        d.Metric("bad", "x", "s", False, "request")  # no function
    with pytest.raises(ValueError, match=msg):
        d.Metric("bad", "x", "s", False, "request", per_request=lambda m: None, over_window=lambda r: None)
    with pytest.raises(ValueError, match=msg):
        d.Metric("bad", "x", "s", False, "window", per_request=lambda m: None)
    with pytest.raises(ValueError, match=msg):
        d.Metric("bad", "x", "s", False, "window")


def test_the_built_in_table() -> None:
    names = [m.name for m in d.all_metrics()]
    assert names[:2] == ["latency_s", "ttft_s"] and "aggregate_output_tokens_per_s" in names
    assert [m.name for m in d.window_metrics_defs()] == [
        "aggregate_output_tokens_per_s",
        "request_throughput_per_s",
        "completion_rate_per_s",
    ]
    assert len(d.request_metrics_defs()) == len(names) - 3
    assert (
        d.get("request_throughput_per_s").unit == "req/s"
        and d.get("request_throughput_per_s").higher_is_better
    )
    assert d.get("decode_tokens_per_s").higher_is_better and not d.get("ttft_s").higher_is_better


def test_register_and_unregister() -> None:
    extra = _m("extra_s")
    d.register(extra)
    try:
        assert d.get("extra_s") is extra and d.all_metrics()[-1] is extra
        with pytest.raises(ValueError, match=r"^a metric named 'extra_s' is already registered$"):
            d.register(_m("extra_s"))
    finally:
        d.unregister("extra_s")
    assert "extra_s" not in [m.name for m in d.all_metrics()]
    d.unregister("never-registered")  # nothing to remove is not an error
    with pytest.raises(ValueError, match=r"^'ttft_s' is built in$"):
        d.unregister("ttft_s")
    assert d.get("ttft_s").name == "ttft_s"


def test_registered_cleans_up_even_on_error() -> None:
    with pytest.raises(RuntimeError), d.registered(_m("tmp_s")):
        assert d.get("tmp_s").name == "tmp_s"
        raise RuntimeError("boom")
    assert "tmp_s" not in [m.name for m in d.all_metrics()]


def test_one_requests_metrics_line() -> None:
    rm = RequestMetrics(0.1, 1.0, 0.02, 50.0, 40.0, (0.01, 0.03), 1.5, 0.6, 0.5, 2000.0, 0.3, 0.2, 45.0)
    line = d.per_request_values(rm)
    assert line == {
        "latency_s": 1.0,
        "ttft_s": 0.1,
        "tpot_s": 0.02,
        "itl_s": [0.01, 0.03],
        "decode_tokens_per_s": 50.0,
        "output_tokens_per_s": 40.0,
        "latency_from_scheduled_s": 1.5,
        "ttft_from_scheduled_s": 0.6,
        "queue_delay_s": 0.5,
        "prefill_tokens_per_s": 2000.0,
        "ttfo_s": 0.3,
        "reasoning_s": 0.2,
        "answer_decode_tokens_per_s": 45.0,
    }
    with d.registered(_m("w", "window")):
        assert "w" not in d.per_request_values(rm)  # window metrics have no per-request value
