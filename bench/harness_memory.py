"""The harness's own memory as a run grows (issue 30): peak RSS by phase and the report's size.

    .venv/bin/python bench/harness_memory.py [--requests 2000,20000,100000] [--concurrency 64]

Each size runs in a fresh interpreter: ``run_bench`` against the project's fake server (its own
process, zero latency, 16 tokens an answer, one prompt, no warm-up), a thread sampling this process's
RSS every 20 ms and the phase it is in (the run itself, building the summary, the quality pass,
writing the reports). It prints, per size: wall time, the peak RSS of each phase, the peak RSS per
request above the interpreter's start, and the size of records.jsonl and report.html. A harness
that holds what it measured grows with the requests; one that streams stays flat.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CHILD = "--child"
PHASES = ("build_summary", "apply_quality", "write_reports", "save_summary")


def child(n: int, concurrency: int) -> None:
    import psutil

    import bakeoff.run.bench as bench
    from bakeoff.backends.targets import resolve_targets
    from bakeoff.config.settings import BenchSettings, PromptCase
    from bakeoff.testing import FakePlan, FakeServer

    proc = psutil.Process()
    phase = ["start"]
    peaks: dict[str, float] = {}

    def sample() -> None:
        while True:
            rss = proc.memory_info().rss / 1e6
            peaks[phase[0]] = max(peaks.get(phase[0], 0.0), rss)
            time.sleep(0.02)

    threading.Thread(target=sample, daemon=True).start()

    def within(name: str, f: object) -> object:
        def wrapped(*a: object, **k: object) -> object:
            before, phase[0] = phase[0], name
            try:
                return f(*a, **k)  # type: ignore[operator]
            finally:
                phase[0] = before

        return wrapped

    for name in PHASES:  # run_bench calls them through the module, so the phase is seen
        setattr(bench, name, within(name, getattr(bench, name)))
    plan = FakePlan(ttft_ms=0, itl_ms=0, tokens=16)
    time.sleep(0.1)
    with FakeServer(plan, {"fake-model": plan}) as srv, tempfile.TemporaryDirectory() as tmp:
        settings = BenchSettings(models=["fake-model"], endpoint=srv.base_url, concurrency=concurrency,
                                 rounds=n, warmup=0, max_tokens=16)  # fmt: skip
        targets = resolve_targets(["fake-model"], {}, srv.base_url)
        phase[0] = "run"
        t = time.perf_counter()
        summary = bench.run_bench(settings, [PromptCase(id="p", prompt="hi")], targets, Path(tmp) / "run")
        wall = time.perf_counter() - t
        phase[0] = "end"
        files = {p.name: p.stat().st_size for p in (Path(tmp) / "run").iterdir()}
    time.sleep(0.05)
    m = summary.models[0]
    print(json.dumps({"n": n, "ok": m.requests.ok, "wall_s": wall, "peaks": peaks, "files": files}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", default="2000,20000")
    ap.add_argument("--concurrency", type=int, default=64)
    args = ap.parse_args()
    rows = []
    for n in (int(x) for x in args.requests.split(",")):
        out = subprocess.run([sys.executable, __file__, CHILD, str(n), str(args.concurrency)],
                             capture_output=True, text=True, check=True)  # fmt: skip
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{'requests':>9} {'ok':>9} {'wall s':>7} {'start':>6} {'run':>6} {'summary':>8} {'reports':>8} "
          f"{'peak':>6} {'KB/req':>7} {'records MB':>11} {'html KB':>8}")  # fmt: skip
    for r in rows:
        p = r["peaks"]
        peak = max(p.values())
        per = (peak - p["start"]) * 1000 / r["n"]
        f = r["files"]
        print(f"{r['n']:>9,} {r['ok']:>9,} {r['wall_s']:>7.1f} {p['start']:>6.0f} {p.get('run', 0):>6.0f} "
              f"{p.get('build_summary', 0):>8.0f} {p.get('write_reports', 0):>8.0f} {peak:>6.0f} {per:>7.2f} "
              f"{f['records.jsonl'] / 1e6:>11.1f} {f['report.html'] / 1e3:>8.0f}")  # fmt: skip
    print("RSS in MB (1e6 bytes); KB/req = (peak - start) / requests")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == CHILD:
        child(int(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
