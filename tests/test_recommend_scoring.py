"""recommend's arithmetic on values worked by hand: relative scores, weights, constraints at their
boundaries, the Pareto frontier, ties and what each loser lost on."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bakeoff.analysis.recommend import DEFAULT_WEIGHTS, Constraints, parse_weights, recommend
from bakeoff.errors import UsageError
from bakeoff.metrics.stats import stats
from bakeoff.results.schema import ModelQuality, ModelSummary, RunInfo, Summary, save_summary


def model(
    name: str,
    latency: float,
    decode: float,
    mem: float | None,
    quality: float | None = None,
    checks: float | None = None,
    status: str = "ok",
    **info: object,
) -> ModelSummary:
    q: dict[str, object] = {}
    if quality is not None:
        q["mean"] = quality
    if checks is not None:
        q["check_pass_rate"] = checks
    return ModelSummary(
        model=name,
        backend="llamacpp",
        status=status,  # type: ignore[arg-type]
        error=None if status == "ok" else "load failed: boom",
        latency_s=stats([latency, latency]),
        decode_tokens_per_s=stats([decode, decode]),
        quality=q,
        resources={} if mem is None else {"peak_rss_mb": mem},
        info={"license": "Apache-2.0", "capabilities": ["summarize"], **info},
    )


def summary(*models: ModelSummary) -> Summary:
    return Summary(run=RunInfo(settings={}, environment={}, started_at="t"), models=list(models))


def test_relative_scores_by_hand() -> None:
    # A: latency 1 s, 50 tok/s, 200 MB; B: 2 s, 100 tok/s, 100 MB. Best: 1 s, 100 tok/s, 100 MB.
    # weights latency 1, throughput 1, memory 0.5 (quality/checks unmeasured, left out):
    # A = (1 x 1/1 + 1 x 50/100 + 0.5 x 100/200) / 2.5 = 1.75 / 2.5 = 0.70
    # B = (1 x 1/2 + 1 x 100/100 + 0.5 x 100/100) / 2.5 = 2.00 / 2.5 = 0.80
    r = recommend(summary(model("A", 1.0, 50, 200), model("B", 2.0, 100, 100)))
    by = {c.model: c for c in r.candidates}
    assert by["A"].score == pytest.approx(0.70) and by["B"].score == pytest.approx(0.80)
    assert r.winner == "B" and r.runners_up == ["A"] and r.dimensions == ["latency", "throughput", "memory"]
    assert r.confidence.startswith("clear: the runner-up's 95% interval lies below the winner's")
    # A's gaps: latency 1 x (1 - 2/1) = -1, throughput 1 x (1 - 50/100) = 0.5,
    # memory 0.5 x (1 - 100/200) = 0.25
    assert by["A"].lost_because == "biggest gap: throughput (50.0 tok/s vs 100.0 tok/s)"
    # frontier: throughput against memory (no quality); B is faster and smaller, so A is dominated
    assert r.frontier_axes == ("throughput", "memory") and by["B"].pareto and not by["A"].pareto
    assert "no quality scores: the frontier is speed against memory" in r.notes
    assert any(n.startswith("quality left out of the score") for n in r.notes)


def test_weights_change_the_winner() -> None:
    # latency 4, throughput 0, memory 0: A = 4 x 1 / 4 = 1, B = 4 x 0.5 / 4 = 0.5
    r = recommend(
        summary(model("A", 1.0, 50, 200), model("B", 2.0, 100, 100)),
        weights=parse_weights("latency=4,throughput=0,memory=0"),
    )
    by = {c.model: c for c in r.candidates}
    assert r.winner == "A" and by["A"].score == pytest.approx(1.0) and by["B"].score == pytest.approx(0.5)
    assert r.dimensions == ["latency"]


def test_quality_and_checks_weigh_in() -> None:
    # defaults: latency 1, throughput 1, quality 2, checks 1, memory 0.5 (total 5.5)
    # A: 1 + 0.5 + 2 x 2/4 + 1 x 0.5/1.0 + 0.5 x 0.5 = 3.25 -> 0.5909
    # B: 0.5 + 1 + 2 x 4/4 + 1 x 1.0/1.0 + 0.5 x 1 = 5.0 -> 0.9091
    a = model("A", 1.0, 50, 200, quality=2.0, checks=0.5)
    b = model("B", 2.0, 100, 100, quality=4.0, checks=1.0)
    r = recommend(summary(a, b))
    by = {c.model: c for c in r.candidates}
    assert by["A"].score == pytest.approx(3.25 / 5.5) and by["B"].score == pytest.approx(5.0 / 5.5)
    assert r.frontier_axes == ("throughput", "quality")
    # quality gap 2 x (1 - 2/4) = 1.0 is A's biggest
    assert by["A"].lost_because == "biggest gap: quality (2.00 vs 4.00)"


def test_checks_frontier_when_quality_is_missing() -> None:
    r = recommend(summary(model("A", 1.0, 50, 200, checks=0.9), model("B", 2.0, 100, 100, checks=0.5)))
    assert r.frontier_axes == ("throughput", "checks")
    assert "no quality score for every model: the frontier is speed against checks passed" in r.notes
    by = {c.model: c for c in r.candidates}
    assert by["A"].pareto and by["B"].pareto  # each is better on one axis


def test_constraint_boundaries() -> None:
    exact = model("exact", 1.0, 50, 300.0)
    over = model("over", 1.0, 50, 300.5)
    unknown = model("unknown", 1.0, 50, None)
    r = recommend(summary(exact, over, unknown), constraints=Constraints(max_memory_mb=300))
    by = {c.model: c for c in r.candidates}
    assert by["exact"].excluded is None  # equal to the budget fits
    assert by["over"].excluded == "peak memory 300 MB > budget 300 MB"
    assert by["unknown"].excluded == "memory unknown, so the memory budget cannot be checked"
    assert r.confidence == "only one model meets the constraints"
    p95 = recommend(
        summary(model("ok", 2.0, 50, 1), model("slow", 2.5, 50, 1)), constraints=Constraints(max_p95_s=2.0)
    )
    assert {c.model: c.excluded for c in p95.candidates} == {
        "ok": None,
        "slow": "p95 latency 2.50 s > SLO 2 s",
    }
    q = recommend(
        summary(
            model("good", 1, 50, 1, quality=3.0),
            model("weak", 1, 50, 1, quality=2.99),
            model("none", 1, 50, 1),
        ),
        constraints=Constraints(min_quality=3.0),
    )
    assert {c.model: c.excluded for c in q.candidates} == {
        "good": None,
        "weak": "quality 2.99 < minimum 3",
        "none": "quality unknown < minimum 3",
    }


def test_failed_models_never_win() -> None:
    r = recommend(summary(model("broken", 0.1, 500, 10, status="error"), model("works", 1.0, 50, 200)))
    by = {c.model: c for c in r.candidates}
    assert r.winner == "works" and by["broken"].excluded == "no results (error: load failed: boom)"
    assert by["broken"].lost_because == "excluded: no results (error: load failed: boom)"
    none = recommend(summary(model("broken", 0.1, 500, 10, status="error")))
    assert none.winner is None and none.confidence == "no model meets the constraints"


def test_license_and_capability_filters() -> None:
    r = recommend(
        summary(
            model("apache", 1, 50, 1),
            model("gemma", 1, 50, 1, license="Gemma terms"),
            model("coder", 1, 50, 1, capabilities=["code"]),
        ),
        constraints=Constraints(licenses=("apache-2.0",), capability="summarize"),
    )
    assert {c.model: c.excluded for c in r.candidates} == {
        "apache": None,
        "gemma": "license 'Gemma terms' not in apache-2.0",
        "coder": "lacks capability 'summarize'",
    }


def test_equal_models_tie_and_records_give_intervals(tmp_path: Path) -> None:
    s = summary(model("A", 1.0, 50, 100), model("B", 1.0, 50, 100))
    r = recommend(s)
    assert r.confidence == "tie: B within the winner's 95% interval"
    assert "no per-request records: score intervals unavailable, ties judged on points only" in r.notes
    # with records: A's latencies all 1.0 and B's all 2.0, so every resample gives the point scores
    s2 = summary(model("A", 1.0, 50, 100), model("B", 2.0, 50, 100))
    save_summary(s2, tmp_path)
    recs = [
        {
            "model": m,
            "status": "ok",
            "warmup": False,
            "metrics": {"latency_s": lat, "decode_tokens_per_s": 50.0},
        }
        for m, lat in (("A", 1.0), ("B", 2.0))
        for _ in range(5)
    ]
    (tmp_path / "records.jsonl").write_text("".join(json.dumps(x) + "\n" for x in recs))
    r2 = recommend(s2, run_dir=tmp_path)
    by = {c.model: c for c in r2.candidates}
    # A = (1 + 1 + 0.5) / 2.5 = 1.0; B = (0.5 + 1 + 0.5) / 2.5 = 0.8
    assert by["A"].interval == pytest.approx((1.0, 1.0)) and by["B"].interval == pytest.approx((0.8, 0.8))
    assert r2.confidence == "clear: the runner-up's 95% interval lies below the winner's (0.800 < 1.000)"
    assert not any(n.startswith("no per-request records") for n in r2.notes)


def test_parse_weights() -> None:
    assert parse_weights(None) == DEFAULT_WEIGHTS
    assert parse_weights("quality=3, memory=0") == {**DEFAULT_WEIGHTS, "quality": 3.0, "memory": 0.0}
    for bad, msg in (
        ("speed=1", "unknown weight"),
        ("quality=x", "must be a number"),
        ("latency=-1", "must be a finite number, 0 or more, got '-1'"),
        ("latency=nan", "must be a finite number"),
        ("latency=inf", "must be a finite number"),
        ("latency=0,throughput=0,quality=0,checks=0,memory=0", "every weight 0: there is nothing to"),
        ("latency=0,throughput=0,quality=0,checks=0,memory=0,capacity=0", "every weight 0"),
    ):
        with pytest.raises(UsageError, match=msg):
            parse_weights(bad)
    # one weight above 0 is enough; 0 itself is allowed
    with pytest.raises(UsageError) as info:
        parse_weights("latency=0,throughput=0,quality=0,checks=0,memory=0")
    assert info.value.hint == "give at least one dimension a weight above 0, e.g. latency=1"
    zeros = "latency=0,throughput=0,quality=0,checks=0"
    only = parse_weights(zeros + ",memory=0.5")
    assert only == {"latency": 0.0, "throughput": 0.0, "quality": 0.0, "checks": 0.0, "memory": 0.5,
                    "capacity": 1.0}  # fmt: skip
    assert parse_weights(zeros + ",memory=0,capacity=2")["capacity"] == 2.0  # named: it may carry it


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"max_memory_mb": -1.0}, "--max-memory-mb must be a number above 0, got -1"),
        ({"max_memory_mb": 0.0}, "--max-memory-mb must be a number above 0, got 0"),
        ({"max_p95_s": 0.0}, "--max-p95-s must be a number above 0"),
        ({"max_p95_s": float("inf")}, "--max-p95-s must be a number above 0, got inf"),
        ({"min_capacity": -0.5}, "--min-capacity must be a number above 0"),
        ({"min_capacity": float("nan")}, "--min-capacity must be a number above 0"),
        ({"min_quality": 9.0}, "--min-quality 9 is off the 1-5 scale"),
        ({"min_quality": 0.99}, "--min-quality 0.99 is off the 1-5 scale"),
        ({"min_quality": 5.01}, "--min-quality 5.01 is off the 1-5 scale"),
    ],
)
def test_constraints_no_model_could_meet_are_refused(given: dict[str, float], says: str) -> None:
    with pytest.raises(UsageError, match=re.escape(says)):
        Constraints(**given)  # type: ignore[arg-type]


def test_constraints_off_the_scale_say_what_to_give() -> None:
    with pytest.raises(UsageError) as info:
        Constraints(min_quality=9.0)
    assert info.value.hint == "give a score from 1 to 5, e.g. --min-quality 3.5"


def test_constraints_at_their_edges_are_accepted() -> None:
    assert Constraints(min_quality=1.0).min_quality == 1.0 and Constraints(min_quality=5.0).min_quality == 5.0
    c = Constraints(max_memory_mb=0.5, max_p95_s=0.001, min_capacity=1e-3)
    assert (c.max_memory_mb, c.max_p95_s, c.min_capacity) == (0.5, 0.001, 1e-3)


def _run_with_records(tmp_path: Path, s: Summary, per_model: dict[str, dict[str, list[float]]]) -> Path:
    save_summary(s, tmp_path)
    recs = []
    for name, metrics in per_model.items():
        n = max(len(v) for v in metrics.values())
        recs += [
            {"model": name, "status": "ok", "warmup": False, "metrics": {k: v[i] for k, v in metrics.items()}}
            for i in range(n)
        ]
    (tmp_path / "records.jsonl").write_text("".join(json.dumps(x) + "\n" for x in recs))
    return tmp_path


def test_to_json_by_hand() -> None:
    r = recommend(summary(model("A", 1.0, 50, 200), model("B", 2.0, 100, 100)))
    j = r.to_json()
    assert set(j) == {"winner", "runners_up", "confidence", "dimensions", "weights", "frontier_axes", "notes",
                      "candidates", "quality_source"}  # fmt: skip
    assert j["quality_source"] is None  # no quality dimension
    assert j["winner"] == "B" and j["runners_up"] == ["A"] and j["confidence"] == r.confidence
    assert j["dimensions"] == ["latency", "throughput", "memory"] and j["weights"] == DEFAULT_WEIGHTS
    assert j["frontier_axes"] == ["throughput", "memory"] and j["notes"] == r.notes
    a = next(c for c in j["candidates"] if c["model"] == "A")
    assert a["interval"] == [pytest.approx(0.7), pytest.approx(0.7)] and a["pareto"] is False
    assert a["values"] == {
        "latency": 1.0,
        "throughput": 50.0,
        "quality": None,
        "checks": None,
        "memory": 200.0,
        "capacity": None,
    }
    none = recommend(summary(model("x", 1, 1, 1, status="error"))).to_json()
    assert (none["winner"], none["runners_up"], none["dimensions"], none["notes"]) == (None, [], [], [])
    assert none["weights"] == DEFAULT_WEIGHTS and len(none["candidates"]) == 1


def test_what_each_loser_lost_on() -> None:
    # weights chosen so one dimension's gap is the largest each time
    cases = [
        ("latency=5", model("L", 2.0, 100, 100), "biggest gap: latency (2.00 s vs 1.00 s)"),
        ("memory=9", model("L", 1.0, 100, 400), "biggest gap: memory (400 MB vs 100 MB)"),
    ]
    for weights, loser, expected in cases:
        r = recommend(summary(model("W", 1.0, 100, 100), loser), weights=parse_weights(weights))
        assert r.winner == "W" and next(c for c in r.candidates if c.model == "L").lost_because == expected
    r = recommend(summary(model("W", 1.0, 100, 100, checks=1.0), model("L", 1.0, 100, 100, checks=0.5)))
    assert next(c for c in r.candidates if c.model == "L").lost_because == (
        "biggest gap: checks (50% of checks vs 100% of checks)"
    )


def test_the_gap_is_weighted_and_relative_to_the_winner() -> None:
    # winner W: 1 s, 100 tok/s, 100 MB. L: 1.5 s, 90 tok/s, 100 MB; weights latency 1, throughput 4.
    # gaps: latency 1 x (1 - 1/1.5) = 0.333, throughput 4 x (1 - 90/100) = 0.4 -> throughput;
    # W = (1 + 4 + 0.5) / 5.5 = 1; L = (0.6667 + 3.6 + 0.5) / 5.5 = 0.8667
    r = recommend(
        summary(model("W", 1.0, 100, 100), model("L", 1.5, 90, 100)), weights=parse_weights("throughput=4")
    )
    by = {c.model: c for c in r.candidates}
    assert by["L"].score == pytest.approx((1 / 1.5 + 3.6 + 0.5) / 5.5, rel=1e-12)
    assert by["L"].lost_because == "biggest gap: throughput (90.0 tok/s vs 100.0 tok/s)"
    # with latency weighted 2: 2 x 0.333 = 0.667 > 0.4
    r2 = recommend(
        summary(model("W", 1.0, 100, 100), model("L", 1.5, 90, 100)),
        weights=parse_weights("latency=2,throughput=4"),
    )
    assert (
        next(c for c in r2.candidates if c.model == "L").lost_because
        == "biggest gap: latency (1.50 s vs 1.00 s)"
    )


def test_zero_values_are_left_out_not_divided_by() -> None:
    # A reports latency 0 (a broken clock, say): it is not the best latency, and A gets no latency points;
    # its other dimensions still count. B: latency 1 -> 1 x 1, throughput 50/100, memory 1 -> 2.0/2.5
    r = recommend(summary(model("A", 0.0, 100, 100), model("B", 1.0, 50, 100)))
    by = {c.model: c for c in r.candidates}
    assert by["A"].score == pytest.approx((0 + 1 + 0.5) / 2.5, rel=1e-12)
    assert by["B"].score == pytest.approx((1 + 0.5 + 0.5) / 2.5, rel=1e-12)
    zero_mem = recommend(summary(model("A", 1.0, 100, 0.0), model("B", 1.0, 100, 0.0)))
    assert [c.score for c in zero_mem.candidates] == [pytest.approx(2 / 2.5)] * 2  # no memory points at all


def test_partial_weights_and_exact_notes() -> None:
    s = summary(model("A", 1.0, 50, 200), model("B", 2.0, 100, 100))
    r = recommend(s, weights={"latency": 1.0})
    assert r.dimensions == ["latency"] and r.winner == "A"
    assert r.notes == [
        "no per-request records: score intervals unavailable, ties judged on points only",
        "no quality scores: the frontier is speed against memory",
    ]
    r = recommend(s, weights=parse_weights("quality=0"))
    assert r.notes == [
        "checks left out of the score: not measured for every remaining model",
        "no per-request records: score intervals unavailable, ties judged on points only",
        "no quality scores: the frontier is speed against memory",
    ]


def test_identical_models_are_both_on_the_frontier() -> None:
    r = recommend(summary(model("A", 1.0, 50, 100), model("B", 1.0, 50, 100)))
    assert all(c.pareto for c in r.candidates)


def test_missing_throughput_puts_everyone_on_the_frontier() -> None:
    a = ModelSummary(
        model="A", backend="x", status="ok", latency_s=stats([1.0]), resources={"peak_rss_mb": 100}
    )
    b = ModelSummary(
        model="B", backend="x", status="ok", latency_s=stats([2.0]), resources={"peak_rss_mb": 200}
    )
    r = recommend(summary(a, b), weights=parse_weights("throughput=0"))
    assert r.winner == "A" and all(c.pareto for c in r.candidates)


def test_unknown_p95_and_license_are_named() -> None:
    no_lat = ModelSummary(model="A", backend="x", status="ok", info={"license": None})
    r = recommend(summary(no_lat), constraints=Constraints(max_p95_s=2.0))
    assert r.candidates[0].excluded == "p95 latency nan s > SLO 2 s"
    r = recommend(summary(no_lat), constraints=Constraints(licenses=("mit", "apache-2.0")))
    assert r.candidates[0].excluded == "license 'unknown' not in mit, apache-2.0"


def test_parse_weights_messages() -> None:
    with pytest.raises(UsageError) as e:
        parse_weights("speed=1")
    assert e.value.message == "unknown weight 'speed'"
    assert e.value.hint == "use latency, throughput, quality, checks, memory, capacity"
    with pytest.raises(UsageError, match="weight quality must be a number, got '2=3'"):
        parse_weights("quality=2=3")
    assert parse_weights("latency=2,,memory=1")["memory"] == 1.0


def test_latency_samples_widen_the_interval(tmp_path: Path) -> None:
    # A's latency varies, B is constant and slower: B's relative latency score moves with A's best
    s = summary(model("A", 1.0, 50, 100), model("B", 1.3, 50, 100))
    run = _run_with_records(tmp_path, s, {
        "A": {"latency_s": [0.7, 0.8, 1.0, 1.2, 1.3, 1.0, 0.9, 1.1], "decode_tokens_per_s": [50.0] * 8},
        "B": {"latency_s": [1.3] * 8, "decode_tokens_per_s": [50.0] * 8},
    })  # fmt: skip
    r = recommend(s, run_dir=run)
    b = next(c for c in r.candidates if c.model == "B")
    assert b.interval[0] < b.score < b.interval[1]
    assert r.to_json() == recommend(s, run_dir=run).to_json()  # seeded: repeatable
    assert not any(n.startswith("no per-request records") for n in r.notes)


def test_throughput_samples_widen_the_interval(tmp_path: Path) -> None:
    s = summary(model("A", 1.0, 50, 100), model("B", 1.0, 40, 100))
    run = _run_with_records(tmp_path, s, {
        "A": {"latency_s": [1.0] * 8, "decode_tokens_per_s": [30.0, 40.0, 50.0, 60.0, 70.0, 50.0, 45, 55]},
        "B": {"latency_s": [1.0] * 8, "decode_tokens_per_s": [40.0] * 8},
    })  # fmt: skip
    r = recommend(s, run_dir=run)
    b = next(c for c in r.candidates if c.model == "B")
    assert b.interval[0] < b.interval[1]


def test_intervals_resample_the_median_of_all_requests(tmp_path: Path) -> None:
    # one slow outlier in ten: the median of a resample of ten is almost never the outlier, so the
    # interval's low end stays at the point score (a single draw would hit the outlier 1 time in 10)
    s = summary(model("A", 1.0, 50, 100), model("B", 2.0, 50, 100))
    run = _run_with_records(tmp_path, s, {
        "A": {"latency_s": [1.0] * 9 + [5.0], "decode_tokens_per_s": [50.0] * 10},
        "B": {"latency_s": [2.0] * 10, "decode_tokens_per_s": [50.0] * 10},
    })  # fmt: skip
    r = recommend(s, run_dir=run)
    a = next(c for c in r.candidates if c.model == "A")
    assert a.interval == (pytest.approx(a.score), pytest.approx(a.score))


def test_a_tie_is_called_exactly_when_the_intervals_meet(tmp_path: Path) -> None:
    # A's latency varies around 1 s; B holds 1 s but decodes 48 tok/s against A's 50. When A's resampled
    # median is below 1 s A scores 1, above it a little less; B's best case is (1 + 0.96 + 0.5)/2.5.
    varying = [0.8, 0.9, 1.0, 1.1, 1.2, 1.0, 0.95, 1.05]
    s = summary(model("A", 1.0, 50, 100), model("B", 1.0, 48, 100))
    run = _run_with_records(tmp_path, s, {
        "A": {"latency_s": varying, "decode_tokens_per_s": [50.0] * 8},
        "B": {"latency_s": [1.0] * 8, "decode_tokens_per_s": [48.0] * 8},
    })  # fmt: skip
    r = recommend(s, run_dir=run)
    by = {c.model: c for c in r.candidates}
    assert r.winner == "A" and by["B"].interval[1] == pytest.approx(2.46 / 2.5)
    # the runner-up's upper end lies inside the winner's interval, below its top
    assert by["A"].interval[0] <= by["B"].interval[1] < by["A"].interval[1]
    assert r.confidence == "tie: B within the winner's 95% interval"
    clear = summary(model("A", 1.0, 50, 100), model("B", 1.0, 20, 100))
    run2 = _run_with_records(tmp_path / "clear", clear, {
        "A": {"latency_s": varying, "decode_tokens_per_s": [50.0] * 8},
        "B": {"latency_s": [1.0] * 8, "decode_tokens_per_s": [20.0] * 8},
    })  # fmt: skip
    r2 = recommend(clear, run_dir=run2)
    by2 = {c.model: c for c in r2.candidates}
    assert by2["A"].interval[0] < by2["A"].interval[1]
    assert r2.confidence == (
        "clear: the runner-up's 95% interval lies below the winner's "
        f"({by2['B'].interval[1]:.3f} < {by2['A'].interval[0]:.3f})"
    )


def test_format_of_unknown_values() -> None:
    from bakeoff.analysis.recommend import _fmt

    assert _fmt("latency", None) == "n/a" and _fmt(None, 1.0) == "n/a" and _fmt("memory", 99.6) == "100 MB"


def test_relative_points() -> None:
    from bakeoff.analysis.recommend import relative

    assert relative("latency", 2.0, 1.0) == 0.5 and relative("throughput", 25.0, 100.0) == 0.25
    assert relative("latency", 0.0, 1.0) is None and relative("latency", 1.0, 0.0) is None
    assert relative("memory", None, 1.0) is None and relative("memory", 1.0, None) is None


def test_three_way_tie_names_everyone() -> None:
    r = recommend(summary(model("A", 1.0, 50, 100), model("B", 1.0, 50, 100), model("C", 1.0, 50, 100)))
    assert r.confidence == "tie: B, C within the winner's 95% interval"


def test_equal_on_one_axis_better_on_the_other_dominates() -> None:
    r = recommend(summary(model("A", 1.0, 50, 100), model("B", 1.0, 50, 200)))
    assert {c.model: c.pareto for c in r.candidates} == {"A": True, "B": False}


def test_one_model_without_throughput_is_never_dominated() -> None:
    a = ModelSummary(
        model="A", backend="x", status="ok", latency_s=stats([1.0]), resources={"peak_rss_mb": 100}
    )
    b = model("B", 2.0, 50, 200)
    r = recommend(summary(a, b), weights=parse_weights("throughput=0"))
    assert {c.model: c.pareto for c in r.candidates} == {"A": True, "B": True}


def test_models_without_records_keep_their_point_score(tmp_path: Path) -> None:
    s = summary(model("A", 1.0, 50, 100), model("B", 2.0, 50, 100))
    run = _run_with_records(
        tmp_path, s, {"A": {"latency_s": [0.9, 1.0, 1.1] * 3, "decode_tokens_per_s": [50.0] * 9}}
    )
    r = recommend(s, run_dir=run)
    b = next(c for c in r.candidates if c.model == "B")
    assert b.interval[0] <= b.score <= b.interval[1]


def test_intervals_are_repeatable(tmp_path: Path) -> None:
    import numpy as np

    lat = [float(x) for x in np.random.default_rng(3).uniform(1.0, 1.6, 40)]  # every median distinct
    s = summary(model("A", 1.25, 50, 100), model("B", 1.3, 50, 100))
    run = _run_with_records(tmp_path, s, {
        "A": {"latency_s": lat, "decode_tokens_per_s": [50.0] * 40},
        "B": {"latency_s": [1.3] * 40, "decode_tokens_per_s": [50.0] * 40},
    })  # fmt: skip
    first = recommend(s, run_dir=run).to_json()
    assert first == recommend(s, run_dir=run).to_json()


def test_nothing_to_score_gives_zero_not_a_division_by_zero() -> None:
    zero = {d: 0.0 for d in DEFAULT_WEIGHTS}
    r = recommend(summary(model("A", 1.0, 50, 100), model("B", 2.0, 40, 200)), weights=zero)
    assert r.dimensions == [] and [c.score for c in r.candidates] == [0.0, 0.0]


def test_a_zero_score_is_the_whole_gap() -> None:
    from bakeoff.analysis.recommend import relative

    assert relative("checks", 0.0, 1.0) == 0.0 and relative("throughput", 0.0, 50.0) == 0.0
    r = recommend(summary(model("W", 1.0, 50, 100, checks=1.0), model("L", 1.0, 50, 100, checks=0.0)))
    assert next(c for c in r.candidates if c.model == "L").lost_because == (
        "biggest gap: checks (0% of checks vs 100% of checks)"
    )


def judged(
    name: str, decode: float, mean: float | None, trusting: float | None, rouge: float | None
) -> ModelSummary:
    """Same latency and memory; quality from qualified sources (``mean``), counting every judge
    (``trusting``), and ROUGE-L against references (``rouge``)."""
    m = model(name, 1.0, decode, 100)
    m.quality = ModelQuality.model_validate(
        {
            "mean": mean,
            "mean_trusting_judges": trusting,
            "unqualified_judges": ["weak-judge"] if trusting != mean else [],
            "reference": None if rouge is None else {"n": 9, "rouge_l": rouge},
        }
    )
    return m


def own(notes: list[str]) -> list[str]:
    """The notes about where quality comes from."""
    return [n for n in notes if n.startswith(("quality is", "scores of unqualified"))]


def test_quality_source_qualified_then_reference_then_trusting_by_hand() -> None:
    # weights: latency 1, throughput 1, quality 2, memory 0.5; latency and memory equal (1 each).
    # An unqualified judge gave A 2 and B 4; references give A 0.40 and B 0.20; nobody qualified scored.
    a, b = judged("A", 100, None, 2.0, 0.40), judged("B", 50, None, 4.0, 0.20)
    r = recommend(summary(a, b), weights={**DEFAULT_WEIGHTS, "checks": 0})
    # quality from references: A = (1 + 1 + 2 x 1 + 0.5) / 4.5 = 1.0; B = (1 + 0.5 + 2 x 0.5 + 0.5) / 4.5
    by = {c.model: c for c in r.candidates}
    assert r.quality_source == "reference" and by["A"].values["quality"] == 0.40
    assert by["A"].score == pytest.approx(1.0) and by["B"].score == pytest.approx(3.0 / 4.5)
    assert r.winner == "A"
    assert own(r.notes) == [
        "quality is ROUGE-L F1 against the reference answers (0-1): not every model has a 1-5 score "
        "from people or a qualified judge",
        "scores of unqualified judge(s) weak-judge are not counted as quality; --trust-judge counts them",
    ]
    # --trust-judge: the judge's 2 and 4. A = (1 + 1 + 2 x 0.5 + 0.5) / 4.5 = 3.5 / 4.5;
    # B = (1 + 0.5 + 2 x 1 + 0.5) / 4.5 = 4 / 4.5
    t = recommend(summary(a, b), weights={**DEFAULT_WEIGHTS, "checks": 0}, trust_judge=True)
    by = {c.model: c for c in t.candidates}
    assert t.quality_source == "trusting" and by["B"].values["quality"] == 4.0
    assert by["A"].score == pytest.approx(3.5 / 4.5) and by["B"].score == pytest.approx(4.0 / 4.5)
    assert t.winner == "B"
    assert own(t.notes) == [
        "quality is the 1-5 score of people and every judge, qualified or not (--trust-judge)"
    ]
    # a qualified score for every model wins over references
    q = recommend(summary(judged("A", 100, 3.0, 3.0, 0.4), judged("B", 50, 5.0, 5.0, 0.2)))
    assert q.quality_source == "score" and {c.model: c.values["quality"] for c in q.candidates} == {
        "A": 3.0,
        "B": 5.0,
    }
    assert own(q.notes) == ["quality is the 1-5 score of people and qualified judges"]
    two = summary(judged("A", 100, None, 2.0, 0.4), judged("B", 50, None, 4.0, 0.2))
    two.models[1].quality.unqualified_judges = ["judge-2", "judge-1"]  # type: ignore[union-attr]
    notes = own(recommend(two).notes)
    assert notes[1] == (
        "scores of unqualified judge(s) judge-1, judge-2, weak-judge are not counted as quality; "
        "--trust-judge counts them"
    )
    # --trust-judge where one model has no judge score at all: references, and the note says why
    b_unjudged = judged("B", 50, None, None, 0.20)
    t = recommend(summary(a, b_unjudged), weights={**DEFAULT_WEIGHTS, "checks": 0}, trust_judge=True)
    assert t.quality_source == "reference"
    assert own(t.notes) == [
        "quality is ROUGE-L F1 against the reference answers (0-1): not every model has a 1-5 score "
        "from people or any judge"
    ]
    # one model lacks both: quality drops out, with the usual note
    n = recommend(summary(judged("A", 100, None, 2.0, 0.4), judged("B", 50, None, 4.0, None)))
    assert n.quality_source is None and "quality" not in n.dimensions
    assert any("quality left out of the score" in x for x in n.notes)


def test_an_unknown_quality_source_is_an_error() -> None:
    from bakeoff.analysis.recommend import quality_value

    with pytest.raises(ValueError, match="unknown quality source 'judge'"):
        quality_value(judged("A", 1, 3.0, 3.0, 0.1), "judge")
    assert quality_value(model("A", 1.0, 1, 1), "reference") is None


def test_min_quality_reads_the_trusted_score_unless_trusting() -> None:
    a = judged("A", 100, None, 4.5, 0.4)
    r = recommend(summary(a), constraints=Constraints(min_quality=4.0))
    assert r.winner is None and "quality unknown < minimum 4" in (r.candidates[0].excluded or "")
    t = recommend(summary(a), constraints=Constraints(min_quality=4.0), trust_judge=True)
    assert t.winner == "A"
    low = recommend(summary(a), constraints=Constraints(min_quality=4.6), trust_judge=True)
    assert low.winner is None and "quality 4.5 < minimum 4.6" in (low.candidates[0].excluded or "")
    # the constraint is checked once, trusting: B passes only because its unqualified judge counts,
    # and quality is then the trusted score for both, not the reference
    b = judged("B", 50, 4.2, 4.2, 0.3)
    both = recommend(summary(a, b), constraints=Constraints(min_quality=4.0), trust_judge=True)
    assert both.quality_source == "trusting" and both.winner == "A"
    assert {c.model: c.values["quality"] for c in both.candidates} == {"A": 4.5, "B": 4.2}
