"""Real servers that are not quite OpenAI: a web page where an API should be, and a server that answers
model names it does not list (llama.cpp's server lists its file path and answers any name) (issue 15)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.test_cli import run

PAGE = "<!DOCTYPE html><html><head><title>Router login</title></head><body>" + "x" * 5000 + "</body></html>"
LISTED = "/models/SmolLM2-135M-Instruct-Q8_0.gguf"


class _Handler(BaseHTTPRequestHandler):
    mode = "html"

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, code: int, body: bytes, ctype: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.mode == "html":
            return self._send(200, PAGE.encode(), "text/html; charset=utf-8")
        return self._send(200, json.dumps({"data": [{"id": LISTED}]}).encode(), "application/json")

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.mode == "html":
            return self._send(200, PAGE.encode(), "text/html")
        # like llama.cpp's server: whatever the model name, the loaded model answers
        usage = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
        if body.get("stream"):
            frames = [
                {"choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]}
                for w in ("a ", "b ", "c")
            ]
            frames += [
                {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
                {"choices": [], "usage": usage},
            ]
            out = b"".join(b"data: " + json.dumps(f).encode() + b"\n\n" for f in frames) + b"data: [DONE]\n\n"
            return self._send(200, out, "text/event-stream")
        message = {"role": "assistant", "content": "a b c"}
        answer = {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}], "usage": usage}
        return self._send(200, json.dumps(answer).encode(), "application/json")


def _serve(mode: str) -> Iterator[str]:
    handler = type("H", (_Handler,), {"mode": mode})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def html_endpoint() -> Iterator[str]:
    yield from _serve("html")


@pytest.fixture
def any_name_endpoint() -> Iterator[str]:
    yield from _serve("any-name")


def test_an_endpoint_that_answers_html_is_one_line(html_endpoint: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = run("bench", "-e", html_endpoint, "-m", "m1", "-r", "1", "-o", str(out))
    assert r.returncode == 1
    assert f"{html_endpoint}/models returned HTML, not JSON (HTTP 200)" in r.stderr
    assert "Router login" not in r.stderr + r.stdout and "<html" not in r.stderr.lower()
    s = json.loads((out / "summary.json").read_text())
    assert "returned HTML" in s["models"][0]["error"] and "<" not in s["models"][0]["error"]
    assert "Router login" not in (out / "report.md").read_text()
    # listing the endpoint's models (no --models) says the same in one line, exit 1
    r = run("bench", "-e", html_endpoint, "-o", str(tmp_path / "run2"))
    assert r.returncode == 1 and "returned HTML, not JSON" in r.stderr and "Router login" not in r.stderr


@pytest.mark.parametrize("stream", [True, False])
def test_a_model_the_server_does_not_list_is_tried(
    any_name_endpoint: str, tmp_path: Path, stream: bool
) -> None:
    out = tmp_path / "run"
    args = ["bench", "-e", any_name_endpoint, "-m", "smollm2", "-r", "1", "--warmup", "0", "-o", str(out)]
    r = run(*args, *([] if stream else ["--no-stream"]))
    assert r.returncode == 0, r.stderr
    m = json.loads((out / "summary.json").read_text())["models"][0]
    assert m["status"] == "ok" and m["requests"] == {"ok": 4, "error": 0}
    assert m["tokens"]["completion_mean"] == 3 and m["tokens"]["source"] == "usage"


def test_an_html_answer_to_a_request_is_one_line() -> None:
    import asyncio

    from bakeoff.backends.base import ChatRequest
    from bakeoff.backends.openai import OpenAIBackend
    from bakeoff.config.settings import ModelSpec
    from bakeoff.errors import RequestError

    async def ask(base: str, stream: bool) -> str:
        backend = OpenAIBackend("m", ModelSpec(backend="openai", model="m", base_url=base))
        request = ChatRequest(messages=({"role": "user", "content": "x"},), max_tokens=4, stream=stream)
        try:
            async for _ in backend.stream_chat(request):
                pass
        except RequestError as exc:
            return exc.message
        finally:
            await backend.close()
        return "no error"

    for base in _serve("html"):
        assert asyncio.run(ask(base, True)) == f"{base} returned HTML, not an event stream"
        assert asyncio.run(ask(base, False)) == f"{base} returned HTML, not JSON"
