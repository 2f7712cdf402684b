"""Run a blocking generator (an in-process engine) in a worker thread and stream its events.

Timestamps are taken by the producer, in the generating thread, so delivery latency never enters
them. By default events reach the event loop when generation ends, so the loop's thread does not
wake for every token and compete with the engine's threads for the cores. ``realtime=True`` (for
serving) hands events over as they are produced: every one, or, with ``interval_s``, at most one
wake-up per interval (the first token always at once, so TTFT is unaffected).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable

from bakeoff.backends.base import ChatRequest, Completion, Event, TextDelta
from bakeoff.errors import RequestError

FIRST_TOKEN_HANDOFF_S = 0.005

Put = Callable[[Event | BaseException | None], None]
Producer = Callable[[Put, threading.Event], None]
"""Runs in the worker thread: ``put`` each event, ``put(None)`` last; stop early when the event is set."""


async def stream_from_thread(
    produce: Producer, request: ChatRequest, lock: asyncio.Lock, realtime: bool, interval_s: float = 0.0
) -> AsyncIterator[Event]:
    """Yield the producer's events under ``lock`` (one generation at a time per model).

    A timeout or a consumer that stops early (client disconnect) sets the stop flag and waits for the
    worker to finish, so the engine never keeps generating for nobody.
    """
    loop = asyncio.get_running_loop()
    buf: list[Event | BaseException | None] = []
    wake = asyncio.Event()
    stop = threading.Event()

    last_wake = [0.0]
    handed = threading.Event()  # set once the consumer has passed on the first token
    first_sent = [False]

    def put(item: Event | BaseException | None) -> None:
        buf.append(item)  # list.append is atomic; the loop reads after being woken
        if item is None or isinstance(item, BaseException):
            loop.call_soon_threadsafe(wake.set)
        elif realtime:
            now = time.perf_counter()
            if now - last_wake[0] >= interval_s:
                last_wake[0] = now
                loop.call_soon_threadsafe(wake.set)
            if not first_sent[0] and isinstance(item, TextDelta) and item.text:
                # First-token handoff: pause the engine (a few ms at most) until the consumer has sent
                # the first token on, so the delivering thread is not queued behind busy engine threads.
                first_sent[0] = True
                handed.wait(FIRST_TOKEN_HANDOFF_S)

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
                            if isinstance(item, TextDelta) and item.text:
                                handed.set()
                        else:
                            pending.append(item)
        except TimeoutError:
            raise RequestError(
                "timeout", f"generation did not finish within {request.timeout_s:g} s", hint="raise --timeout"
            ) from None
        finally:
            stop.set()
            handed.set()
            await asyncio.shield(worker)
        if not request.stream:
            # one event at the moment the whole answer is ready, as a non-streaming server would
            done = [e for e in pending if isinstance(e, Completion)]
            t = done[0].t_ns if done else time.perf_counter_ns()
            for thinking in (True, False):  # the engine's thinking (if it sent any apart), then the answer
                deltas = [e for e in pending if isinstance(e, TextDelta) and e.reasoning is thinking]
                text = "".join(e.text for e in deltas)
                if text:
                    known = all(e.tokens is not None for e in deltas)
                    yield TextDelta(t, text, sum(e.tokens or 0 for e in deltas) if known else None, thinking)
            if done:
                yield done[0]
