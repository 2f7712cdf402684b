"""Reference-based figures: how close an answer comes to a case's gold answer.

- **ROUGE-L F1** (Google's ``rouge-score``, Porter stemming): the longest common subsequence of words
  between answer and reference, as the harmonic mean of its precision and recall. An answer that
  echoes a long transcript loses on precision; one cut short, on recall.
- **Key-term recall**: the share of the reference's key terms that the answer contains. Key terms are
  numbers (``4.2``, ``14:00``; ``£3,000`` counts as ``3000``, as does ``3,000``), date words (weekdays
  and months written with a capital, abbreviated or not; ``today``, ``tonight``, ``tomorrow``) and named
  entities: words written with a capital
  letter that never appear in lower case in the reference or the transcript (so ``Marco`` and ``Pixel``
  are terms, a sentence's first ``Version`` is not). No NER model is used: none ships offline on PyPI,
  and a meeting's names, dates and figures are what this rule finds. A word capitalised only where any
  word would be (first on a line, after a bullet, colon or full stop: a heading, a sentence's first
  word) is not a name unless the transcript gives it as a speaker (``Marco: ...``). Recall does not
  penalise length: an answer that echoes the transcript recalls nearly every term. ROUGE-L does (its
  precision falls), which is why ROUGE-L, not recall, is ``recommend``'s reference-based quality.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

MONTHS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december",
)  # fmt: skip
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ABBREVIATIONS = {
    **{m[:3]: m for m in MONTHS if m != "may"},
    "sept": "september",
    **{d[:3]: d for d in WEEKDAYS},
    "tues": "tuesday",
    "thur": "thursday",
    "thurs": "thursday",
}
"""``Thu`` and ``Thursday``, ``Sept`` and ``September`` are the same term."""
DATE_NAMES = frozenset(MONTHS + WEEKDAYS)
"""Counted only when written with a capital, on either side (``May`` the month, not ``may`` the verb)."""
RELATIVE_DATES = frozenset({"today", "tonight", "tomorrow", "yesterday"})
_NUMBER = re.compile(r"[^\W\d_]*\d+(?:[.,:/]\d+)*[^\W\d_]*")
"""A number with any letters attached: ``4.2``, ``14:00``, ``Q3``, ``v4.2``, ``3pm``, ``9th``."""
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019&-][^\W\d_]+)*")
_TERM = re.compile(rf"{_NUMBER.pattern}|{_WORD.pattern}")


def _drop_possessive(word: str) -> str:
    return re.sub(r"['\u2019]s$", "", word)


def _norm(term: str) -> str:
    """One spelling per term: lower case; possessive ``'s`` dropped (``Marco's``: marco); a number
    loses letters after it and its thousands separators (``9th``: 9, ``3pm``: 3, ``1,950``: 1950) but
    keeps letters before it (``Q3``: q3); a date abbreviation becomes the full name (``Thu``: thursday)."""
    low = _drop_possessive(term.lower())
    if any(ch.isdigit() for ch in low):
        low = re.sub(r"(?<=\d)[^\W\d_]+$", "", low)
        return re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", low)
    return ABBREVIATIONS.get(low, low)


def _words(text: str) -> list[str]:
    return [_drop_possessive(w) for w in _WORD.findall(text)]


def _is_date(raw: str, norm: str) -> bool:
    return norm in RELATIVE_DATES or (norm in DATE_NAMES and raw[0].isupper())


def tokens(text: str) -> set[str]:
    """The answer side: every number and word, normalised as key terms are, plus the bare number of a
    number with letters before it (``v4.2`` also counts as ``4.2``). A month or weekday written in
    lower case is left out (``may`` the verb does not recall ``May``)."""
    out: set[str] = set()
    for raw in _TERM.findall(text):
        t = _norm(raw)
        if t in DATE_NAMES and not _is_date(raw, t):
            continue
        out.add(t)
        bare = re.search(r"\d.*", t)
        if bare:
            out.add(bare.group())
    return out


def _names(text: str) -> set[str]:
    """Capitalised words seen where a capital is not required, and speaker labels."""
    names: set[str] = set()
    for line in text.splitlines():
        speaker = re.match(rf"\s*({_WORD.pattern})\s*:", line)
        if speaker:
            names.add(speaker.group(1))
        for w in _WORD.finditer(line):
            before = line[: w.start()].rstrip()
            opens = not before or before in ("-", "*") or before[-1] in ".!?:"
            if not opens and w.group() != w.group().lower() and w.group() != "I":
                names.add(_drop_possessive(w.group()))
    return names


def key_terms(reference: str, source: str | None = None) -> list[str]:
    """The reference's numbers, date words and named entities, lower-cased, in first-seen order."""
    both = f"{reference}\n{source or ''}"
    lower = {w for w in _words(both) if w == w.lower()}
    names = {n.lower() for n in _names(both)} - lower
    out: list[str] = []
    for m in _TERM.finditer(reference):
        t, low = m.group(), _norm(m.group())
        if (any(ch.isdigit() for ch in t) or _is_date(t, low) or low in names) and low not in out:
            out.append(low)
    return out


@dataclass(frozen=True)
class ReferenceMatch:
    """One answer against one reference."""

    rouge_l: float
    term_recall: float | None
    """None when the reference has no key terms."""
    missed: tuple[str, ...]


@lru_cache(maxsize=1)
def _scorer() -> Any:
    from rouge_score import rouge_scorer  # lazy: it imports nltk (about a second)

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l(answer: str, reference: str) -> float:
    """ROUGE-L F1 of ``answer`` against ``reference`` (0 when either has no words)."""
    return float(_scorer().score(reference, answer)["rougeL"].fmeasure)


def match(answer: str, reference: str, source: str | None = None) -> ReferenceMatch:
    """ROUGE-L F1 and key-term recall of one answer."""
    terms = key_terms(reference, source)
    have = tokens(answer)
    missed = tuple(t for t in terms if t not in have)
    recall = (len(terms) - len(missed)) / len(terms) if terms else None
    return ReferenceMatch(rouge_l(answer, reference), recall, missed)
