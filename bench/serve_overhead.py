"""What `bakeoff serve` adds: the same model benchmarked in-process and through the endpoint,
interleaved in blocks so both see the same machine.

    .venv/bin/python bench/serve_overhead.py [--model smollm2-135m] [--blocks 4] [--rounds 5]

Targets (issue 4): under 2 ms of added TTFT and under 3% lower decode rate. Figures are medians of
per-request values over all blocks; the difference of TTFT medians is the added TTFT.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bakeoff.backends.targets import ModelTarget, resolve_targets
from bakeoff.config.settings import BenchSettings, ModelSpec, PromptCase
from bakeoff.run.bench import run_bench

PROMPT = PromptCase(id="p1", prompt="List 3 privacy benefits of local inference.")


def per_request(target: ModelTarget, rounds: int, max_tokens: int) -> tuple[list[float], list[float]]:
    settings = BenchSettings(models=[target.name], rounds=rounds, warmup=1, max_tokens=max_tokens)
    with tempfile.TemporaryDirectory() as out:
        run_bench(settings, [PROMPT], [target], Path(out))
        recs = [json.loads(x) for x in (Path(out) / "records.jsonl").read_text().splitlines()]
    ms = [r["metrics"] for r in recs if not r["warmup"] and r["status"] == "ok"]
    return [m["ttft_s"] for m in ms], [m["decode_tokens_per_s"] for m in ms if m["decode_tokens_per_s"]]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--blocks", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--stream-interval-ms", type=float, default=0.0)
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bakeoff = str(Path(sys.executable).parent / "bakeoff")
    proc = subprocess.Popen(
        [
            *(bakeoff, "serve", "--models", args.model, "--port", str(port), "--preload"),
            *("--stream-interval-ms", str(args.stream_interval_ms)),
        ]
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        local = resolve_targets([f"llamacpp:{args.model}"], {}, None)[0]
        served = ModelTarget(
            f"{args.model}@serve", "openai", ModelSpec(backend="openai", model=args.model, base_url=base)
        )
        ttft = {"in-process": [], "served": []}  # type: dict[str, list[float]]
        decode = {"in-process": [], "served": []}  # type: dict[str, list[float]]
        for b in range(args.blocks):
            for label, target in (("in-process", local), ("served", served)):
                t, d = per_request(target, args.rounds, args.max_tokens)
                ttft[label] += t
                decode[label] += d
                print(
                    f"block {b + 1} {label:10s}: TTFT p50 {statistics.median(t) * 1000:.2f} ms, "
                    f"decode p50 {statistics.median(d):.1f} tok/s"
                )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    med = statistics.median
    t_in, t_sv = med(ttft["in-process"]), med(ttft["served"])
    d_in, d_sv = med(decode["in-process"]), med(decode["served"])
    n = len(ttft["served"])
    print(f"model {args.model}, max_tokens {args.max_tokens}, n={n} requests per side")
    added = (t_sv - t_in) * 1000
    print(f"TTFT median: in-process {t_in * 1000:.2f} ms, served {t_sv * 1000:.2f} ms, added {added:+.2f} ms")
    print(f"decode median: in-process {d_in:.1f} tok/s, served {d_sv:.1f} tok/s, ratio {d_sv / d_in:.3f}")


if __name__ == "__main__":
    main()
