"""The judge's calibration set, built without a model from gold answers, and how a judge's verdicts on
it are graded.

A gold answer is meeting notes in a fixed shape (``Decisions`` / ``Action items`` / ``Open questions``,
one ``- `` line per item, action items as ``- Owner: task (due)``). Each corruption changes one thing a
summary can get wrong, and ``changed`` states what it changed, so a test can check that it did:

- ``owner_swapped``: the first action item's owner becomes another person of the meeting: the gold's
  next other owner, else the transcript's first other speaker who speaks at least twice (a one-off
  ``Meeting:`` or ``Facilitator:`` label is not a person);
- ``decision_dropped``: the first decision is removed;
- ``date_changed``: the first weekday or month named is replaced everywhere by another;
- ``transcript_echoed``: the transcript itself, as a base model often answers;
- ``repetition_loop``: the first lines, then one item repeated, as a looping small model answers;
- ``cut_in_half``: the first half of the words, as an answer cut by its token limit;
- ``other_meeting``: the gold answer of a different meeting.

Grading: a rubric item passes when the judge scores the gold strictly above the corruption; a pairwise
item passes when the judge prefers the gold in both orders. Unparsed verdicts fail. A judge qualifies for
a mode when at least ``THRESHOLD`` of its items pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bakeoff.config.settings import PromptCase
from bakeoff.errors import UsageError

CALIBRATION_VERSION = "calibration-v1"
"""Part of the cache key of a qualification: bump it when the set or the grading changes."""
THRESHOLD = 0.8
KINDS = (
    "owner_swapped",
    "decision_dropped",
    "date_changed",
    "transcript_echoed",
    "repetition_loop",
    "cut_in_half",
    "other_meeting",
)
CASES_USED = 4
"""Corruption kind i is made from the i-th gold answer modulo this (7 kinds over 4 meetings: 11 rubric
verdicts and 14 pairwise, about a laptop's minute or two with a 0.5B judge per mode)."""
HEADINGS = ("Decisions", "Action items", "Open questions")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December",
)  # fmt: skip
ACTION = re.compile(r"^- (?P<owner>[^\W\d_][\w'-]*): (?P<task>.+) \((?P<due>[^()]+)\)$")
SPEAKER = re.compile(r"^\s*(?P<name>[^\W\d_][\w'-]*)\s*:", re.MULTILINE)


@dataclass(frozen=True)
class Corruption:
    """One corrupted answer: ``changed`` says what differs from the gold (for people and tests)."""

    kind: str
    case_id: str
    text: str
    changed: str


@dataclass(frozen=True)
class CalibrationSet:
    """The gold answers used (by case id), the corruptions, and the cases to judge them against."""

    cases: dict[str, PromptCase]
    gold: dict[str, str]
    items: tuple[Corruption, ...]


def sections(gold: str) -> dict[str, list[str]]:
    """A gold answer's items by heading; a UsageError naming the line when it is not in the shape."""
    out: dict[str, list[str]] = {}
    current: str | None = None
    for n, line in enumerate(gold.splitlines(), 1):
        if not line.strip():
            continue
        if line in HEADINGS:
            current = line
            out[current] = []
        elif line.startswith("- ") and current is not None:
            out[current].append(line)
        else:
            raise UsageError(f"gold answer line {n} is neither a heading nor a '- ' item: {line!r}")
    missing = [h for h in HEADINGS if not out.get(h)]
    if missing:
        raise UsageError(f"gold answer has no items under {', '.join(missing)}")
    for line in out["Action items"]:
        if not ACTION.match(line):
            raise UsageError(f"action item {line!r} is not '- Owner: task (due)'")
    return out


def speakers(source: str) -> list[str]:
    """Who speaks in a transcript: ``Name: ...`` labels used at least twice, in order of first use."""
    labels = [m.group("name") for m in SPEAKER.finditer(source)]
    return [n for n in dict.fromkeys(labels) if labels.count(n) >= 2]


def _without_line(gold: str, line: str, instead: str | None = None) -> str:
    """``gold`` with its first line equal to ``line`` removed, or replaced by ``instead``."""
    lines = gold.split("\n")
    at = lines.index(line)
    return "\n".join(lines[:at] + ([] if instead is None else [instead]) + lines[at + 1 :])


def owner_swapped(gold: str, source: str) -> tuple[str, str]:
    line = sections(gold)["Action items"][0]
    m = ACTION.match(line)
    assert m is not None  # sections() checked the shape
    owner = m.group("owner")
    owners = [a.group("owner") for x in sections(gold)["Action items"] if (a := ACTION.match(x))]
    others = [p for p in dict.fromkeys([*owners, *speakers(source)]) if p != owner]
    if not others:
        raise UsageError(f"no other person in the meeting to swap for owner {owner}")
    swapped = f"- {others[0]}: {m.group('task')} ({m.group('due')})"
    return _without_line(gold, line, swapped), f"owner of {m.group('task')!r}: {owner} -> {others[0]}"


def decision_dropped(gold: str) -> tuple[str, str]:
    line = sections(gold)["Decisions"][0]
    return _without_line(gold, line), f"dropped decision {line[2:]!r}"


def date_changed(gold: str) -> tuple[str, str]:
    found = re.search(r"\b(" + "|".join(WEEKDAYS + MONTHS) + r")\b", gold)
    if found is None:
        raise UsageError("gold answer names no weekday or month to change")
    word = found.group(1)
    names = WEEKDAYS if word in WEEKDAYS else MONTHS
    other = names[(names.index(word) + 3) % len(names)]
    return re.sub(rf"\b{word}\b", other, gold), f"{word} -> {other}"


def repetition_loop(gold: str, repeats: int = 12) -> tuple[str, str]:
    item = sections(gold)["Decisions"][0]
    return "\n".join(["Decisions", *([item] * repeats)]) + "\n", f"{item!r} written {repeats} times"


def cut_in_half(gold: str) -> tuple[str, str]:
    words = list(re.finditer(r"\S+", gold))
    keep = len(words) // 2
    return gold[: words[keep - 1].end()], f"kept the first {keep} of {len(words)} words"


def corrupt(kind: str, case: PromptCase, gold: str, other_gold: str) -> Corruption:
    """One corruption of ``gold`` (the reference of ``case``); ``other_gold`` is another meeting's."""
    source = case.source or ""
    if kind == "owner_swapped":
        text, changed = owner_swapped(gold, source)
    elif kind == "decision_dropped":
        text, changed = decision_dropped(gold)
    elif kind == "date_changed":
        text, changed = date_changed(gold)
    elif kind == "transcript_echoed":
        text, changed = source, "the transcript itself"
    elif kind == "repetition_loop":
        text, changed = repetition_loop(gold)
    elif kind == "cut_in_half":
        text, changed = cut_in_half(gold)
    elif kind == "other_meeting":
        text, changed = other_gold, "the gold answer of another meeting"
    else:
        raise ValueError(f"unknown corruption {kind!r}")
    return Corruption(kind, case.id, text, changed)


def calibration_set(cases: Sequence[PromptCase]) -> CalibrationSet:
    """The set from the cases that have a source and a gold reference (the built-in meeting-notes
    suite). The judge sees each case without its reference: the gold *is* the reference, and showing
    it would test copying, not judging."""
    usable = [c for c in cases if c.reference and c.source]
    if len(usable) < 2:
        raise UsageError("judge calibration needs at least two cases with a source and a gold reference")
    refs = {c.id: c.reference for c in usable if c.reference}
    items = []
    for i, kind in enumerate(KINDS):
        # the i-th meeting (of the first CASES_USED), or the next one this corruption applies to
        start = i % min(CASES_USED, len(usable))
        problems = []
        for case in usable[start:] + usable[:start]:
            other = usable[(usable.index(case) + 1) % len(usable)]
            try:
                items.append(corrupt(kind, case, refs[case.id], refs[other.id]))
                break
            except UsageError as exc:
                problems.append(f"{case.id}: {exc.message}")
        else:
            raise UsageError(f"no case allows the {kind} corruption ({'; '.join(problems)})")
    used = [c for c in usable if c.id in {it.case_id for it in items}]
    judged = {c.id: c.model_copy(update={"reference": None}) for c in used}
    gold = {c.id: refs[c.id] for c in used}
    return CalibrationSet(judged, gold, tuple(items))


@dataclass(frozen=True)
class Grade:
    """A judge's result on one mode of the calibration set."""

    qualified: bool
    accuracy: float
    passed: int
    items: int
    by_kind: dict[str, bool]
    unparsed: int
    position_bias: float | None = None
    """Pairwise: the share of parsed verdicts that picked position A (0.5 is unbiased)."""
    score_spread: float | None = None
    """Rubric: standard deviation of every score given (0 for a judge that always says the same)."""
    gold_mean: float | None = None
    corrupt_mean: float | None = None


def grade_scores(
    items: Sequence[Corruption], gold: Mapping[str, int | None], bad: Mapping[str, int | None]
) -> Grade:
    """Rubric: ``gold`` is the score of each case's gold answer, ``bad`` of each corruption (by kind)."""
    by_kind = {}
    for it in items:
        g, b = gold.get(it.case_id), bad.get(it.kind)
        by_kind[it.kind] = g is not None and b is not None and g > b
    scores = [s for s in [*gold.values(), *bad.values()] if s is not None]
    golds = [s for s in gold.values() if s is not None]
    bads = [s for s in bad.values() if s is not None]
    unparsed = sum(s is None for s in [*gold.values(), *bad.values()])
    return _grade(
        by_kind,
        unparsed,
        score_spread=float(np.std(scores)) if scores else None,
        gold_mean=float(np.mean(golds)) if golds else None,
        corrupt_mean=float(np.mean(bads)) if bads else None,
    )


def grade_pairs(items: Sequence[Corruption], winners: Mapping[tuple[str, bool], str | None]) -> Grade:
    """Pairwise: ``winners[(kind, gold_first)]`` is the judge's "A", "B", "tie", or None (unparsed)."""
    by_kind = {}
    for it in items:
        first, second = winners.get((it.kind, True)), winners.get((it.kind, False))
        by_kind[it.kind] = first == "A" and second == "B"
    said = [w for w in winners.values() if w is not None]
    bias = sum(w == "A" for w in said) / len(said) if said else None
    return _grade(by_kind, sum(w is None for w in winners.values()), position_bias=bias)


def _grade(by_kind: dict[str, bool], unparsed: int, **extra: float | None) -> Grade:
    passed = sum(by_kind.values())
    accuracy = passed / len(by_kind) if by_kind else 0.0
    return Grade(accuracy >= THRESHOLD, accuracy, passed, len(by_kind), by_kind, unparsed, **extra)
