"""The backend protocol: load, stream a chat with timestamps and usage, describe, close."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from bakeoff.config.settings import ModelSpec
from bakeoff.records import TokenSource


@dataclass(frozen=True)
class ChatRequest:
    """One chat request, as the runner asks it of any backend."""

    messages: tuple[dict[str, str], ...]
    max_tokens: int
    temperature: float = 0.0
    seed: int | None = None
    stream: bool = True
    timeout_s: float = 120.0
    stop: tuple[str, ...] = ()
    top_p: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    min_tokens: int | None = None
    """Force the answer to at least this many tokens (the end-of-sequence token suppressed until then),
    where the engine allows: ``--data``'s fixed answer lengths."""
    json_schema: dict[str, Any] | None = None
    """Constrain decoding to JSON valid against this schema (``--structured-mode constrained``): a
    grammar in llama.cpp, ``response_format`` at an endpoint; engines without either ignore it."""


@dataclass(frozen=True)
class Sent:
    """Optional first event: the moment the request started going onto the wire (t0).

    Backends that can see it (HTTP, via the transport's trace hook) yield it so that client-side
    set-up (building the request, taking a pooled connection) is not counted as server time."""

    t_ns: int


@dataclass(frozen=True)
class TextDelta:
    """A content-carrying event. ``t_ns`` is when it arrived (perf_counter_ns), taken by the backend
    as close to the wire or engine as it can; ``tokens`` is how many tokens it carries, when known;
    ``reasoning`` marks thinking the engine or server sent apart from the answer (``reasoning_content``
    deltas). Thinking inline in the content (``<think>...</think>``) is found by the runner."""

    t_ns: int
    text: str
    tokens: int | None = None
    reasoning: bool = False


@dataclass(frozen=True)
class Completion:
    """The final event of a request: token counts and why generation stopped.

    A stream that ends without it is broken, and the backend raises ``RequestError``."""

    t_ns: int
    prompt_tokens: int | None
    completion_tokens: int | None
    token_source: TokenSource | None
    finish_reason: str | None = None
    reasoning_tokens: int | None = None
    """Of ``completion_tokens``, those spent thinking, where the server says
    (``usage.completion_tokens_details.reasoning_tokens``)."""


Event = Sent | TextDelta | Completion


@runtime_checkable
class Backend(Protocol):
    """What every engine implements. Construct with ``(name, spec)``; nothing heavy in ``__init__``.

            Optional class-level hooks, read where core modules would otherwise decide by backend name:
            ``spec_for(ref, endpoint)`` resolves ``BACKEND:REF``; ``spec_keys``, the models.json keys it reads
        (any other key of its entry is a configuration error); ``constrains``, how it applies
    ``--structured-mode constrained`` (absent: it cannot); ``option_problems(options)`` checks a
            models.json ``options`` block before any model loads; ``doctor_checks()``; ``in_process`` (its
            memory is this process's) and ``threaded_engine`` (generates in a worker thread). Optional
            instance hook: ``tokenizer()``, the loaded model's tokenizer (``name``, ``encode``, ``decode``),
            so ``--data`` builds prompts of an exact token count."""

    kind: str
    supports_streaming: bool
    """False for engines that only return whole answers: their TTFT is unavailable, not E2E."""

    async def load(self) -> float:
        """Make the model ready (download, load weights, check the endpoint); return seconds spent."""
        ...

    def stream_chat(self, request: ChatRequest) -> AsyncIterator[Event]:
        """Yield ``TextDelta`` events then exactly one ``Completion``; raise ``RequestError`` on failure."""
        ...

    def describe(self) -> dict[str, Any]:
        """Facts about the model and engine for the report (path, engine version, endpoint...)."""
        ...

    async def close(self) -> None:
        """Release the model and any connection."""
        ...


def make_backend(factory: Any, name: str, spec: ModelSpec) -> Backend:
    backend = factory(name, spec)
    if not isinstance(backend, Backend):
        raise TypeError(f"{factory!r} does not implement the bakeoff Backend protocol")
    return backend
