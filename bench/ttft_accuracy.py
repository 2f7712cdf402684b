"""How exactly bakeoff stamps first tokens and token gaps, against the fake server's own send log.

    .venv/bin/python bench/ttft_accuracy.py [--requests 320]

The fake server (its own process, ``send_log``) notes ``perf_counter_ns`` just before it writes each
content frame; bakeoff stamps each frame when it reads it. Both are CLOCK_MONOTONIC on Linux, one
clock for every process of the machine, so for each request:

- TTFT error = bakeoff's first-token stamp - the server's first content frame's send time;
- ITL error = the median of the gaps between bakeoff's stamps (the ITL p50 it reports) - the median
  of the same gaps in the server's log; and, stricter, each gap's own error (its absolute median:
  how much a single gap jitters).

Scenarios, each one invocation of ``run_bench`` (every request's prompt unique, so its log entry is
found by its prompt):

- one request at a time (concurrency 1);
- 8 started together (a closed loop of 8 equal requests: their first tokens come in one burst);
- concurrency 64 with one process, and with ``--workers auto``.

Prints the median and p90 of each error per scenario, in milliseconds.
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
from pathlib import Path

import httpx
import numpy as np

from bakeoff.backends.targets import resolve_targets
from bakeoff.config.settings import BenchSettings, PromptCase
from bakeoff.load.worker_count import auto_workers
from bakeoff.run.bench import run_bench
from bakeoff.testing import FakePlan, FakeServer

PLAN = FakePlan(ttft_ms=20, itl_ms=5, tokens=16)
"""A server of 200 tokens/s per stream (12,800/s at concurrency 64), first token after 20 ms."""


def scenario(url: str, concurrency: int, n: int, workers: int | None) -> dict[str, float]:
    prompts = [PromptCase(id=f"q{i}", prompt=f"request number {i} of this scenario") for i in range(n)]
    settings = BenchSettings(models=["fake-model"], endpoint=url, concurrency=concurrency, rounds=1,
                             warmup=0, max_tokens=PLAN.tokens, workers=workers)  # fmt: skip
    httpx.get(url.removesuffix("/v1") + "/fake/send-log")  # empty the log
    with tempfile.TemporaryDirectory() as tmp:
        run_bench(settings, prompts, resolve_targets(["fake-model"], {}, url), Path(tmp) / "r")
        recs = [json.loads(line) for line in (Path(tmp) / "r" / "records.jsonl").read_text().splitlines()]
    log = httpx.get(url.removesuffix("/v1") + "/fake/send-log").json()
    sent = {entry["content"].rsplit("\n", 1)[-1]: entry["frames_ns"] for entry in log}
    by_prompt = {p.id: p.prompt for p in prompts}
    ttft, itl, client_gaps, server_gaps = [], [], [], []
    for r in recs:
        frames = sent.get(by_prompt[r["prompt_id"]])
        if r["status"] != "ok" or not frames or len(frames) != len(r["events"]):
            continue
        stamps = [r["t0_ns"] + t for t, _ in r["events"]]
        ttft.append((stamps[0] - frames[0]) / 1e6)
        for (a, b), (c, d) in zip(itertools.pairwise(stamps), itertools.pairwise(frames), strict=True):
            itl.append(((b - a) - (d - c)) / 1e6)
            client_gaps.append((b - a) / 1e6)
            server_gaps.append((d - c) / 1e6)
    q = lambda xs, p: float(np.percentile(xs, p)) if xs else float("nan")  # noqa: E731
    return {
        "matched": len(ttft),
        "requests": len(recs),
        "ttft_err_p50_ms": q(ttft, 50),
        "ttft_err_p90_ms": q(ttft, 90),
        "itl_p50_err_ms": q(client_gaps, 50) - q(server_gaps, 50),
        "itl_gap_err_abs_p50_ms": q([abs(x) for x in itl], 50),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=320, help="requests at concurrency 64")
    args = ap.parse_args()
    rows = []
    with FakeServer(PLAN, send_log=True) as srv:
        url = srv.base_url
        scenario(url, 1, 5, None)  # warm the server and the imports
        auto = auto_workers(64, __import__("os").cpu_count() or 1)
        for label, conc, n, workers in [
            ("one at a time", 1, 40, 1),
            ("8 together", 8, 80, 1),
            ("concurrency 64, 1 process", 64, args.requests, 1),
            (f"concurrency 64, --workers auto ({auto})", 64, args.requests, None),
        ]:
            got = scenario(url, conc, n, workers)
            rows.append((label, got))
            print(label, got, flush=True)
    print(f"\nplan: first token after {PLAN.ttft_ms:.0f} ms, then one every {PLAN.itl_ms:.0f} ms, "
          f"{PLAN.tokens} tokens\n")  # fmt: skip
    print("| scenario | requests matched | TTFT error p50 | TTFT error p90 | ITL p50 error "
          "| one gap's error (abs, p50) |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for label, g in rows:
        print(f"| {label} | {g['matched']}/{g['requests']} | {g['ttft_err_p50_ms']:.3f} ms "
              f"| {g['ttft_err_p90_ms']:.3f} ms | {g['itl_p50_err_ms']:+.4f} ms "
              f"| {g['itl_gap_err_abs_p50_ms']:.4f} ms |")  # fmt: skip


if __name__ == "__main__":
    main()
