"""Field-level scoring of structured notes: the decisions, action items (owner, due date) and open
questions an app reads from a JSON answer, against the case's gold facts (issue 28).

Prose scoring (``quality.facts``) asks whether a fact's key is anywhere in the notes; an app needs it
in the right field. For an answer that is a JSON object (the whole answer, or a fenced block: as the
``is_json`` check reads it) in the ``meeting-notes`` schema's shape:

- a **decision** fact is recalled when one of ``decisions`` contains its key; a **question** when one of
  ``open_questions`` does; a **number** when any text or number anywhere in the object does (digit
  groups without separators, as ``quality.facts``);
- an **action** fact is recalled when an item of ``action_items`` has its key in ``task``; that item's
  ``owner`` is right when it names the gold owner, wrong when it names another person of the meeting,
  else missing; its ``due`` the same against the meeting's dates (``null`` is missing);
- **precision**: of the decisions (action items) the answer lists, the share that hold the key of one of
  the case's decision (action) facts: items the meeting never decided or assigned lower it;
- **invented owners**: action items whose owner names a person of ``meetings.PEOPLE`` the meeting never
  mentions.

An answer that is not such an object recalls nothing (it is counted in ``answers`` and not in
``parsed``), so recall is over every answer an app would have had to read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bakeoff.config.settings import FactSpec, PromptCase
from bakeoff.quality.checks import whole_json
from bakeoff.quality.facts import Verdict, _names, normalize
from bakeoff.records import RequestRecord
from bakeoff.workload.meetings import DATES, PEOPLE

NOTE_FIELDS = ("decisions", "action_items", "open_questions")
"""The keys that make a JSON object a set of notes (any one of them)."""


@dataclass(frozen=True)
class FieldScore:
    """One answer against one case's facts (counts; the block divides them)."""

    parsed: bool
    decisions: tuple[int, int]  # (recalled, facts)
    actions: tuple[int, int]
    questions: tuple[int, int]
    numbers: tuple[int, int]
    owners: tuple[Verdict, ...]  # per recalled action
    dues: tuple[Verdict, ...]
    listed_decisions: tuple[int, int]  # (holding a fact's key, listed)
    listed_actions: tuple[int, int]
    invented_owners: int


def _texts(value: Any) -> list[str]:
    """Every string and number inside ``value``, as text."""
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, str | int | float):
        return [str(value)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


def _strings(value: Any) -> list[str]:
    return [normalize(v) for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _items(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _verdict(text: Any, gold: str | None, said: set[str], pool: Sequence[str]) -> Verdict:
    named = _names(text, pool) if isinstance(text, str) else set()
    if gold is not None and gold in named:
        return "right"
    return "wrong" if named & said else "missing"


def notes_object(answer: str) -> dict[str, Any] | None:
    """The answer as a notes object (a JSON object with one of ``NOTE_FIELDS``), or None."""
    value, problem = whole_json(answer)
    if problem is not None or not isinstance(value, dict) or not any(k in value for k in NOTE_FIELDS):
        return None
    return value


def score_fields(answer: str, facts: Sequence[FactSpec], source: str) -> FieldScore:
    """``answer`` against ``facts`` field by field (the module docstring says how)."""
    kinds = {k: [f for f in facts if f.kind == k] for k in ("decision", "action", "question", "number")}
    notes = notes_object(answer)
    if notes is None:
        n = {k: (0, len(v)) for k, v in kinds.items()}
        return FieldScore(
            False, n["decision"], n["action"], n["question"], n["number"], (), (), (0, 0), (0, 0), 0
        )
    decisions = _strings(notes.get("decisions"))
    questions = _strings(notes.get("open_questions"))
    items = _items(notes.get("action_items"))
    everything = [normalize(t) for t in _texts(notes)]
    people, dates = _names(source, PEOPLE), _names(source, DATES)

    def hits(fs: Sequence[FactSpec], texts: Sequence[str]) -> int:
        return sum(any(normalize(f.key) in t for t in texts) for f in fs)

    owners: list[Verdict] = []
    dues: list[Verdict] = []
    recalled_actions = 0
    for f in kinds["action"]:
        key = normalize(f.key)
        item = next(
            (i for i in items if isinstance(i.get("task"), str) and key in normalize(i["task"])), None
        )
        if item is None:
            continue
        recalled_actions += 1
        owners.append(_verdict(item.get("owner"), f.owner, people, PEOPLE))
        dues.append(_verdict(item.get("due"), f.due, dates, DATES))
    decision_keys = [normalize(f.key) for f in kinds["decision"]]
    action_keys = [normalize(f.key) for f in kinds["action"]]
    tasks = [normalize(i["task"]) if isinstance(i.get("task"), str) else "" for i in items]
    invented = sum(
        bool(_names(i["owner"], PEOPLE) - people) for i in items if isinstance(i.get("owner"), str)
    )
    return FieldScore(
        True,
        (hits(kinds["decision"], decisions), len(kinds["decision"])),
        (recalled_actions, len(kinds["action"])),
        (hits(kinds["question"], questions), len(kinds["question"])),
        (hits(kinds["number"], everything), len(kinds["number"])),
        tuple(owners),
        tuple(dues),
        (sum(any(k in d for k in decision_keys) for d in decisions), len(decisions)),
        (sum(any(k in t for k in action_keys) for t in tasks), len(tasks)),
        invented,
    )


def _rate(pairs: Sequence[tuple[int, int]]) -> float | None:
    num, den = sum(p[0] for p in pairs), sum(p[1] for p in pairs)
    return round(num / den, 4) if den else None


def _right(verdicts: Sequence[Verdict]) -> float | None:
    return round(sum(v == "right" for v in verdicts) / len(verdicts), 4) if verdicts else None


def fields_block(cases: Mapping[str, PromptCase], recs: Sequence[RequestRecord]) -> dict[str, Any] | None:
    """One model's ``FieldScores`` over its measured answers to cases with facts; None when no case
    has facts or no answer is a notes object (prose notes: ``quality.facts`` scores those)."""
    scores = []
    for r in recs:
        case = cases.get(r.prompt_id)
        if r.warmup or r.status != "ok" or case is None or not case.facts:
            continue
        scores.append(score_fields(r.output, case.facts, case.user_text()))
    if not any(s.parsed for s in scores):
        return None
    owners = [v for s in scores for v in s.owners]
    dues = [v for s in scores for v in s.dues]
    return {
        "answers": len(scores),
        "parsed": sum(s.parsed for s in scores),
        "decision_recall": _rate([s.decisions for s in scores]),
        "decision_precision": _rate([s.listed_decisions for s in scores]),
        "action_recall": _rate([s.actions for s in scores]),
        "action_precision": _rate([s.listed_actions for s in scores]),
        "owner_right": _right(owners),
        "owner_wrong": sum(v == "wrong" for v in owners),
        "due_right": _right(dues),
        "due_wrong": sum(v == "wrong" for v in dues),
        "question_recall": _rate([s.questions for s in scores]),
        "number_recall": _rate([s.numbers for s in scores]),
        "invented_owners": sum(s.invented_owners for s in scores),
    }
