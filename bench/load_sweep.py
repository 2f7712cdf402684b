"""A load sweep of the embedded models under an SLO, with fixed token lengths (issue 12).

    .venv/bin/python bench/load_sweep.py [--out bench-runs/sweep] [--max-seconds 270]

First, a sweep against the fake server with a known capacity (2 requests served at once, 95 ms each:
21.05 requests/s), printing the saturation and capacity found against the plan's. Then, in one
invocation of `bakeoff bench`, every default embedded model with
``--data prompt_tokens=256,output_tokens=64 --profile sweep=5 --max-concurrency 4`` under
``--slo "ttft_p95<=2s,latency_p95<=6s"`` within ``--max-seconds``, then prints each model's stages and
capacity, how long the whole run took, whether every forced answer length held, and writes each
model's latency-versus-load curve (the SVG of report.html) to bench/figures/.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = "prompt_tokens=256,output_tokens=64"
SLO = "ttft_p95<=2s,latency_p95<=6s"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("bench-runs/sweep"))
    ap.add_argument("--max-seconds", type=float, default=270.0)
    ap.add_argument("--profile", default="sweep=5")
    args = ap.parse_args()
    fake_sweep(args.out.with_name(args.out.name + "-fake"))
    cmd = [
        str(Path(sys.executable).parent / "bakeoff"), "bench", "--data", DATA, "--profile", args.profile,
        "--max-concurrency", "4", "--slo", SLO, "--max-seconds", str(args.max_seconds),
        "-o", str(args.out), "--overwrite",
    ]  # fmt: skip
    print("$", " ".join(cmd), flush=True)
    t = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - t
    summary = json.loads((args.out / "summary.json").read_text())
    records = [json.loads(line) for line in (args.out / "records.jsonl").read_text().splitlines()]
    print(f"\nwhole run: {wall:.0f} s (bench's own wall_s {summary['run']['wall_s']:.0f} s)")
    for m in summary["models"]:
        load = m.get("load") or {}
        cap = load.get("capacity") or {}
        asked = [r for r in records if r["model"] == m["model"] and not r["warmup"] and r["status"] == "ok"]
        held = sum(bool(r["extra"]["data"]["length_held"]) for r in asked)
        print(f"\n{m['model']}: capacity {cap.get('per_s')} req/s ({cap.get('basis')}, {cap.get('below')} .. "
              f"{cap.get('above')}, {cap.get('limiting')}); saturation {load.get('saturation_per_s')}; "
              f"forced length held {held}/{len(asked)}")  # fmt: skip
        for s in load.get("stages", []):
            st = s["stats"]
            print(
                f"  {s['label']:>18} offered {s['offered_rate_per_s'] or 0:6.3f} achieved "
                f"{s['achieved_rate_per_s'] or 0:6.3f} req/s  TTFT p95 {st['ttft_s']['p95'] or 0:6.2f} s  "
                f"latency p95 {st['latency_s']['p95'] or 0:6.2f} s  ok/err {s['requests']['ok']}/"
                f"{s['requests']['error']}  SLO {'met' if s['slo'] and s['slo']['met'] else 'missed'}"
            )
    page = (args.out / "report.html").read_text()
    figures = HERE / "figures"
    figures.mkdir(exist_ok=True)
    for svg, name in re.findall(
        r'(<svg class="chart" role="img" aria-label="latency against load: ([^"]+)".*?</svg>)',
        page,
        flags=re.S,
    ):
        path = figures / f"sweep-{name}.svg"
        path.write_text(
            svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" style="background:#fff" ', 1)
        )
        print("wrote", path.relative_to(HERE.parent))


def fake_sweep(out: Path) -> None:
    from bakeoff.backends.targets import resolve_targets
    from bakeoff.config.settings import BenchSettings, PromptCase
    from bakeoff.run.bench import run_bench
    from bakeoff.testing import FakePlan, FakeServer

    service_s, slots = 0.050 + 9 * 0.005, 2
    plan = FakePlan(ttft_ms=50, itl_ms=5, tokens=10, max_concurrent=slots)
    with FakeServer(plan, {"m": plan}) as srv:
        settings = BenchSettings(models=["m"], endpoint=srv.base_url, profile="sweep=6", stage_seconds=2.0,
                                 slo="latency_p95<=300ms")  # fmt: skip
        targets = resolve_targets(["m"], {}, srv.base_url)
        summary = run_bench(settings, [PromptCase(id="p", prompt="hi")], targets, out, overwrite=True)
    load = summary.models[0].load
    assert load is not None and load.capacity is not None
    want = slots / service_s
    print(f"fake server (2 slots x 95 ms: {want:.2f} req/s), sweep=6, 2 s stages, latency_p95<=300ms:")
    for st in load.stages:
        p95 = (st.stats["latency_s"].p95 or 0) * 1000
        print(f"  {st.label:>18} achieved {st.achieved_rate_per_s or 0:6.2f}/s  in flight "
              f"{st.mean_in_flight or 0:5.2f}  latency p95 {p95:7.1f} ms  "
              f"SLO {'met' if st.slo and st.slo.met else 'missed'}")  # fmt: skip
    sat, cap = load.saturation_per_s or 0.0, load.capacity.per_s or 0.0
    print(f"  saturation {sat:.2f}/s ({sat / want - 1:+.1%} against the plan), capacity {cap:.2f}/s "
          f"({cap / want - 1:+.1%}, {load.capacity.basis})\n", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
