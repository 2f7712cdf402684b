"""recommend's arithmetic on values worked by hand: relative scores, weights, constraints at their
boundaries, the Pareto frontier, ties and what each loser lost on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bakeoff.errors import UsageError
from bakeoff.metrics.stats import stats
from bakeoff.recommend import DEFAULT_WEIGHTS, Constraints, parse_weights, recommend
from bakeoff.results import ModelSummary, RunInfo, Summary, save_summary


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
        ("latency=-1", "negative"),
    ):
        with pytest.raises(UsageError, match=msg):
            parse_weights(bad)
