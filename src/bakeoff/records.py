"""Per-request records: what was sent, what came back, and when (integer monotonic nanoseconds)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

TokenSource = Literal["usage", "native", "counted", "estimated"]
"""Where a completion-token count came from: the server's usage, the engine's own count, the text
counted with ``--tokenizer`` (a server that sent no usage), or an estimate from the text."""
Status = Literal["ok", "error"]


# error kinds the harness itself gives a request (an engine's own failures carry their own kinds)
CUT_OFF = "cut_off"
CUT_OFF_ERROR = "cut off: still running when its open-loop stage's drain time ran out (a backlog)"
OUT_OF_TIME = "out_of_time"
OUT_OF_TIME_ERROR = "cut off: still running when --max-seconds ran out"
NOT_SENT = "not_sent"
NOT_SENT_ERROR = "not sent: no free slot (--max-concurrency) before its stage stopped sending (a backlog)"
CUT_ERRORS = {CUT_OFF: CUT_OFF_ERROR, NOT_SENT: NOT_SENT_ERROR, OUT_OF_TIME: OUT_OF_TIME_ERROR}
WORKER_LOST = "worker_lost"
REASONING_EXHAUSTED = "reasoning_exhausted"
"""A reasoning model thought until ``max_tokens`` ran out and never answered: a failure, never an
empty answer."""


@dataclass(frozen=True, slots=True)
class ContentEvent:
    """Arrival of one event that carries content: offset from t0, the tokens it carries (if known), and
    whether it was all reasoning (a reasoning model's thinking, before the answer)."""

    offset_ns: int
    tokens: int | None
    reasoning: bool = False


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request to one model. Timestamps are ``time.perf_counter_ns()`` values.

    ``t0_ns`` is taken just before the request is written; ``events`` are the content-carrying
    events in arrival order (role-only and empty frames excluded). For a non-streaming request the
    single event is the arrival of the whole body, and TTFT is unknown.
    """

    model: str
    backend: str
    prompt_id: str
    round: int
    warmup: bool
    stream: bool
    status: Status
    t_scheduled_ns: int
    t0_ns: int
    t_end_ns: int
    events: tuple[ContentEvent, ...] = ()
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    token_source: TokenSource | None = None
    finish_reason: str | None = None
    output: str = ""
    error: str | None = None
    error_kind: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    stage: str | None = None
    """The load stage of ``--profile`` it was sent in (``load.profile.Stage.label``); None without one."""
    reasoning: str = ""
    """A reasoning model's thinking (``output`` is the answer alone: checks and judges read that)."""
    reasoning_tokens: int | None = None
    """Tokens of thinking, within ``completion_tokens``: the server's ``reasoning_tokens`` where it sends
    them, else counted like ``completion_tokens`` (and as exact as its ``token_source``)."""

    def to_json(self) -> dict[str, Any]:
        """The record as one line of records.jsonl (built field by field: ``dataclasses.asdict`` deep-
        copies every event, which showed in the client's cost per request)."""
        return {
            "model": self.model,
            "backend": self.backend,
            "prompt_id": self.prompt_id,
            "round": self.round,
            "warmup": self.warmup,
            "stream": self.stream,
            "status": self.status,
            "t_scheduled_ns": self.t_scheduled_ns,
            "t0_ns": self.t0_ns,
            "t_end_ns": self.t_end_ns,
            "events": [
                [e.offset_ns, e.tokens, 1] if e.reasoning else [e.offset_ns, e.tokens] for e in self.events
            ],
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "token_source": self.token_source,
            "finish_reason": self.finish_reason,
            "output": self.output,
            "error": self.error,
            "error_kind": self.error_kind,
            "extra": copy.deepcopy(self.extra),
            "stage": self.stage,
            "reasoning": self.reasoning,
            "reasoning_tokens": self.reasoning_tokens,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RequestRecord:
        d = dict(d)
        d["events"] = tuple(
            ContentEvent(int(e[0]), None if e[1] is None else int(e[1]), len(e) > 2 and bool(e[2]))
            for e in d.get("events", [])
        )
        for derived in ("metrics", "node"):  # computed from the record; a fleet's tag of who sent it
            d.pop(derived, None)
        return cls(**d)
