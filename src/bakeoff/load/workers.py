"""``--workers N``: a model's requests sent from N processes, so the client's own work per streamed
token (reading, parsing, stamping) is spread over cores and never limits what a fast server shows.

The run's loop in this process keeps the schedule, the stages, the failure counts and the records
file; each worker process (``worker_process.py``) has its own event loop and connection pools, sends
the requests it is handed, stamps them, and hands each record back the moment it completes, so the
records file is as crash-safe as with one process. Timestamps are ``perf_counter_ns`` values, which
are CLOCK_MONOTONIC on Linux (one clock for every process of the machine): a schedule's send time set
here and a first token stamped in a worker compare directly.

Only models in another process (endpoints) are sent from workers: an in-process engine serves one
request at a time in this process, and its client work is nothing beside its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import pickle
import struct
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from bakeoff.backends.targets import ModelTarget
from bakeoff.config.settings import BenchSettings
from bakeoff.errors import BakeoffError
from bakeoff.load.job import Job
from bakeoff.records import WORKER_LOST, RequestRecord

FRAME = struct.Struct("<I")


def encode(obj: Any) -> bytes:
    """One frame: its length, then the pickled object."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return FRAME.pack(len(data)) + data


async def read_frame(reader: asyncio.StreamReader) -> Any | None:
    """The next frame's object; None at the end of the stream (or a frame cut short)."""
    try:
        (n,) = FRAME.unpack(await reader.readexactly(FRAME.size))
        return pickle.loads(await reader.readexactly(n))
    except asyncio.IncompleteReadError:
        return None


def failed_record(
    settings: BenchSettings, target: ModelTarget, job: Job, scheduled_ns: int | None, why: str, kind: str
) -> RequestRecord:
    """The error record of a request that has no answer to record (its worker lost or failed)."""
    now = time.perf_counter_ns()
    return RequestRecord(
        model=target.name, backend=target.backend, prompt_id=job.prompt.id, round=job.round,
        warmup=job.warmup, stream=settings.stream, status="error",
        t_scheduled_ns=now if scheduled_ns is None else scheduled_ns, t0_ns=now, t_end_ns=now,
        error=why, error_kind=kind, stage=job.stage, extra={"data": dict(job.data)} if job.data else {},
    )  # fmt: skip


@dataclass
class _Worker:
    index: int
    proc: asyncio.subprocess.Process
    pending: dict[int, tuple[asyncio.Future[RequestRecord], Job, int | None]] = field(default_factory=dict)
    lags: list[tuple[int, int]] = field(default_factory=list)
    alive: bool = True
    stderr: bytearray = field(default_factory=bytearray)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"worker {self.index}"

    def why_gone(self) -> str:
        code = self.proc.returncode
        tail = self.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        return f"{self.name} exited (code {code}){': ' + tail[0][:200] if tail[0] else ''}"


class WorkerPool:
    """N worker processes for one model: ``start()``, then ``send()`` from the run's loop (the least busy
    worker takes each request), then ``close()``, which waits for requests in flight."""

    def __init__(self, settings: BenchSettings, target: ModelTarget, count: int) -> None:
        self.settings, self.target, self.count = settings, target, count
        self.workers: list[_Worker] = []
        self._ids = itertools.count()

    @property
    def pids(self) -> dict[str, int]:
        return {w.name: w.proc.pid for w in self.workers}

    async def start(self, timeout_s: float = 120.0) -> None:
        """Start the workers; each loads the model's backend (checks the endpoint) before it says ready.
        Raises ``BakeoffError`` naming the first worker that could not start."""
        try:
            await asyncio.wait_for(
                asyncio.gather(*(self._spawn(i + 1) for i in range(self.count))), timeout_s
            )
        except TimeoutError:
            await self.close()
            raise BakeoffError(f"worker processes did not start within {timeout_s:.0f} s") from None
        except BaseException:
            await self.close()
            raise

    async def _spawn(self, index: int) -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bakeoff.load.worker_process",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        w = _Worker(index, proc)
        self.workers.append(w)
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        w.tasks.append(asyncio.create_task(self._keep_stderr(w, proc.stderr)))
        proc.stdin.write(encode(("init", self.settings, self.target)))
        first = await read_frame(proc.stdout)
        if first is None or first[0] != "ready":
            await proc.wait()
            why = first[1] if first is not None else w.why_gone()
            w.alive = False
            raise BakeoffError(f"{w.name} could not start: {why}")
        w.tasks.append(asyncio.create_task(self._read(w, proc.stdout)))

    @staticmethod
    async def _keep_stderr(w: _Worker, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(4096):
            w.stderr += chunk
            del w.stderr[:-4096]

    async def _read(self, w: _Worker, stream: asyncio.StreamReader) -> None:
        try:
            while (msg := await read_frame(stream)) is not None:
                if msg[0] == "rec":
                    fut, _, _ = w.pending.pop(msg[1])
                    if not fut.done():
                        fut.set_result(msg[2])
                elif msg[0] == "lags":
                    w.lags = msg[1]
        except Exception as exc:  # a frame that makes no sense: this worker is lost, not the run
            w.stderr += f"\nunreadable frame from {w.name}: {type(exc).__name__}: {exc}".encode()
            with contextlib.suppress(ProcessLookupError):
                w.proc.kill()
        finally:
            w.alive = False
            if w.pending:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(w.proc.wait(), 5)
                for fut, job, scheduled_ns in w.pending.values():
                    if not fut.done():
                        fut.set_result(self.lost(job, scheduled_ns, w.why_gone()))
                w.pending.clear()

    async def send(
        self, job: Job, scheduled_ns: int | None, deadline_ns: int | None, cut_kind: str
    ) -> RequestRecord:
        """Have the least busy worker send ``job``; its record. A worker that exits fails its requests
        in flight (error kind ``worker_lost``); the others go on."""
        alive = [w for w in self.workers if w.alive]
        if not alive:
            return self.lost(job, scheduled_ns, "every worker process has exited")
        w = min(alive, key=lambda w: len(w.pending))
        key = next(self._ids)
        fut: asyncio.Future[RequestRecord] = asyncio.get_running_loop().create_future()
        w.pending[key] = (fut, job, scheduled_ns)
        assert w.proc.stdin is not None
        w.proc.stdin.write(encode(("send", key, job, scheduled_ns, deadline_ns, cut_kind)))
        return await fut

    def lost(self, job: Job, scheduled_ns: int | None, why: str) -> RequestRecord:
        return failed_record(
            self.settings, self.target, job, scheduled_ns, f"lost with its worker process: {why}", WORKER_LOST
        )

    async def close(self, timeout_s: float = 60.0) -> dict[str, list[tuple[int, int]]]:
        """Let every worker finish its requests in flight and exit (killed after ``timeout_s``, or at
        once when this task is cancelled); the loop lags each saw, by worker name."""
        for w in self.workers:
            if w.proc.stdin is not None and not w.proc.stdin.is_closing():
                w.proc.stdin.close()
        try:
            for w in self.workers:
                try:
                    done = asyncio.gather(*w.tasks, w.proc.wait(), return_exceptions=True)
                    await asyncio.wait_for(done, timeout_s)
                except TimeoutError:
                    self._kill(w)
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(w.proc.wait(), 5)
        except asyncio.CancelledError:
            for w in self.workers:
                self._kill(w)
            raise
        return {w.name: w.lags for w in self.workers}

    @staticmethod
    def _kill(w: _Worker) -> None:
        if w.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                w.proc.kill()
        for task in w.tasks:
            task.cancel()
