"""Soak `bakeoff serve` with a real model: many mixed requests, some abandoned by their client.

    .venv/bin/python bench/soak.py [--requests 1000] [--clients 4] [--model smollm2-135m]

To soak an older version of the server, put its source first: ``PYTHONPATH=/path/to/old/src``.

Issue 15 saw, once, two non-streaming requests without max_tokens take over 100 s each on a fresh
server while a fresh one replaying them took 1 s. Suspected cause: a non-streaming client that gave up
left its generation running (the server's default is 512 new tokens), so later requests queued behind
work nobody wanted. This serves the embedded model in-process (one generation at a time) and sends a
seeded mix from several clients at once:

- ``stream16`` / ``plain16``: streaming and non-streaming, max_tokens 16 (most of the traffic);
- ``nomax``: non-streaming without max_tokens (the server's default, up to 512 tokens);
- ``leave-stream`` / ``leave-plain``: max_tokens 256, the client disconnects after 0.25 s.

For each kind it prints n, outcome counts and latency p50 / p95 / max, and, from the server's
``/health``, requests cancelled by disconnect, requests still active (must be 0) and 429s. A server
that keeps generating for departed clients shows it as a long tail in every kind after them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

KINDS = {  # kind: (weight, stream, max_tokens, client leaves after seconds)
    "stream16": (40, True, 16, None),
    "plain16": (40, False, 16, None),
    "nomax": (5, False, None, None),
    "leave-stream": (7, True, 256, 0.25),
    "leave-plain": (8, False, 256, 0.25),
}
PROMPTS = [
    "Explain the principle of retrieval augmented generation in 2 sentences.",
    "List 3 privacy benefits of local inference.",
    "Summarize why model size impacts latency on consumer hardware.",
    "Provide two scenarios where an SLM is preferable to an LLM.",
]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def one(client: httpx.AsyncClient, kind: str, prompt: str) -> tuple[str, str, float]:
    _, stream, max_tokens, leave = KINDS[kind]
    body: dict[str, object] = {
        "model": MODEL,
        "messages": [{"role": "user", "content": prompt}],
        "stream": stream,
    }
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    t0 = time.perf_counter()
    try:
        async with asyncio.timeout(leave) if leave else _null():
            if stream:
                async with client.stream("POST", "/v1/chat/completions", json=body) as r:
                    async for _ in r.aiter_lines():
                        pass
                    status = str(r.status_code)
            else:
                r = await client.post("/v1/chat/completions", json=body)
                status = str(r.status_code)
    except TimeoutError:
        status = "left"
    except httpx.HTTPError as exc:
        status = type(exc).__name__
    return kind, status, time.perf_counter() - t0


class _null:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *a: object) -> None:
        return None


async def soak(base: str, n: int, clients: int, seed: int) -> list[tuple[str, str, float]]:
    rng = random.Random(seed)
    kinds = list(KINDS)
    plan = rng.choices(kinds, weights=[KINDS[k][0] for k in kinds], k=n)
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for i, kind in enumerate(plan):
        queue.put_nowait((kind, f"[{i}] {rng.choice(PROMPTS)}"))
    results: list[tuple[str, str, float]] = []

    async def worker() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=600) as client:
            while not queue.empty():
                kind, prompt = queue.get_nowait()
                results.append(await one(client, kind, prompt))
                if len(results) % 100 == 0:
                    print(f"  {len(results)}/{n}", file=sys.stderr, flush=True)

    await asyncio.gather(*(worker() for _ in range(clients)))
    return results


def main() -> None:
    global MODEL
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--out", type=Path, default=None, help="also write the raw results as JSON here")
    args = ap.parse_args()
    MODEL = args.model
    port = _free_port()
    exe = str(Path(sys.executable).parent / "bakeoff")
    log = (Path(tempfile.gettempdir()) / f"bakeoff-soak-{port}.log").open("w")  # the server's output
    proc = subprocess.Popen(
        [exe, "serve", "--port", str(port), "-m", MODEL, "--preload"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        t0 = time.perf_counter()
        results = asyncio.run(soak(base, args.requests, args.clients, args.seed))
        wall = time.perf_counter() - t0
        time.sleep(1.0)  # let the last cancellation land
        health = httpx.get(base + "/health").json().get("models", {}).get(MODEL, {})
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    print(
        f"{len(results)} requests from {args.clients} clients in {wall:.0f} s; "
        f"model {MODEL}, seed {args.seed}"
    )
    print("| kind | n | outcomes | latency p50 | p95 | max |")
    print("|---|---|---|---|---|---|")
    for kind in KINDS:
        rows = [r for r in results if r[0] == kind]
        if not rows:
            continue
        outcomes: dict[str, int] = {}
        for _, status, _ in rows:
            outcomes[status] = outcomes.get(status, 0) + 1
        lat = sorted(r[2] for r in rows)
        p95 = lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))]
        print(
            f"| {kind} | {len(rows)} | {', '.join(f'{k} x{v}' for k, v in sorted(outcomes.items()))} "
            f"| {statistics.median(lat):.3f} s | {p95:.3f} s | {lat[-1]:.3f} s |"
        )
    left = sum(1 for r in results if r[1] == "left")
    print(  # .get: a server from before the queue existed has no "rejected"
        f"server /health after: requests {health.get('requests')}, cancelled {health.get('cancelled')} "
        f"(clients that left: {left}), active {health.get('active')}, rejected (429) "
        f"{health.get('rejected')}, tokens out {health.get('tokens_out')}"
    )
    if args.out:
        args.out.write_text(json.dumps({"wall_s": wall, "health": health, "results": results}))


MODEL = "smollm2-135m"

if __name__ == "__main__":
    main()
