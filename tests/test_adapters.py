"""Custom adapters benchmark like any other model; one without streaming reports TTFT unavailable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bakeoff.backends.targets import resolve_targets
from bakeoff.config.settings import BenchSettings, PromptCase, load_models_file
from bakeoff.run.bench import run_bench

DATA = Path(__file__).parent / "data"


def models_file(tmp_path: Path) -> Path:
    p = tmp_path / "models.json"
    p.write_text(
        json.dumps(
            {
                "echo": {"adapter": f"{DATA}/echo_adapter.py:EchoAdapter", "weights": "echo.log"},
                "echo-blocking": {"adapter": f"{DATA}/echo_adapter.py:BlockingEcho"},
                "broken": {"adapter": f"{DATA}/echo_adapter.py:BrokenAdapter"},
                "missing-class": {"adapter": f"{DATA}/echo_adapter.py:Nope"},
            }
        )
    )
    return p


def test_adapters_in_a_bench_run(tmp_path: Path) -> None:
    specs = load_models_file(models_file(tmp_path))
    assert specs["echo"].weights == str(tmp_path / "echo.log")  # relative to models.json
    names = list(specs)
    settings = BenchSettings(models=names, rounds=2, warmup=0, max_tokens=10)
    s = run_bench(
        settings, [PromptCase(id="p", prompt="hello")], resolve_targets(names, specs, None), tmp_path / "o"
    )
    by = {m.model: m for m in s.models}
    echo, blocking = by["echo"], by["echo-blocking"]
    assert echo.status == "ok" and echo.tokens.completion_mean == 10 and echo.tokens.source == "native"
    assert echo.ttft_s.n == 2 and echo.ttft_s.p50 < echo.latency_s.p50
    assert echo.tpot_s.p50 == pytest.approx(0.005, abs=0.003)
    assert blocking.status == "ok" and blocking.latency_s.n == 2
    assert blocking.ttft_s.n == 0 and blocking.info["ttft"].startswith("unavailable")
    assert by["broken"].status == "error" and "weights are corrupt" in (by["broken"].error or "")
    assert "no class 'Nope'" in (by["missing-class"].error or "")
    assert (tmp_path / "echo.log").read_text().split() == ["10", "10"]
    md = (tmp_path / "o" / "report.md").read_text()
    assert "TTFT unavailable" in md


def test_stop_sequences_cut_adapter_output(tmp_path: Path) -> None:
    import asyncio

    from bakeoff.backends.adapter import AdapterBackend
    from bakeoff.backends.base import ChatRequest, Completion, TextDelta

    specs = load_models_file(models_file(tmp_path))
    b = AdapterBackend("echo", specs["echo"])

    async def go() -> tuple[str, Completion]:
        await b.load()
        text, done = "", None
        req = ChatRequest(messages=({"role": "user", "content": "x"},), max_tokens=10, stop=("tok3",))
        async for ev in b.stream_chat(req):
            if isinstance(ev, TextDelta):
                text += ev.text
            elif isinstance(ev, Completion):
                done = ev
        assert done is not None
        return text, done

    text, done = asyncio.run(go())
    assert text == "tok0 tok1 tok2 " and done.completion_tokens == 3


def test_adapter_registered_through_entry_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A third-party package registers an adapter under 'bakeoff.adapters'; --models adapter:NAME uses it."""
    site = tmp_path / "site"
    dist = site / "echo_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: echo-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[bakeoff.adapters]\nplugged-echo = echo_plugin_mod:EchoAdapter\n")
    (site / "echo_plugin_mod.py").write_text((DATA / "echo_adapter.py").read_text())
    monkeypatch.syspath_prepend(str(site))
    from bakeoff.backends.adapter_api import registered_adapters

    assert registered_adapters()["plugged-echo"] == "echo_plugin_mod:EchoAdapter"
    targets = resolve_targets(["adapter:plugged-echo"], {}, None)
    settings = BenchSettings(models=["adapter:plugged-echo"], rounds=1, warmup=0, max_tokens=4)
    s = run_bench(settings, [PromptCase(id="p", prompt="hi")], targets, tmp_path / "o")
    m = s.models[0]
    assert m.status == "ok" and m.backend == "adapter" and m.tokens.completion_mean == 4
