"""The runner: for each model, load it, send warm-up requests (flagged), then every prompt x every
round with ``concurrency`` requests in flight (closed loop), stamping one record per request.

Each model is isolated: a failed load, an HTTP error or a broken or stalled stream marks that
request or model as failed with its reason, and the run goes on. Records are handed to the sink the
moment they complete, so an interrupted run keeps everything measured so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..backends.base import Backend, ChatRequest, Completion, Sent, TextDelta, make_backend
from ..config import BenchSettings, PromptCase
from ..errors import BakeoffError, RequestError
from ..plugins import load_backend_class
from ..records import ContentEvent, RequestRecord
from ..targets import ModelTarget
from .cache_tag import new_tag, tagged
from .events import EventSink, MeasureStarted, ModelEnded, ModelLoaded, ModelStarted
from .schedule import arrival_offsets


@dataclass
class ModelOutcome:
    """What happened to one model, besides its records."""

    target: ModelTarget
    status: str = "skipped"  # ok | error | skipped
    error: str | None = None
    load_s: float | None = None
    info: dict[str, Any] = field(default_factory=dict)
    aborted: str | None = None
    resources: dict[str, Any] = field(default_factory=dict)


RecordSink = Callable[[RequestRecord], None]


@dataclass
class Job:
    prompt: PromptCase
    round: int
    warmup: bool


class Runner:
    """Runs a bake-off. ``on_record`` sees every record as it completes; ``on_event`` gets typed
    progress events (``load.events``) for the library and the CLI."""

    def __init__(
        self,
        settings: BenchSettings,
        prompts: Sequence[PromptCase],
        on_record: RecordSink,
        on_event: EventSink | None = None,
        max_consecutive_failures: int = 5,
    ) -> None:
        self.settings = settings
        self.prompts = list(prompts)
        self.on_record = on_record
        self.on_event: EventSink = on_event or (lambda event: None)
        self.max_consecutive_failures = max_consecutive_failures

    def jobs(self) -> tuple[list[Job], list[Job]]:
        warm = [Job(self.prompts[i % len(self.prompts)], 0, True) for i in range(self.settings.warmup)]
        measured = [Job(p, r, False) for r in range(1, self.settings.rounds + 1) for p in self.prompts]
        return warm, measured

    async def run_model(self, target: ModelTarget, outcome: ModelOutcome) -> None:
        """Benchmark one model, filling ``outcome``; never raises for model or request failures."""
        warm, measured = self.jobs()
        self.on_event(ModelStarted(target.name, len(warm) + len(measured)))
        if target.error or target.spec is None:
            outcome.status, outcome.error = "error", target.error or "no model spec"
            self.on_event(ModelEnded(target.name, outcome.status, outcome.error))
            return
        backend: Backend | None = None
        try:
            backend = make_backend(load_backend_class(target.backend), target.name, target.spec)
            outcome.load_s = await backend.load()
            outcome.info = backend.describe()
            self.on_event(ModelLoaded(target.name, outcome.load_s))
        except BakeoffError as exc:
            outcome.status, outcome.error = "error", f"load failed: {exc.message}"
        except Exception as exc:  # an engine's own failure must not stop the batch
            outcome.status, outcome.error = "error", f"load failed: {type(exc).__name__}: {exc}"
        if outcome.error is None and backend is not None:
            try:
                await self._send_all(backend, target, warm, measured, outcome)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(backend.close(), timeout=30)
        elif backend is not None:
            with contextlib.suppress(Exception):
                await backend.close()
        self.on_event(ModelEnded(target.name, outcome.status, outcome.error))

    async def _send_all(
        self,
        backend: Backend,
        target: ModelTarget,
        warm: list[Job],
        measured: list[Job],
        outcome: ModelOutcome,
    ) -> None:
        ok = 0
        errors: list[str] = []
        consecutive = 0

        def tally(job: Job, rec: RequestRecord) -> None:
            nonlocal ok, consecutive
            self.on_record(rec)
            if rec.status == "ok":
                consecutive = 0
                ok += 0 if job.warmup else 1
            else:
                consecutive += 1
                errors.append(rec.error or "unknown error")
                if consecutive >= self.max_consecutive_failures:
                    outcome.aborted = (
                        f"stopped after {consecutive} consecutive failed requests; last: {rec.error}"
                    )

        async def worker(queue: asyncio.Queue[Job]) -> None:
            while True:
                try:
                    job = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                if outcome.aborted:
                    return
                tally(job, await self.send(backend, target, job))

        async def open_loop(jobs: list[Job]) -> None:
            """Send each job at its scheduled time whatever is still in flight (no coordinated omission)."""
            start = time.perf_counter_ns()
            offsets = arrival_offsets(
                len(jobs), self.settings.rate or 1.0, self.settings.arrival, self.settings.seed
            )

            async def fire(job: Job, at_ns: int) -> None:
                delay = (at_ns - time.perf_counter_ns()) / 1e9
                if delay > 0:
                    await asyncio.sleep(delay)
                if outcome.aborted:
                    return
                tally(job, await self.send(backend, target, job, scheduled_ns=at_ns))

            await asyncio.gather(*(fire(j, start + off) for j, off in zip(jobs, offsets, strict=True)))

        for phase in (warm, measured):
            if phase is measured:
                self.on_event(MeasureStarted(target.name))
                if self.settings.rate:
                    await open_loop(phase)
                    break
            queue: asyncio.Queue[Job] = asyncio.Queue()
            for job in phase:
                queue.put_nowait(job)
            width = min(self.settings.concurrency, max(1, len(phase)))
            await asyncio.gather(*(worker(queue) for _ in range(width)))
            if outcome.aborted:
                break
        if ok:
            outcome.status = "ok"
            outcome.error = outcome.aborted
        else:
            outcome.status = "error"
            outcome.error = outcome.aborted or (errors[0] if errors else "no measured requests")

    async def send(
        self, backend: Backend, target: ModelTarget, job: Job, scheduled_ns: int | None = None
    ) -> RequestRecord:
        """Send one request and stamp its record; failures become error records, never exceptions.

        ``scheduled_ns`` is when an open-loop schedule meant it to go out (kept in the record, so
        latency can be reported from it); closed loop, it is the dispatch time."""
        s = self.settings
        streams = s.stream and getattr(backend, "supports_streaming", True)
        messages, tag = job.prompt.messages(), None
        if s.prompt_cache == "unique-prefix" and not getattr(backend, "in_process", True):
            tag = new_tag()  # a server's prefix cache must not answer a repeat (recorded in the record)
            messages = tagged(messages, tag)
        req = ChatRequest(
            messages=messages,
            max_tokens=job.prompt.max_tokens or s.max_tokens,
            temperature=s.temperature,
            seed=s.seed,
            stream=s.stream,
            timeout_s=s.timeout_s,
        )
        arrivals: list[tuple[int, int | None]] = []
        parts: list[str] = []
        done: Completion | None = None
        error: str | None = None
        kind: str | None = None
        t_dispatch = time.perf_counter_ns()
        t0 = t_dispatch  # replaced by the backend's own send time when it reports one
        try:
            async for ev in backend.stream_chat(req):
                if isinstance(ev, TextDelta):
                    if ev.text:
                        arrivals.append((ev.t_ns, ev.tokens))
                        parts.append(ev.text)
                elif isinstance(ev, Completion):
                    done = ev
                elif isinstance(ev, Sent):
                    t0 = ev.t_ns
            if done is None:
                raise RequestError("broken_stream", "backend ended without a final event")
        except RequestError as exc:
            error, kind = exc.message, exc.kind
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error, kind = f"{type(exc).__name__}: {exc}", "engine"
        t_end = time.perf_counter_ns()
        events = [ContentEvent(t - t0, k) for t, k in arrivals]
        base = dict(
            model=target.name,
            backend=target.backend,
            prompt_id=job.prompt.id,
            round=job.round,
            warmup=job.warmup,
            stream=streams,
            t_scheduled_ns=t_dispatch if scheduled_ns is None else scheduled_ns,
            t0_ns=t0,
            t_end_ns=t_end,
            events=tuple(events),
            output="".join(parts),
            extra={"cache_tag": tag} if tag else {},
        )
        if error is not None or done is None:
            return RequestRecord(status="error", error=error, error_kind=kind, **base)  # type: ignore[arg-type]
        return RequestRecord(
            status="ok",
            prompt_tokens=done.prompt_tokens,
            completion_tokens=done.completion_tokens,
            token_source=done.token_source,
            finish_reason=done.finish_reason,
            **base,  # type: ignore[arg-type]
        )
