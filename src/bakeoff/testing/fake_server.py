"""A fake OpenAI-compatible server whose timing and faults are chosen per request.

It is a small threaded HTTP/1.1 server (keep-alive, chunked SSE) so that it controls exactly when
each byte leaves and can break a stream in every way a real server does. Chunk *k* (0-based) of a
streamed answer is written at ``ttft_ms + k * tokens_per_chunk * itl_ms`` after the request body
arrived, against absolute deadlines so sleep overshoot never accumulates. A zero-latency plan
(``ttft_ms`` and ``itl_ms`` 0) writes the whole answer at once, as a fast server's frames arrive.

A plan is picked per request: the server default, overridden by the plan registered for the
request's model id, overridden by a ``"fake"`` object in the request body or an ``X-Fake-Plan``
JSON header. Run it as ``python -m bakeoff.testing --port 0`` or use ``FakeServer``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from types import TracebackType
from typing import Any, Literal

from bakeoff.serve import wire

Fault = Literal["http_500", "drop", "malformed", "stall", "no_done"]


REASONING_STYLES = ("reasoning_content", "reasoning", "think", "think_open")


@dataclass(frozen=True)
class FakePlan:
    """How the fake server answers one request."""

    ttft_ms: float = 200.0
    itl_ms: float = 20.0
    tokens: int = 64
    tokens_per_chunk: int = 1
    prompt_tokens: int | None = None  # None: one per whitespace-separated word of the messages
    fault: Fault | None = None
    fault_after: int = 0  # chunks sent before a drop/malformed/stall fault
    usage: bool = True  # honour stream_options.include_usage (False: never send usage)
    status: int = 500  # status code for fault=http_500
    obeys_min_tokens: bool = True
    """Honour ``min_tokens`` / ``ignore_eos`` (False: a server that ignores them, stopping at ``tokens``)."""
    reasoning_tokens: int = 0
    """A reasoning model: this many tokens of thinking before the ``tokens`` of the answer (all within
    ``max_tokens``, and counted in usage as ``completion_tokens_details.reasoning_tokens``)."""
    reasoning_style: str = "reasoning_content"
    """Where the thinking goes: a delta field (``reasoning_content``, ``reasoning``), or inline in the
    content: ``think`` (``<think>`` ... ``</think>``, a token each, within ``reasoning_tokens``) or
    ``think_open`` (the chat template opened the block: only ``</think>`` is sent)."""
    reasoning_by_effort: dict[str, int] = field(default_factory=dict)
    """``reasoning_tokens`` for a request's ``reasoning_effort`` (``{"low": 2, "high": 10}``); others
    think ``reasoning_tokens``."""
    max_concurrent: int = 0
    """Requests of this model served at once (0: no limit). Others wait in arrival order, and their
    time starts when served: a server of known capacity (max_concurrent / service time per request)."""

    def __post_init__(self) -> None:
        if self.reasoning_style not in REASONING_STYLES:
            raise ValueError(f"reasoning_style must be one of {', '.join(REASONING_STYLES)}")
        if self.reasoning_style.startswith("think") and 0 < self.reasoning_tokens < 2:
            raise ValueError("inline thinking needs reasoning_tokens >= 2 (its tags are tokens)")

    def thinking(self) -> list[str]:
        """The reasoning tokens' texts, in order."""
        r = self.reasoning_tokens
        if self.reasoning_style == "think":
            return ["<think>"] + [f"r{i} " for i in range(r - 2)] + ["</think>"] if r else []
        if self.reasoning_style == "think_open":
            return [f"r{i} " for i in range(r - 1)] + ["</think>"] if r else []
        return [f"r{i} " for i in range(r)]

    def merged(self, override: dict[str, Any] | None) -> FakePlan:
        if not override:
            return self
        known = {f.name for f in fields(self)}
        bad = set(override) - known
        if bad:
            raise ValueError(f"unknown fake plan keys: {sorted(bad)}")
        return replace(self, **override)


class _BadRequest(Exception):
    pass


class FakeOpenAIServer:
    """The server logic; one thread per connection, each timing its writes with ``time.sleep``
    against absolute deadlines (sub-millisecond, unlike an event loop's millisecond-rounded timers)."""

    def __init__(
        self,
        default: FakePlan | None = None,
        models: dict[str, FakePlan] | None = None,
        send_log: bool = False,
    ) -> None:
        self.default = default or FakePlan()
        self.models = models or {"fake-model": self.default}
        self.send_log: list[dict[str, Any]] | None = [] if send_log else None
        """With ``send_log``: per streamed answer, its first message's content and the
        ``perf_counter_ns`` just before each content frame was written (``GET /fake/send-log``)."""
        self.requests_seen = 0
        self.closing = threading.Event()
        self._lock = threading.Lock()
        self._slots: dict[str, threading.Semaphore] = {}

    def handle(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = sock.makefile("rb")
        try:
            while not self.closing.is_set():
                request_line = reader.readline(65536)
                if not request_line:
                    break
                headers: dict[str, str] = {}
                while True:
                    line = reader.readline(65536)
                    if line in (b"\r\n", b"\n", b""):
                        break
                    k, _, v = line.decode("latin-1").partition(":")
                    headers[k.strip().lower()] = v.strip()
                length = int(headers.get("content-length", "0"))
                body = reader.read(length) if length else b""
                t_arrival = time.perf_counter()
                method, path, _ = request_line.decode("latin-1").split(" ", 2)
                keep = self.route(method, path.split("?")[0], headers, body, sock, t_arrival)
                if not keep or headers.get("connection", "").lower() == "close":
                    break
        except (OSError, ValueError):
            pass
        finally:
            with contextlib.suppress(OSError):
                reader.close()
                sock.close()

    def route(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        sock: socket.socket,
        t_arrival: float,
    ) -> bool:
        if method == "GET" and path in ("/v1/models", "/models"):
            data = {
                "object": "list",
                "data": [{"id": m, "object": "model", "owned_by": "fake"} for m in self.models],
            }
            return _send_json(sock, 200, data)
        if method == "GET" and path == "/health":
            return _send_json(sock, 200, {"status": "ok"})
        if method == "GET" and path == "/fake/send-log":  # hands over the log so far, and empties it
            with self._lock:
                taken, self.send_log = self.send_log, [] if self.send_log is not None else None
            if taken is None:
                return _send_json(sock, 404, _error("the send log is off: start the server with --send-log"))
            return _send_json(sock, 200, taken)
        if method == "POST" and path in ("/v1/chat/completions", "/chat/completions"):
            with self._lock:
                self.requests_seen += 1
                seq = self.requests_seen
            try:
                req = json.loads(body or b"{}")
                if not isinstance(req, dict) or not isinstance(req.get("messages"), list):
                    raise _BadRequest("'messages' must be a list")
                model = req.get("model")
                if model not in self.models:
                    return _send_json(
                        sock, 404, _error(f"model {model!r} not found; known: {', '.join(self.models)}")
                    )
                plan = self.models[model].merged(req.get("fake"))
                if "x-fake-plan" in headers:
                    plan = plan.merged(json.loads(headers["x-fake-plan"]))
                effort = req.get("reasoning_effort")
                if effort in plan.reasoning_by_effort:
                    plan = replace(plan, reasoning_tokens=plan.reasoning_by_effort[effort])
            except (ValueError, TypeError, _BadRequest) as exc:
                return _send_json(sock, 400, _error(str(exc)))
            limit = self.models[model].max_concurrent
            if limit <= 0:
                return self.chat(req, plan, sock, t_arrival, seq)
            with self._lock:
                slots = self._slots.setdefault(model, threading.Semaphore(limit))
            with slots:  # threading.Semaphore wakes waiters in FIFO order
                return self.chat(req, plan, sock, time.perf_counter(), seq)
        return _send_json(sock, 404, _error(f"no route {method} {path}"))

    def chat(self, req: dict[str, Any], plan: FakePlan, sock: socket.socket, t0: float, seq: int) -> bool:
        thinking = plan.thinking()
        limit = int(req.get("max_tokens") or len(thinking) + plan.tokens)
        natural = len(thinking) + plan.tokens  # where the model would stop on its own
        if plan.obeys_min_tokens and req.get("min_tokens"):
            natural = max(natural, int(req["min_tokens"]))
        elif plan.obeys_min_tokens and req.get("ignore_eos"):
            natural = limit
        n = max(0, min(natural, limit))
        prompt_tokens = plan.prompt_tokens
        if prompt_tokens is None:
            prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in req["messages"])
        usage: dict[str, Any] = {
            "prompt_tokens": prompt_tokens, "completion_tokens": n, "total_tokens": prompt_tokens + n
        }  # fmt: skip
        if thinking:
            usage["completion_tokens_details"] = {"reasoning_tokens": min(len(thinking), n)}
        forced = plan.obeys_min_tokens and bool(req.get("min_tokens") or req.get("ignore_eos"))
        finish = "length" if n < natural or (forced and n == limit) else "stop"
        rid = f"chatcmpl-fake-{seq}"
        created = int(time.time())
        model = req["model"]
        if plan.fault == "http_500":
            _sleep_until(t0 + plan.ttft_ms / 1000)
            return _send_json(sock, plan.status, _error("injected failure", "server_error"))
        words = (thinking + [f"w{i} " for i in range(max(0, n - len(thinking)))])[:n]
        into = plan.reasoning_style if not plan.reasoning_style.startswith("think") else None
        r = len(thinking) if into else 0  # the first r words go in the reasoning field

        def delta(first: int, group: list[str]) -> dict[str, Any]:
            """One chunk's delta: words ``first``.. of the answer, the thinking ones in their field."""
            cut = max(0, min(len(group), r - first))
            out = {into: "".join(group[:cut])} if cut and into else {}
            if cut < len(group):
                out["content"] = "".join(group[cut:])
            return out

        if not req.get("stream"):
            _sleep_until(t0 + (plan.ttft_ms + max(0, n - 1) * plan.itl_ms) / 1000)
            data: dict[str, Any] = {
                "id": rid,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", **delta(0, words)},
                        "finish_reason": finish,
                    }
                ],
            }
            if plan.usage:
                data["usage"] = usage
            return _send_json(sock, 200, data)

        def frame(obj: Any) -> bytes:  # one SSE event as one HTTP chunk
            payload = wire.sse(obj)
            return f"{len(payload):x}\r\n".encode() + payload + b"\r\n"

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            return wire.chunk(rid, created, model, delta, finish_reason)

        sock.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + frame(chunk({"role": "assistant", "content": ""}))
        )  # the role-only frame carries no content and must not count as the first token
        sent: list[int] = []  # perf_counter_ns before each content frame's write (the send log)
        if self.send_log is not None:
            with self._lock:
                content = str(req["messages"][0].get("content", "")) if req["messages"] else ""
                self.send_log.append({"content": content, "frames_ns": sent,
                                      "response_format": req.get("response_format")})  # fmt: skip
        k = max(1, plan.tokens_per_chunk)
        groups = [words[i : i + k] for i in range(0, n, k)]
        due: list[bytes] = []  # a zero-latency plan's frames, all due at once: written together
        together = plan.ttft_ms <= 0 and plan.itl_ms <= 0
        for idx, group in enumerate(groups):
            if plan.fault in ("drop", "malformed", "stall") and idx == plan.fault_after:
                if due:
                    sent.extend([time.perf_counter_ns()] * len(due))
                    sock.sendall(b"".join(due))
                    due = []
                if plan.fault == "drop":
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    sock.close()  # abrupt reset mid-body
                    return False
                if plan.fault == "malformed":
                    sock.sendall(frame(b'{"choices": [{"delta": {"content": "oops'))
                else:
                    self.closing.wait(3600)
                    return False
            if together:
                due.append(frame(chunk(delta(idx * k, group))))
                continue
            _sleep_until(t0 + (plan.ttft_ms + idx * k * plan.itl_ms) / 1000)
            out = frame(chunk(delta(idx * k, group)))
            sent.append(time.perf_counter_ns())
            sock.sendall(out)
        sent.extend([time.perf_counter_ns()] * len(due))  # written together, with the tail
        tail = b"".join(due) + frame(chunk({}, finish))
        include = (req.get("stream_options") or {}).get("include_usage")
        if include and plan.usage:
            tail += frame(wire.usage_chunk(rid, created, model, usage))
        if plan.fault != "no_done":
            tail += frame(b"[DONE]")
        sock.sendall(tail + b"0\r\n\r\n")
        return True


def _error(message: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    return wire.error_body(message, kind)


def _send_json(sock: socket.socket, status: int, obj: Any) -> bool:
    body = json.dumps(obj).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}.get(
        status, "Error"
    )
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    return True


def _sleep_until(deadline: float) -> None:
    while (left := deadline - time.perf_counter()) > 0:
        time.sleep(left if left < 0.002 else left - 0.001)


def serve(host: str, port: int, server: FakeOpenAIServer, ready: Any = None) -> None:
    """Accept connections until interrupted; each connection gets its own thread."""
    lsock = socket.create_server((host, port), backlog=1024)
    if ready:
        ready(lsock.getsockname()[1])
    try:
        while True:
            conn, _ = lsock.accept()
            threading.Thread(target=server.handle, args=(conn,), daemon=True).start()
    finally:
        server.closing.set()
        lsock.close()


def _parse_models(spec: str | None, default: FakePlan) -> dict[str, FakePlan]:
    if not spec:
        return {"fake-model": default}
    raw = json.loads(spec)
    return {name: default.merged(over) for name, over in raw.items()}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="bakeoff's fake OpenAI-compatible server (loopback only)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--plan", default="{}", help="JSON default plan, e.g. '{\"ttft_ms\": 200}'")
    ap.add_argument("--models", default=None, help="JSON {model_id: plan overrides}")
    ap.add_argument(
        "--send-log", action="store_true", help="note each content frame's send time (GET /fake/send-log)"
    )
    args = ap.parse_args(argv)
    # One thread per connection: with the default 5 ms switch interval a thread woken by its socket can
    # wait 5 ms for the GIL, which capped 64 connections at ~190 requests/s; 0.1 ms lifts that cap.
    sys.setswitchinterval(1e-4)
    default = FakePlan().merged(json.loads(args.plan))
    server = FakeOpenAIServer(default, _parse_models(args.models, default), send_log=args.send_log)

    def ready(port: int) -> None:
        print(f"listening on http://{args.host}:{port}/v1", flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        serve(args.host, args.port, server, ready)


class FakeServer:
    """Run the fake server in a subprocess (its own interpreter, so its timing is not disturbed by the
    client under test). Use as a context manager; ``base_url`` ends in ``/v1``."""

    def __init__(
        self, plan: FakePlan | None = None, models: dict[str, FakePlan] | None = None, send_log: bool = False
    ) -> None:
        self.plan = plan or FakePlan()
        self.models = models
        self.send_log = send_log
        self.proc: subprocess.Popen[str] | None = None
        self.base_url = ""

    def __enter__(self) -> FakeServer:
        base = asdict(self.plan)
        args = [sys.executable, "-m", "bakeoff.testing", "--port", "0", "--plan", json.dumps(base)]
        if self.models:
            args += ["--models", json.dumps({k: _diff(self.plan, v) for k, v in self.models.items()})]
        if self.send_log:
            args.append("--send-log")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            self.__exit__(None, None, None)
            raise RuntimeError(f"fake server did not start: {line!r}")
        self.base_url = line.split("listening on ", 1)[1].strip()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            if self.proc.stdout:
                self.proc.stdout.close()
            self.proc = None

    def lines(self) -> Iterator[str]:  # pragma: no cover - debugging aid
        if self.proc and self.proc.stdout:
            yield from self.proc.stdout


def _diff(base: FakePlan, plan: FakePlan) -> dict[str, Any]:
    a, b = asdict(base), asdict(plan)
    return {k: v for k, v in b.items() if a[k] != v}


if __name__ == "__main__":
    main()
