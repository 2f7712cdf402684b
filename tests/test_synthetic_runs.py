"""--data runs (issue 12): prompts built with the embedded model's own tokenizer, answers forced to
their length by llama.cpp and by a server that honours min_tokens (and noted where one does not), and
the CLI's checks."""

from __future__ import annotations

import re
from pathlib import Path

from bakeoff.testing import FakePlan, FakeServer
from bakeoff.workload.synthetic import build_prompt, parse_data
from tests.conftest import bench, read_records
from tests.test_cli import run as cli


def test_prompts_with_the_embedded_models_tokenizer(tmp_path: Path) -> None:
    from bakeoff.models import embedded
    from bakeoff.workload.tokenizers import GgufTokenizer

    tok = GgufTokenizer(embedded.ensure(embedded.EMBEDDED["qwen2.5-coder-0.5b"]))
    for n in (16, 100):
        text, count = build_prompt(tok, n, seed=n)
        assert count == n and len(tok.encode(text)) == n


FORCED = FakePlan(ttft_ms=5, itl_ms=1, tokens=6)


def test_forced_lengths_hold_on_a_server_that_honours_them(tmp_path: Path) -> None:
    plans = {"obeys": FORCED, "ignores": FakePlan(ttft_ms=5, itl_ms=1, tokens=6, obeys_min_tokens=False)}
    with FakeServer(FORCED, plans) as srv:
        spec = "prompt_tokens=20,output_tokens=15,samples=3"
        cases = parse_data(spec).placeholder_cases(0)
        s = bench(srv.base_url, ["obeys", "ignores"], tmp_path / "r", cases, data=spec, rounds=1)
    recs = [r for r in read_records(tmp_path / "r") if not r["warmup"]]
    obeys = [r for r in recs if r["model"] == "obeys"]
    ignores = [r for r in recs if r["model"] == "ignores"]
    # the fake server counts a prompt's words: 20 built ones, after the 3-word tag that keeps a
    # server's prompt cache cold (load/cache_tag.py)
    assert [r["prompt_tokens"] for r in obeys] == [20 + 3] * 3
    assert [r["completion_tokens"] for r in obeys] == [15, 15, 15]
    want = {"prompt_tokens": 20, "output_tokens": 15, "length_held": True,
            "tokenizer": "approximate (whitespace words)"}  # fmt: skip
    assert all(r["extra"]["data"] == want for r in obeys)
    assert [r["completion_tokens"] for r in ignores] == [6, 6, 6]
    assert all(r["extra"]["data"]["length_held"] is False for r in ignores)
    notes = " ".join(s.run.notes)
    assert "ignores: the forced answer length did not hold for 3 of 3 requests (answers of 6 tokens)" in notes
    assert "obeys: the forced answer length" not in notes
    assert "obeys: --data prompt lengths are approximate" in notes
    assert s.models[0].info["data_tokenizer"] == "approximate (whitespace words)"
    report = (tmp_path / "r" / "report.md").read_text()
    assert "| Model | pp20 tok/s | tg15 tok/s | Prompt tokens (engine) | Length held | Tokenizer |" in report
    assert re.search(r"\| obeys \| [\d.]+ ± [\d.]+ \| [\d.]+ ± [\d.]+ \| 23 \| 3/3 \| approximate", report)
    assert re.search(r"\| ignores \| .* \| 23 \| 0/3 \|", report)


def test_data_flags_from_the_cli(tmp_path: Path) -> None:
    base = ["bench", "--endpoint", "http://127.0.0.1:9/v1", "-m", "x", "-o", str(tmp_path / "a")]
    r = cli(*base, "--data", "prompt_tokens=12")
    assert r.returncode == 2 and "--data needs output_tokens" in r.stderr
    r = cli(*base, "--data", "prompt_tokens=12,output_tokens=4", "--prompt", "hi")
    assert r.returncode == 2 and "only one of" in r.stderr
    r = cli("bench", "-m", "smollm2-135m", "-o", str(tmp_path / "b"), "--tokenizer", "x.gguf")
    assert r.returncode == 2 and "--tokenizer goes with --data or --endpoint" in r.stderr
    r = cli(*base, "--data", "prompt_tokens=12,output_tokens=4", "--tokenizer", str(tmp_path / "none.gguf"))
    assert r.returncode == 2 and "no such file" in r.stderr


def test_llamacpp_forces_the_answer_length_and_counts_with_its_own_tokenizer() -> None:
    import asyncio

    from bakeoff.backends.base import ChatRequest, Completion
    from bakeoff.backends.llamacpp import LlamaCppBackend
    from bakeoff.config.settings import ModelSpec

    async def answer(backend: LlamaCppBackend, forced: int | None) -> int | None:
        ask = ({"role": "user", "content": "Answer with one word: is water wet?"},)
        req = ChatRequest(ask, max_tokens=24, min_tokens=forced)
        done = [ev async for ev in backend.stream_chat(req) if isinstance(ev, Completion)]
        return done[0].completion_tokens

    async def main() -> tuple[int | None, int | None, int, int]:
        b = LlamaCppBackend("q", ModelSpec(backend="llamacpp", embedded="qwen2.5-coder-0.5b"))
        await b.load()
        try:
            tok = b.tokenizer()
            assert tok is not None
            text, n = build_prompt(tok, 40, seed=1)
            return await answer(b, None), await answer(b, 24), n, len(tok.encode(text))
        finally:
            await b.close()

    free, forced, n, recount = asyncio.run(main())
    assert free is not None and free < 24  # left alone, it stops after a word or two
    assert forced == 24  # its end-of-sequence token suppressed until the length is reached
    assert n == recount == 40


def test_the_request_asks_for_the_exact_length_and_an_estimate_is_not_a_verdict(tmp_path: Path) -> None:
    from bakeoff.backends.base import ChatRequest
    from bakeoff.backends.openai import OpenAIBackend
    from bakeoff.config.settings import ModelSpec

    b = OpenAIBackend("m", ModelSpec(backend="openai", model="m", base_url="http://127.0.0.1:9/v1"))
    body = b._body(ChatRequest(({"role": "user", "content": "x"},), max_tokens=15, min_tokens=15))
    assert (body["min_tokens"], body["ignore_eos"], body["max_tokens"]) == (15, True, 15)
    assert "min_tokens" not in b._body(ChatRequest(({"role": "user", "content": "x"},), max_tokens=15))
    # a server without usage: the answer's length is an estimate, so whether it held is unknown
    blind = FakePlan(ttft_ms=5, itl_ms=1, tokens=6, usage=False)
    with FakeServer(blind, {"blind": blind}) as srv:
        spec = "prompt_tokens=4,output_tokens=9,samples=2"
        s = bench(srv.base_url, ["blind"], tmp_path / "r", parse_data(spec).placeholder_cases(0), data=spec,
                  rounds=1)  # fmt: skip
    recs = [r for r in read_records(tmp_path / "r") if not r["warmup"]]
    assert [r["extra"]["data"]["length_held"] for r in recs] == [None, None]
    assert not any("did not hold" in n for n in s.run.notes)
