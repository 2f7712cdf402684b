"""Harness overhead: the decode rate bakeoff reports for a model against a bare llama-cpp-python
loop over the same prompt, interleaved in one process so both see the same machine state.

    .venv/bin/python bench/harness_overhead.py [--model smollm2-135m] [--blocks 4] [--reps 5]

The bare loop is the plainest use of the engine: ``create_chat_completion(stream=True)`` on the main
thread, decode rate = (chunks - 1) / (t_last_chunk - t_first_chunk). bakeoff's figure is its
``decode_tokens_per_s`` p50 (1 / TPOT) from ``run_bench`` over the same prompt and settings.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import llama_cpp

from bakeoff.backends.targets import resolve_targets
from bakeoff.config.settings import BenchSettings, PromptCase
from bakeoff.models import embedded
from bakeoff.run.bench import run_bench

PROMPT = "List 3 privacy benefits of local inference."


def bare_rates(path: Path, reps: int, max_tokens: int, n_threads: int) -> tuple[list[float], list[float]]:
    """Two bare loops on the main thread: the raw token generator, and create_chat_completion's stream."""
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=2048, n_threads=n_threads, verbose=False)
    msgs = [{"role": "user", "content": PROMPT}]
    fmt = llama_cpp.llama_chat_format.Jinja2ChatFormatter(
        template=llm.metadata["tokenizer.chat_template"],
        eos_token=llm._model.token_get_text(llm.token_eos()),
        bos_token=llm._model.token_get_text(llm.token_bos()),
    )
    prompt = fmt(messages=msgs).prompt
    tokens = llm.tokenize(prompt.encode(), add_bos=False, special=True)
    raw, chat = [], []
    for i in range(reps + 1):  # the first of each is a warm-up
        llm.reset()
        stamps = []
        for tok in llm.generate(tokens, temp=0, top_k=40, top_p=0.95, min_p=0.05, repeat_penalty=1.0):
            if llama_cpp.llama_vocab_is_eog(llm._model.vocab, tok):
                break
            stamps.append(time.perf_counter())
            llm.detokenize([tok])
            if len(stamps) >= max_tokens:
                break
        if i:
            raw.append((len(stamps) - 1) / (stamps[-1] - stamps[0]))
        llm.reset()
        stamps = []
        for ch in llm.create_chat_completion(
            messages=msgs, max_tokens=max_tokens, temperature=0, stream=True
        ):
            if ch["choices"][0]["delta"].get("content"):
                stamps.append(time.perf_counter())
        if i:
            chat.append((len(stamps) - 1) / (stamps[-1] - stamps[0]))
    llm.close()
    return raw, chat


def bakeoff_rates(model: str, reps: int, max_tokens: int) -> list[float]:
    settings = BenchSettings(models=[model], rounds=reps, warmup=1, max_tokens=max_tokens)
    with tempfile.TemporaryDirectory() as out:
        s = run_bench(
            settings, [PromptCase(id="p1", prompt=PROMPT)], resolve_targets([model], {}, None), Path(out)
        )
        recs = (Path(out) / "records.jsonl").read_text().splitlines()
    return [
        r["metrics"]["decode_tokens_per_s"]
        for r in map(json.loads, recs)
        if not r["warmup"] and r["metrics"]["decode_tokens_per_s"]
    ] or [s.models[0].decode_tokens_per_s.p50 or 0.0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--blocks", type=int, default=4)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--max-tokens", type=int, default=128)
    args = ap.parse_args()
    path = embedded.ensure(embedded.EMBEDDED[args.model])
    n_threads = len(os.sched_getaffinity(0))
    bare: list[float] = []
    chat: list[float] = []
    ours: list[float] = []
    for b in range(args.blocks):
        raw_block, chat_block = bare_rates(path, args.reps, args.max_tokens, n_threads)
        ours_block = bakeoff_rates(args.model, args.reps, args.max_tokens)
        bare += raw_block
        chat += chat_block
        ours += ours_block
        print(
            f"block {b + 1}: bare generate loop {statistics.median(raw_block):.1f}, "
            f"bare chat stream {statistics.median(chat_block):.1f}, "
            f"bakeoff {statistics.median(ours_block):.1f} tok/s (medians)"
        )
    mb, mc, mo = statistics.median(bare), statistics.median(chat), statistics.median(ours)
    print(f"model {args.model}, {n_threads} threads, max_tokens {args.max_tokens}, n={len(bare)} each")
    print(f"bare generate() loop:        median {mb:.1f} tok/s (min {min(bare):.1f}, max {max(bare):.1f})")
    print(f"bare chat-completion stream: median {mc:.1f} tok/s (min {min(chat):.1f}, max {max(chat):.1f})")
    print(f"bakeoff decode_tokens_per_s: median {mo:.1f} tok/s (min {min(ours):.1f}, max {max(ours):.1f})")
    print(f"ratio bakeoff / bare generate loop: {mo / mb:.3f} ({(mo / mb - 1) * 100:+.1f}%)")
    print(f"ratio bakeoff / bare chat stream:   {mo / mc:.3f} ({(mo / mc - 1) * 100:+.1f}%)")
    print(f"llama.cpp: {llama_cpp.llama_print_system_info().decode().strip()}")


if __name__ == "__main__":
    main()
