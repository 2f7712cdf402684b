"""Shared fixtures: the fake OpenAI server (a real HTTP server in a subprocess) and bench helpers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from hypothesis import settings

from bakeoff.backends.targets import resolve_targets
from bakeoff.config.settings import BenchSettings, PromptCase
from bakeoff.results.schema import Summary
from bakeoff.run.bench import run_bench
from bakeoff.testing import FakePlan, FakeServer

# Every run a test writes goes into a run index of its own, never the user's (~/.local/share/bakeoff);
# subprocesses (the CLI tests) inherit it.
os.environ["BAKEOFF_DATA_DIR"] = tempfile.mkdtemp(prefix="bakeoff-test-data-")

# Property tests draw the same examples every run: a CI result (and a mutation score) is repeatable.
settings.register_profile("bakeoff", derandomize=True, deadline=None)
settings.load_profile("bakeoff")

PROMPTS = [PromptCase(id="p1", prompt="one two three"), PromptCase(id="p2", prompt="four five six seven")]


@pytest.fixture(scope="session")
def fake() -> Iterator[FakeServer]:
    """A fake server with one good model and one model per fault."""
    plan = FakePlan(ttft_ms=200, itl_ms=20, tokens=64)
    models = {
        "good": plan,
        "chunky": FakePlan(ttft_ms=100, itl_ms=10, tokens=60, tokens_per_chunk=4),
        "nousage": FakePlan(ttft_ms=50, itl_ms=5, tokens=20, usage=False),
        "http500": FakePlan(fault="http_500", ttft_ms=5),
        "drop": FakePlan(fault="drop", fault_after=5, ttft_ms=5, itl_ms=2),
        "malformed": FakePlan(fault="malformed", fault_after=3, ttft_ms=5, itl_ms=2),
        "stall": FakePlan(fault="stall", fault_after=2, ttft_ms=5, itl_ms=2),
        "nodone": FakePlan(fault="no_done", ttft_ms=5, itl_ms=2, tokens=8),
    }
    with FakeServer(plan, models) as srv:
        yield srv


def bench(
    base_url: str, models: list[str], out: Path, prompts: list[PromptCase] | None = None, **kw: object
) -> Summary:
    settings = BenchSettings(models=models, endpoint=base_url, **kw)  # type: ignore[arg-type]
    targets = resolve_targets(models, {}, base_url)
    return run_bench(settings, prompts or PROMPTS, targets, out)


def read_records(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]


def needs(available: bool, what: str, require_env: str) -> pytest.MarkDecorator:
    """Skip when ``what`` is missing, unless ``require_env`` is set (CI sets it): then the test runs
    and fails, so a missing dependency can never turn into a silent skip."""
    return pytest.mark.skipif(
        not available and not os.environ.get(require_env),
        reason=f"{what} not installed (set {require_env}=1 to require it)",
    )


_SKIPPED: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _SKIPPED.append(f"{report.nodeid}: {reason}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With BAKEOFF_NO_SKIPS=1 (``.ci/run`` sets it) any skipped test fails the run, listed by name."""
    if _SKIPPED and os.environ.get("BAKEOFF_NO_SKIPS") and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = ["BAKEOFF_NO_SKIPS is set, and these tests were skipped:", *(f"  {s}" for s in _SKIPPED)]
        if tr is not None:
            tr.write_line("\n".join(lines), red=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def bakeoff_serve(*args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """``bakeoff serve ARGS`` on a free loopback port, up once /health answers; yields the base URL."""
    port = free_port()
    exe = str(Path(sys.executable).parent / "bakeoff")
    cmd = [exe, "serve", "--port", str(port), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"bakeoff serve did not start: {proc.stdout.read() if proc.stdout else ''}")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)
