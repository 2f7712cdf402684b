"""Each README promise that no other test held: open-loop flags on the command line, compare's
--min-change-pct and settings warning, judge --no-cache, serve --preload / --stream-interval-ms /
the off-loopback warning, sampling parameters passed through, and a summary without a schema."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np

from bakeoff.metrics.stats import stats
from bakeoff.results.schema import ModelSummary, RunInfo, Summary, save_summary

from .conftest import bakeoff_serve, free_port, read_records
from .test_cli import run

DATA = Path(__file__).parent / "data"
BAKEOFF = str(Path(sys.executable).parent / "bakeoff")


@contextmanager
def serving(tmp: Path, *flags: str, models: dict[str, dict[str, object]] | None = None) -> Iterator[str]:
    """``bakeoff serve`` with the echo adapters (or ``models``); yields the base URL."""
    models = models or {"echo": {"adapter": f"{DATA}/echo_adapter.py:EchoAdapter"}}
    (tmp / "models.json").write_text(json.dumps(models))
    with bakeoff_serve(
        "--models", ",".join(models), "--models-file", str(tmp / "models.json"), *flags
    ) as base:
        yield base


def test_rate_and_poisson_flags(fake, tmp_path: Path) -> None:
    out = tmp_path / "const"
    r = run(
        "bench", "-e", fake.base_url, "-m", "good", "-r", "3", "--warmup", "0", "--rate", "20", "-o", str(out)
    )
    assert r.returncode == 0, r.stderr
    sched = sorted(x["t_scheduled_ns"] for x in read_records(out))  # type: ignore[misc]
    assert np.allclose(np.diff(sched), 50_000_000, atol=1000)  # 20 per second, evenly
    s = json.loads((out / "summary.json").read_text())
    assert s["run"]["settings"]["rate"] == 20.0 and s["run"]["settings"]["arrival"] == "constant"
    out = tmp_path / "poisson"
    r = run("bench", "-e", fake.base_url, "-m", "good", "-r", "4", "--warmup", "0", "--rate", "20",
            "--poisson", "-o", str(out))  # fmt: skip
    assert r.returncode == 0, r.stderr
    gaps = np.diff(sorted(x["t_scheduled_ns"] for x in read_records(out)))  # type: ignore[misc]
    assert len(set(gaps.tolist())) == len(gaps)  # irregular, not evenly spaced
    assert json.loads((out / "summary.json").read_text())["run"]["settings"]["arrival"] == "poisson"


def _run(path: Path, latency: list[float], settings: dict[str, object] | None = None) -> None:
    row = ModelSummary(model="m", backend="openai", status="ok", latency_s=stats(latency))
    save_summary(
        Summary(run=RunInfo(settings=settings or {}, environment={}, started_at="t"), models=[row]), path
    )
    recs = [{"model": "m", "status": "ok", "warmup": False, "metrics": {"latency_s": x}} for x in latency]
    (path / "records.jsonl").write_text("".join(json.dumps(x) + "\n" for x in recs))


def test_min_change_pct_and_the_settings_warning(tmp_path: Path) -> None:
    _run(tmp_path / "a", [1.0] * 8, {"max_tokens": 128})
    _run(tmp_path / "b", [1.015] * 8, {"max_tokens": 64})  # +1.5%, and a different max_tokens
    default = run("compare", str(tmp_path / "a"), str(tmp_path / "b"))
    assert "| m | latency_s.p50 | 1 | 1.015 | 0.015 (+1.5%) | unchanged |" in default.stdout
    assert "- max_tokens: 128 -> 64" in default.stdout
    low = run("compare", str(tmp_path / "a"), str(tmp_path / "b"), "--min-change-pct", "1",
              "--fail-on", "latency_s.p50>+1%")  # fmt: skip
    assert "| m | latency_s.p50 | 1 | 1.015 | 0.015 (+1.5%) | worse |" in low.stdout
    assert low.returncode == 1 and "**broken** `latency_s.p50>+1%`" in low.stdout


def test_a_summary_without_a_schema_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text(json.dumps({"models": []}))
    r = run("report", str(tmp_path))
    assert r.returncode == 1 and "has no schema_version; it was not written by bakeoff" in " ".join(
        r.stderr.split()
    )
    assert "Traceback" not in r.stderr


def test_judge_no_cache_asks_again(tmp_path: Path, monkeypatch: object) -> None:
    adapters = DATA / "quality_adapters.py"
    models = tmp_path / "models.json"
    models.write_text(json.dumps({"good": {"adapter": f"{adapters}:GoodNotes"},
                                  "kjudge": {"adapter": f"{adapters}:KeywordJudge"}}))  # fmt: skip
    (tmp_path / "prompts.json").write_text(json.dumps(["Notes please.", "Explain RAG."]))
    env = {"BAKEOFF_CACHE": str(tmp_path / "cache")}
    out = tmp_path / "run"
    mf = ["--models-file", str(models)]
    prompts = str(tmp_path / "prompts.json")
    r = run(
        "bench", *mf, "-m", "good", "--prompts", prompts, "-r", "1", "--warmup", "0", "-o", str(out), env=env
    )
    assert r.returncode == 0, r.stderr
    first = run("judge", str(out), *mf, "--judge", "kjudge", env=env)
    assert "judged 2 answers with kjudge (0 from cache" in first.stdout, first.stdout + first.stderr
    again = run("judge", str(out), *mf, "--judge", "kjudge", env=env)
    assert "judged 2 answers with kjudge (2 from cache" in again.stdout
    fresh = run("judge", str(out), *mf, "--judge", "kjudge", "--no-cache", env=env)
    assert "judged 2 answers with kjudge (0 from cache" in fresh.stdout


def test_serve_preload_loads_before_the_first_request(tmp_path: Path) -> None:
    with serving(tmp_path, "--preload") as base:
        health = httpx.get(base + "/health").json()["models"]
        assert health["echo"]["loaded"] is True and health["echo"]["requests"] == 0
    with serving(tmp_path) as base:
        assert httpx.get(base + "/health").json()["models"]["echo"]["loaded"] is False


def _arrivals(base: str) -> list[float]:
    """Arrival times of the content events of one streamed answer of 16 tokens."""
    body = {
        "model": "echo",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 16,
        "stream": True,
    }
    times = []
    with httpx.stream("POST", base + "/v1/chat/completions", json=body, timeout=30) as resp:
        for line in resp.iter_lines():
            if line.startswith("data: {"):
                choices = json.loads(line[6:])["choices"]
                if choices and choices[0]["delta"].get("content"):
                    times.append(time.perf_counter())
    return times


def test_stream_interval_batches_tokens_after_the_first(tmp_path: Path) -> None:
    # the engine makes a token every 5 ms; woken at most every 40 ms, the server sends them in bursts
    with serving(tmp_path, "--stream-interval-ms", "40") as base:
        times = _arrivals(base)
    assert len(times) == 16  # every token still arrives, in order
    gaps = np.diff(times)
    assert (gaps < 0.002).sum() >= 10, gaps  # most tokens arrive together with the one before


def test_warns_when_bound_off_loopback_without_a_key(tmp_path: Path) -> None:
    # 192.0.2.1 is a documentation address this machine does not have: the bind fails right after
    # the warning, so nothing ever listens off loopback during the test
    (tmp_path / "models.json").write_text(
        json.dumps({"echo": {"adapter": f"{DATA}/echo_adapter.py:EchoAdapter"}})
    )
    args = [BAKEOFF, "serve", "--host", "192.0.2.1", "--port", str(free_port()), "--models", "echo",
            "--models-file", str(tmp_path / "models.json")]  # fmt: skip
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert "warning: binding 192.0.2.1 without --api-key" in r.stderr
    r = subprocess.run([*args, "--api-key", "k"], capture_output=True, text=True, timeout=60)
    assert "without --api-key" not in r.stderr
    for host in ("127.0.0.1", "::1", "localhost"):
        from bakeoff.cli import _is_loopback

        assert _is_loopback(host)
    assert not _is_loopback("192.0.2.1") and not _is_loopback("example.org")


def test_sampling_parameters_pass_through(tmp_path: Path) -> None:
    log = tmp_path / "params.log"
    served = {"echo": {"adapter": f"{DATA}/echo_adapter.py:ParamsEcho", "weights": str(log)}}
    with serving(tmp_path, models=served) as base:
        r = httpx.post(base + "/v1/chat/completions", json={
            "model": "echo", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3,
            "temperature": 0.5, "top_p": 0.9, "seed": 7, "stop": ["x"],
        }, timeout=30)  # fmt: skip
        assert r.status_code == 200, r.text
        got = json.loads(log.read_text().splitlines()[-1])
        assert (
            got["top_p"] == 0.9 and got["seed"] == 7 and got["temperature"] == 0.5 and got["max_tokens"] == 3
        )
        assert got["stop"] == ["x"]
        # bench against that endpoint: the run's seed and a models.json option reach the engine
        (tmp_path / "bench-models.json").write_text(json.dumps({"echo": {"options": {"top_p": 0.25}}}))
        r2 = run("bench", "-e", base, "-m", "echo", "--models-file", str(tmp_path / "bench-models.json"),
                 "-r", "1", "--warmup", "0", "--prompt", "hi", "--seed", "11", "--max-tokens", "4",
                 "-o", str(tmp_path / "run"))  # fmt: skip
        assert r2.returncode == 0, r2.stderr
        sent = json.loads(log.read_text().splitlines()[-1])
        assert (
            sent["seed"] == 11
            and sent["top_p"] == 0.25
            and sent["max_tokens"] == 4
            and sent["temperature"] == 0
        )
