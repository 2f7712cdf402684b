"""Measurement accuracy against bakeoff's fake server, whose timing is exactly known.

    .venv/bin/python bench/fake_accuracy.py [--rounds 8]

Plan: TTFT 200 ms, 20 ms between tokens, 64 tokens (true decode rate 50 tok/s, E2E 1.46 s).
Prints, for streaming and non-streaming at concurrency 1 and 8, the measured p50 and max of TTFT,
TPOT and E2E latency and their error against the plan, plus what the session's original script
would have reported for tokens/s on the same requests (total tokens / latency).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bakeoff.backends.targets import resolve_targets
from bakeoff.config.settings import BenchSettings, PromptCase
from bakeoff.run.bench import run_bench
from bakeoff.testing import FakePlan, FakeServer

TTFT, ITL, N = 0.200, 0.020, 64
E2E = TTFT + (N - 1) * ITL
PROMPTS = [PromptCase(id=f"p{i}", prompt=" ".join(["word"] * (16 + 4 * i))) for i in range(4)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=8)
    args = ap.parse_args()
    plan = FakePlan(ttft_ms=TTFT * 1000, itl_ms=ITL * 1000, tokens=N)
    print(f"plan: TTFT {TTFT * 1000:.0f} ms, ITL {ITL * 1000:.0f} ms, {N} tokens, E2E {E2E * 1000:.0f} ms")
    print(
        "| mode | conc | n | TTFT p50 (err) | TTFT max | TPOT p50 (err) | E2E p50 (err) | tokens "
        "| session-script tok/s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    with FakeServer(plan, {"fake": plan}) as srv:
        for stream in (True, False):
            for conc in (1, 8):
                settings = BenchSettings(
                    models=["fake"],
                    rounds=args.rounds,
                    concurrency=conc,
                    stream=stream,
                    endpoint=srv.base_url,
                )
                with tempfile.TemporaryDirectory() as out:
                    s = run_bench(settings, PROMPTS, resolve_targets(["fake"], {}, srv.base_url), Path(out))
                m = s.models[0]
                naive = (N + (m.tokens.prompt_mean or 0)) / (m.latency_s.mean or 1)

                def ms(v: float | None, ref: float | None = None) -> str:
                    if v is None:
                        return "n/a"
                    return f"{v * 1000:.2f} ms" + (f" ({(v - ref) * 1000:+.2f})" if ref is not None else "")

                mode = "stream" if stream else "no-stream"
                ttft = ms(m.ttft_s.p50, TTFT if stream else None)
                tpot = ms(m.tpot_s.p50, ITL if stream else None)
                print(
                    f"| {mode} | {conc} | {m.latency_s.n} | {ttft} | {ms(m.ttft_s.max)} | {tpot} "
                    f"| {ms(m.latency_s.p50, E2E)} | {m.tokens.completion_mean:.0f} ({m.tokens.source}) "
                    f"| {naive:.1f} |"
                )


if __name__ == "__main__":
    main()
