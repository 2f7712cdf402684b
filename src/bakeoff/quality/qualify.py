"""Judge qualification: ask a loaded judge for its verdicts on the calibration set (gold answers against
their corruptions, ``quality.calibration``) with the same prompts it judges with, and grade them.

A result is cached by (judge, mode, prompt version, calibration version), so a judge qualifies once per
machine; each verdict is also appended to the run's ``qualification.jsonl`` as evidence (a cached
result brings its verdicts with it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..config import load_suite
from ..results import Qualification, QualificationResult
from . import rubric
from .calibration import (
    CALIBRATION_VERSION,
    THRESHOLD,
    CalibrationSet,
    calibration_set,
    grade_pairs,
    grade_scores,
)
from .judge_model import FailureStreak, JudgeCache, JudgeModel, Progress, ask_with_retry, failed_request
from .parse import parse_score, parse_winner
from .store import sha

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


def _key(judge: JudgeModel, mode: Mode, cal: CalibrationSet) -> str:
    version = rubric.RUBRIC_VERSION if mode == "rubric" else rubric.PAIRWISE_VERSION
    texts = [cal.gold[k] for k in sorted(cal.gold)] + [it.text for it in cal.items]
    return sha(json.dumps([judge.key_id, "qualification", mode, version, CALIBRATION_VERSION, texts]))


async def _rubric(
    judge: JudgeModel, cal: CalibrationSet, progress: Progress | None
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
                judge.label, "rubric", cid, answer, score, error=got.error, raw=raw, seconds=spent
            )
        )
        if progress:
            progress("qualify rubric", i + 1, len(todo))
    gold = {v.case_id: v.score for v in verdicts if v.answer == "gold"}
    bad = {v.answer: v.score for v in verdicts if v.answer != "gold"}
    return _result(grade_scores(cal.items, gold, bad), verdicts), verdicts


async def _pairwise(
    judge: JudgeModel, cal: CalibrationSet, progress: Progress | None
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
                judge.label, "pairwise", it.case_id, it.kind, None, winner, gold_first, got.error, raw, spent
            )
        )
        if progress:
            progress("qualify pairwise", i + 1, len(jobs))
    winners = {(v.answer, bool(v.gold_first)): v.winner for v in verdicts}
    return _result(grade_pairs(cal.items, winners), verdicts), verdicts


def _result(grade: Any, verdicts: Sequence[CalibrationVerdict]) -> QualificationResult:
    secs = [v.seconds for v in verdicts if v.seconds > 0]
    return QualificationResult.model_validate(
        {
            **asdict(grade),
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
    parts: dict[str, QualificationResult] = {}
    for mode in modes:
        key = _key(judge, mode, cal)
        hit = cache.get(key)
        if hit is not None:
            result = QualificationResult.model_validate(hit["result"])
            verdicts = [
                CalibrationVerdict(**{**v, "judge": judge.label, "cached": True}) for v in hit["verdicts"]
            ]
        else:
            run = _rubric if mode == "rubric" else _pairwise
            result, verdicts = await run(judge, cal, progress)
            if not any(failed_request(v.error) for v in verdicts):  # a judge that did not answer: ask again
                cache.put(key, {"result": result.model_dump(), "verdicts": [asdict(v) for v in verdicts]})
        if run_dir is not None:
            with (run_dir / QUALIFICATION_FILE).open("a", encoding="utf-8") as fh:
                fh.writelines(json.dumps(asdict(v)) + "\n" for v in verdicts)
        parts[mode] = result
    return Qualification(calibration=CALIBRATION_VERSION, threshold=THRESHOLD, **parts)
