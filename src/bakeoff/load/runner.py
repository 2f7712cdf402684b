"""The runner: for each model, load it, send warm-up requests (flagged), then every prompt x every
round with ``concurrency`` requests in flight (closed loop), stamping one record per request.

Each model is isolated: a failed load, an HTTP error or a broken or stalled stream marks that
request or model as failed with its reason, and the run goes on. Records are handed to the sink the
moment they complete, so an interrupted run keeps everything measured so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from bakeoff.backends.base import Backend, ChatRequest, Completion, Sent, TextDelta, make_backend
from bakeoff.backends.plugins import load_backend_class
from bakeoff.backends.targets import ModelTarget
from bakeoff.config.settings import BenchSettings, PromptCase
from bakeoff.errors import BakeoffError, RequestError
from bakeoff.load.cache_tag import new_tag, tagged
from bakeoff.load.client_watch import ClientSamples, ClientWatch
from bakeoff.load.events import EventSink, MeasureStarted, ModelEnded, ModelLoaded, ModelStarted, StageStarted
from bakeoff.load.job import Job
from bakeoff.load.profile import DEFAULT_MAX_CONCURRENCY, Profile, Stage, parse_profile, sweep_rates
from bakeoff.load.schedule import arrival_offsets, closed_share, iter_arrival_offsets, owns_request, shard_of
from bakeoff.load.worker_count import node_share, workers_for
from bakeoff.load.workers import WorkerPool
from bakeoff.metrics import definitions
from bakeoff.metrics.reasoning import Piece, reasoning_token_count, split_reasoning
from bakeoff.records import (
    CUT_ERRORS,
    CUT_OFF,
    CUT_OFF_ERROR,
    NOT_SENT,
    NOT_SENT_ERROR,
    OUT_OF_TIME,
    OUT_OF_TIME_ERROR,
    REASONING_EXHAUSTED,
    WORKER_LOST,
    ContentEvent,
    RequestRecord,
)
from bakeoff.workload.structured import load_schema
from bakeoff.workload.synthetic import Tokenizer, WordTokenizer, build_cases, parse_data
from bakeoff.workload.tokenizers import load_tokenizer


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
    stages: list[Stage] = field(default_factory=list)
    """The profile's stages in the order they ran (empty for a run without ``--profile``)."""
    client: ClientSamples | None = None
    """What the client saw of itself while measuring (``client_watch.py``)."""


RecordSink = Callable[[RequestRecord], None]
SOAK_LEAD_S = 0.05
"""A soak's open loop makes each request's task this long before it is due (each still waits for
its own send time, as ``open_loop``'s do)."""


@dataclass(frozen=True)
class Go:
    """The driver's word to one node of a ``--load-nodes`` run: the common start, in this process's
    ``perf_counter_ns``, and at ``SWEEP_RATES`` the sweep's rate stages, from every node's merged
    synchronous and throughput stages."""

    start_ns: int
    rates: tuple[float, ...] = ()


StartGate = Callable[[str], Go]
"""Blocks until every node of a ``--load-nodes`` run waits at the same point (``MEASURE``, a stage's
label, or ``SWEEP_RATES``); then the driver's ``Go``."""
MEASURE = "measure"
"""The gate of a plain ``--rate`` run, after the warm-up."""
SWEEP_RATES = "sweep rates"
"""The gate after a split sweep's throughput stage: the rates come from the driver."""


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
        *,
        start_gate: StartGate | None = None,
    ) -> None:
        self.start_gate = start_gate
        self.settings = settings
        self.prompts = list(prompts)
        self.on_record = on_record
        self.on_event: EventSink = on_event or (lambda event: None)
        self.max_consecutive_failures = max_consecutive_failures
        self._tokenizer: Tokenizer | WordTokenizer | None = None
        self._schema: dict[str, Any] | None = None

    def constrained_schema(self, target: ModelTarget | None = None) -> dict[str, Any] | None:
        """``--structured``'s schema when decoding is to follow it (loaded once per run): the target's
        own mode (``--vary structured=free,constrained``) where it has one, else the run's."""
        s = self.settings
        mode = (target.structured_mode if target is not None else None) or s.structured_mode
        if not s.structured or mode != "constrained":
            return None
        if self._schema is None:
            self._schema = load_schema(s.structured)[1]
        return self._schema

    def count_answer(self, parts: Sequence[Piece], reasoning: str) -> dict[str, Any]:
        """Completion (and thinking) tokens of an answer counted with ``--tokenizer``: what every piece
        said, as the model generated it (tags included)."""
        tok = self.shared_tokenizer()
        if isinstance(tok, WordTokenizer):  # no --tokenizer: the estimate stands
            return {}
        text = "".join(p.text for p in parts)
        n = max(len(tok.encode(text)), 1) if text else 0
        thinking = min(len(tok.encode(reasoning)), n) if reasoning else None
        return {"completion_tokens": n, "token_source": "counted", "reasoning_tokens": thinking}

    def shared_tokenizer(self) -> Tokenizer | WordTokenizer:
        """``--tokenizer``'s tokenizer (loaded once per run), else whitespace words (approximate)."""
        if self._tokenizer is None:
            path = self.settings.tokenizer
            self._tokenizer = load_tokenizer(path) if path else WordTokenizer()
        return self._tokenizer

    def context_needed(self) -> int:
        """Tokens the longest request may need: its prompt (at 3 characters a token, on the safe side
        of English text) and its answer, plus 64 for the chat template."""
        sizes = [
            len("".join(m["content"] for m in c.messages())) // 3 + (c.max_tokens or self.settings.max_tokens)
            for c in self.prompts
        ]
        longest = max(sizes, default=self.settings.max_tokens)
        return longest + 64

    def jobs(self) -> tuple[list[Job], list[Job]]:
        warm = [Job(self.prompts[i % len(self.prompts)], 0, True) for i in range(self.settings.warmup)]
        measured = [Job(p, r, False) for r in range(1, self.settings.rounds + 1) for p in self.prompts]
        return warm, measured

    async def run_model(
        self, target: ModelTarget, outcome: ModelOutcome, deadline_ns: int | None = None
    ) -> None:
        """Benchmark one model, filling ``outcome``; never raises for model or request failures.
        ``deadline_ns`` (a ``perf_counter_ns`` value, from ``--max-seconds``) ends its turn: no request
        is sent after it and any still running is cut off."""
        warm, measured = self.jobs()
        total = None if self.settings.profile else len(warm) + len(measured)
        self.on_event(ModelStarted(target.name, total))
        if target.error or target.spec is None:
            outcome.status, outcome.error = "error", target.error or "no model spec"
            self.on_event(ModelEnded(target.name, outcome.status, outcome.error))
            return
        backend: Backend | None = None
        try:
            backend = make_backend(load_backend_class(target.backend), target.name, target.spec)
            if (want := getattr(backend, "want_context", None)) is not None:
                want(self.context_needed())  # an in-process engine sizes its context to the prompts
            if (budget := getattr(backend, "set_memory_budget", None)) is not None:
                budget(self.settings.max_memory_mb, self.settings.force)  # checked before the load
            outcome.load_s = await backend.load()
            outcome.info = backend.describe()
            self.on_event(ModelLoaded(target.name, outcome.load_s))
        except BakeoffError as exc:
            hint = f" ({exc.hint})" if exc.hint else ""  # the next step: an install, a path to fix
            outcome.status, outcome.error = "error", f"load failed: {exc.message}{hint}"
        except Exception as exc:  # an engine's own failure must not stop the batch
            outcome.status, outcome.error = "error", f"load failed: {type(exc).__name__}: {exc}"
        if outcome.error is None and backend is not None:
            pool: WorkerPool | None = None
            try:
                count = workers_for(self.settings, getattr(backend, "in_process", True))
                if count > 1:
                    pool = WorkerPool(self.settings, target, count)
                    await pool.start()
                await _ModelRun(self, backend, target, outcome, deadline_ns, pool).run()
            except BakeoffError as exc:  # the worker processes could not start
                outcome.status, outcome.error = "error", exc.message
            finally:
                if pool is not None:  # cancelled (Ctrl-C): its requests in flight are dropped, as here
                    task = asyncio.current_task()
                    stopping = task is not None and task.cancelling() > 0
                    lags = await pool.close(timeout_s=0 if stopping else 60)
                    if outcome.client is not None:
                        outcome.client.add_lags(lags)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(backend.close(), timeout=30)
        elif backend is not None:
            with contextlib.suppress(Exception):
                await backend.close()
        self.on_event(ModelEnded(target.name, outcome.status, outcome.error))

    async def send(
        self,
        backend: Backend,
        target: ModelTarget,
        job: Job,
        scheduled_ns: int | None = None,
        deadline_ns: int | None = None,
        cut_kind: str = "cut_off",
    ) -> RequestRecord:
        """Send one request and stamp its record; failures become error records, never exceptions.

        ``scheduled_ns`` is when an open-loop schedule meant it to go out (kept in the record, so
        latency can be reported from it); closed loop, it is the dispatch time. A request still running
        at ``deadline_ns`` is cut off, with error kind ``cut_kind`` (``CUT_OFF`` or ``OUT_OF_TIME``)."""
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
            min_tokens=job.data["output_tokens"] if job.data else None,
            extra={"reasoning_effort": s.reasoning_effort} if s.reasoning_effort else {},
            json_schema=self.constrained_schema(target),
        )
        arrivals: list[tuple[int, int | None]] = []
        parts: list[Piece] = []
        done: Completion | None = None
        error: str | None = None
        kind: str | None = None
        t_dispatch = time.perf_counter_ns()
        t0 = t_dispatch  # replaced by the backend's own send time when it reports one
        left_s = None if deadline_ns is None else max(0.0, (deadline_ns - t_dispatch) / 1e9)
        try:
            async with asyncio.timeout(left_s) as budget:
                async for ev in backend.stream_chat(req):
                    if isinstance(ev, TextDelta):
                        if ev.text:
                            arrivals.append((ev.t_ns, ev.tokens))
                            parts.append(Piece(ev.text, ev.reasoning))
                    elif isinstance(ev, Completion):
                        done = ev
                    elif isinstance(ev, Sent):
                        t0 = ev.t_ns
            if done is None:
                raise RequestError("broken_stream", "backend ended without a final event")
        except TimeoutError as exc:
            if budget.expired():
                error, kind = CUT_ERRORS.get(cut_kind, CUT_OFF_ERROR), cut_kind
            else:
                error, kind = f"TimeoutError: {exc}", "engine"
        except RequestError as exc:
            error, kind = exc.message, exc.kind
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error, kind = f"{type(exc).__name__}: {exc}", "engine"
        t_end = time.perf_counter_ns()
        split = split_reasoning(parts)
        events = [
            ContentEvent(t - t0, k, r) for (t, k), r in zip(arrivals, split.reasoning_pieces, strict=True)
        ]
        extra: dict[str, Any] = {"cache_tag": tag} if tag else {}
        if job.data:  # what --data asked of it, and (when it answered) whether the forced length held
            extra["data"] = dict(job.data)
            if done is not None and error is None:  # unknown (None) when the count is an estimate
                counted = done.completion_tokens is not None and done.token_source != "estimated"
                held = done.completion_tokens == job.data["output_tokens"] if counted else None
                extra["data"]["length_held"] = held
        base = dict(
            model=target.name,
            backend=target.backend,
            prompt_id=job.prompt.id,
            round=job.round,
            warmup=job.warmup,
            stage=job.stage,
            stream=streams,
            t_scheduled_ns=t_dispatch if scheduled_ns is None else scheduled_ns,
            t0_ns=t0,
            t_end_ns=t_end,
            events=tuple(events),
            output=split.answer,
            extra=extra,
            reasoning=split.reasoning,
        )
        if error is not None or done is None:
            return RequestRecord(status="error", error=error, error_kind=kind, **base)  # type: ignore[arg-type]
        counts: dict[str, Any] = dict(
            prompt_tokens=done.prompt_tokens,
            completion_tokens=done.completion_tokens,
            token_source=done.token_source,
            finish_reason=done.finish_reason,
            reasoning_tokens=reasoning_token_count(
                done.reasoning_tokens, events, split.reasoning, done.completion_tokens
            ),
        )
        if done.token_source == "estimated" and s.tokenizer:  # no usage: count the text (after t_end)
            counts.update(self.count_answer(parts, split.reasoning))
        if split.reasoning and split.first_answer is None and done.finish_reason == "length":
            error = (
                f"the reasoning used all {req.max_tokens} max_tokens before any answer: raise --max-tokens "
                "(or the prompt's max_tokens), or lower the model's reasoning effort"
            )
            kind = REASONING_EXHAUSTED
            return RequestRecord(status="error", error=error, error_kind=kind, **base, **counts)  # type: ignore[arg-type]
        return RequestRecord(status="ok", **base, **counts)  # type: ignore[arg-type]


"""A stage's own cut-off (or a scheduled request it never had a slot for) is evidence of a backlog and
counts against the SLO; the run's budget running out is not evidence of anything, and such records
are left out of their stage's figures."""


class _ModelRun:
    """One model's turn after loading: the warm-up, then its measured stages (one for a plain run,
    the profile's otherwise), counting failures so a model that keeps failing is stopped early.

    In a profile, failures in a row end the *stage* (an overloaded server answering 503 is what a
    sweep looks for); the model is stopped only when a stage ends that way without one success."""

    def __init__(
        self,
        runner: Runner,
        backend: Backend,
        target: ModelTarget,
        outcome: ModelOutcome,
        deadline_ns: int | None,
        pool: WorkerPool | None = None,
    ) -> None:
        self.runner, self.backend, self.target, self.outcome = runner, backend, target, outcome
        self.pool = pool
        self.settings = runner.settings
        self.deadline_ns = deadline_ns
        self.ok = 0
        self.errors: list[str] = []
        self.consecutive = 0
        self.failing: str | None = None  # why the current stage (or plain run) was stopped early
        self.stopped = asyncio.Event()  # set with ``failing``: wakes open-loop sends waiting their turn
        self.ran_out = False  # --max-seconds cut a request off or left a stage unrun
        self.by_stage: dict[str | None, list[RequestRecord]] = {}
        self.prompts = runner.prompts
        self.data: dict[str, dict[str, Any]] = {}

    def tally(self, rec: RequestRecord) -> None:
        self.runner.on_record(rec)
        self.by_stage.setdefault(rec.stage, []).append(rec)
        if rec.status == "ok":
            self.consecutive = 0
            self.ok += 0 if rec.warmup else 1
        elif rec.error_kind in CUT_ERRORS:  # the clock ran out: not the model failing
            self.ran_out = self.ran_out or rec.error_kind == OUT_OF_TIME
        elif rec.error_kind != WORKER_LOST:  # a lost worker is the client's own failure: it stops nothing
            self.consecutive += 1
            self.errors.append(rec.error or "unknown error")
            if self.consecutive >= self.runner.max_consecutive_failures and self.failing is None:
                self.failing = (
                    f"stopped after {self.consecutive} consecutive failed requests; last: {rec.error}"
                )
                self.stopped.set()

    def _halted(self) -> bool:
        return self.failing is not None or self.outcome.aborted is not None

    def cut_kind(self, hard_end_ns: int | None) -> str:
        """Why a request running at ``hard_end_ns`` is cut off: the run's budget, or its stage's drain."""
        return OUT_OF_TIME if hard_end_ns is not None and hard_end_ns == self.deadline_ns else CUT_OFF

    def _over(self) -> bool:
        return self.deadline_ns is not None and time.perf_counter_ns() >= self.deadline_ns

    def job(self, prompt: PromptCase, round_: int, warmup: bool, stage: str | None = None) -> Job:
        return Job(prompt, round_, warmup, stage, self.data.get(prompt.id))

    def use_synthetic_prompts(self) -> None:
        """``--data``: this model's prompts, built to their token counts with its own tokenizer (else
        ``--tokenizer``'s, else whitespace words)."""
        s = self.settings
        assert s.data is not None
        own = getattr(self.backend, "tokenizer", None)
        tok = own() if callable(own) else None
        if tok is None:
            tok = self.runner.shared_tokenizer()
        cases, counts = build_cases(parse_data(s.data), s.seed, tok)
        self.prompts = cases
        self.data = {
            c.id: {"prompt_tokens": n, "output_tokens": c.max_tokens, "tokenizer": tok.name}
            for c, n in zip(cases, counts, strict=True)
        }
        self.outcome.info["data_tokenizer"] = tok.name

    async def run(self) -> None:
        s = self.settings
        if s.data:
            try:
                self.use_synthetic_prompts()
            except Exception as exc:  # a tokenizer's own failure is this model's, not the run's
                self.outcome.status, self.outcome.error = "error", f"building --data prompts failed: {exc}"
                return
        warm = [self.job(self.prompts[i % len(self.prompts)], 0, True) for i in range(s.warmup)]
        soak = s.duration is not None or s.max_requests is not None
        measured = (
            [] if soak else [self.job(p, r, False) for r in range(1, s.rounds + 1) for p in self.prompts]
        )
        await self.closed(warm, min(s.concurrency, max(1, len(warm))), None, self.deadline_ns)
        if not self._halted():
            self.runner.on_event(MeasureStarted(self.target.name))
            watch = ClientWatch(self.pool.pids if self.pool else None)
            self.outcome.client = watch.samples
            task = asyncio.create_task(watch.watch())
            try:
                if s.profile:
                    await self.profile(parse_profile(s.profile))
                elif soak:
                    await self.soak()
                elif s.rate:
                    start = await self.common_start(MEASURE)
                    await self.open_loop(measured, s.rate, None, self.deadline_ns, s.max_concurrency, start)
                else:
                    width = min(s.concurrency, max(1, len(measured)))
                    await self.closed(measured, width, None, self.deadline_ns)
            finally:
                await watch.stop(task)
        o = self.outcome
        o.aborted = o.aborted or self.failing
        if not o.aborted and (self.ran_out or (self._over() and not s.profile)):
            o.aborted = "stopped at --max-seconds" if self.ok else None
        if self.ok:
            o.status, o.error = "ok", o.aborted
        else:
            o.status = "error"
            o.error = o.aborted or (self.errors[0] if self.errors else "no measured request finished in time")

    def soak_jobs(self) -> Iterator[Job]:
        """``--duration`` / ``--max-requests``: the prompts over and over (rounds 1, 2, ...), made one
        at a time as they are sent, at most ``max_requests`` of them."""
        jobs = (self.job(p, r, False) for r in itertools.count(1) for p in self.prompts)
        return itertools.islice(jobs, self.settings.max_requests)

    async def soak(self) -> None:
        """A soak's measured phase in memory that does not grow with its length: a closed loop of
        ``--concurrency``, or ``--rate``'s schedule dispatched as it comes due; sending stops at
        ``--duration`` (requests in flight finish) or after ``--max-requests``."""
        s = self.settings
        if s.rate:
            start = await self.common_start(MEASURE) or time.perf_counter_ns()
            end = None if s.duration is None else start + int(s.duration * 1e9)
            await self.open_soak(s.rate, start, end, s.max_concurrency)
        else:
            end = None if s.duration is None else time.perf_counter_ns() + int(s.duration * 1e9)
            await self.closed(self.soak_jobs(), s.concurrency, end, self.deadline_ns)

    async def open_soak(
        self, rate: float, start: int, send_end_ns: int | None, in_flight: int | None
    ) -> None:
        """``open_loop`` for a schedule with no fixed length: each request's task is made shortly
        before it is due (``SOAK_LEAD_S``) instead of all of them up front, so the tasks alive are
        those in flight and about to go; the send times are ``open_loop``'s for the same rate."""
        slots = asyncio.Semaphore(in_flight) if in_flight else None
        alive: set[asyncio.Task[None]] = set()
        failures: list[BaseException] = []

        async def fire(job: Job, at_ns: int) -> None:
            delay = (at_ns - time.perf_counter_ns()) / 1e9
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopped.wait(), delay)
            if self._halted():
                return
            async with slots or contextlib.nullcontext():
                if self._halted():
                    return
                if _past(send_end_ns, self.deadline_ns):
                    self.tally(self.not_sent(job, at_ns, self.cut_kind(self.deadline_ns)))
                    return
                await self.send(job, self.deadline_ns, at_ns)

        def done(task: asyncio.Task[None]) -> None:
            alive.discard(task)
            if not task.cancelled() and task.exception() is not None:
                failures.append(task.exception())  # type: ignore[arg-type]

        offsets = iter_arrival_offsets(rate, self.settings.arrival, self.settings.seed)
        for job, offset in zip(self.soak_jobs(), offsets, strict=False):
            at = start + offset
            if (send_end_ns is not None and at >= send_end_ns) or self._halted() or failures or self._over():
                break
            lead = (at - time.perf_counter_ns()) / 1e9 - SOAK_LEAD_S
            if lead > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopped.wait(), lead)
                if self._halted():
                    break
            task = asyncio.create_task(fire(job, at))
            alive.add(task)
            task.add_done_callback(done)
        if alive:
            await asyncio.gather(*alive, return_exceptions=True)
        if failures:
            raise failures[0]

    async def send(self, job: Job, hard_end_ns: int | None, scheduled_ns: int | None = None) -> None:
        """Send one job (from a worker process with ``--workers``), cut off at ``hard_end_ns``, and count
        its record."""
        cut = self.cut_kind(hard_end_ns)
        if self.pool is not None:
            rec = await self.pool.send(job, scheduled_ns, hard_end_ns, cut)
        else:
            rec = await self.runner.send(self.backend, self.target, job, scheduled_ns, hard_end_ns, cut)
        self.tally(rec)

    async def closed(
        self, jobs: Iterable[Job], width: int, send_end_ns: int | None, hard_end_ns: int | None
    ) -> None:
        """Closed loop: ``width`` requests in flight, the next sent as one ends, until the jobs run out
        or ``send_end_ns`` passes; anything running at ``hard_end_ns`` is cut off."""
        queue = iter(jobs)

        async def worker() -> None:
            while not self._halted() and not _past(send_end_ns, hard_end_ns):
                job = next(queue, None)
                if job is None:
                    return
                await self.send(job, hard_end_ns)

        await asyncio.gather(*(worker() for _ in range(width)))

    async def open_loop(
        self,
        jobs: Sequence[Job],
        rate: float,
        send_end_ns: int | None,
        hard_end_ns: int | None,
        in_flight: int | None,
        start_ns: int | None = None,
    ) -> None:
        """Send each job at its scheduled time (from ``start_ns``, default now) whatever is still in
        flight (no coordinated omission), with at most ``in_flight`` running (a later send waits for a
        slot; its queue delay shows it). A job whose slot came only after the window closed is recorded
        as never sent (``not_sent`` error, counted against the SLO like a cut-off: it is the backlog),
        never dropped. With ``--load-nodes`` only this node's share of the schedule is sent."""
        start = time.perf_counter_ns() if start_ns is None else start_ns
        offsets = arrival_offsets(len(jobs), rate, self.settings.arrival, self.settings.seed)
        if self.settings.shard:  # --load-nodes: this node's share of the schedule and of the in-flight cap
            mine = shard_of(len(jobs), self.settings.shard)
            jobs, offsets = [jobs[i] for i in mine], [offsets[i] for i in mine]
            in_flight = in_flight and node_share(in_flight, self.settings)
        slots = asyncio.Semaphore(in_flight) if in_flight else None

        async def fire(job: Job, at_ns: int) -> None:
            delay = (at_ns - time.perf_counter_ns()) / 1e9
            if delay > 0:
                with contextlib.suppress(TimeoutError):  # woken early when the model is stopped
                    await asyncio.wait_for(self.stopped.wait(), delay)
            if self._halted():
                return
            async with slots or contextlib.nullcontext():
                if self._halted():
                    return
                if _past(send_end_ns, hard_end_ns):
                    self.tally(self.not_sent(job, at_ns, self.cut_kind(hard_end_ns)))
                    return
                await self.send(job, hard_end_ns, at_ns)

        ends = [start + off for off in offsets]
        await asyncio.gather(
            *(
                fire(j, at)
                for j, at in zip(jobs, ends, strict=True)
                if send_end_ns is None or at < send_end_ns
            )
        )

    def not_sent(self, job: Job, at_ns: int, kind: str) -> RequestRecord:
        """The record of a scheduled request that never got a slot before its window closed."""
        now = time.perf_counter_ns()
        kind, why = (NOT_SENT, NOT_SENT_ERROR) if kind == CUT_OFF else (OUT_OF_TIME, OUT_OF_TIME_ERROR)
        return RequestRecord(
            model=self.target.name, backend=self.target.backend, prompt_id=job.prompt.id, round=job.round,
            warmup=job.warmup, stream=self.settings.stream, status="error", t_scheduled_ns=at_ns, t0_ns=now,
            t_end_ns=now, error=why, error_kind=kind, stage=job.stage,
            extra={"data": dict(job.data)} if job.data else {},
        )  # fmt: skip

    def stage_jobs(
        self, stage: Stage, count: int | None, warm: int, mine: Callable[[int], bool] | None = None
    ) -> Iterator[Job]:
        """The stage's requests: ``warm`` warm-up ones (round 0), then ``count`` measured (endless when
        None), each cycling through the prompts (the round counts the cycles). With ``mine``, only the
        requests whose index it keeps (a split closed stage: this node's slots), counted as sent."""
        n = len(self.prompts)
        for i in range(warm):
            yield self.job(self.prompts[i % n], 0, True, stage.label)
        k = sent = 0
        while count is None or sent < count:
            if mine is None or mine(k):
                yield self.job(self.prompts[k % n], k // n + 1, False, stage.label)
                sent += 1
            k += 1

    def share_s(self, stage: Stage, stages_left: int) -> float | None:
        """How long the stage may send: ``--stage-seconds`` and/or an equal share of the model's time
        left (an open-loop stage's share leaves room for its drain)."""
        share: float | None = self.settings.stage_seconds
        if self.deadline_ns is not None:
            fair = (self.deadline_ns - time.perf_counter_ns()) / 1e9 / max(1, stages_left)
            if stage.kind == "open":
                fair /= 1 + DRAIN_SHARE
            share = fair if share is None else min(share, fair)
        return share

    async def common_start(self, point: str) -> int | None:
        """``--load-nodes``: wait at ``point`` until every node does, then the common start (in this
        process's clock); None for a run of one machine."""
        if not self.settings.shard:
            return None
        if self.runner.start_gate is not None:
            return (await asyncio.to_thread(self.runner.start_gate, point)).start_ns
        return self.settings.shard_start_ns if point == MEASURE else None  # a fixed start: one only

    async def stage(self, stage: Stage, stages_left: int) -> list[RequestRecord]:
        """Run one stage within its share of the time left; its records (warm-up included). Split
        across nodes (``--load-nodes``), every node starts it together and sends its share: of an open
        loop's schedule, of a closed loop's width and request count."""
        s = self.settings
        start = await self.common_start(stage.label)
        now = time.perf_counter_ns() if start is None else start
        share = self.share_s(stage, stages_left)
        count = s.stage_requests
        if count is None and share is None:
            count = len(self.prompts) * s.rounds
        send_end = None if share is None else now + int(share * 1e9)
        hard_end = self.deadline_ns  # closed loop: at most `concurrency` requests left to finish
        if stage.kind == "open" and share is not None:  # an overloaded schedule's backlog is unbounded
            drained = now + int(share * (1 + DRAIN_SHARE) * 1e9)
            hard_end = drained if hard_end is None else min(hard_end, drained)
        self.runner.on_event(StageStarted(self.target.name, stage.label))
        self.outcome.stages.append(stage)
        if self.outcome.client is not None:
            self.outcome.client.mark()
        if stage.kind == "closed":
            width = whole = stage.concurrency or 1
            mine = None
            if s.shard:  # this node's slots of the width, and their requests (the sync stage: node 0's)
                width, count = closed_share(whole, count, s.shard)
                mine = partial(owns_request, width=whole, shard=s.shard)
            if start is not None:
                await asyncio.sleep(max(0.0, (start - time.perf_counter_ns()) / 1e9))
            if width:
                jobs = self.stage_jobs(stage, count, s.warmup * width, mine)
                await self.closed(jobs, width, send_end, hard_end)
        else:
            assert stage.rate is not None
            n = count if count is not None else math.ceil(stage.rate * (share or 0.0)) - s.warmup
            planned = list(self.stage_jobs(stage, max(1, n), s.warmup))
            in_flight = s.max_concurrency or DEFAULT_MAX_CONCURRENCY
            await self.open_loop(planned, stage.rate, send_end, hard_end, in_flight, start)
        return self.by_stage.get(stage.label, [])

    async def next_stage(self, stage: Stage, stages_left: int) -> list[RequestRecord] | None:
        """Run ``stage`` unless the model was stopped or its time is up (then None). Failures in a row
        end only the stage, unless not one of its measured requests succeeded."""
        if self._halted() or self._over():
            self.ran_out = self.ran_out or (self._over() and not self._halted())
            return None
        recs = await self.stage(stage, stages_left)
        if self.failing is not None:
            if any(r.status == "ok" and not r.warmup for r in recs):
                self.failing, self.consecutive = None, 0
                self.stopped.clear()
            else:
                self.outcome.aborted = f"{self.failing} (stage {stage.label})"
        return recs

    async def profile(self, profile: Profile) -> None:
        fixed = profile.fixed_stages()
        if profile.kind == "sweep":  # synchronous, then as fast as it goes, then rates between
            cap = self.settings.max_concurrency or DEFAULT_MAX_CONCURRENCY
            fixed.append(Stage("closed", cap, role="throughput"))
        total = profile.count if profile.kind == "sweep" else len(fixed)
        done = []
        for i, stage in enumerate(fixed):
            recs = await self.next_stage(stage, total - i)
            if recs is None:
                return
            done.append(recs)
        if profile.kind != "sweep":
            return
        if self.settings.shard and self.runner.start_gate is not None:  # from every node's stages
            rates: Sequence[float] = (await asyncio.to_thread(self.runner.start_gate, SWEEP_RATES)).rates
        else:
            sync_rate, max_rate = (achieved_rate(recs) for recs in done)
            if sync_rate is None or max_rate is None:
                return
            rates = sweep_rates(sync_rate, max_rate, profile.count - 2)
        for i, rate in enumerate(rates):
            if await self.next_stage(Stage("open", rate=rate), len(rates) - i) is None:
                return


DRAIN_SHARE = 0.5
"""After a timed open-loop stage stops sending, requests in flight get this share of its time to finish
before they are cut off (recorded as ``cut_off``): an overloaded schedule's backlog cannot eat the
next stage. A closed-loop stage's (at most its concurrency) finish, within --max-seconds."""


def _past(*ends: int | None) -> bool:
    """Whether any of the given ``perf_counter_ns`` deadlines has passed (None: no deadline)."""
    now = time.perf_counter_ns()
    return any(end is not None and now >= end for end in ends)


def achieved_rate(records: Sequence[RequestRecord]) -> float | None:
    """A stage's achieved rate: the completion rate of all its requests, warm-up ones included (the
    server was serving them: in a closed loop they finish among the first measured ones)."""
    return definitions.completion_rate(records)
