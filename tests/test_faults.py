"""One good model beside models that fail in every way: the run finishes, each failure is reported
with its reason, and the good model's results are kept."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from bakeoff.backends.targets import ModelTarget, resolve_targets
from bakeoff.config.settings import BenchSettings, ModelSpec
from bakeoff.run.bench import run_bench

from .conftest import PROMPTS, read_records


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_mixed_run_isolates_every_failure(fake, tmp_path: Path) -> None:
    names = ["good", "http500", "drop", "malformed", "stall", "nodone", "not-served"]
    dead = f"http://127.0.0.1:{free_port()}/v1"
    targets = resolve_targets(names, {}, fake.base_url)
    targets.append(ModelTarget("dead", "openai", ModelSpec(backend="openai", model="x", base_url=dead)))
    # an unknown alias (the CLI stops on it before running; a library caller may pass it as failed)
    targets.append(resolve_targets(["ghost"], {}, None, strict=False)[0])
    settings = BenchSettings(
        models=[*names, "dead", "ghost"], rounds=1, timeout_s=2.0, endpoint=fake.base_url
    )
    s = run_bench(settings, PROMPTS, targets, tmp_path)
    by = {m.model: m for m in s.models}
    assert [m.model for m in s.models] == [*names, "dead", "ghost"]
    assert by["good"].status == "ok" and by["good"].requests.ok == 2
    expect = {
        "http500": ("http", "HTTP 500: injected failure"),
        "drop": ("broken_stream", "connection broke after 5 chunks"),
        "malformed": ("malformed", "malformed SSE data after 3 chunks"),
        "stall": ("timeout", "stream stalled"),
        "nodone": ("broken_stream", "stream ended without [DONE]"),
    }
    for name, (kind, text) in expect.items():
        m = by[name]
        assert m.status == "error", name
        assert text in (m.error or ""), (name, m.error)
        assert m.errors_by_kind == {kind: 2}, (name, m.errors_by_kind)
    assert "not served" in (by["not-served"].error or "") and "good" in (by["not-served"].error or "")
    assert "unreachable" in (by["dead"].error or "")
    assert "unknown model 'ghost'" in (by["ghost"].error or "")
    # records: every request of every reachable model is on disk with its status and reason
    recs = read_records(tmp_path)
    failed = [r for r in recs if r["status"] == "error"]
    # a model the server does not list is still tried (some servers answer names they do not list);
    # this one refuses it, so its requests fail, naming what the server lists
    assert {r["model"] for r in failed} == {*expect, "not-served"}
    assert all(r["error"] for r in failed)
    # the reports name the failures
    md = (tmp_path / "report.md").read_text()
    assert "HTTP 500: injected failure" in md and "stream stalled" in md
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["schema_version"] == 1
    assert {m["status"] for m in summary["models"]} == {"ok", "error"}


def test_consecutive_failures_stop_a_dead_model_early(fake, tmp_path: Path) -> None:
    targets = resolve_targets(["http500"], {}, fake.base_url)
    settings = BenchSettings(models=["http500"], rounds=10, warmup=0, endpoint=fake.base_url)
    s = run_bench(settings, PROMPTS, targets, tmp_path)
    m = s.models[0]
    assert m.status == "error" and "5 consecutive" in (m.error or "")
    assert len(read_records(tmp_path)) == 5


def test_partial_failures_keep_the_model(fake, tmp_path: Path) -> None:
    """A model whose requests sometimes fail stays 'ok' and counts its failures."""
    from bakeoff.backends.base import ChatRequest
    from bakeoff.backends.openai import OpenAIBackend

    calls = {"n": 0}
    orig = OpenAIBackend._body

    def flaky(self: OpenAIBackend, req: ChatRequest) -> dict[str, object]:
        body = orig(self, req)
        calls["n"] += 1
        if calls["n"] % 2 == 0:
            body["fake"] = {"fault": "http_500", "ttft_ms": 1}
        return body

    OpenAIBackend._body = flaky  # type: ignore[method-assign]
    try:
        targets = resolve_targets(["good"], {}, fake.base_url)
        settings = BenchSettings(models=["good"], rounds=2, warmup=1, endpoint=fake.base_url)
        s = run_bench(settings, PROMPTS, targets, tmp_path)
    finally:
        OpenAIBackend._body = orig  # type: ignore[method-assign]
    m = s.models[0]
    assert m.status == "ok" and m.requests.ok == 2 and m.requests.error == 2
    assert m.errors_by_kind == {"http": 2}
    assert m.latency_s.n == 2
