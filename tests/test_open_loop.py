"""Open-loop load: requests go out on schedule whatever is in flight, and latency is also reported
from the scheduled time, so a backlog shows (no coordinated omission)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bakeoff.backends.targets import resolve_targets
from bakeoff.config.settings import BenchSettings, PromptCase, load_models_file
from bakeoff.load.schedule import arrival_offsets
from bakeoff.run.bench import run_bench

from .conftest import read_records

DATA = Path(__file__).parent / "data"
PROMPTS = [PromptCase(id=f"p{i}", prompt="hello") for i in range(4)]


def test_arrival_schedules() -> None:
    assert arrival_offsets(4, 10.0, "constant", 0) == [0, 100_000_000, 200_000_000, 300_000_000]
    p = arrival_offsets(2000, 50.0, "poisson", 7)
    assert p == arrival_offsets(2000, 50.0, "poisson", 7)  # seeded: repeatable
    gaps = np.diff(p) / 1e9
    assert gaps.mean() == pytest.approx(0.02, rel=0.1) and gaps.std() == pytest.approx(0.02, rel=0.15)


def test_open_loop_shows_the_backlog_a_closed_loop_hides(tmp_path: Path) -> None:
    """An in-process engine serves one request at a time (16 tokens x 5 ms = 80 ms each). A closed
    loop never asks faster than it answers, so it reports ~80 ms; asked for 25 requests/s the engine
    falls behind, and the open-loop latency (from the scheduled send) shows the queue."""
    (tmp_path / "m.json").write_text(json.dumps({"echo": {"adapter": f"{DATA}/echo_adapter.py:EchoAdapter"}}))
    specs = load_models_file(tmp_path / "m.json")
    targets = resolve_targets(["echo"], specs, None)
    closed = run_bench(
        BenchSettings(models=["echo"], rounds=4, max_tokens=16), PROMPTS, targets, tmp_path / "c"
    )
    settings = BenchSettings(models=["echo"], rounds=4, warmup=1, max_tokens=16, rate=25.0)
    s = run_bench(settings, PROMPTS, targets, tmp_path / "o")
    m, c = s.models[0], closed.models[0]
    assert m.requests.ok == c.requests.ok == 16
    assert c.latency_s.p95 < 0.2
    assert m.latency_from_scheduled_s.p95 > 3 * c.latency_s.p95
    # requests went out on time, so the queue is inside the measured latency too
    assert abs(m.latency_from_scheduled_s.p95 - m.latency_s.p95) < 0.01
    recs = [r for r in read_records(tmp_path / "o") if not r["warmup"]]
    sched = sorted(r["t_scheduled_ns"] for r in recs)
    assert np.allclose(np.diff(sched), 40_000_000, atol=1000)  # scheduled at 25/s
    assert "Open loop: constant arrivals at 25.0 requests/s" in (tmp_path / "o" / "report.md").read_text()


def test_open_loop_below_capacity_matches_closed_loop(fake, tmp_path: Path) -> None:
    settings = BenchSettings(
        models=["good"], rounds=2, warmup=0, rate=4.0, arrival="poisson", endpoint=fake.base_url
    )
    s = run_bench(settings, PROMPTS[:2], resolve_targets(["good"], {}, fake.base_url), tmp_path)
    m = s.models[0]
    assert m.requests.ok == 4
    # the fake server answers requests in parallel: no backlog, so both latencies agree
    assert abs(m.latency_from_scheduled_s.p50 - m.latency_s.p50) < 0.01
    assert 0.2 <= m.ttft_s.p50 < 0.2 + 0.025  # generous: a busy CI machine; exactness is a bench/


def test_one_nodes_share_of_a_split_open_loop(tmp_path: Path) -> None:
    """``--load-nodes`` without a cluster: node 0 of 2 (shard "0/2") sends requests 1, 3, 5... of the
    one 100/s schedule, 20 ms apart, with half the in-flight cap: 4 asked, at most 2 here at once
    (each answer takes 300 ms, so without the cap all 6 would be in flight)."""
    from bakeoff.testing import FakePlan, FakeServer

    plan = FakePlan(ttft_ms=300, itl_ms=1, tokens=2)
    with FakeServer(plan, {"slow": plan}) as srv:
        settings = BenchSettings(models=["slow"], rounds=12, warmup=0, rate=100.0, max_concurrency=4,
                                 shard="0/2", endpoint=srv.base_url, workers=1)  # fmt: skip
        run_bench(
            settings, [PromptCase(id="p", prompt="hi")], resolve_targets(["slow"], {}, srv.base_url), tmp_path
        )
    recs = read_records(tmp_path)
    assert sorted(r["round"] for r in recs) == [1, 3, 5, 7, 9, 11] and all(r["status"] == "ok" for r in recs)
    scheduled = sorted(r["t_scheduled_ns"] for r in recs)
    assert np.allclose(np.diff(scheduled), 20_000_000, atol=1000)
    steps = sorted([(r["t_end_ns"], -1) for r in recs] + [(r["t0_ns"], 1) for r in recs])
    assert max(np.cumsum([d for _, d in steps])) == 2


def test_a_split_closed_stage_sends_each_request_once_across_nodes(tmp_path: Path) -> None:
    """``--load-nodes 2`` without a cluster: each node runs a ``concurrency=2`` stage of 4 prompts as
    its shard; between them every prompt is sent once, one slot each (not the first two twice)."""
    from bakeoff.testing import FakePlan, FakeServer

    plan = FakePlan(ttft_ms=5, itl_ms=1, tokens=2)
    prompts = [PromptCase(id=f"p{i}", prompt="hi") for i in range(4)]
    sent: dict[str, list[str]] = {}
    with FakeServer(plan, {"m": plan}) as srv:
        for shard in ("0/2", "1/2"):
            settings = BenchSettings(models=["m"], warmup=0, profile="concurrency=2", stage_requests=4,
                                     shard=shard, endpoint=srv.base_url, workers=1)  # fmt: skip
            out = tmp_path / shard.replace("/", "-")
            run_bench(settings, prompts, resolve_targets(["m"], {}, srv.base_url), out)
            sent[shard] = sorted(r["prompt_id"] for r in read_records(out) if r["status"] == "ok")
    assert sent == {"0/2": ["p0", "p2"], "1/2": ["p1", "p3"]}
