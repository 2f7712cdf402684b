"""Load profiles, stages and capacity (issue 12): parsing with errors that name the part, the sweep's
rates, the completion rate and capacity worked by hand, and sweeps against a fake server of known
capacity (two requests served at once, 95 ms each: 2 / 0.095 = 21.05 requests per second)."""

from __future__ import annotations

import re

import pytest

from bakeoff.analysis.capacity import capacity, mean_in_flight, summarize_load, summarize_stage
from bakeoff.analysis.recommend import Constraints, recommend
from bakeoff.analysis.slo import parse_slo
from bakeoff.errors import UsageError
from bakeoff.load.profile import Profile, Stage, parse_profile, sweep_rates
from bakeoff.metrics.definitions import completion_rate
from bakeoff.metrics.stats import stats
from bakeoff.records import CUT_OFF, OUT_OF_TIME, ContentEvent, RequestRecord
from bakeoff.results.schema import (
    Capacity,
    LoadSummary,
    ModelSummary,
    RunInfo,
    SloResult,
    SloTermResult,
    StageSummary,
    Summary,
)

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
        ("rates=1,inf", "'inf' is not a finite number"),
        ("concurrency=1,2.5", "'2.5' is not a whole number"),
        ("concurrency=0", "'0' must be above 0"),
        ("concurrency=4,4", "a level is given twice"),
        ("rates=2,2.0000001", "a level is given twice"),
    ],
)
def test_a_malformed_profile_names_the_part(text: str, says: str) -> None:
    with pytest.raises(UsageError, match=re.escape(says)) as info:
        parse_profile(text)
    if text.startswith(("rates=1,", "concurrency=")) and "twice" not in says:
        from bakeoff.load.profile import EXAMPLE

        assert info.value.hint == EXAMPLE  # each bad level says how a good one is written


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
    # the throughput stage no faster (an engine serving one request at a time): from half of it up
    assert sweep_rates(10.0, 10.0, 3) == pytest.approx([5 + 5 / 3, 5 + 10 / 3, 10.0])
    assert sweep_rates(10.0, 9.0, 2) == pytest.approx([6.75, 9.0])
    assert sweep_rates(1.0, 2.0, 0) == [] and sweep_rates(1.0, 0.0, 3) == []


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
    # two answers at once, then one later: 2 gaps over 2.0 s, although the first gap is 0
    assert completion_rate([rec(1000), rec(1000), rec(3000)]) == pytest.approx(1.0)
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
        rec(9000, start_ms=1700, ok=False, kind=OUT_OF_TIME),  # the run's budget: in no figure
    ]
    row = summarize_stage(Stage("closed", 2), recs, parse_slo("ttft_p50<=20ms"))
    assert row.label == "c=2" and row.kind == "closed" and row.concurrency == 2
    assert row.offered_rate_per_s is None
    # completions at 0.1, 0.6, 1.1 and 2.1 s: 3 / 2.0 s
    assert row.achieved_rate_per_s == pytest.approx(1.5)
    assert (row.requests.ok, row.requests.error, row.cut_off, row.out_of_time) == (3, 3, 2, 1)
    assert row.error_rate == pytest.approx(1 / 4)  # one http failure of the 4 that were not cut off
    assert row.stats["ttft_s"].n == 3 and row.stats["ttft_s"].p50 == pytest.approx(0.010)
    assert row.stats["latency_s"].max == pytest.approx(1.0)
    # ttft over 3 ok (10, 10, 30 ms) and 3 failures: the median falls on a failure, so it is missed
    assert row.slo is not None and not row.slo.met and row.slo.good_requests == 2
    # aggregate output tokens: 3 x 2 tokens over the measured window 0.1 .. 4.0 s
    assert row.output_tokens_per_s == pytest.approx(6 / 3.9)
    # in flight: (0.5 + 0.5 + 1.0 + 0.5 + 2.5 + 2.4) s of requests over the 3.9 s window
    assert row.mean_in_flight == pytest.approx(7.4 / 3.9)
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


def stage(label: str, rate: float | None, ttft: float | None, latency: float | None, n: int = 10,
          in_flight: float | None = None) -> StageSummary:  # fmt: skip
    """A closed-loop stage whose load (mean in flight) grows with its rate unless given."""
    terms = [
        SloTermResult(term="ttft_p95<=2s", value=ttft, met=ttft is not None and ttft <= 2.0),
        SloTermResult(term="latency_p95<=10s", value=latency, met=latency is not None and latency <= 10.0),
    ]
    slo = SloResult(met=all(t.met for t in terms), terms=terms, requests=n)
    load = in_flight if in_flight is not None else rate
    return StageSummary(label=label, kind="closed", achieved_rate_per_s=rate, slo=slo, mean_in_flight=load)


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
    rows = [stage("b", 2.0, 1.0, 6.0), stage("x", 2.5, None, None, n=0),
            stage("y", None, 9.0, 9.0, in_flight=2.5), stage("c", 3.0, 4.0, 8.0)]  # fmt: skip
    assert capacity(rows, TERMS).per_s == pytest.approx(2 + 1 / 3)
    # a faster stage that met it again wins: capacity is the highest rate that met the SLO
    rows = [stage("a", 1.0, 0.5, 4.0), stage("b", 2.0, 3.0, 6.0), stage("c", 3.0, 1.0, 6.0)]
    assert capacity(rows, TERMS).basis == "at least" and capacity(rows, TERMS).per_s == 3.0


def with_capacity(name: str, per_s: float | None, basis: str = "interpolated") -> ModelSummary:
    load = None if per_s is None else LoadSummary(capacity=Capacity(per_s=per_s, basis=basis))  # type: ignore[arg-type]
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
    assert not any("lower bound" in n for n in r.notes)
    # a capacity the sweep never pushed past is a lower bound, and recommend says so
    s = Summary(run=run, models=[with_capacity("a", 4.0, "at least"), with_capacity("b", 8.0),
                                 with_capacity("c", 2.0, "at least")])  # fmt: skip
    assert (
        "capacity of a, c is a lower bound (its most loaded stage still met the SLO): a sweep to higher "
        "load would tell"
    ) in recommend(s).notes
    assert not any("lower bound" in n for n in recommend(s, weights={"capacity": 0.0, "latency": 1.0}).notes)
    # some models without capacity: the dimension drops out, with the usual note
    some = recommend(Summary(run=run, models=[with_capacity("a", 4.0), with_capacity("b", None)]))
    assert "capacity" not in some.dimensions
    assert "capacity left out of the score: not measured for every remaining model" in some.notes
    # without a profile run nobody has capacity: no dimension and no note about it
    plain = recommend(Summary(run=run, models=[with_capacity("a", None), with_capacity("b", None)]))
    assert "capacity" not in plain.dimensions and not any("capacity" in n for n in plain.notes)


def test_labels_keep_close_rates_apart_and_a_serial_engine_gets_rates_below_it() -> None:
    assert Stage("open", rate=1.00001).label != Stage("open", rate=1.00002).label
    # throughput 0.52/s is under 1.1 x the synchronous 0.5/s: one request at a time, so the rates are
    # spaced from half of 0.52 up to it: 0.26 + 0.065 x (1..4)
    assert sweep_rates(0.5, 0.52, 4) == pytest.approx([0.325, 0.39, 0.455, 0.52])
    assert sweep_rates(0.5, 0.55, 1) == pytest.approx([0.55])  # exactly 1.1 x: the usual spacing


def open_stage(label: str, offered: float, achieved: float | None, ttft: float | None,
               in_flight: float) -> StageSummary:  # fmt: skip
    row = stage(label, achieved, ttft, 1.0 if ttft is not None else None, in_flight=in_flight)
    return row.model_copy(update={"kind": "open", "offered_rate_per_s": offered})


def test_capacity_orders_stages_by_load_not_by_rate() -> None:
    # overloaded at 22/s it achieved 19.9/s, under the 20.0/s of the stage that kept up, with 10 requests
    # in flight against 2: by load it is above; the crossing: 20.0 + (2 - 1) / (5 - 1) x (19.9 - 20.0)
    rows = [open_stage("b", 22.0, 19.9, 5.0, 10.0), open_stage("a", 20.0, 20.0, 1.0, 2.0)]
    cap = capacity(rows, TERMS)
    assert (cap.basis, cap.below, cap.above) == ("interpolated", "a", "b")
    assert cap.per_s == pytest.approx(19.975)
    # an engine serving one request at a time (the sweep of bench/load_sweep.py): the synchronous stage
    # achieved the most (0.951/s, 1 in flight) but the open loop at 0.941/s queued (1.3 in flight) and
    # 4 in flight missed: capacity between the open stage and the throughput stage, not "at least" sync
    rows = [stage("sync", 0.951, 0.30, 1.08, in_flight=1.0), open_stage("r", 0.941, 0.870, 1.69, 1.3),
            stage("throughput", 0.941, 3.57, 4.36, in_flight=4.0)]  # fmt: skip
    cap = capacity(rows, TERMS)
    assert (cap.basis, cap.below, cap.above, cap.limiting) == (
        "interpolated",
        "r",
        "throughput",
        "ttft_p95<=2s",
    )
    assert cap.per_s == pytest.approx(0.870 + (2 - 1.69) / (3.57 - 1.69) * (0.941 - 0.870))
    # every request of the 4/s stage failed: no achieved rate, but it is evidence, at its offered rate
    rows = [open_stage("a", 1.0, 1.0, 0.5, 0.5), open_stage("c", 4.0, None, None, 8.0)]
    cap = capacity(rows, TERMS)
    assert (cap.per_s, cap.basis, cap.above) == (1.0, "interpolated", "c")


def test_stage_edges_by_hand() -> None:
    terms = parse_slo("ttft_p50<=20ms")
    # one request: no completion rate, so no goodput either; its one in-flight request over its window
    one = summarize_stage(Stage("closed", 1), [rec(500, start_ms=100)], terms)
    assert one.achieved_rate_per_s is None and one.slo is not None and one.slo.goodput_per_s is None
    assert one.mean_in_flight == pytest.approx(1.0)
    # only requests the budget cut off: nothing measured, no error rate, no goodput, no load
    gone = summarize_stage(Stage("closed", 1), [rec(900, start_ms=100, ok=False, kind=OUT_OF_TIME)], terms)
    assert gone.requests.ok == gone.requests.error == 0 and gone.out_of_time == 1
    assert gone.error_rate is None and gone.slo is not None and gone.slo.goodput_per_s is None
    assert gone.mean_in_flight is None
    # only cut-off requests: all backlog, so no error rate
    cut = summarize_stage(Stage("open", rate=2.0), [rec(900, ok=False, kind=CUT_OFF)] * 2, ())
    assert (cut.requests.error, cut.cut_off, cut.error_rate, cut.slo) == (2, 2, None, None)
    # a window of one nanosecond holds one request for all of it; a window of none is no load
    assert mean_in_flight([rec(0, ok=False)]) is None
    tiny = RequestRecord(model="m", backend="b", prompt_id="p", round=1, warmup=False, stream=True,
                         status="ok", t_scheduled_ns=0, t0_ns=0, t_end_ns=1)  # fmt: skip
    assert mean_in_flight([tiny]) == 1.0


def test_load_from_the_runners_stage_list_and_with_an_slo() -> None:
    recs = [rec(100, stage="c=2"), rec(300, start_ms=100, stage="c=2", ttft_ms=50), rec(700, stage="c=8"),
            rec(900, start_ms=700, stage="c=8", ttft_ms=50)]  # fmt: skip
    terms = parse_slo("ttft_p95<=30ms")
    # the runner's order wins over the records' (c=8 ran first here), and every stage is summarised
    load = summarize_load(recs, [Stage("closed", 8), Stage("closed", 2)], terms)
    assert load is not None and [s.label for s in load.stages] == ["c=8", "c=2"]
    assert load.stages[0].concurrency == 8 and load.stages[0].slo is not None
    assert load.capacity == capacity(load.stages, terms)
    assert load.capacity is not None and load.capacity.basis == "none met"  # each stage has a 50 ms TTFT
    # c=2 answers in 10 ms (met), c=8 in 50 ms (missed): the capacity lies between their rates
    recs[1] = rec(300, start_ms=100, stage="c=2", ttft_ms=10)
    load = summarize_load(recs, None, terms)
    assert load is not None and load.capacity is not None and load.capacity.basis == "interpolated"
    assert (load.capacity.below, load.capacity.above) == ("c=2", "c=8")
    # no stage with an achieved rate: no saturation
    single = summarize_load([rec(100, stage="c=2")], None, ())
    assert single is not None and single.saturation_per_s is None


def test_equal_crossings_name_the_first_term() -> None:
    # both terms missed at c and cross at the same rate: 2 + (2 - 1) / (4 - 1) = 2 + (10 - 6) / (18 - 6)
    rows = [stage("b", 2.0, 1.0, 6.0), stage("c", 3.0, 4.0, 18.0)]
    cap = capacity(rows, TERMS)
    assert cap.per_s == pytest.approx(2 + 1 / 3) and cap.limiting == "ttft_p95<=2s"


def test_every_profile_error_says_what_to_write() -> None:
    from bakeoff.load.profile import EXAMPLE

    def err(text: str) -> UsageError:
        with pytest.raises(UsageError) as e:
            parse_profile(text)
        return e.value

    assert err("sweep=2").message == (
        "--profile sweep=2: a sweep needs at least 3 stages (synchronous, throughput and one rate)"
    )
    assert parse_profile("sweep=3") == Profile("sweep", (), 3)  # the fewest allowed
    for text in ("ramp", "rates", "rates=1,x", "concurrency=0"):
        assert err(text).hint == EXAMPLE, text
    assert err("rates=2,2").hint == "give each level once (rates must differ in their first 6 digits)"
    assert EXAMPLE.startswith("e.g. --profile sweep")


def test_the_serial_threshold_by_hand() -> None:
    # exactly 1.1 x the synchronous rate is not serial: the usual spacing from 1.0 to 1.1
    assert sweep_rates(1.0, 1.1, 2) == pytest.approx([1.05, 1.1])
    # 3 x: rates from the synchronous 10/s in steps of 5, not from half of 30
    assert sweep_rates(10.0, 30.0, 4) == pytest.approx([15.0, 20.0, 25.0, 30.0])


def test_each_stage_gets_the_client_figures_of_its_own_window() -> None:
    from bakeoff.load.client_watch import ClientSamples

    # stage c=1 measured from 100 to 600 ms (a warm-up before it), c=2 from 700 to 900 ms
    recs = [rec(100, warmup=True, stage="c=1"), rec(350, start_ms=100, stage="c=1"),
            rec(600, start_ms=350, stage="c=1"), rec(900, start_ms=700, stage="c=2")]  # fmt: skip
    lags = [(50 * MS, 1 * MS), (300 * MS, 2 * MS), (800 * MS, 9 * MS), (950 * MS, 4 * MS)]
    samples = ClientSamples(lags={"client": lags}, cpu={"client": [(0, 0.0), (S, 0.95)]})
    load = summarize_load(recs, None, (), samples)
    assert load is not None
    c1, c2 = (st.client for st in load.stages)
    assert c1 is not None and c1.samples == 1 and c1.loop_lag_p99_s == 0.002  # only the wake-up at 300 ms
    assert c2 is not None and c2.samples == 1 and c2.loop_lag_p99_s == 0.009  # the one at 800 ms
    # 0.95 CPU s over the marks around each window: a model in another process (the default) makes
    # the client the limit; in process, the CPU is the engine's
    assert c1.limited and c1.why == "it used 95% of a core"
    inproc = summarize_load(recs, None, (), samples, in_process=True)
    assert inproc is not None and inproc.stages[0].client is not None and not inproc.stages[0].client.limited
    assert (
        c2.why
        == "its event loop woke 9.0 ms late (p99), so its timestamps and sends can be; it used 95% of a core"
    )
    assert summarize_load(recs, None, ()).stages[0].client is None  # type: ignore[union-attr]


def test_concurrency_levels_are_exact_and_rates_equal_to_6_digits_are_one() -> None:
    assert parse_profile("concurrency=1000000,1000001").values == (1000000.0, 1000001.0)
    assert parse_profile("rates=2,2.00001").values == (2.0, 2.00001)  # 2 and 2.00001: two labels
    with pytest.raises(UsageError) as exc:
        parse_profile("rates=2,2.000001")
    assert exc.value.hint == "give each level once (rates must differ in their first 6 digits)"
