"""Soaks (issue 30): ``--duration`` and ``--max-requests`` send the prompts over and over for a time or
a count, ``--rate``'s schedule is made as it comes due, and summary.json is rewritten while a model
runs, so a run killed with SIGKILL keeps a summary no older than ``--summary-every``."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from bakeoff.backends.targets import resolve_targets
from bakeoff.config.settings import BenchSettings, PromptCase
from bakeoff.load.schedule import arrival_offsets, iter_arrival_offsets
from bakeoff.run.bench import RUNNING_NOTE, run_bench
from bakeoff.testing import FakePlan, FakeServer

from .conftest import read_records
from .test_cli import BAKEOFF, run

PROMPTS = [PromptCase(id="a", prompt="hi"), PromptCase(id="b", prompt="ho")]


def test_the_endless_schedule_is_the_fixed_one() -> None:
    for arrival, seed in (("constant", None), ("poisson", 7)):
        endless = list(itertools.islice(iter_arrival_offsets(3.0, arrival, seed), 10_000))
        assert endless == arrival_offsets(10_000, 3.0, arrival, seed)
    assert list(itertools.islice(iter_arrival_offsets(4.0, "constant", None), 3)) == [
        0,
        250_000_000,
        500_000_000,
    ]


def test_max_requests_cycles_the_prompts_and_stops_at_the_count(tmp_path: Path) -> None:
    plan = FakePlan(ttft_ms=1, itl_ms=0, tokens=2)
    with FakeServer(plan, {"m": plan}) as srv:
        settings = BenchSettings(models=["m"], endpoint=srv.base_url, warmup=1, max_requests=7, concurrency=2,
                                 rounds=1, max_tokens=2, workers=1)  # fmt: skip
        s = run_bench(settings, PROMPTS, resolve_targets(["m"], {}, srv.base_url), tmp_path / "run")
    measured = [r for r in read_records(tmp_path / "run") if not r["warmup"]]
    assert s.models[0].requests.ok == 7 and len(measured) == 7  # not --rounds 1's two
    # the prompts in turn, a round each time round them: a1 b1 a2 b2 a3 b3 a4
    assert sorted((r["round"], r["prompt_id"]) for r in measured) == [
        (1, "a"), (1, "b"), (2, "a"), (2, "b"), (3, "a"), (3, "b"), (4, "a")
    ]  # fmt: skip


def test_a_rate_soak_sends_its_schedule_for_the_duration(tmp_path: Path) -> None:
    plan = FakePlan(ttft_ms=1, itl_ms=0, tokens=2)
    with FakeServer(plan, {"m": plan}) as srv:
        settings = BenchSettings(models=["m"], endpoint=srv.base_url, warmup=0, rate=20, duration=1.0,
                                 max_tokens=2, workers=1)  # fmt: skip
        s = run_bench(settings, PROMPTS, resolve_targets(["m"], {}, srv.base_url), tmp_path / "run")
    recs = sorted(read_records(tmp_path / "run"), key=lambda r: r["t_scheduled_ns"])
    # 20 a second for 1 s: sends at 0, 50, ..., 950 ms; the one due at 1000 ms is past the end
    assert len(recs) == 20 and s.models[0].requests.ok == 20
    gaps = {b["t_scheduled_ns"] - a["t_scheduled_ns"] for a, b in itertools.pairwise(recs)}
    assert gaps == {50_000_000}
    assert [r["prompt_id"] for r in recs[:4]] == ["a", "b", "a", "b"]


def test_a_closed_soak_stops_sending_at_the_duration(tmp_path: Path) -> None:
    plan = FakePlan(ttft_ms=100, itl_ms=0, tokens=1)  # about 0.1 s a request, one at a time
    with FakeServer(plan, {"m": plan}) as srv:
        settings = BenchSettings(models=["m"], endpoint=srv.base_url, warmup=0, duration=1.0, max_tokens=1,
                                 workers=1)  # fmt: skip
        t = time.perf_counter_ns()
        run_bench(settings, PROMPTS, resolve_targets(["m"], {}, srv.base_url), tmp_path / "run")
    recs = read_records(tmp_path / "run")
    assert 5 <= len(recs) <= 11 and all(r["status"] == "ok" for r in recs)  # none cut off: they finish
    first = min(r["t0_ns"] for r in recs)
    assert first >= t and all(r["t0_ns"] < first + 1_050_000_000 for r in recs)  # none sent after the end


def test_soak_flags_and_their_conflicts() -> None:
    with pytest.raises(ValueError, match="--duration and --max-requests"):
        BenchSettings(models=["m"], duration=10, profile="sweep")
    r = run("bench", "--models", "m", "--endpoint", "http://127.0.0.1:9", "--duration", "ten")
    assert r.returncode == 2 and "cannot read --duration 'ten' as a duration" in r.stderr
    r = run("bench", "--models", "m", "--endpoint", "http://127.0.0.1:9", "--max-requests", "0")
    assert r.returncode == 2 and "--max-requests" in r.stderr


def test_a_killed_soak_keeps_a_summary_no_older_than_the_interval(tmp_path: Path) -> None:
    plan = FakePlan(ttft_ms=20, itl_ms=0, tokens=2)
    out = tmp_path / "soak"
    every = 0.5
    with FakeServer(plan, {"m": plan}) as srv:
        args = [BAKEOFF, "bench", "--endpoint", srv.base_url.removesuffix("/v1"), "--models", "m",
                "--duration", "30s", "--summary-every", f"{every}s", "--warmup", "0", "--max-tokens", "2",
                "--out", str(out)]  # fmt: skip
        proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # until two rewrites have happened mid-run
                summary = out / "summary.json"
                if summary.exists():
                    row = json.loads(summary.read_text())["models"][0]
                    if row["error"] == RUNNING_NOTE and row["requests"]["ok"] >= 10:
                        break
                time.sleep(0.1)
            else:
                pytest.fail("no mid-run summary was written")
            time.sleep(1.2)  # more rewrites, then the kill
            killed_at = time.time()
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
    saved = json.loads((out / "summary.json").read_text())
    age = killed_at - (out / "summary.json").stat().st_mtime
    assert 0 <= age <= every + 0.5, f"the summary was {age:.2f} s old at the kill"
    row = saved["models"][0]
    assert row["status"] == "ok" and row["error"] == RUNNING_NOTE and saved["run"]["finished_at"] is None
    on_disk = [r for r in read_records(out) if r["status"] == "ok"]
    assert 0 < row["requests"]["ok"] <= len(on_disk)  # the records went on after the last rewrite
    assert (out / "report.md").exists() and (out / "report.html").exists()  # the reports too
    rebuilt = run("report", str(out), "--format", "json")
    assert rebuilt.returncode == 0, rebuilt.stderr
