"""An OpenAI-compatible endpoint over any backend: ``bakeoff serve``.

``GET /v1/models``, ``POST /v1/chat/completions`` (streaming SSE with ``[DONE]`` and
``stream_options.include_usage``, or one JSON body), ``GET /health``. Models load on first use (or at
start with ``preload``) and stay warm; an in-process model serves one request at a time (its backend's
lock) while different models run in parallel. A client that disconnects mid-stream cancels its
generation. Errors are OpenAI-shaped: 400 (field named), 401, 404 (known models listed), 413, 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette  # the serve extra: importing this module without it fails
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bakeoff.backends.base import Backend, ChatRequest, Completion, TextDelta, make_backend
from bakeoff.backends.plugins import backend_in_process, load_backend_class
from bakeoff.backends.targets import ModelTarget, catalog_facts
from bakeoff.errors import BakeoffError, RequestError
from bakeoff.serve import wire
from bakeoff.serve.guard import LOOPBACK_NAMES, Guard
from bakeoff.serve.request import (
    DEFAULT_MAX_QUEUE,
    openapi_schema,
    parse_chat_body,
)

MAX_BODY_BYTES = 1 << 20


class _AsciiJSON(JSONResponse):
    """JSON with non-ASCII characters escaped: a client's lone surrogate echoed in an error message
    (an unknown field's name) cannot be encoded as UTF-8 and would turn a 400 into a 500."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode()


def _error(status: int, message: str, kind: str, param: str | None = None) -> JSONResponse:
    return _AsciiJSON(wire.error_body(message, kind, param), status_code=status)


@dataclass
class HostedModel:
    target: ModelTarget
    backend: Backend | None = None
    load_error: str | None = None
    load_s: float | None = None
    load_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    active: int = 0
    requests: int = 0
    cancelled: int = 0
    rejected: int = 0
    tokens_out: int = 0
    seconds_ema: float | None = None  # recent seconds per request, for Retry-After
    last_request: float | None = None  # monotonic time a client's request (or the load) last finished
    last_generated: float | None = None  # ... or a keep-warm request
    keep_warm_requests: int = 0
    unloads: int = 0

    def finished(self, seconds: float) -> None:
        self.seconds_ema = seconds if self.seconds_ema is None else 0.8 * self.seconds_ema + 0.2 * seconds
        self.last_request = self.last_generated = time.monotonic()

    def queued(self) -> int:
        """Requests waiting behind the one generating (an in-process engine runs one at a time). A
        proxied model (an OpenAI-compatible server behind this one) runs its requests side by side:
        none of them waits here, so none is queued (the server behind has its own limits)."""
        return max(0, self.active - 1) if backend_in_process(self.target.backend) else 0


class ModelHost:
    """The models behind the endpoint, loaded on first use and kept warm."""

    def __init__(
        self,
        targets: list[ModelTarget],
        realtime: bool = True,
        stream_interval_ms: float = 0.0,
        max_queue: int = DEFAULT_MAX_QUEUE,
        keep_warm_s: float | None = None,
        idle_unload_s: float | None = None,
    ) -> None:
        self.models: dict[str, HostedModel] = {t.name: HostedModel(t) for t in targets}
        self.keep_warm_s = keep_warm_s
        self.idle_unload_s = idle_unload_s
        self.realtime = realtime
        self.stream_interval_ms = stream_interval_ms
        self.max_queue = max_queue
        self.routes: dict[str, str] = {}  # "auto" / "auto:<capability>" -> a served model
        self.unrouted: dict[str, str] = {}  # a route --route could not set -> why (said in its 404)
        self.created = int(time.time())

    async def get(self, name: str) -> Backend:
        hosted = self.models[name]
        async with hosted.load_lock:
            if hosted.backend is not None:
                return hosted.backend
            t = hosted.target
            if t.error or t.spec is None:
                raise BakeoffError(t.error or "no model spec")
            spec = t.spec
            cls = load_backend_class(t.backend)
            if self.realtime and getattr(cls, "threaded_engine", False):
                opts = {
                    **spec.options,
                    "realtime_stream": True,
                    "stream_interval_ms": self.stream_interval_ms,
                }
                spec = spec.model_copy(update={"options": opts})
            backend = make_backend(cls, t.name, spec)
            hosted.load_s = await backend.load()
            hosted.backend = backend
            hosted.load_error = None
            hosted.last_request = time.monotonic()  # idle from the load on
            return backend

    def warm(self, hosted: HostedModel, now: float | None = None) -> bool:
        """Loaded and generated recently: within ``keep_warm_s`` (and a second's slack) with keep-warm
        on; with it off, at least once since loading (its caches are primed, nothing keeps them so)."""
        if hosted.backend is None or hosted.last_generated is None:
            return False
        if self.keep_warm_s is None:
            return True
        return (now or time.monotonic()) - hosted.last_generated <= self.keep_warm_s + 1.0

    async def tend(self, now: float | None = None) -> None:
        """One pass of the idle policy: unload a model idle ``idle_unload_s`` (no client request, keep-warm
        requests do not count), else send a model idle ``keep_warm_s`` one light request (one token)."""
        now = time.monotonic() if now is None else now
        for hosted in self.models.values():
            if hosted.backend is None or hosted.active:
                continue
            idle = now - (hosted.last_request or now)
            if self.idle_unload_s is not None and idle >= self.idle_unload_s:
                async with hosted.load_lock:
                    if hosted.backend is not None and not hosted.active:
                        backend, hosted.backend = hosted.backend, None
                        hosted.unloads += 1
                        hosted.last_generated = None
                        with contextlib.suppress(Exception):
                            await backend.close()
                continue
            quiet = now - (hosted.last_generated or hosted.last_request or now)
            if self.keep_warm_s is not None and quiet >= self.keep_warm_s:
                await self._ping(hosted)

    async def _ping(self, hosted: HostedModel) -> None:
        backend = hosted.backend
        if backend is None:
            return
        req = ChatRequest(
            messages=({"role": "user", "content": "Hi"},), max_tokens=1, stream=True, timeout_s=60
        )
        try:
            async for _ in backend.stream_chat(req):
                pass
        except Exception:  # a failed ping is tried again next time; the model's own requests say more
            return
        hosted.keep_warm_requests += 1
        hosted.last_generated = time.monotonic()

    async def tend_forever(self) -> None:
        """``tend`` every quarter of the shortest interval (at most every 5 s), until cancelled."""
        intervals = [s for s in (self.keep_warm_s, self.idle_unload_s) if s is not None]
        if not intervals:
            return
        tick = min(5.0, max(0.05, min(intervals) / 4))
        while True:
            await asyncio.sleep(tick)
            await self.tend()

    def resolve(self, name: str) -> str | None:
        """A served model's own name, or where an ``auto`` route points."""
        if name in self.models:
            return name
        return self.routes.get(name)

    async def preload(self) -> dict[str, str | None]:
        results: dict[str, str | None] = {}
        for name, hosted in self.models.items():
            try:
                await self.get(name)
                results[name] = None
            except Exception as exc:
                hosted.load_error = scrub_paths(str(exc))
                results[name] = str(exc)
        return results

    async def close(self) -> None:
        for hosted in self.models.values():
            if hosted.backend is not None:
                await hosted.backend.close()
                hosted.backend = None


_PATH = re.compile(r"(?<![\w.:/])(?:~|[A-Za-z]:)?(?:[/\\][^\s/\\'\"]+)+[/\\]?")


def scrub_paths(text: str) -> str:
    """A message without local paths (``/home/me/models/x.gguf`` -> ``x.gguf``): answers reach clients
    that have no business knowing this machine's layout."""
    return _PATH.sub(lambda m: m.group(0).rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1], text)


def _bearer(header: str) -> str:
    scheme, _, token = header.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def _disconnected(request: Request) -> None:
    """Returns when the client has gone away (its body was already read, so only that can arrive)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


def create_app(
    host: ModelHost,
    api_key: str | None = None,
    max_body: int = MAX_BODY_BYTES,
    *,
    allowed_hosts: frozenset[str] | None = LOOPBACK_NAMES,
    cors_origins: tuple[str, ...] = (),
) -> Any:
    """The Starlette application behind its ``guard.Guard`` (Host, Origin and Content-Type checks:
    ``allowed_hosts`` None answers any Host; ``cors_origins`` are the web origins allowed in)."""

    def authorized(request: Request) -> bool:
        if not api_key:
            return True
        given = _bearer(request.headers.get("authorization", ""))
        return secrets.compare_digest(given.encode(), api_key.encode())

    def unauthorized() -> JSONResponse:
        return _error(
            401, "invalid or missing API key (send 'Authorization: Bearer <key>')", "invalid_api_key"
        )

    async def list_models(request: Request) -> Response:
        if not authorized(request):
            return unauthorized()
        data = []
        for name, hosted in host.models.items():
            license_, caps = catalog_facts(hosted.target)
            data.append(
                {
                    "id": name,
                    "object": "model",
                    "created": host.created,
                    "owned_by": "bakeoff",
                    "backend": hosted.target.backend,
                    "capabilities": caps,
                    "license": license_,
                    "loaded": hosted.backend is not None,
                }
            )
        for route, target in host.routes.items():
            data.append(
                {
                    "id": route,
                    "object": "model",
                    "created": host.created,
                    "owned_by": "bakeoff-route",
                    "routes_to": target,
                }
            )
        return JSONResponse({"object": "list", "data": data})

    async def health(request: Request) -> Response:
        status = "degraded" if any(h.load_error for h in host.models.values()) else "ok"
        if not authorized(request):
            return JSONResponse({"status": status})  # up or not, and nothing else, without the key
        models = {
            name: {
                "loaded": h.backend is not None,
                "warm": host.warm(h),
                "idle_s": None if h.last_request is None else round(time.monotonic() - h.last_request, 1),
                "keep_warm_requests": h.keep_warm_requests,
                "unloads": h.unloads,
                "load_error": h.load_error,
                "active": h.active,
                "queued": h.queued(),
                "max_queue": host.max_queue,
                "requests": h.requests,
                "cancelled": h.cancelled,
                "rejected": h.rejected,
                "tokens_out": h.tokens_out,
            }
            for name, h in host.models.items()
        }
        return JSONResponse({"status": status, "models": models})

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_schema())

    async def chat(request: Request) -> Response | SSEResponse:
        if not authorized(request):
            return unauthorized()
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > max_body:
            return _error(413, f"request body over {max_body} bytes", "invalid_request_error")
        raw = bytearray()
        try:
            async for chunk in request.stream():
                raw += chunk
                if len(raw) > max_body:
                    return _error(413, f"request body over {max_body} bytes", "invalid_request_error")
        except ClientDisconnect:
            return Response(status_code=499)
        try:
            payload = json.loads(raw or b"null")
        except RecursionError:
            return _error(400, "request body is nested too deeply", "invalid_request_error")
        except ValueError as exc:
            return _error(400, f"request body is not valid JSON: {exc}", "invalid_request_error")
        if not isinstance(payload, dict):
            return _error(400, "request body must be a JSON object", "invalid_request_error")
        parsed = parse_chat_body(payload)
        if isinstance(parsed, tuple):
            return _error(400, parsed[0], "invalid_request_error", parsed[1])
        body = parsed
        served = host.resolve(body.model)
        if served is None:
            known = ", ".join([*host.models, *host.routes])
            why = host.unrouted.get(body.model)
            message = f"model {body.model!r} not found; this server has: {known}"
            if why:
                message = f"model {body.model!r} is not routed: {why}; this server has: {known}"
            return _error(404, message, "not_found_error", "model")
        body.model = served  # answers name the model that really served the request
        hosted = host.models[served]
        # an in-process engine: one generating + max_queue waiting (0: no waiting); a proxy queues nothing
        if hosted.active > host.max_queue and backend_in_process(hosted.target.backend):
            hosted.rejected += 1
            wait = max(1, math.ceil((hosted.seconds_ema or 1.0) * (hosted.queued() + 1)))
            response = _error(
                429,
                f"model {served!r} has {hosted.queued()} requests queued (limit {host.max_queue}); "
                "retry later",
                "rate_limit_exceeded",
            )
            response.headers["Retry-After"] = str(wait)
            return response
        # the slot is taken before the first await, so concurrent arrivals cannot all pass the check
        hosted.active += 1
        hosted.requests += 1
        try:
            backend = await host.get(body.model)
        except BaseException as exc:
            hosted.active -= 1
            if not isinstance(exc, Exception):
                raise
            msg = scrub_paths(
                exc.message if isinstance(exc, BakeoffError) else f"{type(exc).__name__}: {exc}"
            )
            hosted.load_error = msg
            return _error(503, f"model {body.model!r} failed to load: {msg}", "model_unavailable")
        stop = (body.stop,) if isinstance(body.stop, str) else tuple(body.stop or ())
        req = ChatRequest(
            messages=tuple({"role": m.role, "content": m.text()} for m in body.messages),
            max_tokens=body.max_completion_tokens or body.max_tokens or 512,
            temperature=body.temperature,
            seed=body.seed,
            stream=body.stream,
            timeout_s=600.0,
            stop=stop,
            top_p=body.top_p,
        )
        rid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        started = time.perf_counter()
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            # Hold the response headers until the first token (or a failure) exists: nothing crosses
            # the wire while the engine prefills, so neither side steals its cores, and a failure
            # before the first token is still an HTTP error rather than a broken stream.
            stream = aiter(backend.stream_chat(req))
            head: list[Any] = []
            try:
                async for ev in stream:
                    head.append(ev)
                    if isinstance(ev, Completion) or (isinstance(ev, TextDelta) and ev.text):
                        break
            except BaseException as exc:
                hosted.active -= 1
                await _aclose(stream)
                if isinstance(exc, RequestError):
                    return _generation_error(exc)
                raise
            return SSEResponse(_sse(stream, head, hosted, rid, created, body.model, include_usage, started))
        parts: list[str] = []
        thinking: list[str] = []  # a reasoning model's deltas sent apart: passed on apart
        done: list[Completion] = []

        async def generate() -> None:
            # generated as a stream even for a whole-body answer: a stream can be stopped token by
            # token when the client leaves, a blocking generate() cannot
            gen = aiter(backend.stream_chat(dataclasses.replace(req, stream=True)))
            try:
                async for ev in gen:
                    if isinstance(ev, TextDelta):
                        (thinking if ev.reasoning else parts).append(ev.text)
                    elif isinstance(ev, Completion):
                        done.append(ev)
            finally:
                await _aclose(gen)  # on cancel too: closing the stream stops the engine

        work = asyncio.create_task(generate())
        gone = asyncio.create_task(_disconnected(request))
        try:
            await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
            if not work.done():  # the client left: stop generating for nobody
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await work
                hosted.cancelled += 1
                return Response(status_code=499)
            failure = work.exception()
            if isinstance(failure, RequestError):
                return _generation_error(failure)
            if failure is not None:
                raise failure
        finally:
            gone.cancel()
            hosted.active -= 1
        if not done:
            return _error(500, "generation ended without a result", "server_error")
        hosted.finished(time.perf_counter() - started)
        hosted.tokens_out += done[0].completion_tokens or 0
        return JSONResponse(
            {
                "id": rid,
                "object": "chat.completion",
                "created": created,
                "model": body.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": "".join(parts),
                            **({"reasoning_content": "".join(thinking)} if thinking else {}),
                        },
                        "finish_reason": done[0].finish_reason or "stop",
                    }
                ],
                "usage": _usage(done[0]),
            }
        )

    async def not_found(request: Request, exc: Exception) -> Response:
        return _error(404, f"no route {request.method} {request.url.path}", "not_found_error")

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return _error(
            405, f"method {request.method} is not allowed on {request.url.path}", "invalid_request_error"
        )

    async def crashed(request: Request, exc: Exception) -> Response:
        return _error(500, "internal error", "server_error")

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        tending = asyncio.create_task(host.tend_forever())
        try:
            yield
        finally:
            tending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await tending
            await host.close()

    routes = [
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
    handlers: dict[Any, Any] = {404: not_found, 405: not_allowed, 500: crashed}
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=handlers)
    return Guard(app, allowed_hosts, cors_origins)


def _generation_error(exc: RequestError) -> JSONResponse:
    """A failed generation: the client's fault (400) when its prompt does not fit, else the server's."""
    msg = scrub_paths(exc.message)
    if exc.kind == "context_length":
        return JSONResponse(
            {"error": {"message": msg, "type": "invalid_request_error", "param": "messages",
                       "code": "context_length_exceeded"}},
            status_code=400,
        )  # fmt: skip
    return _error(500, f"generation failed: {msg}", "server_error")


def _usage(done: Completion) -> dict[str, Any]:
    prompt = done.prompt_tokens or 0
    completion = done.completion_tokens or 0
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if done.token_source != "native" and done.token_source != "usage":
        usage["bakeoff_token_source"] = done.token_source
    return usage


class SSEResponse:
    """A lean ASGI streaming response: headers, then one body message per SSE chunk.

    Starlette's StreamingResponse costs a task group per request; measured here it added about a
    millisecond before the first token reached the client. This sends directly and watches for the
    client's disconnect with one task, cancelling generation as soon as it happens.
    """

    def __init__(self, body: AsyncIterator[bytes]) -> None:
        self.body = body

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        streaming = asyncio.current_task()

        async def watch() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    if streaming is not None:
                        streaming.cancel()
                    return

        watcher = asyncio.create_task(watch())
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"text/event-stream; charset=utf-8"),
                        (b"cache-control", b"no-cache"),
                        (b"x-accel-buffering", b"no"),
                    ],
                }
            )
            async for chunk in self.body:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (asyncio.CancelledError, OSError):
            pass  # the client went away; closing the body below stops the engine
        finally:
            watcher.cancel()
            await _aclose(self.body)


async def _aclose(stream: Any) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


async def _sse(
    stream: AsyncIterator[Any],
    head: list[Any],
    hosted: HostedModel,
    rid: str,
    created: int,
    model: str,
    include_usage: bool,
    started: float,
) -> AsyncIterator[bytes]:
    """The SSE body: the role frame and first token together, then one frame per event."""

    frame = wire.sse

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return wire.chunk(rid, created, model, delta, finish)

    async def events() -> AsyncIterator[Any]:
        for ev in head:
            yield ev
        async for ev in stream:
            yield ev

    finished = False
    pending = frame(chunk({"role": "assistant", "content": ""}))
    try:
        done: Completion | None = None
        async for ev in events():
            if isinstance(ev, TextDelta) and ev.text:
                yield pending + frame(chunk({"reasoning_content" if ev.reasoning else "content": ev.text}))
                pending = b""
            elif isinstance(ev, Completion):
                done = ev
        if done is None:
            raise RequestError("engine", "generation ended without a result")
        hosted.tokens_out += done.completion_tokens or 0
        hosted.finished(time.perf_counter() - started)
        tail = pending + frame(chunk({}, done.finish_reason or "stop"))
        if include_usage:
            tail += frame(wire.usage_chunk(rid, created, model, _usage(done)))
        yield tail + b"data: [DONE]\n\n"
        finished = True
    except RequestError as exc:
        # no [DONE]: a client sees a broken stream, with the reason in the last event
        yield frame(
            {"error": {"message": f"generation failed: {scrub_paths(exc.message)}", "type": "server_error"}}
        )
        finished = True
    finally:
        if not finished:
            hosted.cancelled += 1  # client went away: closing the stream stops the engine
        await _aclose(stream)
        hosted.active -= 1
