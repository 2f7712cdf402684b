"""Scoring notes by fact, with no judge: which planted facts a summary kept, whether each action
item's owner and due date are right, and which owners and dates it invented.

- A fact is **recalled** when the notes contain its ``key``, compared case-insensitively with runs of
  spaces as one and digit groups without their separators (``48,200`` = ``48200``).
- An **action** that is recalled is read in the segment that names it (its line; a long line is cut
  into sentences): the owner is ``right`` when its name is there, ``wrong`` when another person of
  the meeting is named there instead, else ``missing``; the due date the same way against the
  meeting's dates (a date the meeting corrected away reads ``wrong``).
- **Invented** owners are names of ``meetings.PEOPLE`` and invented dates are dates of
  ``meetings.DATES`` that the notes use and the source never says.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bakeoff.config.settings import FactSpec, PromptCase
from bakeoff.records import RequestRecord
from bakeoff.workload.meetings import DATES, PEOPLE

Verdict = str  # "right" | "wrong" | "missing"


@dataclass(frozen=True)
class FactResult:
    """One fact against one answer; ``owner``/``due`` only for a recalled action."""

    fact: str
    kind: str
    position: str | None
    recalled: bool
    owner: Verdict | None = None
    due: Verdict | None = None


@dataclass(frozen=True)
class NotesScore:
    """One answer's facts, and the owners and dates it made up."""

    facts: tuple[FactResult, ...]
    invented_owners: tuple[str, ...]
    invented_dates: tuple[str, ...]

    @property
    def recall(self) -> float | None:
        return sum(f.recalled for f in self.facts) / len(self.facts) if self.facts else None


def normalize(text: str) -> str:
    """Lower case, one space for any run of whitespace, digit groups joined (``48,200`` -> ``48200``)."""
    text = re.sub(r"(?<=\d)[,\u202f\u00a0 ](?=\d{3}\b)", "", text.lower())
    return re.sub(r"\s+", " ", text)


def _segments(notes: str) -> list[str]:
    out: list[str] = []
    for line in notes.splitlines():
        out += re.split(r"(?<=[.!?;])\s+", line) if len(line) > 300 else [line]
    return [normalize(s) for s in out if s.strip()]


def _names(text: str, pool: Sequence[str]) -> set[str]:
    return {n for n in pool if re.search(rf"(?<![\w]){re.escape(n.lower())}(?![\w])", normalize(text))}


def _verdict(segment: str, gold: str | None, others: set[str], pool: Sequence[str]) -> Verdict | None:
    if gold is None:
        return None
    said = _names(segment, pool)
    if gold in said:
        return "right"
    return "wrong" if said & others else "missing"


def score_notes(notes: str, facts: Sequence[FactSpec], source: str) -> NotesScore:
    """Each fact of ``source`` against ``notes`` (the module docstring says how)."""
    segments = _segments(notes)
    people, dates = _names(source, PEOPLE), _names(source, DATES)
    results = []
    for f in facts:
        key = normalize(f.key)
        where = next((s for s in segments if key in s), None)
        if where is None:
            results.append(FactResult(f.id, f.kind, f.position, False))
            continue
        owner = _verdict(where, f.owner, people, PEOPLE) if f.kind == "action" else None
        due = _verdict(where, f.due, dates, DATES) if f.kind == "action" else None
        results.append(FactResult(f.id, f.kind, f.position, True, owner, due))
    said_people, said_dates = _names(notes, PEOPLE), _names(notes, DATES)
    return NotesScore(
        tuple(results),
        tuple(sorted(said_people - people)),
        tuple(sorted(said_dates - dates)),
    )


def _share(hits: Sequence[bool]) -> float:
    return round(sum(hits) / len(hits), 4)


def facts_block(cases: Mapping[str, PromptCase], recs: Sequence[RequestRecord]) -> dict[str, Any] | None:
    """One model's ``FactScores`` over its measured answers to cases with facts (None: no such case).
    A case's length is its ``length:<label>`` tag."""
    scores: list[tuple[PromptCase, NotesScore]] = []
    for r in recs:
        case = cases.get(r.prompt_id)
        if r.warmup or r.status != "ok" or case is None or not case.facts:
            continue
        scores.append((case, score_notes(r.output, case.facts, case.user_text())))
    if not scores:
        return None
    hits: list[bool] = []
    by: dict[str, dict[str, list[bool]]] = {"position": defaultdict(list), "length": defaultdict(list),
                                            "kind": defaultdict(list)}  # fmt: skip
    owners: list[bool] = []
    dues: list[bool] = []
    for case, score in scores:
        length = next((t.split(":", 1)[1] for t in case.tags if t.startswith("length:")), None)
        for f in score.facts:
            hits.append(f.recalled)
            by["kind"][f.kind].append(f.recalled)
            if f.position:
                by["position"][f.position].append(f.recalled)
            if length:
                by["length"][length].append(f.recalled)
            if f.recalled and f.kind == "action":
                owners.append(f.owner == "right")
                dues.append(f.due == "right")
    order = {"start": 0, "middle": 1, "end": 2}
    return {
        "answers": len(scores),
        "checked": len(hits),
        "recalled": sum(hits),
        "recall": _share(hits) if hits else None,
        "by_position": {k: _share(v) for k, v in sorted(by["position"].items(), key=lambda kv: order[kv[0]])},
        "by_length": {k: _share(v) for k, v in by["length"].items()},
        "by_kind": {k: _share(v) for k, v in sorted(by["kind"].items())},
        "actions_recalled": len(owners),
        "owner_right": _share(owners) if owners else None,
        "due_right": _share(dues) if dues else None,
        "invented_owners": sum(len(s.invented_owners) for _, s in scores),
        "invented_dates": sum(len(s.invented_dates) for _, s in scores),
    }
