"""--data workloads by token length (issue 12): parsing with errors that name the part, the length
plan drawn with the seed, prompts built to an exact token count with a real tokenizer and an
independent one, answers forced to their length against the fake server, and where it did not hold."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from bakeoff.errors import UsageError
from bakeoff.synthetic import DataSpec, Lengths, WordTokenizer, build_cases, build_prompt, parse_data
from bakeoff.testing import FakePlan, FakeServer
from tests.conftest import bench, read_records
from tests.test_cli import run as cli


def test_data_parses_by_hand() -> None:
    assert parse_data("prompt_tokens=256,output_tokens=64") == DataSpec(Lengths(256), Lengths(64), 16)
    spec = parse_data(
        "prompt_tokens=512, prompt_tokens_stdev=64, prompt_tokens_min=400, prompt_tokens_max=600, "
        "output_tokens=128, output_tokens_stdev=8.5, samples=40"
    )
    assert spec == DataSpec(Lengths(512, 64.0, 400, 600), Lengths(128, 8.5, 1, None), 40)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("prompt_tokens=256", "--data needs output_tokens"),
        ("output_tokens=64", "--data needs prompt_tokens"),
        ("prompt_tokens=256,output_tokens", "part 'output_tokens' is not key=value"),
        ("prompt_tokens=256,output_tokens=64,speed=3", "unknown key 'speed'"),
        ("prompt_tokens=256,output_tokens=x", "output_tokens: 'x' is not a number"),
        ("prompt_tokens=25.5,output_tokens=64", "'25.5' must be a whole number of at least 1"),
        ("prompt_tokens=0,output_tokens=64", "'0' must be a whole number of at least 1"),
        ("prompt_tokens=8,prompt_tokens_stdev=-1,output_tokens=4", "'-1' must be a number of at least 0"),
        ("prompt_tokens=8,output_tokens=4,output_tokens=5", "gives output_tokens twice"),
        ("prompt_tokens=8,prompt_tokens_min=9,prompt_tokens_max=5,output_tokens=4", "max 5 is below"),
    ],
)
def test_a_malformed_data_string_names_the_part(text: str, says: str) -> None:
    with pytest.raises(UsageError, match=re.escape(says)):
        parse_data(text)


def test_lengths_are_drawn_with_the_seed_and_clipped() -> None:
    assert Lengths(64).draw(3, np.random.default_rng(1)) == [64, 64, 64]
    spec = Lengths(100, 50.0, 80, 120)
    # the same normal draws, rounded and clipped by hand
    raw = np.random.default_rng(7).normal(100, 50.0, size=200)
    want = [int(min(max(round(float(v)), 80), 120)) for v in raw]
    assert spec.draw(200, np.random.default_rng(7)) == want
    assert min(want) == 80 and max(want) == 120  # both bounds reached with a spread this wide
    assert min(Lengths(2, 10.0).draw(100, np.random.default_rng(0))) >= 1  # never below one token
    plan = parse_data("prompt_tokens=10,prompt_tokens_stdev=3,output_tokens=4,samples=5").plan(3)
    assert plan == parse_data("prompt_tokens=10,prompt_tokens_stdev=3,output_tokens=4,samples=5").plan(3)
    assert [p[0] for p in plan] == ["d1", "d2", "d3", "d4", "d5"] and all(p[2] == 4 for p in plan)


def test_word_prompts_have_the_exact_word_count() -> None:
    text, n = build_prompt(WordTokenizer(), 37, seed=5)
    assert n == 37 and len(text.split()) == 37
    cases, counts = build_cases(parse_data("prompt_tokens=12,output_tokens=3,samples=4"), 0, WordTokenizer())
    assert counts == [12, 12, 12, 12] and [c.max_tokens for c in cases] == [3, 3, 3, 3]
    assert len({c.prompt for c in cases}) == 4  # each sample its own text


class ByteTokenizer:
    """An independent tokenizer: one token per UTF-8 byte pair (cuts fall inside words)."""

    name = "pairs"

    def encode(self, text: str) -> list[int]:
        b = text.encode()
        return [int.from_bytes(b[i : i + 2], "big") for i in range(0, len(b), 2)]

    def decode(self, ids: list[int]) -> str:
        out = b"".join(i.to_bytes(2, "big") if i > 255 else bytes([i]) for i in ids)
        return out.decode(errors="replace")


@pytest.mark.parametrize("n", [1, 7, 64, 255])
def test_a_real_cut_is_re_counted_exactly(n: int) -> None:
    tok = ByteTokenizer()
    text, count = build_prompt(tok, n, seed=n)
    assert count == n and len(tok.encode(text)) == n


def test_prompts_with_the_embedded_models_tokenizer(tmp_path: Path) -> None:
    from bakeoff import embedded
    from bakeoff.synthetic import GgufTokenizer

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
    r = cli(*base, "--tokenizer", "x.gguf")
    assert r.returncode == 2 and "--tokenizer goes with --data" in r.stderr
    r = cli(*base, "--data", "prompt_tokens=12,output_tokens=4", "--tokenizer", str(tmp_path / "none.gguf"))
    assert r.returncode == 2 and "no such file" in r.stderr


def test_llamacpp_forces_the_answer_length_and_counts_with_its_own_tokenizer() -> None:
    import asyncio

    from bakeoff.backends.base import ChatRequest, Completion
    from bakeoff.backends.llamacpp import LlamaCppBackend
    from bakeoff.config import ModelSpec

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
