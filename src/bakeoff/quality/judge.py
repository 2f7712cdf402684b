"""``bakeoff judge``: a secondary model scores every output against its aspects, or compares two
models' answers in both orders. Temperature 0 and a fixed seed; a candidate never judges itself;
one retry on an unreadable reply; every verdict cached by (judge, rubric version, case, output)."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from bakeoff.backends.targets import ModelTarget
from bakeoff.config.settings import PromptCase
from bakeoff.errors import BakeoffError
from bakeoff.quality import rubric
from bakeoff.quality.identity import self_models
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
from bakeoff.quality.qualify import MODES
from bakeoff.quality.qualify import qualify as run_qualification
from bakeoff.quality.store import (
    JUDGMENTS_FILE,
    PAIRWISE_FILE,
    Judgment,
    Output,
    PairVerdict,
    append,
    sha,
)
from bakeoff.results.schema import Qualification, Summary


@dataclass
class JudgeOutcome:
    """What one ``bakeoff judge`` call did."""

    judge: str
    judged: int = 0
    cached: int = 0
    unparsed: int = 0
    skipped_self: tuple[str, ...] = ()
    calls: int = 0
    pairs: int = 0
    fresh: int = 0
    """Verdicts asked of the judge in this call (not from the cache)."""
    judge_seconds: float = 0.0
    """Time spent waiting for those verdicts, retries included."""
    info: dict[str, Any] = field(default_factory=dict)
    qualification: Qualification | None = None
    """The judge's result on the calibration set for the mode it judged in (None: not tested)."""


def _keep(verdict: Any, path: Path, streak: FailureStreak, done: list[Any]) -> None:
    """Append a verdict to the run's file as it arrives, and stop a judge that no longer answers."""
    append(path, verdict)
    streak.see(verdict.error)
    done.append(verdict)


async def score_outputs(
    judge: JudgeModel,
    cases: dict[str, PromptCase],
    outs: Sequence[Output],
    run_dir: Path,
    cache: JudgeCache,
    progress: Progress | None = None,
) -> list[Judgment]:
    """Rubric-score each output; append each judgment to judgments.jsonl as it arrives."""
    done: list[Judgment] = []
    streak = FailureStreak(judge.label)
    for i, o in enumerate(outs):
        case = cases[o.case_id]
        how = [judge.key_id, rubric.RUBRIC_VERSION, judge.max_tokens]  # a lower limit can cut a verdict
        key = sha(json.dumps([*how, case_fingerprint(case), o.output_sha]))
        hit = cache.get(key)
        if hit is not None:
            j = replace(Judgment(**hit), model=o.model, judge=judge.label, cached=True)
        else:
            ids = [aid for aid, _ in rubric.aspect_list(case)]
            got, raw, attempts, spent = await ask_with_retry(
                judge,
                rubric.score_messages(case, o.text),
                lambda text, ids=ids, cand=o.text: parse_score(text, ids, candidate=cand),  # type: ignore[misc]
                rubric.retry_message(),
            )
            j = Judgment(
                key=key,
                judge=judge.label,
                rubric=rubric.RUBRIC_VERSION,
                model=o.model,
                case_id=o.case_id,
                output_sha=o.output_sha,
                ok=got.ok,
                score=got.score if got.ok else None,
                aspects=got.aspects if got.ok else {},
                via=got.via,
                reason=got.reason,
                error=got.error,
                raw=raw,
                attempts=attempts,
                seconds=round(spent, 4),
            )
            if not failed_request(j.error):
                cache.put(key, asdict(j))
        _keep(j, run_dir / JUDGMENTS_FILE, streak, done)
        if progress:
            progress("score", i + 1, len(outs))
    return done


def pair_key(judge: JudgeModel, case: PromptCase, first: Output, second: Output) -> str:
    how = [judge.key_id, rubric.PAIRWISE_VERSION, judge.max_tokens]
    return sha(json.dumps([*how, case_fingerprint(case), first.output_sha, second.output_sha]))


async def compare_pairs(
    judge: JudgeModel,
    cases: dict[str, PromptCase],
    outs: Sequence[Output],
    models: Sequence[str],
    run_dir: Path,
    cache: JudgeCache,
    progress: Progress | None = None,
) -> list[PairVerdict]:
    """Both orders of every pair of models on every case both answered (first answer of each)."""
    first: dict[tuple[str, str], Output] = {}
    for o in outs:
        first.setdefault((o.model, o.case_id), o)
    jobs: list[tuple[PromptCase, Output, Output]] = []
    for case in cases.values():
        for a, b in itertools.combinations(models, 2):
            oa, ob = first.get((a, case.id)), first.get((b, case.id))
            if oa and ob:
                jobs += [(case, oa, ob), (case, ob, oa)]
    done: list[PairVerdict] = []
    streak = FailureStreak(judge.label)
    for i, (case, x, y) in enumerate(jobs):
        key = pair_key(judge, case, x, y)
        hit = cache.get(key)
        if hit is not None:
            v = replace(PairVerdict(**hit), first=x.model, second=y.model, judge=judge.label, cached=True)
        else:
            got, raw, attempts, spent = await ask_with_retry(
                judge,
                rubric.pairwise_messages(case, x.text, y.text),
                lambda text, c=(x.text, y.text): parse_winner(text, candidate=c),  # type: ignore[misc]
                rubric.pairwise_retry_message(),
            )
            v = PairVerdict(
                key=key,
                judge=judge.label,
                rubric=rubric.PAIRWISE_VERSION,
                case_id=case.id,
                first=x.model,
                second=y.model,
                ok=got.ok,
                winner=got.winner if got.ok else None,
                error=got.error,
                raw=raw,
                attempts=attempts,
                seconds=round(spent, 4),
            )
            if not failed_request(v.error):
                cache.put(key, asdict(v))
        _keep(v, run_dir / PAIRWISE_FILE, streak, done)
        if progress:
            progress("pairwise", i + 1, len(jobs))
    return done


def run_judge(
    run_dir: Path,
    summary: Summary,
    cases: Sequence[PromptCase],
    outs: Sequence[Output],
    target: ModelTarget,
    *,
    pairwise: bool = False,
    use_cache: bool = True,
    max_tokens: int = 256,
    timeout_s: float = 120.0,
    progress: Progress | None = None,
    qualify: Literal["first", "only", "skip"] = "first",
    on_qualified: Callable[[str, Qualification], None] | None = None,
) -> JudgeOutcome:
    """Judge every output of ``outs`` except the judge's own; with ``pairwise`` compare models too.

    ``qualify``: ``first`` tests the judge on the calibration set in the mode it is about to judge in
    (cached), ``only`` tests it in both modes and judges nothing, ``skip`` does not test it.
    ``on_qualified(label, qualification)`` is called as soon as it is known, before any judging, so a
    caller can save it even if the judging is interrupted."""
    judge = JudgeModel(target, max_tokens=max_tokens, timeout_s=timeout_s)
    cache = JudgeCache(enabled=use_cache)
    by_id = {c.id: c for c in cases}

    async def main() -> JudgeOutcome:
        try:
            await judge.load()
        except BakeoffError:
            await judge.close()
            raise
        try:
            mine = self_models(summary, judge.target, judge.info)
            todo = [o for o in outs if o.model not in mine and o.case_id in by_id]
            res = JudgeOutcome(judge=judge.label, skipped_self=tuple(sorted(mine)), info=judge.info)
            if qualify != "skip":
                modes = MODES if qualify == "only" else (("pairwise",) if pairwise else ("rubric",))
                res.qualification = await run_qualification(judge, modes, cache, run_dir, progress)
                if on_qualified is not None:
                    on_qualified(judge.label, res.qualification)
            if qualify == "only":
                return res
            if pairwise:
                models = [m.model for m in summary.models if m.model not in mine and m.status == "ok"]
                verdicts = await compare_pairs(judge, by_id, todo, models, run_dir, cache, progress)
                res.pairs = len(verdicts)
                res.cached = sum(v.cached for v in verdicts)
                res.unparsed = sum(not v.ok for v in verdicts)
                res.calls = sum(v.attempts for v in verdicts if not v.cached)
                res.fresh = sum(not v.cached for v in verdicts)
                res.judge_seconds = sum(v.seconds for v in verdicts if not v.cached)
            else:
                judged = await score_outputs(judge, by_id, todo, run_dir, cache, progress)
                res.judged = len(judged)
                res.cached = sum(j.cached for j in judged)
                res.unparsed = sum(not j.ok for j in judged)
                res.calls = sum(j.attempts for j in judged if not j.cached)
                res.fresh = sum(not j.cached for j in judged)
                res.judge_seconds = sum(j.seconds for j in judged if not j.cached)
            return res
        finally:
            await judge.close()

    return asyncio.run(main())


__all__ = ["JudgeCache", "JudgeModel", "JudgeOutcome", "run_judge"]
