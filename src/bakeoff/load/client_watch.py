"""The client watches itself: how late its event loop wakes and how much CPU it uses while a model is
measured, so a number the client limited is never presented as the server's.

A timer due every ``INTERVAL_S`` notes how late it woke (loop lag: every timestamp taken on that loop
can be that late, and every scheduled send too); the CPU time of each process of the client (this one
and any ``--workers`` processes) is read at each stage's start and at the end.
``client_load.client_over`` turns the samples of a window into figures and a verdict.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import psutil

INTERVAL_S = 0.010
CLIENT = "client"
"""The process that runs the schedule (and, without worker processes, sends every request)."""


@dataclass
class ClientSamples:
    """What the watch saw, per process of the client (``"client"``, then ``"worker 1"``...): (time, lag)
    of every wake-up of its event loop, and (time, CPU seconds) at each mark, in ``perf_counter_ns``
    and seconds."""

    lags: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    cpu: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)
    """Worker processes by name, whose CPU time is read at each mark."""

    def mark(self) -> None:
        now = time.perf_counter_ns()
        self.cpu.setdefault(CLIENT, []).append((now, time.process_time()))
        for name, pid in self.pids.items():
            with contextlib.suppress(psutil.Error):  # an exited worker has no more marks
                t = psutil.Process(pid).cpu_times()
                self.cpu.setdefault(name, []).append((now, t.user + t.system))

    def add_lags(self, lags: dict[str, list[tuple[int, int]]]) -> None:
        """Other processes' wake-ups (a worker's, sent when it ends)."""
        self.lags.update(lags)


class ClientWatch:
    """Run ``watch()`` as a task during the measured phase; cancel it at the end."""

    def __init__(self, pids: dict[str, int] | None = None) -> None:
        self.samples = ClientSamples(pids=dict(pids or {}))

    async def watch(self) -> None:
        step = int(INTERVAL_S * 1e9)
        mine = self.samples.lags.setdefault(CLIENT, [])
        self.samples.mark()
        try:
            while True:
                due = time.perf_counter_ns() + step
                await asyncio.sleep(INTERVAL_S)
                now = time.perf_counter_ns()
                mine.append((now, max(0, now - due)))
        finally:
            self.samples.mark()

    async def stop(self, task: asyncio.Task[None]) -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
