"""`bakeoff serve` as a real process, checked with real HTTP clients (httpx and the openai SDK)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import needs

DATA = Path(__file__).parent / "data"
KEY = "test-key"
# With BAKEOFF_REQUIRE_REALMODEL set (CI) the engine is required: its absence fails, never skips.
HAS_LLAMA = importlib.util.find_spec("llama_cpp") is not None or bool(
    os.environ.get("BAKEOFF_REQUIRE_REALMODEL")
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    def __init__(self, base: str, log: Path) -> None:
        self.base = base
        self.log = log
        self.headers = {"Authorization": f"Bearer {KEY}"}

    def health(self) -> dict[str, dict[str, object]]:
        return httpx.get(self.base.removesuffix("/v1") + "/health", headers=self.headers).json()["models"]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("serve")
    models = {
        "echo": {
            "adapter": f"{DATA}/echo_adapter.py:EchoAdapter",
            "weights": str(tmp / "echo.log"),
            "capabilities": ["chat"],
        },
        "echo-blocking": {"adapter": f"{DATA}/echo_adapter.py:BlockingEcho"},
        "broken": {"adapter": f"{DATA}/echo_adapter.py:BrokenAdapter"},
    }
    names = "echo,echo-blocking,broken" + (",smollm2-135m,smollm2-plain" if HAS_LLAMA else "")
    if HAS_LLAMA:
        models["smollm2-135m"] = {"embedded": "smollm2-135m"}
        example = Path(__file__).parent.parent / "examples" / "plain_prompt_adapter.py"
        models["smollm2-plain"] = {"adapter": f"{example}:PlainPromptAdapter"}  # the shipped example
    (tmp / "models.json").write_text(json.dumps(models))
    port = _free_port()
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "bakeoff"),
            "serve",
            "--port",
            str(port),
            "--models",
            names,
            "--models-file",
            str(tmp / "models.json"),
            "--api-key",
            KEY,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(base.removesuffix("/v1") + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise RuntimeError(f"server did not start: {proc.stdout.read() if proc.stdout else ''}")
    yield Served(base, tmp / "echo.log")
    proc.terminate()
    proc.wait(timeout=20)


def post(s: Served, body: object, **kw: object) -> httpx.Response:
    headers = kw.pop("headers", s.headers)
    return httpx.post(s.base + "/chat/completions", json=body, headers=headers, timeout=60, **kw)  # type: ignore[arg-type]


def test_models_listing(served: Served) -> None:
    r = httpx.get(served.base + "/models", headers=served.headers)
    ids = [m["id"] for m in r.json()["data"]]
    assert ids[:3] == ["echo", "echo-blocking", "broken"]
    assert r.json()["data"][0]["capabilities"] == ["chat"]


def test_openai_client_streams_and_not(served: Served) -> None:
    import openai  # a dev dependency: a missing client is a failure, not a skip

    client = openai.OpenAI(base_url=served.base, api_key=KEY)
    models = ["echo", "echo-blocking"] + (["smollm2-135m", "smollm2-plain"] if HAS_LLAMA else [])
    for model in models:
        r = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Say hi"}], max_tokens=6, temperature=0
        )
        assert r.choices[0].message.content
        assert r.usage is not None and 1 <= r.usage.completion_tokens <= 6 and r.usage.prompt_tokens > 0
        chunks = list(
            client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": "Say hi"}],
                max_tokens=6,
                temperature=0,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        usage = [c.usage for c in chunks if c.usage]
        assert text == r.choices[0].message.content  # temperature 0: same answer either way
        assert len(usage) == 1 and usage[0].completion_tokens == r.usage.completion_tokens
    echo = client.chat.completions.create(
        model="echo", messages=[{"role": "user", "content": "x"}], max_tokens=5, stop=["tok3"]
    )
    assert echo.choices[0].message.content == "tok0 tok1 tok2 "


def test_errors_are_openai_shaped_and_harmless(served: Served) -> None:
    good = {"model": "echo", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    json_body = {**served.headers, "Content-Type": "application/json"}
    r = httpx.post(served.base + "/chat/completions", content=b"{not json", headers=json_body)
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]
    r = post(served, {**good, "max_tokens": 0})
    assert r.status_code == 400 and r.json()["error"]["param"] == "max_tokens"
    r = post(served, {**good, "temperature": 5})
    assert r.status_code == 400 and r.json()["error"]["param"] == "temperature"
    r = post(served, {"model": "echo", "messages": [{"role": "wizard", "content": "x"}]})
    assert r.status_code == 400 and r.json()["error"]["param"].startswith("messages")
    r = post(served, {**good, "model": "gpt-9"})
    assert r.status_code == 404 and "echo" in r.json()["error"]["message"]
    r = post(served, good, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.json()["error"]["type"] == "invalid_api_key"
    assert httpx.get(served.base + "/models").status_code == 401
    r = post(served, {**good, "messages": [{"role": "user", "content": "x" * (2 << 20)}]})
    assert r.status_code == 413
    r = post(served, {**good, "model": "broken"})
    assert r.status_code == 503 and "weights are corrupt" in r.json()["error"]["message"]
    # still serving
    assert post(served, good).status_code == 200
    assert served.health()["broken"]["load_error"]


def test_client_disconnect_stops_generation(served: Served) -> None:
    served.log.write_text("")
    body = {
        "model": "echo",
        "messages": [{"role": "user", "content": "x"}],
        "max_tokens": 400,
        "stream": True,
    }
    with httpx.stream("POST", served.base + "/chat/completions", json=body, headers=served.headers) as r:
        got = 0
        for line in r.iter_lines():
            if '"content": "tok' in line:
                got += 1
                if got == 3:
                    break  # leaving the block closes the connection mid-stream
    deadline = time.time() + 10
    while time.time() < deadline and not served.log.read_text().strip():
        time.sleep(0.05)
    produced = int(served.log.read_text().split()[-1])
    assert 3 <= produced < 100, produced  # 400 would take 2 s; it stopped right after the disconnect
    h = served.health()["echo"]
    assert h["cancelled"] >= 1 and h["active"] == 0


def test_32_concurrent_streams_across_two_models(served: Served) -> None:
    second = "smollm2-135m" if HAS_LLAMA else "echo-blocking"

    async def one(client: httpx.AsyncClient, model: str, i: int) -> tuple[str, str, dict[str, int], bool]:
        body = {
            "model": model,
            "messages": [{"role": "user", "content": "List 3 privacy benefits of local inference."}],
            "max_tokens": 8,
            "temperature": 0,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        text, usage, done = "", {}, False
        async with client.stream("POST", "/chat/completions", json=body) as r:
            assert r.status_code == 200
            async for line in r.aiter_lines():
                if not line.startswith("data: "):
                    continue
                if line == "data: [DONE]":
                    done = True
                    continue
                obj = json.loads(line[6:])
                if obj.get("usage"):
                    usage = obj["usage"]
                for c in obj["choices"]:
                    text += c["delta"].get("content") or ""
        return model, text, usage, done

    async def run() -> list[tuple[str, str, dict[str, int], bool]]:
        async with httpx.AsyncClient(base_url=served.base, headers=served.headers, timeout=120) as client:
            return await asyncio.gather(*(one(client, "echo" if i % 2 else second, i) for i in range(32)))

    results = asyncio.run(run())
    assert len(results) == 32 and all(done for *_, done in results)
    echo = [r for r in results if r[0] == "echo"]
    other = [r for r in results if r[0] == second]
    assert len(echo) == len(other) == 16
    for _, text, usage, _ in echo:
        assert text == "".join(f"tok{i} " for i in range(8)) and usage["completion_tokens"] == 8
    texts = {t for _, t, _, _ in other}
    assert len(texts) == 1 and next(iter(texts))  # identical answers: no cross-talk between requests
    assert len({u["completion_tokens"] for *_, u, _ in other}) == 1


@needs(HAS_LLAMA, "llama-cpp-python", "BAKEOFF_REQUIRE_REALMODEL")
def test_same_model_in_process_and_served_side_by_side(served: Served, tmp_path: Path) -> None:
    from bakeoff.backends.targets import resolve_targets
    from bakeoff.config.settings import BenchSettings, ModelSpec, PromptCase
    from bakeoff.run.bench import run_bench

    targets = resolve_targets(["llamacpp:smollm2-135m"], {}, None)
    spec = ModelSpec(backend="openai", model="smollm2-135m", base_url=served.base, api_key=KEY)
    from bakeoff.backends.targets import ModelTarget

    targets.append(ModelTarget("smollm2-135m@serve", "openai", spec))
    # the same request to both (no cache tag for the served one: bakeoff serve resets llama.cpp's cache)
    settings = BenchSettings(
        models=[t.name for t in targets], rounds=1, warmup=1, max_tokens=8, prompt_cache="reuse"
    )
    s = run_bench(settings, [PromptCase(id="p", prompt="Say hi")], targets, tmp_path)
    a, b = s.models
    assert a.status == b.status == "ok"
    assert a.tokens.source == "native" and b.tokens.source == "usage"
    assert a.tokens.completion_mean == b.tokens.completion_mean
    assert a.sample_response == b.sample_response
    # memory: the in-process run bills bakeoff's own growth, the served one the server process
    assert (a.resources.memory_source or "").startswith("bakeoff's own process")
    assert (b.resources.memory_source or "").startswith("server process pid")
    assert (b.resources.peak_rss_mb or 0) > (a.resources.peak_rss_mb or 0) * 0.5


def test_capability_routing_from_a_saved_run(tmp_path: Path) -> None:
    """serve --route RUN_DIR answers model "auto" / "auto:<capability>" with the recommended model."""
    models = {
        "quick": {"adapter": f"{DATA}/echo_adapter.py:EchoAdapter", "capabilities": ["chat"]},
        "coder": {"adapter": f"{DATA}/echo_adapter.py:SlowEcho", "capabilities": ["chat", "code"]},
    }
    (tmp_path / "models.json").write_text(json.dumps(models))
    bakeoff = str(Path(sys.executable).parent / "bakeoff")
    r = subprocess.run(
        [
            bakeoff,
            "bench",
            "--models-file",
            str(tmp_path / "models.json"),
            "-r",
            "3",
            "--max-tokens",
            "6",
            "-o",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    port = _free_port()
    proc = subprocess.Popen(
        [
            bakeoff,
            "serve",
            "--models-file",
            str(tmp_path / "models.json"),
            "--port",
            str(port),
            "--route",
            str(tmp_path / "run"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(100):
            try:
                ids = {
                    m["id"]: m.get("routes_to") for m in httpx.get(base + "/models", timeout=1).json()["data"]
                }
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert ids["auto"] == "quick" and ids["auto:code"] == "coder" and ids["auto:chat"] == "quick"
        body = {"messages": [{"role": "user", "content": "x"}], "max_tokens": 2}
        assert (
            httpx.post(base + "/chat/completions", json={**body, "model": "auto:code"}).json()["model"]
            == "coder"
        )
        assert (
            httpx.post(base + "/chat/completions", json={**body, "model": "auto"}).json()["model"] == "quick"
        )
        assert (
            httpx.post(base + "/chat/completions", json={**body, "model": "auto:vision"}).status_code == 404
        )
    finally:
        proc.terminate()
        proc.wait(timeout=20)
