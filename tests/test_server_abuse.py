"""`bakeoff serve` under abuse (issue 15): a client that leaves stops its generation, a full queue
answers 429 with Retry-After, client errors are 4xx and OpenAI-shaped with plain field names, health
says only up/down without the key, no local path leaves the machine. A real server process, real HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bakeoff.models.embedded import EMBEDDED

from .conftest import bakeoff_serve, free_port
from .test_server import HAS_LLAMA

DATA = Path(__file__).parent / "data"
KEY = "abuse-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


class Srv:
    def __init__(self, base: str, log: Path) -> None:
        self.base = base
        self.log = log
        self.client = httpx.Client(base_url=base, headers=AUTH, timeout=60)

    def chat(self, body: object, **kw: object) -> httpx.Response:
        # json.dumps escapes to ASCII, so a lone surrogate goes out as the six characters \ud800
        raw = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        return self.client.post("/v1/chat/completions", content=raw, headers=headers, **kw)  # type: ignore[arg-type]

    def health(self, **kw: object) -> dict[str, object]:
        return self.client.get("/health", **kw).json()  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Srv]:
    tmp = tmp_path_factory.mktemp("abuse")
    models = {
        "echo": {"adapter": f"{DATA}/echo_adapter.py:EchoAdapter", "weights": str(tmp / "echo.log")},
        "slow": {"adapter": f"{DATA}/echo_adapter.py:EchoAdapter"},
        "instant": {"adapter": f"{DATA}/echo_adapter.py:InstantEcho"},
        "leaky": {
            "adapter": f"{DATA}/echo_adapter.py:PathLeakAdapter",
            "weights": str(tmp / "secret" / "w.bin"),
        },
    }
    names = "echo,slow,instant,leaky"
    if HAS_LLAMA:
        models["smollm2-135m"] = {"embedded": "smollm2-135m"}
        names += ",smollm2-135m"
    (tmp / "models.json").write_text(json.dumps(models))
    env = {**os.environ, "BAKEOFF_API_KEY": KEY}  # the key by variable, not on the command line
    args = ("--models", names, "--models-file", str(tmp / "models.json"), "--max-queue", "2")
    with bakeoff_serve(*args, env=env) as base:
        yield Srv(base, tmp / "echo.log")


GOOD = {"model": "instant", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}


def _is_openai_error(r: httpx.Response, status: int) -> dict[str, object]:
    assert r.status_code == status, (r.status_code, r.text)
    err = r.json()["error"]
    assert isinstance(err["message"], str) and isinstance(err["type"], str) and "param" in err
    return err  # type: ignore[no-any-return]


def test_a_non_streaming_client_that_leaves_stops_its_generation(srv: Srv) -> None:
    srv.log.write_text("")
    body = {"model": "echo", "messages": [{"role": "user", "content": "x"}], "max_tokens": 1000}
    with pytest.raises(httpx.ReadTimeout):
        srv.chat(body, timeout=0.3)  # 1000 tokens would take 5 s; the client gives up after 0.3 s
    deadline = time.time() + 10
    while time.time() < deadline and not srv.log.read_text().strip():
        time.sleep(0.05)
    produced = int(srv.log.read_text().split()[-1])
    assert produced < 300, produced  # stopped right after the client left, not at 1000
    h = srv.health()["models"]["echo"]  # type: ignore[index]
    assert h["cancelled"] >= 1 and h["active"] == 0
    assert srv.chat({**GOOD, "model": "echo"}).status_code == 200  # and the model serves the next one


def test_a_full_queue_answers_429_with_retry_after(srv: Srv) -> None:
    body = {"model": "slow", "messages": [{"role": "user", "content": "x"}], "max_tokens": 100}  # 0.5 s each
    assert srv.chat({**body, "max_tokens": 1}).status_code == 200  # loaded and warm
    results: list[httpx.Response] = []
    lock = threading.Lock()

    def one() -> None:
        r = httpx.post(srv.base + "/v1/chat/completions", json=body, headers=AUTH, timeout=60)
        with lock:
            results.append(r)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 1.2  # the 8 arrive within it on a busy machine; the queue lasts 1.5 s
    while True:
        h = srv.health()["models"]["slow"]  # type: ignore[index]
        if h["queued"] == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert h["max_queue"] == 2 and h["queued"] == 2  # one generating, two waiting, /health shows it
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results)
    assert codes == [200] * 3 + [429] * 5, codes  # one generating plus a queue of 2; the rest refused
    refused = [r for r in results if r.status_code == 429]
    for r in refused:
        assert int(r.headers["Retry-After"]) >= 1
        assert _is_openai_error(r, 429)["type"] == "rate_limit_exceeded"
    assert srv.health()["models"]["slow"]["rejected"] == 5  # type: ignore[index]


@pytest.mark.parametrize(
    ("body", "param", "says"),
    [
        ({**GOOD, "max_tokens": "16"}, "max_tokens", "valid integer"),
        ({**GOOD, "stream": "yes"}, "stream", "valid boolean"),
        ({**GOOD, "temperature": "0.5"}, "temperature", "valid number"),
        ({**GOOD, "messages": [{"role": "user", "content": 5}]}, "messages[0].content",
         "valid string"),
        ({**GOOD, "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
         "messages[0].content", "'image_url' is not supported"),
        ({**GOOD, "messages": [{"role": "user", "content": "\ud800"}]}, "messages[0].content",
         "not valid Unicode"),
        ({**GOOD, "tools": [{"type": "function", "function": {"name": "f"}}]}, "tools",
         "'tools' is not supported"),
        ({**GOOD, "logprobs": True}, "logprobs", "not supported"),
        ({**GOOD, "response_format": {"type": "json_object"}}, "response_format", "not supported"),
        ({**GOOD, "n": 2}, "n", "only n=1"),
        ({**GOOD, "frobnicate": 1}, "frobnicate", "unrecognized request argument 'frobnicate'"),
        ({**GOOD, "stream_options": {"include_usage": "yes"}}, "stream_options.include_usage", "boolean"),
    ],
)  # fmt: skip
def test_client_errors_are_400_with_the_field_named_plainly(
    srv: Srv, body: object, param: str, says: str
) -> None:
    err = _is_openai_error(srv.chat(body), 400)
    assert err["param"] == param and says in str(err["message"]), err
    assert "str]" not in str(err["message"]) and ".str" not in str(err["param"])  # no pydantic internals


@pytest.mark.parametrize(
    "extra",
    [
        {"logprobs": False},
        {"user": "u1"},
        {"response_format": {"type": "text"}},
        {"presence_penalty": 0},
        {"n": 1},
    ],
)
def test_neutral_values_and_ignorable_fields_are_accepted(srv: Srv, extra: dict[str, object]) -> None:
    assert srv.chat({**GOOD, **extra}).status_code == 200


def test_malformed_bodies_paths_and_methods_are_openai_shaped(srv: Srv) -> None:
    as_json = {"Content-Type": "application/json"}
    r = srv.client.post("/v1/chat/completions", content=b"[" * 100_000 + b"]" * 100_000, headers=as_json)
    assert "nested too deeply" in str(_is_openai_error(r, 400)["message"])
    r = srv.client.post(
        "/v1/chat/completions", content=b'{"model": "instant", "messages": "\\ud800"}', headers=as_json
    )
    _is_openai_error(r, 400)
    _is_openai_error(srv.client.get("/v1/nothing-here"), 404)
    _is_openai_error(srv.client.get("/v1/chat/completions"), 405)
    _is_openai_error(srv.client.delete("/v1/models"), 405)
    assert srv.chat(GOOD).status_code == 200  # still serving


def test_health_without_the_key_says_only_up_or_down_and_a_failed_model_degrades_it(srv: Srv) -> None:
    bare = httpx.get(srv.base + "/health").json()
    assert set(bare) == {"status"}
    r = srv.chat({**GOOD, "model": "leaky"})
    msg = str(_is_openai_error(r, 503)["message"])
    assert "w.bin" in msg and "/" not in msg and "secret" not in msg  # no local path leaves the machine
    assert httpx.get(srv.base + "/health").json() == {"status": "degraded"}
    full = srv.health()
    assert full["status"] == "degraded"
    assert "/" not in str(full["models"]["leaky"]["load_error"])  # type: ignore[index]


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_any_case_of_bearer_is_accepted(srv: Srv, scheme: str) -> None:
    r = httpx.post(
        srv.base + "/v1/chat/completions", json=GOOD, headers={"Authorization": f"{scheme} {KEY}"}, timeout=30
    )
    assert r.status_code == 200
    assert (
        httpx.post(srv.base + "/v1/chat/completions", json=GOOD, headers={"Authorization": KEY}).status_code
        == 401
    )


@pytest.mark.skipif(
    not HAS_LLAMA, reason="needs the llama.cpp engine (BAKEOFF_REQUIRE_REALMODEL makes it required)"
)
def test_a_prompt_beyond_the_context_is_400_context_length_exceeded(srv: Srv) -> None:
    body = {
        "model": "smollm2-135m",
        "messages": [{"role": "user", "content": "word " * 9000}],
        "max_tokens": 8,
    }
    err = _is_openai_error(srv.chat(body), 400)
    assert err["code"] == "context_length_exceeded" and err["type"] == "invalid_request_error"
    assert "exceed n_ctx" in str(err["message"])


@pytest.mark.skipif(
    not HAS_LLAMA, reason="needs the llama.cpp engine (BAKEOFF_REQUIRE_REALMODEL makes it required)"
)
def test_models_shows_the_same_license_and_capabilities_as_the_catalog(srv: Srv) -> None:
    data = {m["id"]: m for m in srv.client.get("/v1/models").json()["data"]}
    reg = EMBEDDED["smollm2-135m"]
    assert data["smollm2-135m"]["license"] == reg.license and reg.license
    assert data["smollm2-135m"]["capabilities"] == list(reg.capabilities) and reg.capabilities


def test_openapi_schema_is_published(srv: Srv) -> None:
    doc = httpx.get(srv.base + "/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    body = doc["components"]["schemas"]["ChatBody"]
    assert {"model", "messages"} <= set(body["required"]) and "max_tokens" in body["properties"]
    assert "429" in doc["paths"]["/v1/chat/completions"]["post"]["responses"]


def test_port_out_of_range_and_port_in_use_are_one_line_exit_2(tmp_path: Path) -> None:
    exe = str(Path(sys.executable).parent / "bakeoff")
    r = subprocess.run(
        [exe, "serve", "--port", "99999", "-m", "smollm2-135m"], capture_output=True, text=True
    )
    assert r.returncode == 2 and "65535" in r.stderr  # typer: "less than or equal to 65535"
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        r = subprocess.run(
            [exe, "serve", "--port", str(port), "-m", "smollm2-135m"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert r.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) <= 2


def test_max_queue_zero_serves_one_and_refuses_any_waiting() -> None:
    from starlette.testclient import TestClient

    from bakeoff.backends.targets import ModelTarget
    from bakeoff.config.settings import ModelSpec
    from bakeoff.serve.app import ModelHost, create_app

    spec = ModelSpec(adapter=f"{DATA}/echo_adapter.py:InstantEcho")
    host = ModelHost([ModelTarget("instant", "adapter", spec)], max_queue=0)
    with TestClient(create_app(host), base_url="http://127.0.0.1") as client:
        assert client.post("/v1/chat/completions", json=GOOD).status_code == 200  # idle: served
        host.models["instant"].active = 1  # one generating: with no queue, the next is refused
        r = client.post("/v1/chat/completions", json=GOOD)
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        host.models["instant"].active = 0


def test_a_proxied_model_queues_nothing_here(tmp_path: Path) -> None:
    """An OpenAI-compatible server behind ``serve`` runs its requests side by side: 6 streams at once
    with --max-queue 1 are all answered (they were 429 'has N requests queued'), and /health shows 0
    queued while they run."""
    from bakeoff.testing import FakePlan, FakeServer

    plan = FakePlan(ttft_ms=300, itl_ms=20, tokens=10)
    with FakeServer(plan, {"up": plan}) as up:
        models = tmp_path / "models.json"
        models.write_text(
            json.dumps({"proxied": {"backend": "openai", "model": "up", "base_url": up.base_url}})
        )
        with bakeoff_serve("--models-file", str(models), "--models", "proxied", "--max-queue", "1") as base:
            body = {"model": "proxied", "messages": [{"role": "user", "content": "x"}], "max_tokens": 10}
            results: list[int] = []
            lock = threading.Lock()

            def one() -> None:
                r = httpx.post(base + "/v1/chat/completions", json=body, timeout=60)
                with lock:
                    results.append(r.status_code)

            threads = [threading.Thread(target=one) for _ in range(6)]
            for t in threads:
                t.start()
            time.sleep(0.15)
            h = httpx.get(base + "/health").json()["models"]["proxied"]
            for t in threads:
                t.join()
    assert results == [200] * 6
    assert h["active"] >= 2 and h["queued"] == 0


def test_a_web_page_cannot_drive_the_server() -> None:
    """Without a key (the default) a page the user opens could POST a 'simple' request (text/plain, no
    preflight) or read answers through DNS rebinding (Host: attacker.example). Each is refused before
    the app; same-origin and loopback clients, and origins given with --cors-origin, are served."""
    from starlette.testclient import TestClient

    from bakeoff.backends.targets import ModelTarget
    from bakeoff.config.settings import ModelSpec
    from bakeoff.serve.app import ModelHost, create_app
    from bakeoff.serve.guard import allowed_hosts, host_name

    assert [host_name(h) for h in ("LocalHost:8000", "[::1]:80", "::1", "a.b")] == [
        "localhost",
        "::1",
        "::1",
        "a.b",
    ]
    assert allowed_hosts("127.0.0.1") == {"localhost", "127.0.0.1", "::1"}
    assert allowed_hosts("0.0.0.0", ["box.lan:9"]) == {"localhost", "127.0.0.1", "::1", "box.lan"}
    assert allowed_hosts("10.0.0.5") == {"localhost", "127.0.0.1", "::1", "10.0.0.5"}
    assert allowed_hosts("127.0.0.1", ["*"]) is None

    spec = ModelSpec(adapter=f"{DATA}/echo_adapter.py:InstantEcho")
    host = ModelHost([ModelTarget("instant", "adapter", spec)])
    app = create_app(host, cors_origins=("http://localhost:3000",))
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        body = json.dumps(GOOD)
        as_json = {"Content-Type": "application/json"}
        assert client.post("/v1/chat/completions", content=body, headers=as_json).status_code == 200
        # DNS rebinding: the page's own name in Host
        r = client.post("/v1/chat/completions", content=body, headers={**as_json, "Host": "attacker.example"})
        assert r.status_code == 421 and "--allowed-host" in r.json()["error"]["message"]
        assert client.get("/v1/models", headers={"Host": "attacker.example:8000"}).status_code == 421
        # a simple cross-origin request: text/plain needs no preflight, so the body type is refused
        r = client.post("/v1/chat/completions", content=body, headers={"Content-Type": "text/plain"})
        assert r.status_code == 415
        r = client.post("/v1/chat/completions", content=body,
                        headers={**as_json, "Origin": "http://attacker.example"})  # fmt: skip
        assert (
            r.status_code == 403 and "--cors-origin http://attacker.example" in r.json()["error"]["message"]
        )
        assert "access-control-allow-origin" not in r.headers
        # the server's own origin and an allowed one are served; only the allowed one gets CORS headers
        r = client.post("/v1/chat/completions", content=body,
                        headers={**as_json, "Origin": "http://127.0.0.1:8000"})  # fmt: skip
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
        r = client.post("/v1/chat/completions", content=body,
                        headers={**as_json, "Origin": "http://localhost:3000"})  # fmt: skip
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "http://localhost:3000"
        ask = {"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"}
        pre = client.options("/v1/chat/completions", headers=ask)
        assert pre.status_code == 204 and "content-type" in pre.headers["access-control-allow-headers"]
        assert client.options("/v1/models", headers={"Origin": "http://evil.example"}).status_code == 403
        assert client.get("/health", headers={"Host": "[::1]:8000"}).status_code == 200


def _raw(port: int, data: bytes, wait_s: float = 5.0) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes it (or ``wait_s``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as s:
        s.sendall(data)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except TimeoutError:
            pass
        return out


def test_request_heads_are_bounded_in_size_time_and_connections(tmp_path: Path) -> None:
    """Issue 32, 7: a 431 for a 40 MB head, a 408 for a slow-loris head, a 503 past the per-client cap,
    all before the key check; an ordinary request on a kept-alive connection still answers."""
    spec = {"instant": {"adapter": f"{DATA}/echo_adapter.py:InstantEcho"}}
    tmp = tmp_path / "models.json"
    tmp.write_text(json.dumps(spec))
    args = ("--models", "instant", "--models-file", str(tmp), "--header-timeout", "1",
            "--max-client-connections", "4")  # fmt: skip
    with bakeoff_serve(*args, env={**os.environ, "BAKEOFF_API_KEY": KEY}) as base:
        port = int(base.rsplit(":", 1)[1])
        # 70 KiB of one header and no end to the head: more than the 64 KiB limit, all of it read by the
        # server before it answers (a client still sending megabytes would see the close as a reset)
        big = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"a" * (70 << 10)
        answer = _raw(port, big)
        assert answer.startswith(b"HTTP/1.1 431") and b"over 65536 bytes" in answer, answer[:200]
        fits = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"a" * (60 << 10) + b"\r\n\r\n"
        assert _raw(port, fits).startswith(b"HTTP/1.1 200")  # under the limit: answered
        t = time.monotonic()
        slow = _raw(port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n", wait_s=10)  # never finished
        assert slow.startswith(b"HTTP/1.1 408") and b"within 1 s" in slow, slow
        assert 0.9 <= time.monotonic() - t < 5
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
        try:
            time.sleep(0.2)
            refused = _raw(port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert refused.startswith(b"HTTP/1.1 503") and b"retry-after: 1" in refused.lower(), refused
            assert b"--max-client-connections" in refused
        finally:
            for s in held:
                s.close()
        time.sleep(0.3)  # the held ones are counted out as they close
        with httpx.Client(base_url=base, headers=AUTH, timeout=10) as client:  # kept alive: both answer
            for _ in range(2):
                r = client.post("/v1/chat/completions", json=GOOD)
                assert r.status_code == 200, r.text
                assert "server" not in r.headers  # no "server: uvicorn" on the answers


def test_an_unrouted_auto_says_why_in_its_404() -> None:
    from starlette.testclient import TestClient

    from bakeoff.backends.targets import ModelTarget
    from bakeoff.config.settings import ModelSpec
    from bakeoff.serve.app import ModelHost, create_app

    spec = ModelSpec(adapter=f"{DATA}/echo_adapter.py:InstantEcho")
    host = ModelHost([ModelTarget("instant", "adapter", spec)])
    host.unrouted["auto"] = "recommended big-model is not served here"
    with TestClient(create_app(host), base_url="http://127.0.0.1") as client:
        r = client.post("/v1/chat/completions", json={**GOOD, "model": "auto"})
        err = _is_openai_error(r, 404)
        assert err["message"] == (
            "model 'auto' is not routed: recommended big-model is not served here; this server has: instant"
        )
        assert (
            _is_openai_error(client.post("/v1/chat/completions", json={**GOOD, "model": "nope"}), 404)[
                "message"
            ]
            == "model 'nope' not found; this server has: instant"
        )
