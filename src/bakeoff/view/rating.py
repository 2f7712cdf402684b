"""Rating in the browser: what a rater sees next, and where their verdicts go.

Scores go into the run's ``human.jsonl`` through the same store ``bakeoff annotate import`` writes
(rows named by the blind ids of ``annotation-key.csv``), each kept under the rater's name; pairwise
verdicts go into ``pairwise.jsonl`` as judge ``human:NAME``. After each verdict the run's quality is
recomputed and summary.json and the reports rewritten, so ``recommend`` reads it at once.
"""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from bakeoff.config.settings import PromptCase
from bakeoff.errors import UsageError
from bakeoff.quality.aggregate import apply_quality
from bakeoff.quality.annotate import assign_rows, read_key
from bakeoff.quality.rubric import PAIRWISE_VERSION
from bakeoff.quality.store import (
    PAIRWISE_FILE,
    HumanScore,
    Output,
    PairVerdict,
    append,
    load_cases,
    load_human,
    load_pairs,
    outputs,
    save_human,
    sha,
)
from bakeoff.records import RequestRecord
from bakeoff.reporters import write_all
from bakeoff.reporters.report import RunReport
from bakeoff.results.schema import iter_records, load_summary, save_summary

RATER = re.compile(r"^[\w .@-]{1,40}$")
"""A rater's name: letters, digits, space, ``_ . @ -``; at most 40 characters."""

WINNERS = ("A", "B", "tie")


def check_rater(name: str) -> str:
    name = name.strip()
    if not RATER.match(name):
        raise UsageError(
            f"rater name {name!r} is not allowed",
            hint="use 1-40 letters, digits, spaces or _ . @ -",
        )
    return name


@dataclass(frozen=True)
class Item:
    """One answer to rate, with nothing that names its model."""

    row_id: str
    case: PromptCase
    text: str


@dataclass(frozen=True)
class Pair:
    """Two answers to one case by two models, in the order shown (A, B), each named by its blind row
    id (two models may give the very same text: the row, not the text, says whose it is)."""

    case: PromptCase
    first: Item
    second: Item


def _outputs(run_dir: Path) -> list[Output]:
    return outputs(RequestRecord.from_json(d) for d in iter_records(run_dir))


def queue(run_dir: Path, rater: str) -> tuple[list[Item], int]:
    """The answers ``rater`` has not scored yet, in an order of their own (seeded by the name, so a
    reload shows the same next answer), and how many answers there are in all."""
    cases = {c.id: c for c in load_cases(run_dir)}
    rows = assign_rows(run_dir, list(cases.values()), _outputs(run_dir))
    done = {h.row_id for h in load_human(run_dir) if h.rater == rater}
    random.Random(f"{rater}|{run_dir.name}").shuffle(rows)
    todo = [Item(rid, cases[o.case_id], o.text) for rid, o in rows if rid not in done]
    return todo, len(rows)


def rate(
    run_dir: Path, rater: str, row_id: str, score: int, aspects: dict[str, str | None], notes: str = ""
) -> HumanScore:
    """Keep ``rater``'s 1-5 ``score`` (and y/p/n aspect marks) of the answer ``row_id``."""
    rater = check_rater(rater)
    key = read_key(run_dir)
    if row_id not in key:
        raise UsageError(f"unknown answer {row_id!r} in this run", hint="reload the rating page")
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        raise UsageError(f"score {score!r} must be a whole number from 1 to 5")
    k = key[row_id]
    case = {c.id: c for c in load_cases(run_dir)}.get(k.case_id)
    own = {a.id for a in case.aspects} if case else set()
    marks = {"y": 1.0, "p": 0.5, "n": 0.0}
    got: dict[str, float | None] = {a: None for a in sorted(own)}
    for aid, mark in aspects.items():
        if aid not in own:
            raise UsageError(f"this answer's case has no aspect {aid!r}")
        if mark not in (None, "", *marks):
            raise UsageError(f"aspect {aid} mark {mark!r} must be y, p, n or blank")
        got[aid] = marks[mark] if mark else None
    h = HumanScore(row_id, k.model, k.case_id, k.output_sha, score, got, notes.strip()[:2000], rater)
    save_human(run_dir, [h])
    refresh(run_dir)
    return h


def pairs(run_dir: Path, rater: str) -> tuple[list[Pair], int]:
    """Pairs of answers to the same case by two models that ``rater`` has not compared yet, each in a
    random order (seeded by the name), and how many pairs there are in all."""
    cases = {c.id: c for c in load_cases(run_dir)}
    by_case: dict[str, dict[str, Item]] = defaultdict(dict)
    for rid, o in assign_rows(run_dir, list(cases.values()), _outputs(run_dir)):
        by_case[o.case_id].setdefault(o.model, Item(rid, cases[o.case_id], o.text))  # its first answer
    rng = random.Random(f"pairs|{rater}|{run_dir.name}")
    mine = (v for v in load_pairs(run_dir) if v.judge == f"human:{rater}")
    done = {(v.case_id, frozenset((v.first, v.second))) for v in mine}
    out: list[Pair] = []
    total = 0
    for cid, answers in sorted(by_case.items()):
        names = sorted(answers)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                total += 1
                if (cid, frozenset((a, b))) in done:
                    continue
                one, two = (answers[a], answers[b]) if rng.random() < 0.5 else (answers[b], answers[a])
                out.append(Pair(cases[cid], one, two))
    rng.shuffle(out)
    return out, total


def prefer(run_dir: Path, rater: str, first_row: str, second_row: str, winner: str) -> PairVerdict:
    """Keep ``rater``'s verdict on two answers (named by their blind row ids, as shown: A then B)."""
    rater = check_rater(rater)
    if winner not in WINNERS:
        raise UsageError(f"winner {winner!r} must be A, B or tie")
    key = read_key(run_dir)
    a, b = key.get(first_row), key.get(second_row)
    if a is None or b is None or a.case_id != b.case_id or a.model == b.model:  # one message: blind
        raise UsageError("those answers cannot be compared here", hint="reload the rating page")
    vkey = sha(json.dumps(["human", rater, a.case_id, a.row_id, b.row_id]))
    verdict = PairVerdict(vkey, f"human:{rater}", PAIRWISE_VERSION, a.case_id, a.model, b.model, True, winner)
    append(run_dir / PAIRWISE_FILE, verdict)
    refresh(run_dir)
    return verdict


def refresh(run_dir: Path) -> None:
    """Recompute the run's quality from its files and rewrite summary.json and the reports."""
    summary = apply_quality(load_summary(run_dir), run_dir)
    save_summary(summary, run_dir)
    write_all(RunReport.of_run(run_dir, summary), run_dir)
