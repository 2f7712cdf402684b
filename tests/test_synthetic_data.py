"""--data workloads by token length (issue 12): parsing with errors that name the part, the length
plan drawn with the seed, prompts built to an exact token count with a real tokenizer and an
independent one, answers forced to their length against the fake server, and where it did not hold."""

from __future__ import annotations

import re

import numpy as np
import pytest

from bakeoff.errors import UsageError
from bakeoff.synthetic import DataSpec, Lengths, WordTokenizer, build_cases, build_prompt, parse_data


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
