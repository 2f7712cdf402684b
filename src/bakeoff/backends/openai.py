"""Any OpenAI-compatible endpoint (Foundry Local service, llama.cpp server, vLLM, Ollama, LM Studio,
``bakeoff serve``) over HTTP, streaming SSE with ``stream_options.include_usage``.

Arrival times are taken as each SSE line is read off the connection. Token counts come from the
server's ``usage``; when a server sends none, the count is estimated (at least one token per content
chunk, about 4 characters per token) and flagged ``estimated``. Entries of the spec's ``options``
are merged into every request body (e.g. ``top_p``).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import weakref
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson

from bakeoff.backends.base import ChatRequest, Completion, Event, Sent, TextDelta
from bakeoff.config.settings import DEFAULT_ENDPOINT, ModelSpec, normalize_endpoint
from bakeoff.errors import ModelError, RequestError
from bakeoff.version import __version__


def _now() -> int:
    return time.perf_counter_ns()


class OpenAIBackend:
    """A model id served at an OpenAI-compatible ``/v1`` base URL."""

    kind = "openai"
    supports_streaming = True
    in_process = False  # the model lives in a server: its memory is the server process's, if local
    constrains = "response_format json_schema (the server must honour it)"
    """How ``--structured-mode constrained`` is applied here (a backend without it cannot constrain)."""

    @classmethod
    def spec_for(cls, ref: str, endpoint: str | None) -> ModelSpec:
        """``openai:ID``: model ``ID`` at the endpoint (Foundry Local's default without one)."""
        return ModelSpec(backend="openai", model=ref, base_url=endpoint or DEFAULT_ENDPOINT)

    @classmethod
    def catalog_entries(cls, include_public: bool, endpoint: str | None) -> tuple[list[Any], list[str]]:
        """The models an endpoint lists (only when one is given)."""
        if not endpoint:
            return [], []
        from bakeoff.errors import BakeoffError
        from bakeoff.models.entry import Entry

        try:
            ids = list_endpoint_models(endpoint)
        except BakeoffError as exc:
            return [], [exc.message]
        return [Entry(alias=i, id=i, backend="openai", source=endpoint, cached=True) for i in ids], []

    def __init__(self, name: str, spec: ModelSpec) -> None:
        self.name = name
        self.spec = spec
        self.base_url = normalize_endpoint(spec.base_url or DEFAULT_ENDPOINT)
        self.model_id = spec.model or name
        key = spec.api_key or (os.environ.get(spec.api_key_env) if spec.api_key_env else None)
        self.headers = {"User-Agent": f"bakeoff/{__version__}"}
        if key:
            self.headers["Authorization"] = f"Bearer {key}"
        self._clients: list[httpx.AsyncClient] = []
        self._shard_of: weakref.WeakKeyDictionary[asyncio.Task[Any], int] = weakref.WeakKeyDictionary()
        self._next_shard = 0
        self.server_models: list[str] | None = None

    def _http(self) -> httpx.AsyncClient:
        """The connection pool for the calling task. httpcore's pool assigns requests to connections in
        time that grows with connections x waiting requests, which capped one pool at 64 streams to
        about 250 requests/s on 2 cores; ``POOL_SHARDS`` pools, one per task in turn, keep each small."""
        if not self._clients:
            tls = httpx.create_ssl_context()  # one for all pools: building it reads the CA store
            self._clients = [
                httpx.AsyncClient(
                    base_url=self.base_url,
                    headers=self.headers,
                    timeout=httpx.Timeout(30.0),
                    limits=httpx.Limits(max_connections=None, max_keepalive_connections=256),
                    verify=tls,
                )
                for _ in range(POOL_SHARDS)
            ]
        task = asyncio.current_task()
        if task is None:
            return self._clients[0]
        shard = self._shard_of.get(task)
        if shard is None:
            shard = self._shard_of[task] = self._next_shard
            self._next_shard = (shard + 1) % POOL_SHARDS
        return self._clients[shard]

    async def load(self) -> float:
        """Check that the endpoint answers and lists the model (when it lists models at all)."""
        start = time.perf_counter()
        try:
            resp = await self._http().get("/models", timeout=10.0)
        except httpx.HTTPError as exc:
            raise ModelError(
                f"endpoint {self.base_url} is unreachable: {type(exc).__name__}: {exc}".rstrip(": "),
                hint="start the server (e.g. `foundry service start` or `bakeoff serve`) or fix --endpoint",
            ) from None
        if is_html(resp):
            raise ModelError(
                f"{self.base_url}/models returned HTML, not JSON (HTTP {resp.status_code})",
                hint="point --endpoint at the server's OpenAI-compatible /v1 address",
            )
        if resp.status_code == 200:
            try:
                ids = [m["id"] for m in resp.json().get("data", [])]
            except (ValueError, KeyError, TypeError, AttributeError):
                ids = []
            self.server_models = ids
            # Not listed is not refused: llama.cpp's server lists its file name and answers any name.
            # The first request decides; if the server rejects the model, the error names the listed ids.
        elif resp.status_code in (401, 403):
            raise ModelError(
                f"endpoint {self.base_url} refused the API key (HTTP {resp.status_code})",
                hint="set api_key / api_key_env in models.json",
            )
        return time.perf_counter() - start

    def describe(self) -> dict[str, Any]:
        return {"endpoint": self.base_url, "model_id": self.model_id, "engine": "openai-compatible HTTP"}

    def _body(self, req: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model_id,
            "messages": list(req.messages),
            "max_tokens": req.max_tokens,
            "temperature": req.temperature,
            "stream": req.stream,
        }
        if req.seed is not None:
            body["seed"] = req.seed
        if req.stop:
            body["stop"] = list(req.stop)
        if req.top_p is not None:
            body["top_p"] = req.top_p
        if req.stream:
            body["stream_options"] = {"include_usage": True}
        if req.min_tokens:  # vLLM's and llama.cpp server's extras for a forced answer length
            body["min_tokens"] = req.min_tokens
            body["ignore_eos"] = True
        if req.json_schema is not None:  # OpenAI's structured outputs (vLLM, llama.cpp server, Foundry)
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": req.json_schema, "strict": True},
            }
        body.update(self.spec.options)
        body.update(req.extra)
        return body

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[Event]:
        state = _StreamState()
        try:
            async with asyncio.timeout(request.timeout_s):
                if request.stream:
                    async for ev in self._stream(request, state):
                        yield ev
                else:
                    async for ev in self._once(request):
                        yield ev
        except TimeoutError:
            if state.chunks:
                msg = f"stream stalled: no [DONE] within {request.timeout_s:g} s (got {state.chunks} chunks)"
            else:
                msg = f"no response within {request.timeout_s:g} s"
            raise RequestError("timeout", msg, hint="raise --timeout or check the server") from None
        except httpx.ConnectError as exc:
            raise RequestError("connect", f"cannot connect to {self.base_url}: {exc}") from None
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise RequestError(
                "broken_stream", f"connection broke after {state.chunks} chunks: {exc or type(exc).__name__}"
            ) from None
        except httpx.HTTPError as exc:
            raise RequestError("http", f"{type(exc).__name__}: {exc}") from None

    async def _raise_for_status(self, resp: httpx.Response, stream: bool = False) -> None:
        if resp.status_code < 400:
            if is_html(resp):
                raise RequestError("malformed", f"{self.base_url} returned HTML, not {_EXPECTED[stream]}")
            return
        raw = (await resp.aread()).decode("utf-8", "replace")
        if is_html(resp, raw):
            raise RequestError(
                "http",
                f"HTTP {resp.status_code}: {self.base_url} returned an HTML page, not {_EXPECTED[stream]}",
            )
        detail = " ".join(raw.split())[:300]
        try:
            err = json.loads(raw).get("error")
            if isinstance(err, dict) and err.get("message"):
                detail = str(err["message"])
            elif isinstance(err, str):
                detail = err
        except (ValueError, AttributeError):
            pass
        listed = self.server_models
        if resp.status_code in (400, 404, 422) and listed and self.model_id not in listed:
            detail += (
                f" (model {self.model_id!r} is not served at {self.base_url}; it lists: {', '.join(listed)})"
            )
        raise RequestError("http", f"HTTP {resp.status_code}: {detail}")

    async def _stream(self, request: ChatRequest, state: _StreamState) -> AsyncIterator[Event]:
        client = self._http()
        timeout = httpx.Timeout(request.timeout_s)
        sent = _SentMark()
        async with client.stream(
            "POST", "/chat/completions", json=self._body(request), timeout=timeout, extensions={"trace": sent}
        ) as resp:
            if sent.t_ns:
                yield Sent(sent.t_ns)
            await self._raise_for_status(resp, stream=True)
            rest = b""
            async for raw in resp.aiter_bytes():  # one timestamp per network read, parsing after it
                t = _now()
                if state.done:
                    continue  # drain to the end so the connection goes back to the pool
                *lines, rest = (rest + raw).split(b"\n")
                for line in lines:
                    if not line.startswith(b"data:"):
                        continue  # blank separators, comments, event: lines
                    payload = line[5:].strip()
                    if payload == b"[DONE]":
                        state.done = True
                        break
                    for delta, thinking in _deltas(payload, state):
                        yield TextDelta(t, delta, reasoning=thinking)
        if not state.done:
            raise RequestError(
                "broken_stream",
                f"stream ended without [DONE] after {state.chunks} chunks",
                hint="check the server log",
            )
        yield state.completion(_now())

    async def _once(self, request: ChatRequest) -> AsyncIterator[Event]:
        client = self._http()
        sent = _SentMark()
        resp = await client.post(
            "/chat/completions",
            json=self._body(request),
            timeout=httpx.Timeout(request.timeout_s),
            extensions={"trace": sent},
        )
        if sent.t_ns:
            yield Sent(sent.t_ns)
        await self._raise_for_status(resp)
        raw = await resp.aread()
        t = _now()
        try:
            obj = json.loads(raw)
            choice = obj["choices"][0]
            text = choice["message"].get("content") or ""
            thinking = _thinking(choice["message"])
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            if is_html(resp, raw.decode("utf-8", "replace")):
                raise RequestError("malformed", f"{self.base_url} returned HTML, not JSON") from None
            raise RequestError("malformed", f"response is not a chat completion: {raw[:120]!r}") from None
        state = _StreamState(usage=obj.get("usage"), finish_reason=choice.get("finish_reason"))
        state.chunks = bool(text) + bool(thinking)
        chars = len(text) + len(thinking)
        state.estimate = max(state.chunks, round(chars / 4)) if chars else 0  # ~4 characters per token
        if thinking:
            yield TextDelta(t, thinking, reasoning=True)
        if text:
            yield TextDelta(t, text)
        yield state.completion(t)

    async def close(self) -> None:
        clients, self._clients = self._clients, []
        for client in clients:
            await client.aclose()


_EXPECTED = {True: "an event stream", False: "JSON"}
POOL_SHARDS = 16
"""Connection pools per backend (a task keeps its pool: a closed loop's worker reuses its connection)."""


def list_endpoint_models(endpoint: str, timeout: float = 10.0) -> list[str]:
    """Model ids listed at ``endpoint/models``."""
    url = normalize_endpoint(endpoint) + "/models"
    try:
        resp = httpx.get(url, timeout=timeout)
        if is_html(resp):
            raise ModelError(
                f"{url} returned HTML, not JSON (HTTP {resp.status_code})",
                hint="point --endpoint at the server's OpenAI-compatible /v1 address",
            )
        resp.raise_for_status()
        return [m["id"] for m in resp.json()["data"]]
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(
            f"cannot list models at {url}: {exc}",
            hint="start the server or pass --models with the ids you want",
        ) from None


def is_html(resp: httpx.Response, text: str | None = None) -> bool:
    """Whether an answer is a web page (a proxy's error page, a UI at the wrong path), not an API's."""
    if "html" in resp.headers.get("content-type", "").lower():
        return True
    head = (text or "")[:200].lstrip().lower()
    return head.startswith(("<!doctype html", "<html"))


REASONING_FIELDS = ("reasoning_content", "reasoning")
"""Where servers send a reasoning model's thinking apart from the content (llama.cpp's server and
DeepSeek's API: ``reasoning_content``; vLLM and OpenRouter: ``reasoning``)."""


def _thinking(message: dict[str, Any]) -> str:
    """The thinking of one delta or message, from the first reasoning field that carries text."""
    for key in REASONING_FIELDS:
        value = message.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def _deltas(payload: bytes, state: _StreamState) -> list[tuple[str, bool]]:
    """The texts of one SSE data payload, each with whether it is thinking (usage and finish reason
    noted in ``state``)."""
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        text = payload.decode("utf-8", "replace")
        raise RequestError(
            "malformed", f"malformed SSE data after {state.chunks} chunks: {text[:80]!r}"
        ) from None
    if not isinstance(obj, dict):
        raise RequestError(
            "malformed", f"SSE data is not a JSON object: {payload.decode('utf-8', 'replace')[:80]!r}"
        )
    if "error" in obj:
        err = obj["error"]
        msg = err.get("message") if isinstance(err, dict) else err
        raise RequestError("http", f"server error mid-stream: {msg}")
    if obj.get("usage"):
        state.usage = obj["usage"]
    out = []
    for choice in obj.get("choices") or ():
        delta = choice.get("delta") or {}
        if choice.get("finish_reason"):
            state.finish_reason = choice["finish_reason"]
        for text, thinking in ((_thinking(delta), True), (delta.get("content") or "", False)):
            if text and isinstance(text, str):
                state.chunks += 1
                state.chars += len(text)
                out.append((text, thinking))
    return out


class _SentMark:
    """httpcore trace hook: remembers when the request headers started going out (t0)."""

    def __init__(self) -> None:
        self.t_ns = 0

    async def __call__(self, name: str, info: dict[str, Any]) -> None:
        if name == "http11.send_request_headers.started" and not self.t_ns:
            self.t_ns = _now()


class _StreamState:
    def __init__(self, usage: dict[str, Any] | None = None, finish_reason: str | None = None) -> None:
        self.chunks = 0
        self.chars = 0
        self.done = False
        self.usage = usage
        self.finish_reason = finish_reason
        self.estimate: int | None = None

    def completion(self, t: int) -> Completion:
        u = self.usage or {}
        completion = u.get("completion_tokens")
        details = u.get("completion_tokens_details")
        thinking = details.get("reasoning_tokens") if isinstance(details, dict) else None
        thinking = thinking if isinstance(thinking, int) and not isinstance(thinking, bool) else None
        if isinstance(completion, int):
            prompt = u.get("prompt_tokens")
            return Completion(
                t, prompt if isinstance(prompt, int) else None, completion, "usage", self.finish_reason,
                thinking,
            )  # fmt: skip
        # without usage: at least one token per content chunk (a server may send several in one), and
        # about 4 characters per token; never the chunks alone, which undercount a batching server
        estimate = max(self.chunks, round(self.chars / 4)) if self.estimate is None else self.estimate
        return Completion(t, None, estimate, "estimated", self.finish_reason)
