"""Workloads by token length: ``--data prompt_tokens=256,output_tokens=64`` (GuideLLM's synthetic data).

Each of ``samples`` requests gets a prompt length and an answer length: the given value, or with
``_stdev`` a normal draw around it (seeded with the run's seed), clipped to ``_min`` / ``_max`` and
to at least 1. Prompts are built per model with a tokenizer so the prompt text is exactly that many
tokens (before the chat template): the model's own (in-process engines), a ``--tokenizer`` (a GGUF
file or a folder with a Hugging Face ``tokenizer.json``), else whitespace words, which the report
labels approximate. Answers are forced to their length where the engine allows (``min_tokens``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from bakeoff.config.settings import PromptCase
from bakeoff.errors import UsageError

EXAMPLE = 'e.g. --data "prompt_tokens=256,output_tokens=64" or "prompt_tokens=512,prompt_tokens_stdev=64,..."'
DEFAULT_SAMPLES = 16
_TEXT = (
    "the meeting moved the launch date to friday after the team reviewed the budget and agreed that "
    "the design review should happen before anyone writes more code while the customer waits for a "
    "summary of decisions owners and deadlines so the notes list each action with a name and a date "
    "and every open question goes to the next weekly call where finance will confirm the numbers"
)
WORDS = tuple(_TEXT.split(" "))


class Tokenizer(Protocol):
    """What building a prompt of an exact length needs."""

    name: str

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...


@dataclass(frozen=True)
class Lengths:
    """``mean`` tokens, or normal draws with ``stdev`` clipped to [``min``, ``max``] (``min`` is at
    least 1: ``parse_data`` refuses less)."""

    mean: int
    stdev: float = 0.0
    min: int = 1
    max: int | None = None

    def draw(self, n: int, rng: np.random.Generator) -> list[int]:
        if self.stdev <= 0:
            values = np.full(n, float(self.mean))
        else:
            values = rng.normal(self.mean, self.stdev, size=n)
        hi = self.max if self.max is not None else math.inf
        return [int(min(max(round(float(v)), self.min), hi)) for v in values]


@dataclass(frozen=True)
class DataSpec:
    """A parsed ``--data``."""

    prompt: Lengths
    output: Lengths
    samples: int = DEFAULT_SAMPLES

    def plan(self, seed: int | None) -> list[tuple[str, int, int]]:
        """(id, prompt tokens, output tokens) per sample, the same for every model of the run."""
        rng = np.random.default_rng(0 if seed is None else seed)  # every model draws the same lengths
        prompts = self.prompt.draw(self.samples, rng)
        outputs = self.output.draw(self.samples, rng)
        return [(f"d{i + 1}", prompts[i], outputs[i]) for i in range(self.samples)]

    def placeholder_cases(self, seed: int | None) -> list[PromptCase]:
        """The run's prompt list before any model is loaded (ids and lengths; texts are per model)."""
        return [
            PromptCase(id=i, prompt=f"(synthetic: {p} prompt tokens, built per model)", max_tokens=o)
            for i, p, o in self.plan(seed)
        ]


_KEYS = ("prompt_tokens", "output_tokens")
_SUFFIXES = ("", "_stdev", "_min", "_max")


def parse_data(text: str) -> DataSpec:
    """``--data``'s string as a DataSpec; a UsageError naming the part that is wrong."""
    values: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        key, sep, raw = part.partition("=")
        key = key.strip().lower()
        if not sep:
            raise UsageError(f"--data part {part!r} is not key=value", hint=EXAMPLE)
        known = [k + s for k in _KEYS for s in _SUFFIXES] + ["samples"]
        if key not in known:
            raise UsageError(f"--data: unknown key {key!r}", hint=f"use {', '.join(known)}")
        if key in values:
            raise UsageError(f"--data gives {key} twice")
        try:
            v = float(raw.strip())
        except ValueError:
            raise UsageError(f"--data {key}: {raw.strip()!r} is not a number", hint=EXAMPLE) from None
        whole = not key.endswith("_stdev")
        if not math.isfinite(v) or v < 0 or (whole and (v != int(v) or v < 1)):
            what = "a whole number of at least 1" if whole else "a number of at least 0"
            raise UsageError(f"--data {key}: {raw.strip()!r} must be {what}", hint=EXAMPLE)
        values[key] = v
    for k in _KEYS:
        if k not in values:
            raise UsageError(f"--data needs {k}", hint=EXAMPLE)
    lengths = []
    for k in _KEYS:
        lo, hi = int(values.get(k + "_min", 1)), values.get(k + "_max")
        if hi is not None and hi < lo:
            raise UsageError(f"--data {k}_max {int(hi)} is below {k}_min {lo}")
        lengths.append(
            Lengths(int(values[k]), values.get(k + "_stdev", 0.0), lo, None if hi is None else int(hi))
        )
    return DataSpec(lengths[0], lengths[1], int(values.get("samples", DEFAULT_SAMPLES)))


class WordTokenizer:
    """Whitespace words: the approximation used when no real tokenizer is known (labelled so);
    ``build_prompt`` cuts its words directly."""

    name = "approximate (whitespace words)"


SEARCH = 8
"""How far from ``n`` tokens the cut may move while looking for a text that re-counts to exactly ``n``."""


def build_prompt(tok: Tokenizer | WordTokenizer, n: int, seed: int) -> tuple[str, int]:
    """A text of exactly ``n`` tokens by ``tok`` where a cut within ``SEARCH`` tokens of ``n`` gives
    one, else the closest; (text, its token count). The words are a fixed meeting-notes vocabulary
    drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    words = [WORDS[i] for i in rng.integers(len(WORDS), size=n + SEARCH)]  # a word is at least a token
    if isinstance(tok, WordTokenizer):
        return " ".join(words[:n]), n
    ids = tok.encode(" ".join(words))
    best: tuple[str, int] | None = None
    for cut in sorted(range(max(1, n - SEARCH), min(len(ids), n + SEARCH) + 1), key=lambda c: abs(c - n)):
        text = tok.decode(ids[:cut])
        count = len(tok.encode(text))  # a cut can merge or split at its edge: count again
        if count == n:
            return text, n
        if best is None or abs(count - n) < abs(best[1] - n):
            best = (text, count)
    assert best is not None
    return best


def build_cases(
    spec: DataSpec, seed: int | None, tok: Tokenizer | WordTokenizer
) -> tuple[list[PromptCase], list[int]]:
    """The run's synthetic prompts for one model, and each prompt's token count by ``tok``."""
    cases, counts = [], []
    for k, (pid, p, o) in enumerate(spec.plan(seed)):
        text, count = build_prompt(tok, p, (seed or 0) * 100_003 + k)
        cases.append(PromptCase(id=pid, prompt=text, max_tokens=o))
        counts.append(count)
    return cases, counts
