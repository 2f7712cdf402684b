"""The client watches itself: how late its event loop wakes and how much CPU it uses while a model is
measured, so a number the client limited is never presented as the server's.

A timer due every ``INTERVAL_S`` notes how late it woke (loop lag: every timestamp taken on that loop
can be that late, and every scheduled send too); the process's CPU time is read at each stage's start
and at the end. ``summarize.client_load`` turns the samples of a window into figures and a verdict.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

INTERVAL_S = 0.010


@dataclass
class ClientSamples:
    """What the watch saw: (time, lag) of every wake-up and (time, CPU seconds) at each mark, in
    ``perf_counter_ns`` and ``process_time`` units."""

    lags: list[tuple[int, int]] = field(default_factory=list)
    cpu: list[tuple[int, float]] = field(default_factory=list)

    def mark(self) -> None:
        self.cpu.append((time.perf_counter_ns(), time.process_time()))


class ClientWatch:
    """Run ``watch()`` as a task during the measured phase; cancel it at the end."""

    def __init__(self) -> None:
        self.samples = ClientSamples()

    async def watch(self) -> None:
        step = int(INTERVAL_S * 1e9)
        self.samples.mark()
        try:
            while True:
                due = time.perf_counter_ns() + step
                await asyncio.sleep(INTERVAL_S)
                now = time.perf_counter_ns()
                self.samples.lags.append((now, max(0, now - due)))
        finally:
            self.samples.mark()

    async def stop(self, task: asyncio.Task[None]) -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
