"""bakeoff recommend: constraints, weighted score, Pareto frontier, and honest ties."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakeoff.analysis.recommend import Constraints, parse_weights, recommend
from bakeoff.errors import UsageError
from bakeoff.metrics.stats import stats
from bakeoff.reporters.recommendation import render_text
from bakeoff.results.schema import ModelSummary, RunInfo, Summary
from bakeoff.testing import FakePlan, FakeServer

from .test_cli import run


def model(
    name: str, latency: float, decode: float, quality: float | None, mem: float, **info: object
) -> ModelSummary:
    return ModelSummary(
        model=name,
        backend="llamacpp",
        status="ok",
        latency_s=stats([latency, latency * 1.1]),
        decode_tokens_per_s=stats([decode, decode]),
        quality={} if quality is None else {"mean": quality},
        resources={"peak_rss_mb": mem},
        info={"license": "Apache-2.0", "capabilities": ["chat", "summarize"], **info},
    )


def summary(*models: ModelSummary) -> Summary:
    return Summary(run=RunInfo(settings={}, environment={}, started_at="now"), models=list(models))


def test_constraints_then_score_then_frontier() -> None:
    s = summary(
        model("fast-weak", 1.0, 100, 2.0, 200),
        model("slow-good", 3.0, 30, 4.5, 600),
        model("slow-weak", 3.0, 30, 2.0, 600),
        model("huge", 0.5, 200, 5.0, 9000),
        model("gemma", 1.0, 100, 4.0, 300, license="Gemma terms"),
        model("coder", 1.0, 100, 4.0, 300, capabilities=["code"]),
    )
    r = recommend(
        s,
        weights=parse_weights("quality=5"),
        constraints=Constraints(
            max_memory_mb=1000, licenses=("apache-2.0",), capability="summarize", max_p95_s=10
        ),
    )
    by = {c.model: c for c in r.candidates}
    assert by["huge"].excluded == "peak memory 9000 MB > budget 1000 MB"
    assert "license 'Gemma terms'" in (by["gemma"].excluded or "")
    assert by["coder"].excluded == "lacks capability 'summarize'"
    assert r.winner == "slow-good"  # quality weighs 5x
    assert by["fast-weak"].pareto and by["slow-good"].pareto and not by["slow-weak"].pareto
    assert "biggest gap: quality" in (by["fast-weak"].lost_because or "")
    text = render_text(r)
    assert text.startswith("Recommended: slow-good") and "excluded: lacks capability" in text
    r2 = recommend(
        s, weights=parse_weights("quality=0,memory=0"), constraints=Constraints(max_memory_mb=1000)
    )
    assert r2.winner in ("fast-weak", "gemma", "coder")  # speed only: the three equally fast models
    assert r2.confidence.startswith("tie")
    with pytest.raises(UsageError, match="off the 1-5 scale"):
        Constraints(min_quality=9)


def test_recommend_cli_on_a_real_run(tmp_path: Path) -> None:
    fast = FakePlan(ttft_ms=10, itl_ms=4, tokens=16)
    twin = FakePlan(ttft_ms=10, itl_ms=4, tokens=16)
    slow = FakePlan(ttft_ms=10, itl_ms=12, tokens=16)
    with FakeServer(fast, {"fast": fast, "twin": twin, "slow": slow}) as srv:
        r = run("bench", "-e", srv.base_url, "-m", "fast,twin,slow", "-r", "5", "-o", str(tmp_path / "run"))
        assert r.returncode == 0, r.stderr
    r = run("recommend", str(tmp_path / "run"), "--weights", "memory=0")
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    # fast and twin share one plan: either may win, usually as a tie (intervals overlap); slow never does
    assert first.startswith(("Recommended: fast ", "Recommended: twin ")), first
    slow_line = next(ln for ln in r.stdout.splitlines() if ln.strip().startswith("slow:"))
    assert "biggest gap:" in slow_line
    r = run("recommend", str(tmp_path / "run"), "--weights", "bogus=1")
    assert r.returncode == 2
