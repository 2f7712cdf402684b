"""A worker process of ``--workers`` (``workers.py``): loads the model's backend, then sends every
request it is handed on its own event loop and connection pools, and hands back each record as it
completes. Frames (``workers.encode``) come in on stdin and go out on the process's original stdout;
anything else written to stdout (an engine's log) goes to stderr instead.

Run by the pool as ``python -m bakeoff.load.worker_process``; not a command for people."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import signal
import sys
from typing import IO, Any

from bakeoff.backends.base import make_backend
from bakeoff.backends.plugins import load_backend_class
from bakeoff.errors import BakeoffError
from bakeoff.load.client_watch import ClientWatch
from bakeoff.load.runner import Runner
from bakeoff.load.workers import encode, failed_record, read_frame


async def serve(out: IO[bytes]) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def put(obj: Any) -> None:
        out.write(encode(obj))
        out.flush()

    init = await read_frame(reader)
    if init is None or init[0] != "init":
        return
    _, settings, target = init
    try:
        backend = make_backend(load_backend_class(target.backend), target.name, target.spec)
        await backend.load()
    except BakeoffError as exc:
        put(("error", exc.message))
        return
    except Exception as exc:
        put(("error", f"{type(exc).__name__}: {exc}"))
        return
    put(("ready",))
    runner = Runner(settings, [], lambda rec: None)
    watch = ClientWatch()
    watching = asyncio.create_task(watch.watch())
    running: set[asyncio.Task[None]] = set()

    async def one(key: int, job: Any, scheduled_ns: int | None, deadline_ns: int | None, cut: str) -> None:
        try:
            rec = await runner.send(backend, target, job, scheduled_ns, deadline_ns, cut)
            put(("rec", key, rec))
        except Exception as exc:  # every request handed over gets its record back, whatever happens
            why = f"the worker process failed: {type(exc).__name__}: {exc}"
            put(("rec", key, failed_record(settings, target, job, scheduled_ns, why, "engine")))

    try:
        while (msg := await read_frame(reader)) is not None:
            task = asyncio.create_task(one(*msg[1:]))
            running.add(task)
            task.add_done_callback(running.discard)
        if running:
            await asyncio.gather(*running)
    finally:
        await watch.stop(watching)
        put(("lags", watch.samples.lags.get("client", [])))
        await backend.close()


def _die_with_parent() -> None:
    """On Linux, end this worker when the run's process dies (even by SIGKILL), so no request goes on
    being sent for a run that is gone."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the request took effect
        os._exit(1)


PR_SET_PDEATHSIG = 1


def main() -> None:
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the run stops us
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints must not break the frames
    asyncio.run(serve(out))


if __name__ == "__main__":
    main()
