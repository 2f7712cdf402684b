"""Shared fixtures: the fake OpenAI server (a real HTTP server in a subprocess) and bench helpers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bakeoff.bench import resolve_targets, run_bench
from bakeoff.config import BenchSettings, PromptCase
from bakeoff.results import Summary
from bakeoff.testing import FakePlan, FakeServer

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
