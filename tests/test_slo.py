"""--slo (issue 12, first part): parsing with errors that name the part, the SLO met or missed and
goodput worked by hand, and a bench against the fake server whose timing is known."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bakeoff.errors import UsageError
from bakeoff.records import ContentEvent, RequestRecord
from bakeoff.slo import SloTerm, evaluate, parse_slo, request_value
from bakeoff.summarize import summarize_model
from tests.test_cli import run as cli

MS = 1_000_000
S = 1_000_000_000


def test_parse_by_hand() -> None:
    got = parse_slo("ttft_p95<=2s, itl_p50<=50ms,latency_mean<=1.5s")
    assert got == (
        SloTerm("ttft_p95<=2s", "ttft_s", "p95", 2.0),
        SloTerm("itl_p50<=50ms", "itl_s", "p50", 0.05),
        SloTerm("latency_mean<=1.5s", "latency_s", "mean", 1.5),
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("ttft_p95<2s", "term 'ttft_p95<2s' is not METRIC_STAT<=LIMIT"),
        ("ttft_p95<=2", "term 'ttft_p95<=2' is not METRIC_STAT<=LIMIT"),
        ("ttfb_p95<=2s", "unknown metric 'ttfb'"),
        ("ttft_p42<=2s", "unknown statistic 'p42'"),
        ("ttft_p95<=2s,,latency_p95<=3s", "has an empty term"),
        ("ttft_p95<=2s,ttft_p95<=1s", "names ttft_p95 twice"),
    ],
)
def test_a_malformed_slo_names_the_part(text: str, says: str) -> None:
    with pytest.raises(UsageError, match=says.replace("(", r"\(")):
        parse_slo(text)


def rec(i: int, ttft_ms: int, gaps_ms: list[int], *, sched_ms: int, ok: bool = True) -> RequestRecord:
    """A request sent when scheduled, first token after ``ttft_ms``, then one token per gap."""
    offsets = [ttft_ms * MS]
    for g in gaps_ms:
        offsets.append(offsets[-1] + g * MS)
    t0 = sched_ms * MS
    return RequestRecord(
        model="m",
        backend="openai",
        prompt_id=f"p{i}",
        round=1,
        warmup=False,
        stream=True,
        status="ok" if ok else "error",
        t_scheduled_ns=t0,
        t0_ns=t0,
        t_end_ns=t0 + offsets[-1],
        events=tuple(ContentEvent(o, 1) for o in offsets) if ok else (),
        prompt_tokens=10,
        completion_tokens=len(offsets) if ok else None,
        token_source="usage",
    )


def test_met_missed_and_goodput_by_hand() -> None:
    # four requests, one a second from t=0; the last ends at 3 s + 0.5 s: window 3.5 s
    recs = [
        rec(1, 100, [20, 20], sched_ms=0),  # TTFT 0.1, latency 0.14, gaps 20 ms: good
        rec(2, 300, [20, 20], sched_ms=1000),  # TTFT 0.3 > 0.25: not good
        rec(3, 100, [60, 60], sched_ms=2000),  # its median gap 60 ms > 50 ms: not good
        rec(4, 100, [10, 390], sched_ms=3000),  # gaps 10 and 390: median 200 ms > 50 ms: not good
    ]
    row = summarize_model("m", "openai", "ok", None, recs)
    terms = parse_slo("ttft_p50<=250ms,itl_p50<=50ms")
    assert request_value(terms[1], recs[3]) == pytest.approx(0.2)
    res = evaluate(terms, recs, row)
    # TTFTs 0.1, 0.3, 0.1, 0.1: p50 0.1 <= 0.25, met. Gaps over all requests: 20, 20, 20, 20, 60, 60,
    # 10, 390 -> sorted 10, 20, 20, 20, 20, 60, 60, 390: p50 = (20 + 20) / 2 = 20 ms <= 50 ms, met
    assert [t.met for t in res.terms] == [True, True] and res.met
    assert res.terms[0].value == pytest.approx(0.1) and res.terms[1].value == pytest.approx(0.02)
    assert res.good_requests == 1 and res.requests == 4
    assert res.goodput_per_s == pytest.approx(1 / 3.5)
    # a p95 bound on TTFT: p95 of 0.1, 0.1, 0.1, 0.3 = 0.1 + 0.85 x 0.2 = 0.27 > 0.25: missed
    res = evaluate(parse_slo("ttft_p95<=250ms"), recs, row)
    assert not res.met and res.terms[0].value == pytest.approx(0.27) and res.good_requests == 3
    # a failed request is never good and counts in the requests
    failed = [*recs, rec(5, 100, [20], sched_ms=3500, ok=False)]
    res = evaluate(parse_slo("latency_p95<=10s"), failed, summarize_model("m", "openai", "ok", None, failed))
    assert res.good_requests == 4 and res.requests == 5


def test_bench_with_an_slo_against_the_fake_server(fake, tmp_path: Path) -> None:
    """The fake's "good" model: TTFT 200 ms, then 63 tokens 20 ms apart: latency about 1.46 s."""
    out = tmp_path / "run"
    slo = "ttft_p95<=1s,latency_p95<=0.5s"
    r = cli(
        "bench", "--endpoint", fake.base_url, "-m", "good", "-r", "3", "--warmup", "0", "--max-tokens", "64",
        "--prompt", "hi", "--slo", slo, "-o", str(out),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    d = json.loads((out / "summary.json").read_text())
    s = d["models"][0]["slo"]
    assert d["run"]["settings"]["slo"] == slo
    assert [t["met"] for t in s["terms"]] == [True, False] and s["met"] is False
    assert s["good_requests"] == 0 and s["requests"] == 3 and s["goodput_per_s"] == 0.0
    assert "missed" in r.stdout and "Goodput" in r.stdout
    md = (out / "report.md").read_text()
    assert "## Service-level objective: ttft_p95\\<=1s,latency_p95\\<=0.5s" in md
    assert "| good |" in md and "0/3" in md
    r = cli(
        "bench", "--endpoint", fake.base_url, "-m", "good", "--slo", "ttft_p95<2s", "-o", str(tmp_path / "x")
    )
    assert r.returncode == 2 and "'ttft_p95<2s' is not METRIC_STAT<=LIMIT" in r.stderr
    assert not (tmp_path / "x").exists()  # refused before anything ran
