"""Judge qualification: ask a loaded judge for its verdicts on the calibration set (gold answers against
their corruptions, ``quality.calibration``) with its rubric and pairwise prompts (each case's
reference withheld: the gold is the reference), and grade them.

A complete result is cached by everything the judge saw and how it was asked (judge and weights, mode,
prompt version, calibration version, the cases, the answers, the token limit), so a judge qualifies once
per machine. Each verdict is appended to the run's ``qualification.jsonl`` as it arrives (a cached
result brings its verdicts once). A mode in which some request got no answer is incomplete: not
qualified, not cached, asked again next time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from bakeoff.config.settings import load_suite
from bakeoff.quality import rubric
from bakeoff.quality.calibration import (
    CALIBRATION_VERSION,
    THRESHOLD,
    CalibrationSet,
    calibration_set,
    grade_pairs,
    grade_scores,
)
from bakeoff.quality.judge_model import (
    FailureStreak,
    JudgeCache,
    JudgeModel,
    Progress,
    ask_with_retry,
    case_fingerprint,
    failed_request,
)
from bakeoff.quality.parse import parse_score, parse_winner
from bakeoff.quality.store import append, sha
from bakeoff.results.schema import Qualification, QualificationResult

QUALIFICATION_FILE = "qualification.jsonl"
CALIBRATION_SUITE = "meeting-notes"
Mode = Literal["rubric", "pairwise"]
MODES: tuple[Mode, ...] = ("rubric", "pairwise")


@dataclass(frozen=True)
class CalibrationVerdict:
    """One verdict of qualification: ``answer`` is ``gold`` or a corruption kind (rubric); pairwise,
    ``gold_first`` says whether the gold answer was shown as A."""

    judge: str
    mode: str
    key: str
    """The qualification's cache key: which test this verdict belongs to."""
    case_id: str
    answer: str
    score: int | None = None
    winner: str | None = None
    gold_first: bool | None = None
    error: str | None = None
    raw: str = ""
    seconds: float = 0.0
    cached: bool = False


def default_set() -> CalibrationSet:
    """The calibration set built from the built-in meeting-notes suite's gold answers."""
    return calibration_set(load_suite(CALIBRATION_SUITE)[0])


def prompt_version(mode: Mode) -> str:
    return rubric.RUBRIC_VERSION if mode == "rubric" else rubric.PAIRWISE_VERSION


def _key(judge: JudgeModel, mode: Mode, cal: CalibrationSet) -> str:
    cases = [case_fingerprint(cal.cases[k]) for k in sorted(cal.cases)]
    texts = [cal.gold[k] for k in sorted(cal.gold)] + [it.text for it in cal.items]
    how = [judge.key_id, "qualification", mode, prompt_version(mode), CALIBRATION_VERSION, judge.max_tokens]
    return sha(json.dumps([*how, cases, texts]))


class _Keep:
    """Appends each verdict to the run's qualification.jsonl as it arrives (nothing without a run)."""

    def __init__(self, run_dir: Path | None) -> None:
        self.path = None if run_dir is None else run_dir / QUALIFICATION_FILE

    def has(self, key: str) -> bool:
        if self.path is None or not self.path.exists():
            return False
        return f'"key": "{key}"' in self.path.read_text(encoding="utf-8")

    def __call__(self, verdict: CalibrationVerdict) -> None:
        if self.path is not None:
            append(self.path, verdict)


async def _rubric(
    judge: JudgeModel, cal: CalibrationSet, key: str, keep: _Keep, progress: Progress | None
) -> tuple[QualificationResult, list[CalibrationVerdict]]:
    todo = [(cid, "gold", text) for cid, text in cal.gold.items()]
    todo += [(it.case_id, it.kind, it.text) for it in cal.items]
    streak = FailureStreak(judge.label)
    verdicts = []
    for i, (cid, answer, text) in enumerate(todo):
        case = cal.cases[cid]
        ids = [aid for aid, _ in rubric.aspect_list(case)]
        got, raw, _, spent = await ask_with_retry(
            judge,
            rubric.score_messages(case, text),
            lambda reply, ids=ids, cand=text: parse_score(reply, ids, candidate=cand),  # type: ignore[misc]
            rubric.retry_message(),
        )
        streak.see(got.error)
        score = got.score if got.ok else None
        verdicts.append(
            CalibrationVerdict(
                judge.label, "rubric", key, cid, answer, score, error=got.error, raw=raw, seconds=spent
            )
        )
        keep(verdicts[-1])
        if progress:
            progress("qualify rubric", i + 1, len(todo))
    gold = {v.case_id: v.score for v in verdicts if v.answer == "gold"}
    bad = {v.answer: v.score for v in verdicts if v.answer != "gold"}
    return _result(grade_scores(cal.items, gold, bad), verdicts), verdicts


async def _pairwise(
    judge: JudgeModel, cal: CalibrationSet, key: str, keep: _Keep, progress: Progress | None
) -> tuple[QualificationResult, list[CalibrationVerdict]]:
    streak = FailureStreak(judge.label)
    verdicts = []
    jobs = [(it, gold_first) for it in cal.items for gold_first in (True, False)]
    for i, (it, gold_first) in enumerate(jobs):
        case, gold = cal.cases[it.case_id], cal.gold[it.case_id]
        a, b = (gold, it.text) if gold_first else (it.text, gold)
        got, raw, _, spent = await ask_with_retry(
            judge,
            rubric.pairwise_messages(case, a, b),
            lambda reply, c=(a, b): parse_winner(reply, candidate=c),  # type: ignore[misc]
            rubric.pairwise_retry_message(),
        )
        streak.see(got.error)
        winner = got.winner if got.ok else None
        verdicts.append(
            CalibrationVerdict(
                judge.label,
                "pairwise",
                key,
                it.case_id,
                it.kind,
                None,
                winner,
                gold_first,
                got.error,
                raw,
                spent,
            )
        )
        keep(verdicts[-1])
        if progress:
            progress("qualify pairwise", i + 1, len(jobs))
    winners = {(v.answer, bool(v.gold_first)): v.winner for v in verdicts}
    return _result(grade_pairs(cal.items, winners), verdicts), verdicts


def _result(grade: Any, verdicts: Sequence[CalibrationVerdict]) -> QualificationResult:
    secs = [v.seconds for v in verdicts if v.seconds > 0]
    failed = sum(failed_request(v.error) for v in verdicts)
    return QualificationResult.model_validate(
        {
            **asdict(grade),
            "qualified": grade.qualified and not failed,
            "failed_requests": failed,
            "verdicts": len(verdicts),
            "seconds_per_verdict": round(float(np.mean(secs)), 3) if secs else None,
        }
    )


async def qualify(
    judge: JudgeModel,
    modes: Sequence[Mode],
    cache: JudgeCache,
    run_dir: Path | None = None,
    progress: Progress | None = None,
    cal: CalibrationSet | None = None,
) -> Qualification:
    """The judge's qualification in each of ``modes``, from the cache or by asking it."""
    cal = cal or default_set()
    keep = _Keep(run_dir)
    parts: dict[str, QualificationResult] = {}
    for mode in modes:
        key = _key(judge, mode, cal)
        hit = cache.get(key)
        if hit is not None:
            result = QualificationResult.model_validate(hit["result"])
            if not keep.has(key):  # a run folder holds each test's verdicts once
                for v in hit["verdicts"]:
                    keep(CalibrationVerdict(**{**v, "judge": judge.label, "cached": True}))
        else:
            run = _rubric if mode == "rubric" else _pairwise
            result, verdicts = await run(judge, cal, key, keep, progress)
            if not result.failed_requests:
                cache.put(key, {"result": result.model_dump(), "verdicts": [asdict(v) for v in verdicts]})
        parts[mode] = result
    return Qualification(
        calibration=CALIBRATION_VERSION,
        threshold=THRESHOLD,
        prompts={mode: prompt_version(mode) for mode in MODES},
        **parts,
    )
