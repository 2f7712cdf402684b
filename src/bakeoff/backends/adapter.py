"""Any custom adapter (``load`` + ``generate``, optionally ``stream``) as a bakeoff backend.

A streaming adapter is timed piece by piece in its worker thread; one without ``stream`` is still
benchmarked for latency and tokens, and its TTFT is reported unavailable (``supports_streaming`` is
False), never as the whole latency. Token counts use the adapter's ``count_tokens`` when it has one
(``native``), else a whitespace count flagged ``estimated``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from bakeoff.backends.adapter_api import load_adapter_class, render_prompt
from bakeoff.backends.base import ChatRequest, Completion, Event, TextDelta
from bakeoff.backends.threaded import Put, stream_from_thread
from bakeoff.config.settings import ModelSpec
from bakeoff.errors import ModelError, RequestError


class AdapterBackend:
    """Wraps one adapter instance; one generation at a time."""

    kind = "adapter"
    in_process = True
    threaded_engine = True  # generates in a worker thread; takes realtime_stream options under serve

    @classmethod
    def spec_for(cls, ref: str, endpoint: str | None) -> ModelSpec:
        """``adapter:module:Class`` or ``adapter:path/file.py:Class``."""
        return ModelSpec(backend="adapter", adapter=ref)

    @classmethod
    def option_problems(cls, options: dict[str, Any]) -> list[str]:
        """models.json ``options`` an adapter model does not take (checked before any model loads)."""
        known = {"realtime_stream", "stream_interval_ms"}
        unknown = set(options) - known
        return (
            [f"unknown adapter options {sorted(unknown)}; known: {', '.join(sorted(known))}"]
            if unknown
            else []
        )

    def __init__(self, name: str, spec: ModelSpec) -> None:
        if not spec.adapter:
            raise ModelError(
                f"{name}: no 'adapter' given", hint='set "adapter": "module:Class" in models.json'
            )
        self.name = name
        self.spec = spec
        self.cls = load_adapter_class(spec.adapter)
        self.supports_streaming = callable(getattr(self.cls, "stream", None))
        self.adapter: Any = None
        self._lock = asyncio.Lock()
        self.realtime = bool(spec.options.get("realtime_stream", False))
        self.interval_s = float(spec.options.get("stream_interval_ms", 0)) / 1000

    async def load(self) -> float:
        start = time.perf_counter()
        try:
            adapter = self.cls()
            await asyncio.to_thread(adapter.load, self.spec.weights)
        except Exception as exc:
            raise ModelError(
                f"adapter {self.spec.adapter} failed to load: {type(exc).__name__}: {exc}"
            ) from None
        self.adapter = adapter
        return time.perf_counter() - start

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "engine": f"custom adapter {self.spec.adapter}",
            "weights": self.spec.weights,
            "streaming": self.supports_streaming,
        }
        if not self.supports_streaming:
            info["ttft"] = "unavailable: the adapter has no stream() method"
        return info

    def _count(self, text: str) -> tuple[int, bool]:
        counter = getattr(self.adapter, "count_tokens", None)
        if callable(counter):
            return int(counter(text)), True
        return len(text.split()), False

    def _produce(self, request: ChatRequest, put: Put, stop: threading.Event) -> None:
        messages = list(request.messages)
        prompt = render_prompt(messages)
        params: dict[str, Any] = {
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "seed": request.seed,
            "stop": list(request.stop),
            "messages": messages,
        }
        try:
            text = ""
            finish = "stop"
            if self.supports_streaming and request.stream:
                for piece in self.adapter.stream(prompt, **params):
                    t = time.perf_counter_ns()
                    if not piece:
                        continue
                    hit = _cut_at_stop(text + piece, request.stop)
                    if hit is not None:
                        keep = hit[len(text) :]
                        text = hit
                        if keep:
                            put(TextDelta(t, keep, self._count(keep)[0] if self._has_counter() else None))
                        break
                    text += piece
                    put(TextDelta(t, piece, self._count(piece)[0] if self._has_counter() else None))
                    if stop.is_set():
                        return
            else:
                out = self.adapter.generate(prompt, **params)
                if not isinstance(out, str):
                    raise RequestError("engine", f"adapter generate() returned {type(out).__name__}, not str")
                t = time.perf_counter_ns()
                text = _cut_at_stop(out, request.stop) or out
                if text:
                    put(TextDelta(t, text, None))
            if stop.is_set():
                return
            n_out, native = self._count(text)
            n_in, _ = self._count(prompt)
            if native and n_out >= request.max_tokens:
                finish = "length"
            put(Completion(time.perf_counter_ns(), n_in, n_out, "native" if native else "estimated", finish))
        except RequestError as exc:
            put(exc)
        except Exception as exc:
            put(RequestError("engine", f"adapter failed: {type(exc).__name__}: {exc}"))
        finally:
            put(None)

    def _has_counter(self) -> bool:
        return callable(getattr(self.adapter, "count_tokens", None))

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[Event]:
        if self.adapter is None:
            raise RequestError("engine", "adapter is not loaded")

        def produce(put: Put, stop: threading.Event) -> None:
            self._produce(request, put, stop)

        async for ev in stream_from_thread(produce, request, self._lock, self.realtime, self.interval_s):
            yield ev

    async def close(self) -> None:
        adapter, self.adapter = self.adapter, None
        close = getattr(adapter, "close", None)
        if callable(close):
            await asyncio.to_thread(close)


def _cut_at_stop(text: str, stops: tuple[str, ...]) -> str | None:
    """``text`` up to the first stop sequence, or None when none occurs."""
    cuts = [text.index(s) for s in stops if s and s in text]
    return text[: min(cuts)] if cuts else None
