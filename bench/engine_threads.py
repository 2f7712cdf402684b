"""Decode rate of bakeoff's llama.cpp token loop on the main thread versus a worker thread.

    .venv/bin/python bench/engine_threads.py [--model smollm2-135m] [--reps 4]

With an OpenMP build of llama.cpp the worker-thread figure collapses (about 3x slower on 2 cores);
with -DGGML_OPENMP=OFF (the Makefile's build) the two agree.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading

import llama_cpp

from bakeoff.backends.base import ChatRequest, TextDelta
from bakeoff.backends.llamacpp import LlamaCppBackend
from bakeoff.config.settings import ModelSpec


def rate(backend: LlamaCppBackend, req: ChatRequest) -> float:
    events: list[object] = []
    backend._generate(req, events.append, threading.Event())
    ts = [e.t_ns for e in events if isinstance(e, TextDelta)]
    return (len(ts) - 1) / ((ts[-1] - ts[0]) / 1e9)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--reps", type=int, default=4)
    args = ap.parse_args()
    backend = LlamaCppBackend(args.model, ModelSpec(embedded=args.model))
    asyncio.run(backend.load())
    req = ChatRequest(
        messages=({"role": "user", "content": "List 3 privacy benefits of local inference."},), max_tokens=64
    )
    rate(backend, req)  # warm-up
    main_rates = [rate(backend, req) for _ in range(args.reps)]
    worker_rates: list[float] = []
    for _ in range(args.reps):
        t = threading.Thread(target=lambda: worker_rates.append(rate(backend, req)))
        t.start()
        t.join()
    med = statistics.median
    print(f"OpenMP build: {b'OPENMP = 1' in llama_cpp.llama_print_system_info()}")
    print(f"main thread:   median {med(main_rates):.1f} tok/s {[round(x, 1) for x in main_rates]}")
    print(f"worker thread: median {med(worker_rates):.1f} tok/s {[round(x, 1) for x in worker_rates]}")


if __name__ == "__main__":
    main()
