"""One chat turn streamed to a callback, with the stats ``bakeoff chat`` prints after it."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bakeoff.backends.base import Backend, ChatRequest, Completion, Sent, TextDelta


@dataclass(frozen=True)
class TurnStats:
    """What one answer took: TTFT, tokens and decode rate by the metric definitions."""

    text: str
    ttft_s: float | None
    total_s: float
    prompt_tokens: int | None
    completion_tokens: int | None
    token_source: str | None

    @property
    def decode_tokens_per_s(self) -> float | None:
        n = self.completion_tokens
        if self.ttft_s is None or not n or n < 2 or self.total_s <= self.ttft_s:
            return None
        return (n - 1) / (self.total_s - self.ttft_s)

    def line(self, load_s: float | None = None) -> str:
        parts = [] if load_s is None else [f"load {load_s:.2f} s"]
        if self.ttft_s is not None:
            parts.append(f"TTFT {self.ttft_s * 1000:.0f} ms")
        parts.append(f"total {self.total_s:.2f} s")
        if self.prompt_tokens is not None:
            parts.append(f"prompt {self.prompt_tokens} tokens")
        if self.completion_tokens is not None:
            est = " (estimated)" if self.token_source == "estimated" else ""
            parts.append(f"{self.completion_tokens} tokens{est}")
        rate = self.decode_tokens_per_s
        if rate is not None:
            parts.append(f"decode {rate:.1f} tok/s")
        return " · ".join(parts)


async def chat_turn(
    backend: Backend,
    messages: Sequence[dict[str, str]],
    max_tokens: int,
    temperature: float,
    emit: Callable[[str], None],
    seed: int | None = 0,
) -> TurnStats:
    """Stream one answer, passing each piece to ``emit`` as it arrives."""
    req = ChatRequest(
        messages=tuple(messages),
        max_tokens=max_tokens,
        temperature=temperature,
        seed=seed,
        stream=backend.supports_streaming,
        timeout_s=600,
    )
    t0 = time.perf_counter_ns()
    first: int | None = None
    last = t0
    parts: list[str] = []
    done: Completion | None = None
    async for ev in backend.stream_chat(req):
        if isinstance(ev, Sent):
            t0 = ev.t_ns
        elif isinstance(ev, TextDelta) and ev.text:
            first = first or ev.t_ns
            last = ev.t_ns
            if not ev.reasoning:  # thinking is shown as it streams, but it is not the answer
                parts.append(ev.text)
            emit(ev.text)
        elif isinstance(ev, Completion):
            done = ev
    ttft = (first - t0) / 1e9 if first is not None and backend.supports_streaming else None
    return TurnStats(
        text="".join(parts),
        ttft_s=ttft,
        total_s=(last - t0) / 1e9,
        prompt_tokens=done.prompt_tokens if done else None,
        completion_tokens=done.completion_tokens if done else None,
        token_source=done.token_source if done else None,
    )
