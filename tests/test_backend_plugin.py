"""A backend registered through the ``bakeoff.backends`` entry point, with no edit to bakeoff, runs
through bench, doctor and serve. The plugin is a real installed distribution as importlib.metadata
sees one: a module and its ``.dist-info`` (METADATA, entry_points.txt) on the path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from .conftest import bakeoff_serve

BAKEOFF = str(Path(sys.executable).parent / "bakeoff")

PLUGIN = '''
import time
from bakeoff.backends.base import Completion, Sent, TextDelta
from bakeoff.config import ModelSpec


class EchoBackend:
    """Answers with the words of the prompt, one token each, 2 ms apart."""

    kind = "echo"
    supports_streaming = True
    in_process = True

    @classmethod
    def spec_for(cls, ref, endpoint):
        return ModelSpec(backend="echo", model=ref)

    @classmethod
    def doctor_checks(cls):
        return [("engine echo", True, "plugin engine ready")]

    def __init__(self, name, spec):
        self.name, self.spec = name, spec

    async def load(self):
        return 0.0

    async def stream_chat(self, request):
        import asyncio
        yield Sent(time.perf_counter_ns())
        words = request.messages[-1]["content"].split()[: request.max_tokens]
        for w in words:
            await asyncio.sleep(0.002)
            yield TextDelta(time.perf_counter_ns(), w + " ", 1)
        yield Completion(time.perf_counter_ns(), len(words), len(words), "native", "stop")

    def describe(self):
        return {"engine": "echo-plugin", "model_id": self.spec.model}

    async def close(self):
        pass
'''


@pytest.fixture()
def plugin_env(tmp_path: Path) -> dict[str, str]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "bakeoff_echo_plugin.py").write_text(PLUGIN)
    info = site / "bakeoff_echo_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bakeoff-echo-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[bakeoff.backends]\necho = bakeoff_echo_plugin:EchoBackend\n")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("BENCH_") and k != "FOUNDRY_LOCAL_ENDPOINT"
    }
    env["PYTHONPATH"] = str(site)
    env["BAKEOFF_CACHE"] = str(tmp_path / "cache")
    return env


def test_plugin_backend_runs_through_bench(plugin_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = subprocess.run(
        [BAKEOFF, "bench", "-m", "echo:parrot", "--prompt", "one two three four", "-r", "2", "--warmup", "0",
         "-o", str(out)],
        capture_output=True, text=True, env=plugin_env, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "echo:parrot" in r.stdout  # printed as named (Rich would turn ":parrot:" into an emoji)
    row = json.loads((out / "summary.json").read_text())["models"][0]
    assert (row["model"], row["backend"], row["status"]) == ("echo:parrot", "echo", "ok")
    assert row["tokens"]["completion_mean"] == 4 and row["tokens"]["source"] == "native"
    assert row["ttft_s"]["n"] == 2 and row["info"]["engine"] == "echo-plugin"
    assert row["resources"]["peak_rss_mb"] is not None  # in_process: this process's memory is the model's


def test_plugin_backend_runs_through_doctor(plugin_env: dict[str, str]) -> None:
    r = subprocess.run(
        [BAKEOFF, "doctor", "-m", "echo:parrot"], capture_output=True, text=True, env=plugin_env, timeout=120
    )
    text = " ".join((r.stdout + r.stderr).split())
    assert "engine echo" in text and "plugin engine ready" in text
    assert "echo:parrot" in text and r.returncode == 0, text


def test_plugin_backend_runs_through_serve(plugin_env: dict[str, str]) -> None:
    with bakeoff_serve("--models", "echo:parrot", env=plugin_env) as base:
        body = {"model": "echo:parrot", "messages": [{"role": "user", "content": "hello plugin world"}]}
        r = httpx.post(base + "/v1/chat/completions", json=body, timeout=30)
        assert r.status_code == 200, r.text
        assert r.json()["choices"][0]["message"]["content"].split() == ["hello", "plugin", "world"]
        assert r.json()["usage"]["completion_tokens"] == 3


def test_a_broken_plugin_fails_its_target_not_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from bakeoff import plugins, targets

    class Broken:
        @classmethod
        def spec_for(cls, ref: str, endpoint: str | None) -> object:
            raise ValueError("no such thing")

    monkeypatch.setattr(targets, "load_backend_class", lambda name: Broken)
    monkeypatch.setattr(targets, "backend_names", lambda: ["broken"])
    (t,) = targets.resolve_targets(["broken:x"], {}, None)
    assert t.spec is None and t.error == "backend 'broken' failed on 'x': ValueError: no such thing"

    def explode(name: str) -> object:
        raise OSError("libengine.so: cannot open shared object file")

    monkeypatch.setattr(plugins, "load_backend_class", explode)
    assert plugins.backend_in_process("broken") is True  # the default; the target reports the failure
