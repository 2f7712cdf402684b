"""Load profiles, stages and capacity (issue 12): parsing with errors that name the part, the sweep's
rates, the completion rate and capacity worked by hand, and sweeps against a fake server of known
capacity (two requests served at once, 95 ms each: 2 / 0.095 = 21.05 requests per second)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bakeoff.capacity import capacity, summarize_load, summarize_stage
from bakeoff.errors import UsageError
from bakeoff.load.profile import Profile, Stage, parse_profile, sweep_rates
from bakeoff.load.runner import CUT_OFF
from bakeoff.metrics.definitions import completion_rate
from bakeoff.metrics.stats import stats
from bakeoff.recommend import Constraints, recommend
from bakeoff.records import ContentEvent, RequestRecord
from bakeoff.results import (
    Capacity,
    LoadSummary,
    ModelSummary,
    RunInfo,
    SloResult,
    SloTermResult,
    StageSummary,
    Summary,
)
from bakeoff.slo import parse_slo
from bakeoff.testing import FakePlan, FakeServer
from tests.conftest import bench, read_records
from tests.test_cli import run as cli

MS = 1_000_000
S = 1_000_000_000


# ---------------------------------------------------------------------------------------------
# parsing


def test_profiles_parse_by_hand() -> None:
    assert parse_profile("sweep") == Profile("sweep", (), 10)
    assert parse_profile(" Sweep = 6 ") == Profile("sweep", (), 6)
    assert parse_profile("rates=1, 2.5,4") == Profile("rates", (1.0, 2.5, 4.0))
    assert parse_profile("concurrency=1,4,16") == Profile("concurrency", (1.0, 4.0, 16.0))
    assert parse_profile("rates=0.5").fixed_stages() == [Stage("open", rate=0.5)]
    assert parse_profile("concurrency=2,8").fixed_stages() == [Stage("closed", 2), Stage("closed", 8)]
    assert parse_profile("sweep").fixed_stages() == [Stage("closed", 1, role="sync")]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("sweep=2", "at least 3 stages"),
        ("sweep=x", "'x': the stage count is not a whole number"),
        ("ramp=1,2", "unknown profile 'ramp'"),
        ("rates", "rates needs its levels"),
        ("rates=", "rates needs its levels"),
        ("rates=1,x", "'x' is not a number"),
        ("rates=1,-2", "'-2' must be above 0"),
        ("rates=1,inf", "'inf' must be above 0"),
        ("concurrency=1,2.5", "'2.5' is not a whole number"),
        ("concurrency=0", "'0' must be above 0"),
        ("concurrency=4,4", "a level is given twice"),
    ],
)
def test_a_malformed_profile_names_the_part(text: str, says: str) -> None:
    with pytest.raises(UsageError, match=re.escape(says)):
        parse_profile(text)


@pytest.mark.parametrize(
    "stage",
    [Stage("closed", 1, role="sync"), Stage("closed", 32, role="throughput"), Stage("closed", 4),
     Stage("open", rate=2.5), Stage("open", rate=12.34)],
)  # fmt: skip
def test_a_stage_label_reads_back_as_the_stage(stage: Stage) -> None:
    assert Stage.from_label(stage.label) == stage


def test_labels_by_hand() -> None:
    assert [s.label for s in (Stage("closed", 1, role="sync"), Stage("closed", 32, role="throughput"))] == [
        "sync",
        "throughput c=32",
    ]
    assert Stage("closed", 4).label == "c=4"
    assert Stage("open", rate=2.5).label == "rate=2.5/s"
    with pytest.raises(ValueError, match="not a stage label"):
        Stage.from_label("warm")


def test_sweep_rates_by_hand() -> None:
    # 4 rates from 10 to 20: steps of (20 - 10) / 4 = 2.5, the last at the throughput rate
    assert sweep_rates(10.0, 20.0, 4) == [12.5, 15.0, 17.5, 20.0]
    assert sweep_rates(1.0, 2.0, 1) == [2.0]
    assert sweep_rates(10.0, 10.0, 3) == []  # the throughput stage was no faster: nothing between
    assert sweep_rates(10.0, 9.0, 3) == []
    assert sweep_rates(1.0, 2.0, 0) == []


# ---------------------------------------------------------------------------------------------
# completion rate, stage summaries and capacity, by hand


def rec(end_ms: int, *, start_ms: int = 0, ok: bool = True, warmup: bool = False, kind: str | None = None,
        stage: str | None = "c=2", ttft_ms: int = 10) -> RequestRecord:  # fmt: skip
    return RequestRecord(
        model="m",
        backend="openai",
        prompt_id="p",
        round=1,
        warmup=warmup,
        stream=True,
        status="ok" if ok else "error",
        t_scheduled_ns=start_ms * MS,
        t0_ns=start_ms * MS,
        t_end_ns=end_ms * MS,
        events=(ContentEvent(ttft_ms * MS, 1), ContentEvent((end_ms - start_ms) * MS, 1)) if ok else (),
        prompt_tokens=4,
        completion_tokens=2 if ok else None,
        token_source="usage",
        error=None if ok else "x",
        error_kind=kind if not ok else None,
        stage=stage,
    )


def test_completion_rate_by_hand() -> None:
    # ok requests end at 1.0, 1.5 and 3.0 s: 2 gaps over 2.0 s = 1.0 per second; the failure is no
    # completion, whenever it ended
    recs = [rec(1000), rec(1500), rec(3000), rec(9000, ok=False)]
    assert completion_rate(recs) == pytest.approx(1.0)
    assert completion_rate([rec(1000)]) is None
    assert completion_rate([rec(1000), rec(1000)]) is None  # no time between them


def test_a_stage_summary_by_hand() -> None:
    recs = [
        rec(100, warmup=True),  # warm-up: in the achieved rate (served by the server), not in the counts
        rec(600, start_ms=100),
        rec(1100, start_ms=600),
        rec(2100, start_ms=1100, ttft_ms=30),
        rec(1500, start_ms=1000, ok=False, kind="http"),
        rec(4000, start_ms=1500, ok=False, kind=CUT_OFF),
        rec(4000, start_ms=1600, ok=False, kind=CUT_OFF),
    ]
    row = summarize_stage(Stage("closed", 2), recs, parse_slo("ttft_p50<=20ms"))
    assert row.label == "c=2" and row.kind == "closed" and row.concurrency == 2
    assert row.offered_rate_per_s is None
    # completions at 0.1, 0.6, 1.1 and 2.1 s: 3 / 2.0 s
    assert row.achieved_rate_per_s == pytest.approx(1.5)
    assert (row.requests.ok, row.requests.error, row.cut_off) == (3, 3, 2)
    assert row.error_rate == pytest.approx(1 / 4)  # one http failure of the 4 that were not cut off
    assert row.stats["ttft_s"].n == 3 and row.stats["ttft_s"].p50 == pytest.approx(0.010)
    assert row.stats["latency_s"].max == pytest.approx(1.0)
    # ttft over 3 ok (10, 10, 30 ms) and 3 failures: the median falls on a failure, so it is missed
    assert row.slo is not None and not row.slo.met and row.slo.good_requests == 2
    # aggregate output tokens: 3 x 2 tokens over the measured window 0.1 .. 4.0 s
    assert row.output_tokens_per_s == pytest.approx(6 / 3.9)
    # a stage's goodput: its achieved rate times the share of requests good each (2 of 6)
    assert row.slo.goodput_per_s == pytest.approx(1.5 * 2 / 6)


def test_open_stage_keeps_its_offered_rate_and_load_reads_labels_in_order() -> None:
    recs = [rec(100, stage="rate=4/s"), rec(350, start_ms=250, stage="rate=4/s"), rec(600, stage="sync"),
            rec(900, stage="sync"), rec(50, stage=None)]  # fmt: skip
    load = summarize_load(recs, None, ())
    assert load is not None
    assert [s.label for s in load.stages] == ["rate=4/s", "sync"]
    assert load.stages[0].offered_rate_per_s == 4.0 and load.stages[0].kind == "open"
    assert load.stages[0].achieved_rate_per_s == pytest.approx(1 / 0.25)
    assert load.stages[1].achieved_rate_per_s == pytest.approx(1 / 0.3)
    assert load.saturation_per_s == pytest.approx(4.0)
    assert load.capacity is None  # no SLO, no capacity
    assert summarize_load([rec(50, stage=None)], None, ()) is None


TERMS = parse_slo("ttft_p95<=2s,latency_p95<=10s")


def stage(
    label: str, rate: float | None, ttft: float | None, latency: float | None, n: int = 10
) -> StageSummary:
    terms = [
        SloTermResult(term="ttft_p95<=2s", value=ttft, met=ttft is not None and ttft <= 2.0),
        SloTermResult(term="latency_p95<=10s", value=latency, met=latency is not None and latency <= 10.0),
    ]
    slo = SloResult(met=all(t.met for t in terms), terms=terms, requests=n)
    return StageSummary(label=label, kind="closed", achieved_rate_per_s=rate, slo=slo)


def test_capacity_interpolates_where_the_first_term_crosses() -> None:
    rows = [stage("c", 3.0, 4.0, 8.0), stage("a", 1.0, 0.5, 4.0), stage("b", 2.0, 1.0, 6.0)]
    cap = capacity(rows, TERMS)
    # b met (TTFT 1.0 at 2/s), c missed (TTFT 4.0 at 3/s): 2 + (2 - 1) / (4 - 1) x (3 - 2) = 2.333
    assert cap.per_s == pytest.approx(2 + 1 / 3)
    assert (cap.basis, cap.below, cap.above, cap.limiting) == ("interpolated", "b", "c", "ttft_p95<=2s")


def test_capacity_takes_the_term_that_crosses_first() -> None:
    # at c both terms missed: TTFT crosses at 2 + 1/7 x 1 (1.0 -> 8.0), latency at 2 + 4/6 x 1
    rows = [stage("b", 2.0, 1.0, 6.0), stage("c", 3.0, 8.0, 12.0)]
    cap = capacity(rows, TERMS)
    assert cap.per_s == pytest.approx(2 + 1 / 7) and cap.limiting == "ttft_p95<=2s"
    rows = [stage("b", 2.0, 1.0, 6.0), stage("c", 3.0, 2.0, 12.0)]  # TTFT met at c: latency limits
    cap = capacity(rows, TERMS)
    assert cap.per_s == pytest.approx(2 + 4 / 6) and cap.limiting == "latency_p95<=10s"


def test_capacity_edges() -> None:
    # the stage above failed outright: nothing to interpolate toward, the crossing is at b's rate
    assert capacity([stage("b", 2.0, 1.0, 6.0), stage("c", 3.0, None, None)], TERMS).per_s == 2.0
    # every stage met: at least the fastest one's rate
    cap = capacity([stage("a", 1.0, 0.5, 4.0), stage("b", 2.0, 1.0, 6.0)], TERMS)
    assert (cap.per_s, cap.basis, cap.below, cap.above) == (2.0, "at least", "b", None)
    # none met: 0
    cap = capacity([stage("a", 1.0, 5.0, 4.0), stage("b", 2.0, 6.0, 6.0)], TERMS)
    assert (cap.per_s, cap.basis, cap.below) == (0.0, "none met", None)
    # a stage without measured requests or without a rate is no evidence
    rows = [stage("b", 2.0, 1.0, 6.0), stage("x", 2.5, None, None, n=0), stage("y", None, 9.0, 9.0),
            stage("c", 3.0, 4.0, 8.0)]  # fmt: skip
    assert capacity(rows, TERMS).per_s == pytest.approx(2 + 1 / 3)
    # a faster stage that met it again wins: capacity is the highest rate that met the SLO
    rows = [stage("a", 1.0, 0.5, 4.0), stage("b", 2.0, 3.0, 6.0), stage("c", 3.0, 1.0, 6.0)]
    assert capacity(rows, TERMS).basis == "at least" and capacity(rows, TERMS).per_s == 3.0


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
    assert offered == pytest.approx([sync.achieved_rate_per_s + step * (i + 1) for i in range(4)])
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
    s = bench(limited.base_url, ["m"], tmp_path / "r", profile="rates=5,10", stage_requests=10)
    load = s.models[0].load
    assert load is not None and [x.label for x in load.stages] == ["rate=5/s", "rate=10/s"]
    for x, want in zip(load.stages, (5.0, 10.0), strict=True):
        assert x.requests.ok == 10 and x.offered_rate_per_s == want
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
    assert s.models[0].status == "ok" and s.models[0].error == "stopped at --max-seconds"
    assert any(r["error_kind"] == CUT_OFF for r in recs) or all(r["status"] == "ok" for r in recs)


def test_profile_flags_from_the_cli(tmp_path: Path) -> None:
    r = cli("bench", "--endpoint", "http://127.0.0.1:9/v1", "-m", "x", "--profile", "rates=1,x", "-o",
            str(tmp_path / "a"))  # fmt: skip
    assert r.returncode == 2 and "'x' is not a number" in r.stderr
    r = cli("bench", "--endpoint", "http://127.0.0.1:9/v1", "-m", "x", "--stage-seconds", "3", "-o",
            str(tmp_path / "b"))  # fmt: skip
    assert r.returncode == 2 and "go with --profile" in r.stderr
    r = cli("bench", "--endpoint", "http://127.0.0.1:9/v1", "-m", "x", "--profile", "sweep", "--rate", "2",
            "-o", str(tmp_path / "c"))  # fmt: skip
    assert r.returncode == 2 and "--rate or --profile" in r.stderr


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


def with_capacity(name: str, per_s: float | None) -> ModelSummary:
    load = None if per_s is None else LoadSummary(capacity=Capacity(per_s=per_s, basis="interpolated"))
    return ModelSummary(model=name, backend="openai", status="ok", latency_s=stats([1.0, 1.0]),
                        decode_tokens_per_s=stats([50.0, 50.0]), load=load)  # fmt: skip


def test_recommend_uses_capacity_as_constraint_and_dimension() -> None:
    run = RunInfo(settings={}, environment={}, started_at="t")
    s = Summary(run=run, models=[with_capacity("a", 4.0), with_capacity("b", 8.0), with_capacity("c", None)])
    r = recommend(s, constraints=Constraints(min_capacity=5.0))
    by = {c.model: c.excluded for c in r.candidates}
    assert by == {
        "a": "capacity 4.00 req/s within the SLO < minimum 5",
        "b": None,
        "c": "capacity unknown: run bench with --profile and --slo to measure it",
    }
    # equal latency and throughput: capacity decides. a = (1 + 1 + 1 x 4/8) / 3, b = 3 / 3
    s = Summary(run=run, models=[with_capacity("a", 4.0), with_capacity("b", 8.0)])
    r = recommend(s)
    assert r.dimensions == ["latency", "throughput", "capacity"] and r.winner == "b"
    assert {c.model: c.score for c in r.candidates}["a"] == pytest.approx(2.5 / 3)
    assert recommend(s, constraints=Constraints(min_capacity=8.0)).winner == "b"  # equal to the minimum
    # without a profile run nobody has capacity: no dimension and no note about it
    plain = recommend(Summary(run=run, models=[with_capacity("a", None), with_capacity("b", None)]))
    assert "capacity" not in plain.dimensions and not any("capacity" in n for n in plain.notes)
