"""Load profiles against a fake server of known capacity (issue 12): two requests served at once,
95 ms each (2 / 0.095 = 21.05 requests per second). Sweeps find saturation and capacity, fixed levels
hold their rates, --max-seconds bounds the run, and the CLI reports stages and capacity."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from bakeoff.records import CUT_OFF, NOT_SENT, OUT_OF_TIME
from bakeoff.results.schema import Summary
from bakeoff.testing import FakePlan, FakeServer
from tests.conftest import bench, read_records
from tests.test_cli import run as cli

S = 1_000_000_000


# ---------------------------------------------------------------------------------------------
# against a fake server of known capacity

SERVICE_S = 0.050 + 9 * 0.005  # TTFT 50 ms, then 9 more tokens 5 ms apart
SLOTS = 2
SATURATION = SLOTS / SERVICE_S  # 21.05 requests per second
PLAN = FakePlan(ttft_ms=50, itl_ms=5, tokens=10, max_concurrent=SLOTS)


@pytest.fixture(scope="module")
def limited() -> Iterator[FakeServer]:
    with FakeServer(PLAN, {"m": PLAN}) as srv:
        yield srv


def test_a_sweep_finds_saturation_and_capacity(limited: FakeServer, tmp_path: Path) -> None:
    # latency is the service time up to saturation and grows without bound past it (a D/D/2 queue),
    # so a latency limit of 3 service times is crossed at the saturation rate
    summary = bench(limited.base_url, ["m"], tmp_path / "r", profile="sweep=6", stage_seconds=2.0,
                    slo="latency_p95<=300ms")  # fmt: skip
    load = summary.models[0].load
    assert load is not None
    labels = [s.label for s in load.stages]
    assert labels[:2] == ["sync", "throughput c=32"] and len(labels) == 6
    sync, thr, *rates = load.stages
    assert sync.achieved_rate_per_s == pytest.approx(1 / SERVICE_S, rel=0.1)
    assert thr.achieved_rate_per_s == pytest.approx(SATURATION, rel=0.1)
    assert load.saturation_per_s == pytest.approx(SATURATION, rel=0.1)
    # the rate stages are spaced evenly above the synchronous rate, the last at the throughput rate
    offered = [s.offered_rate_per_s for s in rates]
    step = (thr.achieved_rate_per_s - sync.achieved_rate_per_s) / 4  # type: ignore[operator]
    # (as the stage labels keep them: 6 significant digits)
    assert offered == pytest.approx([sync.achieved_rate_per_s + step * (i + 1) for i in range(4)], rel=1e-5)
    for s in rates[:-1]:  # below saturation the server keeps up with the schedule
        assert s.achieved_rate_per_s == pytest.approx(s.offered_rate_per_s, rel=0.1)
        assert s.slo is not None and s.slo.met
    assert thr.slo is not None and not thr.slo.met  # 32 in flight on 2 slots: 15 service times
    assert load.capacity is not None
    assert load.capacity.per_s == pytest.approx(SATURATION, rel=0.1)
    recs = read_records(tmp_path / "r")
    assert {r["stage"] for r in recs if not r["warmup"]} == set(labels)
    assert sum(r["warmup"] and r["stage"] == "throughput c=32" for r in recs) == 32


def test_fixed_rates_and_concurrency_levels(limited: FakeServer, tmp_path: Path) -> None:
    # 20 requests a stage: one answer 100 ms late on a busy machine moves the rate by 5%, not 10%
    s = bench(limited.base_url, ["m"], tmp_path / "r", profile="rates=5,10", stage_requests=20)
    load = s.models[0].load
    assert load is not None and [x.label for x in load.stages] == ["rate=5/s", "rate=10/s"]
    for x, want in zip(load.stages, (5.0, 10.0), strict=True):
        assert x.requests.ok == 20 and x.offered_rate_per_s == want
        assert x.achieved_rate_per_s == pytest.approx(want, rel=0.1)
    s = bench(limited.base_url, ["m"], tmp_path / "c", profile="concurrency=1,4", stage_requests=8, warmup=2)
    load = s.models[0].load
    assert load is not None
    recs = read_records(tmp_path / "c")
    for label, width in (("c=1", 1), ("c=4", 4)):
        mine = [r for r in recs if r["stage"] == label]
        assert sum(not r["warmup"] for r in mine) == 8
        assert sum(bool(r["warmup"]) for r in mine) == 2 * width  # --warmup requests per stream
    c1, c4 = load.stages
    assert c1.achieved_rate_per_s == pytest.approx(1 / SERVICE_S, rel=0.1)
    assert c4.achieved_rate_per_s == pytest.approx(SATURATION, rel=0.1)  # 4 in flight, 2 served


def test_max_seconds_bounds_the_whole_sweep(limited: FakeServer, tmp_path: Path) -> None:
    # stages of 30 s would take minutes; --max-seconds 5 shares 5 s between the stages
    s = bench(limited.base_url, ["m"], tmp_path / "r", profile="sweep", stage_seconds=30.0, max_seconds=5.0)
    recs = read_records(tmp_path / "r")
    span = (max(r["t_end_ns"] for r in recs) - min(r["t_scheduled_ns"] for r in recs)) / S
    assert span <= 5.0 + 0.25
    assert s.run.wall_s is not None and s.run.wall_s <= 5.0 + 2.0
    stages = s.models[0].load.stages  # type: ignore[union-attr]
    cut = any(r["error_kind"] == OUT_OF_TIME for r in recs) or len(stages) < 10
    assert s.models[0].status == "ok" and s.models[0].error == ("stopped at --max-seconds" if cut else None)
    # a budget every stage fits in is not "stopped"
    done = bench(
        limited.base_url, ["m"], tmp_path / "fits", profile="rates=5,10", stage_requests=5, max_seconds=20.0
    )
    assert done.models[0].status == "ok" and done.models[0].error is None
    # whatever was running when the budget ran out is recorded as such, and left out of its stage
    assert {r["error_kind"] for r in recs} <= {None, OUT_OF_TIME, CUT_OFF, NOT_SENT}
    assert sum(x.out_of_time for x in stages) == sum(
        r["error_kind"] == OUT_OF_TIME for r in recs if not r["warmup"]
    )


def test_profile_flags_from_the_cli(tmp_path: Path) -> None:
    r = cli("bench", "--endpoint", "http://127.0.0.1:9/v1", "-m", "x", "--profile", "rates=1,x", "-o",
            str(tmp_path / "a"))  # fmt: skip
    assert r.returncode == 2 and "'x' is not a number" in r.stderr
    r = cli("bench", "--endpoint", "http://127.0.0.1:9/v1", "-m", "x", "--stage-seconds", "3", "-o",
            str(tmp_path / "b"))  # fmt: skip
    assert r.returncode == 2 and "go with --profile" in r.stderr
    r = cli("bench", "--endpoint", "http://127.0.0.1:9/v1", "-m", "x", "--profile", "sweep", "--rate", "2",
            "-o", str(tmp_path / "c"))  # fmt: skip
    assert r.returncode == 2 and "give --rate (rate) or --profile (profile), not both" in r.stderr


def test_the_cli_reports_stages_and_capacity(limited: FakeServer, tmp_path: Path) -> None:
    out = tmp_path / "run"
    slo = "ttft_p95<=200ms,latency_p95<=400ms"
    r = cli("bench", "--endpoint", limited.base_url, "-m", "m", "--prompt", "hi", "--profile", "rates=4,8",
            "--stage-requests", "6", "--slo", slo, "-o", str(out))  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "capacity (ttft_p95<=200ms,latency_p95<=400ms)" in r.stdout and "stages: m" in r.stdout
    summary = Summary.model_validate_json((out / "summary.json").read_text())
    load = summary.models[0].load
    assert load is not None and load.capacity is not None
    assert load.capacity.basis == "at least" and load.capacity.below == "rate=8/s"  # both far below 21/s
    report = (out / "report.md").read_text()
    assert "## Load: rates=4,8" in report and "### Stages: m" in report
    assert "| rate=8/s | 8.00/s |" in report
    assert f"| m | \\>= {load.capacity.per_s:.2f}/s | at least | rate=8/s |" in report
    rows = (out / "report.csv").read_text().splitlines()
    header, row = rows[0].split(","), rows[1].split(",")
    assert float(row[header.index("capacity_per_s")]) == pytest.approx(load.capacity.per_s)
    assert row[header.index("capacity_basis")] == "at least"
    page = (out / "report.html").read_text()
    assert 'aria-label="latency against load: m"' in page and "SLO ttft_p95&lt;=200ms" in page
    assert 'aria-label="goodput against load: m"' in page
    again = cli("report", str(out))
    assert again.returncode == 0 and "stages: m" in again.stdout


def test_an_open_stage_records_what_it_never_sent(tmp_path: Path) -> None:
    # 20/s for 1 s with one slot on a 0.5 s server: sends at 0 and 0.5 s; at 1 s the window closes and
    # the other 18 scheduled requests are recorded as never sent (not dropped), and miss the SLO
    slow = FakePlan(ttft_ms=500, itl_ms=1, tokens=1)
    with FakeServer(slow, {"slow": slow}) as srv:
        s = bench(srv.base_url, ["slow"], tmp_path / "r", profile="rates=20", stage_seconds=1.0,
                  max_concurrency=1, slo="latency_p95<=2s")  # fmt: skip
    recs = [r for r in read_records(tmp_path / "r") if r["stage"] == "rate=20/s"]
    assert len(recs) == 20 and sum(r["warmup"] for r in recs) == 1
    assert [r["status"] for r in recs].count("ok") == 2
    assert sum(r["error_kind"] == NOT_SENT for r in recs) == 18
    row = s.models[0].load.stages[0]  # type: ignore[union-attr]
    assert (row.requests.ok, row.requests.error, row.cut_off, row.error_rate) == (1, 18, 18, 0.0)
    assert row.slo is not None and not row.slo.met and row.slo.good_requests == 1


def test_open_stage_counts_its_warm_up_in_its_schedule(limited: FakeServer, tmp_path: Path) -> None:
    # 10/s for 1 s with --warmup 2: ceil(10 x 1) = 10 scheduled, the first 2 flagged warm-up
    bench(limited.base_url, ["m"], tmp_path / "r", profile="rates=10", stage_seconds=1.0, warmup=2)
    recs = [r for r in read_records(tmp_path / "r") if r["stage"] == "rate=10/s"]
    assert len(recs) == 10 and [r["warmup"] for r in recs].count(True) == 2
    starts = sorted(r["t_scheduled_ns"] for r in recs)
    assert [(b - a) / S for a, b in itertools.pairwise(starts)] == pytest.approx([0.1] * 9, abs=1e-3)


def test_max_seconds_is_shared_equally_between_stages(limited: FakeServer, tmp_path: Path) -> None:
    # three closed-loop stages bounded only by --max-seconds 6: each gets a third of what is left
    bench(limited.base_url, ["m"], tmp_path / "r", profile="concurrency=1,2,3", stage_requests=10_000,
          max_seconds=6.0)  # fmt: skip
    recs = read_records(tmp_path / "r")
    first = {
        label: min(r["t_scheduled_ns"] for r in recs if r["stage"] == label)
        for label in ("c=1", "c=2", "c=3")
    }
    t0 = first["c=1"]
    assert (first["c=2"] - t0) / S == pytest.approx(2.0, abs=0.3)
    assert (first["c=3"] - t0) / S == pytest.approx(4.0, abs=0.4)


def test_concurrency_levels_run_as_asked_and_max_concurrency_caps_a_rate(
    limited: FakeServer, tmp_path: Path
) -> None:
    bench(limited.base_url, ["m"], tmp_path / "c", profile="concurrency=40", stage_requests=1, warmup=1)
    recs = [r for r in read_records(tmp_path / "c") if r["stage"] == "c=40"]
    assert sum(r["warmup"] for r in recs) == 40  # one warm-up per stream, all 40 in flight at once
    assert max(r["t0_ns"] for r in recs if r["warmup"]) < min(r["t_end_ns"] for r in recs)
    bench(limited.base_url, ["m"], tmp_path / "r", rate=50.0, max_concurrency=2, rounds=5)
    recs = [r for r in read_records(tmp_path / "r") if not r["warmup"]]
    events = sorted([(r["t0_ns"], 1) for r in recs] + [(r["t_end_ns"], -1) for r in recs])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    assert peak == 2  # 50/s asked of a 21/s server: the two slots stay full, never a third request
    assert max(r["metrics"]["queue_delay_s"] for r in recs) > 0.1  # the wait for a slot shows


def test_a_stage_of_failures_stops_the_model_and_max_concurrency_alone_is_refused(tmp_path: Path) -> None:
    bad = FakePlan(fault="http_500", ttft_ms=1)
    with FakeServer(bad, {"bad": bad}) as srv:
        s = bench(srv.base_url, ["bad"], tmp_path / "r", profile="rates=50,60", stage_requests=20)
    m = s.models[0]
    assert m.status == "error" and m.error is not None
    assert (
        m.error.startswith("stopped after 5 consecutive failed requests") and "(stage rate=50/s)" in m.error
    )
    assert {r["stage"] for r in read_records(tmp_path / "r") if r["stage"]} == {"rate=50/s"}  # 60/s never ran
    r = cli("bench", "--endpoint", "http://127.0.0.1:9/v1", "-m", "x", "--max-concurrency", "4", "-o",
            str(tmp_path / "x"))  # fmt: skip
    assert r.returncode == 2 and "(max_concurrency) goes with --rate or --profile" in r.stderr
