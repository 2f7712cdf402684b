"""How much load one bakeoff process generates, against a bare client, in one invocation (issue 13).

    .venv/bin/python bench/harness_capacity.py [--requests 3000] [--concurrency 64] [--workers 1,auto]
        [--guidellm PATH]

Against the project's fake server in its own process with zero latency (64 tokens per answer, one per
SSE event), each client sends ``--requests`` streamed chat requests with ``--concurrency`` in flight:

- a bare httpx asyncio client that keeps only counts (the most a Python client does);
- ``bakeoff bench`` with one process and with ``--workers auto`` (or each of ``--workers 1,auto,3``):
  ``run_bench`` in this process, every per-token timestamp kept;
- GuideLLM, when ``--guidellm`` names its ``guidellm`` command (installed in its own venv: it is never
  a dependency of bakeoff).

Each prints requests/s and output tokens/s over its own measured window (the bare client: its gather;
bakeoff: first send to last answer, as its Req/s; GuideLLM: its report's); the ratios are to the bare
client.
Clients run one after another, each twice, alternating, and the better of each pair is kept (the
machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from bakeoff.backends.targets import resolve_targets
from bakeoff.config.settings import BenchSettings, PromptCase
from bakeoff.load.worker_count import auto_workers
from bakeoff.run.bench import run_bench
from bakeoff.testing import FakePlan, FakeServer

TOKENS = 64
PLAN = FakePlan(ttft_ms=0, itl_ms=0, tokens=TOKENS)


async def bare(url: str, n: int, concurrency: int) -> tuple[float, int]:
    """The bare client: each worker its own httpx client (one connection: httpcore's shared pool costs
    time that grows with its connections), every answer streamed as raw bytes, tokens counted."""
    body = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    left, tokens = n, 0

    async def worker() -> None:
        nonlocal left, tokens
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            while left > 0:
                left -= 1
                async with client.stream("POST", "/chat/completions", json=body) as resp:
                    async for chunk in resp.aiter_raw():  # bytes as they come: no decoding, no lines
                        tokens += chunk.count(b'"content": "w')

    t = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - t, tokens


def bakeoff_run(
    url: str, n: int, concurrency: int, workers: int | None
) -> tuple[float, int, dict[str, object]]:
    """bakeoff's own figure: its measured window (first send to last answer), as GuideLLM's report
    and the bare client's gather; set-up and the reports written after the run are left out."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = BenchSettings(models=["fake-model"], endpoint=url, concurrency=concurrency, rounds=n,
                                 warmup=0, max_tokens=TOKENS, workers=workers)  # fmt: skip
        targets = resolve_targets(["fake-model"], {}, url)
        t = time.perf_counter()
        summary = run_bench(settings, [PromptCase(id="p", prompt="hi")], targets, Path(tmp) / "run")
        total = time.perf_counter() - t
        m = summary.models[0]
        rate = m.window("request_throughput_per_s") or 0.0
        tokens = int((m.tokens.completion_mean or 0) * m.requests.ok)
        client = m.client.model_dump() if m.client else None
        info = {
            "ok": m.requests.ok,
            "error": m.requests.error,
            "run_bench_s": round(total, 1),
            "client": client,
        }
        return n / rate, tokens, info


def guidellm(cmd: str, url: str, n: int, concurrency: int) -> tuple[float, int] | None:
    """GuideLLM 0.8.1's throughput profile over the same requests; its own requests/s and output
    tokens/s from its JSON report (its start-up, imports and worker processes, left out)."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "prompts.jsonl"
        data.write_text("".join(json.dumps({"prompt": "hi"}) + "\n" for _ in range(n)))
        out = Path(tmp) / "out.json"
        target = url.removesuffix("/v1")
        args = [cmd, "run", "--backend", f"kind=openai_http,target={target},model=fake-model",
                "--profile", f"kind=throughput,max_concurrency={concurrency}",
                "--constraint", f"kind=max_requests,count={n}", "--data", f"kind=json_file,path={data}",
                "--output", f"kind=json,path={out}", "--disable-console-interactive"]  # fmt: skip
        done = subprocess.run(args, capture_output=True, text=True)
        if done.returncode != 0 or not out.exists():
            print("guidellm failed:", (done.stdout + done.stderr)[-1500:])
            return None
        report = json.loads(out.read_text())
        rps = _find(report, "requests_per_second")
        tps = _find(report, "output_tokens_per_second")
        if rps is None:
            print("guidellm: no requests_per_second in its report")
            return None
        return n / rps, int((tps or 0) * n / rps)


def _find(obj: object, key: str) -> float | None:
    """The first ``key`` in a nested report whose value holds a mean (GuideLLM's metric objects)."""
    if isinstance(obj, dict):
        if key in obj:
            v = obj[key]
            if isinstance(v, dict):
                for k in ("successful", "total"):
                    if isinstance(v.get(k), dict) and isinstance(v[k].get("mean"), int | float):
                        return float(v[k]["mean"])
                if isinstance(v.get("mean"), int | float):
                    return float(v["mean"])
            if isinstance(v, int | float):
                return float(v)
        for v in obj.values():
            if (got := _find(v, key)) is not None:
                return got
    elif isinstance(obj, list):
        for v in obj:
            if (got := _find(v, key)) is not None:
                return got
    return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--workers", type=lambda v: v.split(","), default=["1", "auto"],
                    help="bakeoff's --workers values to run, e.g. 1,auto,2,3")  # fmt: skip
    ap.add_argument("--guidellm", default=None, help="path of the guidellm command in its own venv")
    args = ap.parse_args()
    n, c = args.requests, args.concurrency
    results: dict[str, list[tuple[float, int]]] = {}
    with FakeServer(PLAN, {"fake-model": PLAN}) as srv:
        url = srv.base_url
        for _ in range(2):
            results.setdefault("bare client", []).append(asyncio.run(bare(url, n, c)))
            for workers in args.workers:
                count = None if workers == "auto" else int(workers)
                wall, tokens, info = bakeoff_run(url, n, c, count)
                label = f"bakeoff (--workers {workers}" + (
                    f": {auto_workers(c, os.cpu_count() or 1)})" if count is None else ")"
                )
                results.setdefault(label, []).append((wall, tokens))
                print(label, info, flush=True)
            if args.guidellm:
                got = guidellm(args.guidellm, url, n, c)
                if got:
                    results.setdefault("GuideLLM", []).append(got)
    base = max(n / w for w, _ in results["bare client"])
    print(f"\n{n} requests, concurrency {c}, zero-latency fake server, {TOKENS} tokens per answer\n")
    print("| client | requests/s | output tokens/s | ratio to the bare client |")
    print("|---|---|---|---|")
    for name, runs in results.items():
        wall, tokens = min(runs, key=lambda r: r[0])
        print(f"| {name} | {n / wall:.0f} | {tokens / wall:.0f} | {n / wall / base:.2f} |")


if __name__ == "__main__":
    main()
