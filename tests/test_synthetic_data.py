"""--data workloads by token length (issue 12): parsing with errors that name the part, the length
plan drawn with the seed, prompts built to an exact token count with a real tokenizer and an
independent one, answers forced to their length against the fake server, and where it did not hold."""

from __future__ import annotations

import re

import numpy as np
import pytest

from bakeoff.analysis.summarize import data_notes
from bakeoff.errors import UsageError
from bakeoff.records import RequestRecord
from bakeoff.workload.synthetic import (
    WORDS,
    DataSpec,
    Lengths,
    WordTokenizer,
    build_cases,
    build_prompt,
    parse_data,
)


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


def test_every_data_error_says_what_to_write() -> None:
    from bakeoff.workload.synthetic import EXAMPLE

    def err(text: str) -> UsageError:
        with pytest.raises(UsageError) as e:
            parse_data(text)
        return e.value

    for text in ("prompt_tokens", "prompt_tokens=x,output_tokens=1", "prompt_tokens=0,output_tokens=1",
                 "output_tokens=4"):  # fmt: skip
        assert err(text).hint == EXAMPLE, text
    keys = ("prompt_tokens, prompt_tokens_stdev, prompt_tokens_min, prompt_tokens_max, output_tokens, "
            "output_tokens_stdev, output_tokens_min, output_tokens_max, samples")  # fmt: skip
    assert err("speed=1").hint == f"use {keys}"
    # "=" inside a value: the key is what comes before the first one
    assert (
        err("prompt_tokens=256=3,output_tokens=1").message == "--data prompt_tokens: '256=3' is not a number"
    )
    assert EXAMPLE.startswith('e.g. --data "prompt_tokens=256,output_tokens=64"')


def test_the_smallest_values_allowed() -> None:
    spec = parse_data("prompt_tokens=1,prompt_tokens_stdev=0,output_tokens=1,output_tokens_stdev=0.5,"
                      "output_tokens_min=3,output_tokens_max=3")  # fmt: skip
    assert spec.prompt == Lengths(1, 0.0, 1, None) and spec.output == Lengths(1, 0.5, 3, 3)


def test_cases_are_repeatable_and_follow_the_seed() -> None:
    spec = parse_data("prompt_tokens=30,prompt_tokens_stdev=10,output_tokens=4,samples=6")
    tok = WordTokenizer()
    a, counts = build_cases(spec, 3, tok)
    b, _ = build_cases(spec, 3, tok)
    assert [c.prompt for c in a] == [c.prompt for c in b]  # the same texts every time
    assert counts == [p for _, p, _ in spec.plan(3)]  # the lengths of the run's seed
    assert counts != [p for _, p, _ in spec.plan(0)]
    other, _ = build_cases(spec, 0, tok)
    assert [c.prompt for c in other] != [c.prompt for c in a]  # another seed, other texts
    none, _ = build_cases(spec, None, tok)
    assert [c.prompt for c in none] == [c.prompt for c in other]  # no seed reads as seed 0
    assert all(set(c.prompt.split()) <= set(WORDS) for c in a)
    assert [c.id for c in a] == ["d1", "d2", "d3", "d4", "d5", "d6"] and all(c.max_tokens == 4 for c in a)
    assert spec.placeholder_cases(3)[0].prompt == f"(synthetic: {counts[0]} prompt tokens, built per model)"


def rec(n_out: int | None, held: bool | None, *, tokenizer: str = "t", warmup: bool = False,
        ok: bool = True) -> RequestRecord:  # fmt: skip
    data = {"prompt_tokens": 8, "output_tokens": 9, "tokenizer": tokenizer, "length_held": held}
    return RequestRecord(model="m", backend="b", prompt_id="d1", round=1, warmup=warmup, stream=True,
                         status="ok" if ok else "error", t_scheduled_ns=0, t0_ns=0, t_end_ns=1,
                         completion_tokens=n_out, extra={"data": data})  # fmt: skip


def test_data_notes_by_hand() -> None:
    assert data_notes("m", [rec(9, True), rec(9, True)]) == []
    assert data_notes("m", []) == [] and data_notes("m", [rec(3, False, warmup=True)]) == []
    notes = data_notes("m", [rec(9, True), rec(3, False), rec(5, False), rec(3, False), rec(None, None),
                             rec(2, False, ok=False), rec(1, False, warmup=True)])  # fmt: skip
    assert notes == [
        "m: the forced answer length did not hold for 3 of 5 requests (answers of 3, 5 tokens): the engine "
        "ignores min_tokens / ignore_eos, so its timings are over shorter answers"
    ]
    many = data_notes("m", [rec(n, False) for n in (1, 2, 3, 4, 5, 6, 7)] + [rec(None, False)])
    assert "did not hold for 8 of 8 requests (answers of 1, 2, 3, 4, 5... tokens)" in many[0]
    five = data_notes("m", [rec(n, False) for n in (1, 2, 3, 4, 5)])
    assert "(answers of 1, 2, 3, 4, 5 tokens)" in five[0]
    approx = data_notes("m", [rec(9, True, tokenizer="approximate (whitespace words)")])
    assert approx == [
        "m: --data prompt lengths are approximate (whitespace words, not the model's tokens): give "
        "--tokenizer a GGUF file or tokenizer.json"
    ]


class PaddedTokenizer:
    """One token per word, but decoding appends ``pad`` filler words: a cut of c tokens re-counts as
    c + pad, so exactly n needs the cut n - pad."""

    name = "padded"

    def __init__(self, pad: int) -> None:
        self.pad = pad

    def encode(self, text: str) -> list[int]:
        return [WORDS.index(w) if w in WORDS else 999 for w in text.split()]

    def decode(self, ids: list[int]) -> str:
        return " ".join([WORDS[i] for i in ids] + ["filler"] * self.pad)


def test_the_search_for_an_exact_count() -> None:
    # 3 over: the cut 37 re-counts as 40, inside the search window
    text, count = build_prompt(PaddedTokenizer(3), 40, seed=1)
    assert count == 40 and len(text.split()) == 40
    # 8 over: the cut 32, the window's edge
    assert build_prompt(PaddedTokenizer(8), 40, seed=1)[1] == 40
    # 20 over: no cut within 8 tokens gives 40; the closest is the lowest cut, 32, which re-counts as 52
    text, count = build_prompt(PaddedTokenizer(20), 40, seed=1)
    assert count == 52 and len(text.split()) == 52 and text.endswith("filler")
    # a short prompt: cuts start at 1 token, never 0
    text, count = build_prompt(PaddedTokenizer(20), 3, seed=1)
    assert count == 21 and len(text.split()) == 21


class ShrinkingTokenizer(PaddedTokenizer):
    """Decoding drops the last ``drop`` words: a cut of c re-counts as c - drop."""

    def decode(self, ids: list[int]) -> str:
        return " ".join(WORDS[i] for i in ids[: len(ids) - self.pad])


def test_the_search_reaches_eight_tokens_above() -> None:
    text, count = build_prompt(ShrinkingTokenizer(8), 40, seed=2)  # only the cut 48 re-counts as 40
    assert count == 40 and len(text.split()) == 40


def test_plans_and_draws_edges() -> None:
    spec = parse_data("prompt_tokens=50,output_tokens=20,output_tokens_stdev=5,samples=8")
    assert spec.plan(4) == spec.plan(4)  # answers drawn with the seed too
    assert len({o for _, _, o in spec.plan(4)}) > 1
    assert [c.max_tokens for c in spec.placeholder_cases(4)] == [o for _, _, o in spec.plan(4)]
    # a spread under one token still varies the length now and then
    assert set(Lengths(100, 0.5).draw(200, np.random.default_rng(0))) == {99, 100, 101}


def test_six_short_lengths_are_listed_with_an_ellipsis() -> None:
    six = data_notes("m", [rec(n, False) for n in (1, 2, 3, 4, 5, 6)])
    assert "(answers of 1, 2, 3, 4, 5... tokens)" in six[0]
