"""--slo (issue 12, first part): parsing with errors that name the part, the SLO met or missed and
goodput worked by hand, and a bench against the fake server whose timing is known."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from bakeoff.analysis.slo import SloTerm, evaluate, parse_slo, request_value
from bakeoff.errors import UsageError
from bakeoff.records import ContentEvent, RequestRecord
from tests.test_cli import run as cli

MS = 1_000_000
S = 1_000_000_000


def test_parse_by_hand() -> None:
    got = parse_slo("ttft_p95<=2s, itl_p50<=50ms,latency_mean<=1.5s,TPOT_P99 <= .5S")
    assert got == (
        SloTerm("ttft_p95<=2s", "ttft_s", "p95", 2.0),
        SloTerm("itl_p50<=50ms", "itl_s", "p50", 0.05),
        SloTerm("latency_mean<=1.5s", "latency_s", "mean", 1.5),
        SloTerm("tpot_p99<=.5S", "tpot_s", "p99", 0.5),
    )


def test_first_token_terms_need_streaming() -> None:
    from bakeoff.analysis.slo import check_streaming

    check_streaming(parse_slo("latency_p95<=2s"), stream=False)
    check_streaming(parse_slo("ttft_p95<=2s"), stream=True)
    with pytest.raises(UsageError, match=r"--slo ttft_p95<=2s, itl_p50<=9ms needs streaming"):
        check_streaming(parse_slo("ttft_p95<=2s,latency_p95<=3s,itl_p50<=9ms"), stream=False)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("ttft_p95<2s", "term 'ttft_p95<2s' has no '<=' (a limit is an upper bound)"),
        ("ttft_p95>=2s", "term 'ttft_p95>=2s' has no '<='"),
        ("ttft_p95<=2", "limit '2' is not a number in s or ms"),
        ("ttft_p95<=2sec", "limit '2sec' is not a number in s or ms"),
        ("ttft_p95<=1e3ms", "limit '1e3ms' is not a number in s or ms"),
        ("ttft_p95<=-1s", "limit '-1s' is not a number in s or ms"),
        ("ttft_p95<=0ms", "a limit of 0 can never be met"),
        ("ttfb_p95<=2s", "unknown metric 'ttfb'"),
        ("ttft<=2s", "unknown metric 'ttft'"),
        ("ttft_p42<=2s", "unknown statistic 'p42'"),
        ("ttft_max<=2s", "unknown statistic 'max'"),
        ("ttft_p95<=2s,,latency_p95<=3s", "has an empty term"),
        ("ttft_p95<=2s,ttft_p95 <= 1s", "names ttft_p95 twice"),
    ],
)
def test_a_malformed_slo_names_the_part(text: str, says: str) -> None:
    with pytest.raises(UsageError, match=re.escape(says)):
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
    terms = parse_slo("ttft_p50<=250ms,itl_p50<=50ms")
    assert request_value(terms[1], recs[3]) == pytest.approx(0.2)
    res = evaluate(terms, recs)
    # TTFTs 0.1, 0.3, 0.1, 0.1: p50 0.1 <= 0.25, met. Gaps over all requests: 20, 20, 20, 20, 60, 60,
    # 10, 390 -> sorted 10, 20, 20, 20, 20, 60, 60, 390: p50 = (20 + 20) / 2 = 20 ms <= 50 ms, met
    assert [t.met for t in res.terms] == [True, True] and res.met
    assert res.terms[0].value == pytest.approx(0.1) and res.terms[1].value == pytest.approx(0.02)
    assert res.good_requests == 1 and res.requests == 4
    assert res.goodput_per_s == pytest.approx(1 / 3.5)
    # a p95 bound on TTFT: p95 of 0.1, 0.1, 0.1, 0.3 = 0.1 + 0.85 x 0.2 = 0.27 > 0.25: missed
    res = evaluate(parse_slo("ttft_p95<=250ms"), recs)
    assert not res.met and res.terms[0].value == pytest.approx(0.27) and res.good_requests == 3
    # a failed request is never good, counts in the requests, and misses every limit: latencies 0.14,
    # 0.34, 0.22, 0.5 and a failure: p50 is 0.34 (met); p95 falls on the failure (missed, no value)
    failed = [*recs, rec(5, 100, [20], sched_ms=3500, ok=False)]
    res = evaluate(parse_slo("latency_p50<=10s,latency_p95<=10s"), failed)
    assert res.terms[0].value == pytest.approx(0.34) and res.terms[0].met
    assert res.terms[1].value is None and not res.terms[1].met and not res.met
    assert res.good_requests == 4 and res.requests == 5
    assert res.goodput_per_s == pytest.approx(4 / 3.62)  # the failure (sent at 3.5 s) ended at 3.62 s
    # one failure in nine: the p50 stays real; mostly failures: met no more
    mostly_failed = [recs[0]] + [rec(i, 100, [20], sched_ms=100 * i, ok=False) for i in range(6, 15)]
    res = evaluate(parse_slo("latency_p95<=1s"), mostly_failed)
    assert not res.met and res.good_requests == 1 and res.requests == 10


def test_one_token_answers_and_warm_up() -> None:
    # a one-token answer has no gaps and no TPOT: nothing in it was slow (vLLM counts TPOT 0)
    short = [rec(i, 100, [], sched_ms=1000 * i) for i in range(4)]
    res = evaluate(parse_slo("tpot_p95<=50ms,itl_p50<=50ms"), short)
    assert res.good_requests == 4
    # the same definition in the verdict: TPOT 0 and ITL 0 each, so met (it once said missed, n/a)
    assert res.met and [(t.value, t.met) for t in res.terms] == [(0.0, True), (0.0, True)]
    res = evaluate(parse_slo("itl_p50<=1ms,tpot_p50<=1ms"), short)
    assert res.met and res.good_requests == 4
    # mixed: gaps 20, 20 ms and a one-token answer's 0: ITL mean 40/3 ms, p50 20 ms; TPOT 20 ms and 0
    mixed = [rec(1, 100, [20, 20], sched_ms=0), rec(2, 100, [], sched_ms=1000)]
    res = evaluate(parse_slo("itl_mean<=50ms,itl_p50<=50ms,tpot_mean<=50ms"), mixed)
    assert [t.value for t in res.terms] == [pytest.approx(0.04 / 3), pytest.approx(0.02), pytest.approx(0.01)]
    # non-streamed answers have no first token: no ITL, no value, not met
    flat = [replace(r, stream=False, events=()) for r in short]
    res = evaluate(parse_slo("itl_p50<=1s"), flat)
    assert res.terms[0].value is None and not res.met and res.good_requests == 0
    # a warm-up request is not measured: neither in the statistic nor in goodput
    warm = replace(rec(9, 5000, [20], sched_ms=0), warmup=True)
    res = evaluate(parse_slo("ttft_p95<=1s"), [warm, *short])
    assert res.met and res.requests == 4 and res.good_requests == 4


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
    assert re.search(
        r"\| good \| [\d.]+ ms \(met\) \| [\d.]+ s \(\*\*missed\*\*\) \| \*\*missed\*\* \| 0\.00/s \| 0/3 \|",
        md,
    )
    r = cli(
        "bench", "--endpoint", fake.base_url, "-m", "good", "--slo", "ttft_p95<2s", "-o", str(tmp_path / "x")
    )
    assert r.returncode == 2 and "'ttft_p95<2s' has no '<='" in r.stderr
    assert not (tmp_path / "x").exists()  # refused before anything ran


def test_a_library_caller_gets_the_same_checks_before_anything_runs(tmp_path: Path) -> None:
    from bakeoff.config.settings import BenchSettings, PromptCase
    from bakeoff.run.bench import run_bench

    out = tmp_path / "run"
    with pytest.raises(UsageError, match="unknown metric 'ttfb'"):
        run_bench(BenchSettings(models=["m"], slo="ttfb_p95<=1s"), [PromptCase(id="p", prompt="hi")], [], out)
    with pytest.raises(UsageError, match="needs streaming"):
        settings = BenchSettings(models=["m"], slo="ttft_p95<=1s", stream=False)
        run_bench(settings, [PromptCase(id="p", prompt="hi")], [], out)
    assert not out.exists()


def test_every_parse_error_says_what_to_write() -> None:
    hints = {
        "ttft_p95<=2s,,x": 'e.g. --slo "ttft_p95<=2s,itl_p50<=50ms,latency_p95<=10s"',
        "ttft_p95>=2s": 'e.g. --slo "ttft_p95<=2s,itl_p50<=50ms,latency_p95<=10s"',
        "ttfb_p95<=2s": "use ttft, itl, tpot, latency",
        "ttft_p42<=2s": "use p50, p90, p95, p99, mean",
        "ttft_p95<=2x": 'e.g. --slo "ttft_p95<=2s,itl_p50<=50ms,latency_p95<=10s"',
        "ttft_p95<=1s,ttft_p95<=2s": "give each metric and statistic once",
    }
    for text, hint in hints.items():
        with pytest.raises(UsageError) as e:
            parse_slo(text)
        assert e.value.hint == hint, text
    # the limit is what follows the first "<=": a second one is not a number
    with pytest.raises(UsageError, match=re.escape("limit '2s<=3s' is not a number in s or ms")):
        parse_slo("ttft_p95<=2s<=3s")
    from bakeoff.analysis.slo import check_streaming

    with pytest.raises(UsageError) as e:
        check_streaming(parse_slo("ttft_p95<=2s"), stream=False)
    assert e.value.hint == "drop --no-stream, or use latency terms only"


def test_statistics_windows_and_edges_by_hand() -> None:
    # latencies 0.14, 0.34, 0.22 (requests from t = 10 s): mean 0.7 / 3
    recs = [rec(1, 100, [20, 20], sched_ms=10_000), rec(2, 300, [20, 20], sched_ms=10_100),
            rec(3, 100, [60, 60], sched_ms=10_200)]  # fmt: skip
    res = evaluate(parse_slo("latency_mean<=1s"), recs)
    assert res.terms[0].value == pytest.approx(0.7 / 3) and res.met
    # window from the first scheduled send (10.0 s) to the last end (request 2: 10.1 + 0.34 = 10.44 s)
    assert res.goodput_per_s == pytest.approx(3 / 0.44)
    # a limit exactly at the value is met, by the statistic and by the request
    at = SloTerm("ttft_p50", "ttft_s", "p50", request_value(SloTerm("", "ttft_s", "p50", 1), recs[0]) or 0)
    res = evaluate([at], recs[:1])
    assert res.met and res.good_requests == 1
    # a failure first does not hide the requests after it
    first_failed = [rec(0, 100, [20], sched_ms=9_900, ok=False), *recs]
    res = evaluate(parse_slo("latency_p50<=1s"), first_failed)
    # sorted 0.14, 0.22, 0.34, failed: the p50 is (0.22 + 0.34) / 2
    assert res.good_requests == 3 and res.terms[0].value == pytest.approx(0.28)
    # nine good and one failed: the p95 interpolates between the last real value and the failure: no
    # time to show, not met
    ten = [rec(i, 100, [20], sched_ms=100 * i) for i in range(9)] + [
        rec(9, 100, [20], sched_ms=900, ok=False)
    ]
    res = evaluate(parse_slo("latency_p95<=10s"), ten)
    assert res.terms[0].value is None and not res.met and res.good_requests == 9
    # only warm-up: nothing measured, no goodput; a zero-length window: no rate either
    from dataclasses import replace

    res = evaluate(parse_slo("latency_p95<=1s"), [replace(recs[0], warmup=True)])
    assert res.requests == 0 and res.goodput_per_s is None and res.terms[0].value is None
    instant = replace(rec(1, 100, [20], sched_ms=0, ok=False), t_end_ns=0)
    assert evaluate(parse_slo("latency_p95<=1s"), [instant]).goodput_per_s is None
    # a window under a second still gives a rate
    assert evaluate(parse_slo("latency_p95<=1s"), recs[:1]).goodput_per_s == pytest.approx(1 / 0.14)


def test_one_token_rules_apply_only_where_they_should() -> None:
    one = rec(1, 300, [], sched_ms=0)  # a one-token answer whose first token took 300 ms
    assert evaluate(parse_slo("ttft_p50<=250ms"), [one]).good_requests == 0  # TTFT is still TTFT
    assert evaluate(parse_slo("tpot_p50<=1ms"), [one]).good_requests == 1  # no TPOT: 0
    from dataclasses import replace

    no_stream = replace(rec(1, 100, [20], sched_ms=0), stream=False)
    assert evaluate(parse_slo("itl_p50<=1s"), [no_stream]).good_requests == 0  # no stream: no ITL at all
