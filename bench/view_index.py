"""``bakeoff view`` at a realistic history (issue 31): indexing 200 run folders, and the runs list.

    .venv/bin/python bench/view_index.py [--runs 200] [--repeats 5] [--requests 30]

Two real runs are made with ``run_bench`` against the project's fake server (two models, two prompts,
two rounds, so every figure and file is a real one), then copied to ``--runs`` folders, each given its
own start time and git commit in summary.json (a history across commits). It measures, in this one
invocation:

- indexing: ``RunIndex.reindex`` of the whole tree into a new SQLite file, ``--repeats`` times
  (median and worst);
- the runs list over real HTTP: ``bakeoff view ROOT --no-open`` started as a user starts it, then
  ``GET /`` (the HTML list of every run), ``GET /?model=slow`` (a filter) and ``GET /api/runs``,
  ``--requests`` times each after one warm-up request (median and p95);
- re-indexing a tree that did not change (every summary's mtime equal: nothing re-read).

Targets: indexing under 10 s, the runs list under 300 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bakeoff.backends.targets import resolve_targets
from bakeoff.config.settings import BenchSettings, PromptCase
from bakeoff.results.index import RunIndex
from bakeoff.run.bench import run_bench
from bakeoff.testing import FakePlan, FakeServer

CASES = [PromptCase(id="p1", prompt="Summarize: we ship Friday."), PromptCase(id="p2", prompt="Ana owns it.")]


def make_tree(root: Path, n: int) -> None:
    fast, slow = FakePlan(ttft_ms=2, itl_ms=1, tokens=8), FakePlan(ttft_ms=20, itl_ms=4, tokens=8)
    seeds = []
    with FakeServer(fast, {"fast": fast, "slow": slow}) as srv:
        for i in range(2):
            out = root / "seed" / str(i)
            settings = BenchSettings(models=["fast", "slow"], endpoint=srv.base_url, rounds=2)
            run_bench(settings, CASES, resolve_targets(["fast", "slow"], {}, srv.base_url), out)
            seeds.append(out)
    for i in range(n):
        dst = root / "runs" / f"{i // 50:02d}" / f"run-{i:04d}"
        shutil.copytree(seeds[i % 2], dst)
        data = json.loads((dst / "summary.json").read_text())
        data["run"]["started_at"] = f"2026-{1 + i // 28 % 12:02d}-{1 + i % 28:02d}T10:00:00+00:00"
        data["run"]["environment"]["git"] = {"commit": f"{i:040x}", "dirty": i % 7 == 0}
        (dst / "summary.json").write_text(json.dumps(data))
    shutil.rmtree(root / "seed")


def timed_gets(url: str, n: int) -> list[float]:
    with httpx.Client(timeout=30) as client:
        client.get(url).raise_for_status()  # warm-up
        out = []
        for _ in range(n):
            t = time.perf_counter()
            r = client.get(url)
            out.append(time.perf_counter() - t)
            r.raise_for_status()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--requests", type=int, default=30)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["BAKEOFF_DATA_DIR"] = str(root / "data")  # the seed runs' index, not the user's
        t = time.perf_counter()
        make_tree(root, args.runs)
        print(f"made {args.runs} run folders in {time.perf_counter() - t:.1f} s")
        index_s = []
        for k in range(args.repeats):
            index = RunIndex(root / f"index-{k}.sqlite")
            t = time.perf_counter()
            done, skipped = index.reindex([root / "runs"])
            index_s.append(time.perf_counter() - t)
            assert len(done) == args.runs and not skipped, (len(done), skipped)
            index.close()
        index = RunIndex(root / "index-0.sqlite")
        t = time.perf_counter()
        index.reindex([root / "runs"])
        unchanged_s = time.perf_counter() - t
        index.close()
        exe = str(Path(sys.executable).parent / "bakeoff")
        cmd = [exe, "view", str(root / "runs"), "--no-open", "--index", str(root / "index-0.sqlite")]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            url = line.split()[2]
            lists = {
                "GET / (every run)": timed_gets(url, args.requests),
                "GET /?model=slow": timed_gets(url + "?model=slow", args.requests),
                "GET /api/runs": timed_gets(url + "api/runs", args.requests),
            }
            size = len(httpx.get(url).content)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    print(
        f"\nindex {args.runs} folders, {args.repeats} times: median {statistics.median(index_s):.3f} s, "
        f"worst {max(index_s):.3f} s (target < 10 s)"
    )
    print(f"re-index with nothing changed: {unchanged_s:.3f} s")
    print(f"runs list page: {size / 1024:.0f} KiB, {args.runs} rows\n")
    print("| request | median ms | p95 ms | worst ms |")
    print("|---|---|---|---|")
    for name, xs in lists.items():
        xs = sorted(xs)
        p95 = xs[min(len(xs) - 1, int(0.95 * len(xs)))]
        print(f"| {name} | {1000 * statistics.median(xs):.1f} | {1000 * p95:.1f} | {1000 * xs[-1]:.1f} |")
    print("\n(target: the runs list under 300 ms)")


if __name__ == "__main__":
    main()
