"""Run a blocking generator (an in-process engine) in a worker thread and stream its events.

Timestamps are taken by the producer, in the generating thread, so delivery latency never enters
them. By default events reach the event loop when generation ends: on a machine with few cores,
waking the loop's thread for every token steals a core from the engine's threads (SmolLM2 fell from
110 to 30 tok/s here). ``realtime=True`` (for serving) hands each event over as it is produced.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable

from ..errors import RequestError
from .base import ChatRequest, Completion, Event, TextDelta

Put = Callable[[Event | BaseException | None], None]
Producer = Callable[[Put, threading.Event], None]
"""Runs in the worker thread: ``put`` each event, ``put(None)`` last; stop early when the event is set."""


async def stream_from_thread(
    produce: Producer, request: ChatRequest, lock: asyncio.Lock, realtime: bool
) -> AsyncIterator[Event]:
    """Yield the producer's events under ``lock`` (one generation at a time per model).

    A timeout or a consumer that stops early (client disconnect) sets the stop flag and waits for the
    worker to finish, so the engine never keeps generating for nobody.
    """
    loop = asyncio.get_running_loop()
    buf: list[Event | BaseException | None] = []
    wake = asyncio.Event()
    stop = threading.Event()

    def put(item: Event | BaseException | None) -> None:
        buf.append(item)  # list.append is atomic; the loop reads after being woken
        if item is None or realtime:
            loop.call_soon_threadsafe(wake.set)

    async with lock:
        worker = asyncio.create_task(asyncio.to_thread(produce, put, stop))
        pending: list[Event] = []
        finished = False
        try:
            async with asyncio.timeout(request.timeout_s):
                while not finished:
                    await wake.wait()
                    wake.clear()
                    items, buf[:] = list(buf), []
                    for item in items:
                        if item is None:
                            finished = True
                            break
                        if isinstance(item, BaseException):
                            raise item
                        if request.stream:
                            yield item
                        else:
                            pending.append(item)
        except TimeoutError:
            raise RequestError(
                "timeout", f"generation did not finish within {request.timeout_s:g} s", hint="raise --timeout"
            ) from None
        finally:
            stop.set()
            await asyncio.shield(worker)
        if not request.stream:
            # one event at the moment the whole answer is ready, as a non-streaming server would
            done = [e for e in pending if isinstance(e, Completion)]
            deltas = [e for e in pending if isinstance(e, TextDelta)]
            t = done[0].t_ns if done else time.perf_counter_ns()
            text = "".join(e.text for e in deltas)
            if text:
                known = all(e.tokens is not None for e in deltas)
                yield TextDelta(t, text, sum(e.tokens or 0 for e in deltas) if known else None)
            if done:
                yield done[0]
