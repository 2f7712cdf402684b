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
from bakeoff.config.settings import ModelSpec


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

    # catalog hooks: `bakeoff models ...` reaches them with no edit to bakeoff
    @classmethod
    def catalog_entries(cls, include_public, endpoint):
        from bakeoff.models.entry import Entry
        return [Entry(alias="parrot", id="echo-parrot-v1", backend="echo", source="echo catalog",
                      license="MIT", capabilities=("chat",), cached=True)], []

    @classmethod
    def download(cls, ref, progress):
        return f"{ref}: the echo engine needs no download" if ref == "parrot" else None

    @classmethod
    def remove_cached(cls, alias):
        return f"{alias}: nothing to remove, echo keeps no files" if alias == "parrot" else None

    @classmethod
    def import_model(cls, path, alias, say):
        say("teaching the parrot")
        return f"{alias}: echo learned {path.name}", f"echo:{alias}"

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
    from bakeoff.backends import plugins, targets

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


def test_plugin_backend_reaches_the_model_commands(plugin_env: dict[str, str], tmp_path: Path) -> None:
    def bakeoff(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([BAKEOFF, *args], capture_output=True, text=True, env=plugin_env, timeout=120)

    r = bakeoff("models", "list", "--backend", "echo")
    text = " ".join(r.stdout.split())
    assert r.returncode == 0 and "echo-parrot-v1" in text and "echo catalog" in text, r.stdout + r.stderr
    r = bakeoff("models", "download", "parrot")
    assert r.returncode == 0 and "the echo engine needs no download" in r.stdout, r.stderr
    r = bakeoff("models", "cache", "remove", "parrot")
    assert r.returncode == 0 and "echo keeps no files" in r.stdout, r.stderr
    words = tmp_path / "words.txt"
    words.write_text("hello")
    r = bakeoff("models", "import", str(words), "--name", "poly", "--to", "echo")
    assert r.returncode == 0 and "echo learned words.txt" in r.stdout, r.stderr
    assert "bakeoff bench --models echo:poly" in r.stdout
