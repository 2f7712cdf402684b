"""The embedded models on the long-meetings suite, one length at a time (issue 26).

    .venv/bin/python bench/long_meetings.py --lengths 1k,2k,4k [--models a,b] [--max-tokens 256]

Each length is its own ``bakeoff bench --suite long-meetings --lengths L`` run (two seeded meetings,
one round, no warm-up), so each model's peak memory is the one at that length. Prints, per model and
length: facts kept (overall and at start / middle / end of the transcript), action owners and dates
right, invented owners and dates, prompt tokens (the model's own count), TTFT p50, prefill tok/s
(prompt tokens / TTFT), decode tok/s p50, peak RSS and the context llama.cpp was given. Writes the
runs under --out (default bench-runs/long-meetings-<time>).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

BAKEOFF = str(Path(sys.executable).parent / "bakeoff")


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.0%}"


def _median(values: list[float], fmt: str) -> str:
    return fmt.format(statistics.median(values)) if values else "n/a"


def _row(m: dict, length: str, mine: list[dict]) -> list[str]:
    """One model at one length: its facts, then its prompt and speed figures from its own records."""
    f = (m.get("quality") or {}).get("facts") or {}
    pos = f.get("by_position", {})
    metric = [x.get("metrics") or {} for x in mine]
    return [
        m["model"], length, m["status"],
        f"{_pct(f.get('recall'))} ({f.get('recalled', 0)}/{f.get('checked', 0)})",
        _pct(pos.get("start")), _pct(pos.get("middle")), _pct(pos.get("end")),
        _pct(f.get("owner_right")), _pct(f.get("due_right")),
        f"{f.get('invented_owners', 0)} / {f.get('invented_dates', 0)}",
        _median([x["prompt_tokens"] for x in mine if x.get("prompt_tokens")], "{:.0f}"),
        _median([x["ttft_s"] for x in metric if x.get("ttft_s")], "{:.2f} s"),
        _median([x["prefill_tokens_per_s"] for x in metric if x.get("prefill_tokens_per_s")], "{:.0f}"),
        _median([x["decode_tokens_per_s"] for x in metric if x.get("decode_tokens_per_s")], "{:.1f}"),
        _median([rss] if (rss := (m.get("resources") or {}).get("peak_rss_mb")) else [], "{:.0f} MB"),
        str((m.get("info") or {}).get("n_ctx", "n/a")),
    ]  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", default="1k,2k,4k")
    ap.add_argument("--models", default="smollm2-135m,qwen2.5-coder-0.5b,gemma3-270m")
    ap.add_argument("--max-tokens", default="256")
    ap.add_argument(
        "--out", type=Path, default=Path("bench-runs") / time.strftime("long-meetings-%Y%m%d-%H%M%S")
    )
    args = ap.parse_args()
    rows = []
    for length in args.lengths.split(","):
        out = args.out / length
        cmd = [BAKEOFF, "bench", "-m", args.models, "--suite", "long-meetings", "--lengths", length,
               "-r", "1", "--warmup", "0", "--max-tokens", args.max_tokens, "-o", str(out)]  # fmt: skip
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        print(f"{length}: exit {r.returncode} in {time.perf_counter() - t0:.0f} s -> {out}", file=sys.stderr)
        if not (out / "summary.json").exists():
            print(r.stderr[-2000:], file=sys.stderr)
            continue
        summary = json.loads((out / "summary.json").read_text())
        recs = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines() if x.strip()]
        for m in summary["models"]:
            mine = [x for x in recs if x["model"] == m["model"] and x["status"] == "ok" and not x["warmup"]]
            rows.append(_row(m, length, mine))
    head = ["model", "length", "status", "facts kept", "start", "middle", "end", "owner right", "date right",
            "invented owners / dates", "prompt tokens", "TTFT p50", "prefill tok/s", "decode tok/s p50",
            "peak RSS", "n_ctx"]  # fmt: skip
    print("| " + " | ".join(head) + " |")
    print("|---" * len(head) + "|")
    for row in sorted(rows, key=lambda r: (r[0], float(r[1].rstrip("k")))):
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
