"""How close the memory predicted before a load comes to the peak measured after it (issue 29).

    .venv/bin/python bench/fit_prediction.py [--contexts 2048,8192] [--prompt-words 500]

For each embedded model and each context size, one ``bakeoff bench`` process (so no model's memory
is left in the next one's baseline) runs one long prompt (``--prompt-words`` words, more than one
micro-batch of 512 tokens) with ``options.n_ctx`` set. Its summary holds both figures:
``resources.predicted_mb`` (``models.fit``, from the GGUF header, before the load) and
``resources.peak_rss_mb`` (the process's RSS above its baseline, sampled every 20 ms while the model
ran). The error is (predicted - peak) / peak.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bakeoff.models import embedded


def one(model: str, n_ctx: int, prompt: str, workdir: Path) -> tuple[float | None, float | None, str]:
    entry = f"{model}@{n_ctx}"
    models = workdir / f"{model}-{n_ctx}.json"
    models.write_text(json.dumps({entry: {"embedded": model, "options": {"n_ctx": n_ctx}}}))
    out = workdir / f"run-{model}-{n_ctx}"
    cmd = [str(Path(sys.executable).with_name("bakeoff")), "bench", "--models-file", str(models), "-m", entry,
           "--prompt", prompt, "--rounds", "1", "--max-tokens", "8", "--out", str(out)]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    row = json.loads((out / "summary.json").read_text())["models"][0]
    r = row["resources"]
    return r.get("predicted_mb"), r.get("peak_rss_mb"), row["status"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--contexts", default="2048,8192")
    ap.add_argument("--prompt-words", type=int, default=500)
    args = ap.parse_args()
    words = "the budget review moved to Friday and Dana owns the vendor contract".split()  # noqa: SIM905
    prompt = "Summarize these notes: " + " ".join(words[i % len(words)] for i in range(args.prompt_words))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in embedded.EMBEDDED:
            for n_ctx in (int(c) for c in args.contexts.split(",")):
                predicted, peak, status = one(name, n_ctx, prompt, Path(tmp))
                err = None if not (predicted and peak) else (predicted - peak) / peak
                rows.append((name, n_ctx, predicted, peak, err, status))
                print(name, n_ctx, predicted, peak, status, flush=True)
    print("\n| model | n_ctx | predicted MB | measured peak MB | error |")
    print("|---|---|---|---|---|")
    for name, n_ctx, predicted, peak, err, _ in rows:
        e = "n/a" if err is None else f"{err:+.1%}"
        print(f"| {name} | {n_ctx} | {predicted} | {peak} | {e} |")
    worst = max((abs(r[4]) for r in rows if r[4] is not None), default=None)
    print(f"\nworst |error|: {'n/a' if worst is None else f'{worst:.1%}'} (goal: within 15%)")


if __name__ == "__main__":
    main()
