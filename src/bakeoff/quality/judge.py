"""``bakeoff judge``: a secondary model scores every output against its aspects, or compares two
models' answers in both orders. Temperature 0 and a fixed seed; a candidate never judges itself;
one retry on an unreadable reply; every verdict cached by (judge, rubric version, case, output)."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import embedded
from ..backends.base import Backend, ChatRequest, TextDelta, make_backend
from ..config import PromptCase
from ..errors import BakeoffError, ModelError
from ..plugins import load_backend_class
from ..results import Summary
from ..targets import ModelTarget
from . import rubric
from .identity import judge_key_id, judge_label, self_models
from .parse import Parsed, parse_score, parse_winner
from .store import (
    JUDGMENTS_FILE,
    PAIRWISE_FILE,
    Judgment,
    Output,
    PairVerdict,
    append,
    sha,
)

Progress = Callable[[str, int, int], None]


def cache_root() -> Path:
    """``~/.cache/bakeoff/judgments`` (follows BAKEOFF_CACHE / XDG_CACHE_HOME)."""
    return embedded.cache_dir().parent / "judgments"


class JudgeCache:
    """One small JSON file per verdict key; ``enabled=False`` neither reads nor writes."""

    def __init__(self, root: Path | None = None, enabled: bool = True) -> None:
        self.root = root or cache_root()
        self.enabled = enabled

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        if not self.enabled:
            return None
        try:
            data: dict[str, Any] = json.loads(self._path(key).read_text(encoding="utf-8"))
            return data
        except (OSError, ValueError):
            return None

    def put(self, key: str, value: dict[str, Any]) -> None:
        if not self.enabled:
            return
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(value), encoding="utf-8")
            tmp.replace(path)
        except OSError:
            pass  # a read-only cache costs only speed


def case_fingerprint(case: PromptCase) -> str:
    return sha(json.dumps(case.model_dump(mode="json", include={"prompt", "source", "reference", "aspects"})))


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


class JudgeModel:
    """A loaded judge: ask it a chat at temperature 0 with a fixed seed and read the whole reply."""

    def __init__(self, target: ModelTarget, max_tokens: int = 256, timeout_s: float = 120.0, seed: int = 0):
        if target.error or target.spec is None:
            raise ModelError(f"judge {target.name!r}: {target.error or 'unknown model'}")
        self.target = target
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.seed = seed
        self.backend: Backend | None = None
        self.info: dict[str, Any] = {}
        self.label = target.name
        self.key_id = target.name

    async def load(self) -> None:
        spec = self.target.spec
        assert spec is not None
        self.backend = make_backend(load_backend_class(self.target.backend), self.target.name, spec)
        await self.backend.load()
        self.info = self.backend.describe()
        self.label = judge_label(self.target, self.info)
        self.key_id = judge_key_id(self.target, self.info)

    async def ask(self, messages: Sequence[dict[str, str]]) -> tuple[str, float]:
        assert self.backend is not None
        req = ChatRequest(
            messages=tuple(messages),
            max_tokens=self.max_tokens,
            temperature=0.0,
            seed=self.seed,
            stream=self.backend.supports_streaming,
            timeout_s=self.timeout_s,
        )
        t0 = time.perf_counter()
        parts: list[str] = []
        async for ev in self.backend.stream_chat(req):
            if isinstance(ev, TextDelta):
                parts.append(ev.text)
        return "".join(parts), time.perf_counter() - t0

    async def close(self) -> None:
        if self.backend is not None:
            await self.backend.close()


async def _ask_with_retry(
    judge: JudgeModel,
    messages: tuple[dict[str, str], ...],
    parse: Callable[[str], Parsed],
    retry: dict[str, str],
) -> tuple[Parsed, str, int, float]:
    """Ask; if the reply cannot be read, ask once more with the reply in context. Failures of the
    request itself are unparsed verdicts with the error, never a score."""
    spent = 0.0
    try:
        raw, s = await judge.ask(messages)
    except BakeoffError as exc:
        return Parsed(False, error=f"{REQUEST_FAILED}: {exc.message}"), "", 1, spent
    spent += s
    got = parse(raw)
    if got.ok:
        return got, raw, 1, spent
    try:
        raw2, s = await judge.ask((*messages, {"role": "assistant", "content": raw}, retry))
    except BakeoffError as exc:
        return replace(got, error=f"{got.error}; retry failed: {exc.message}"), raw, 2, spent
    spent += s
    got2 = parse(raw2)
    if got2.ok:
        return replace(got2, via=f"retry:{got2.via}"), raw + "\n---retry---\n" + raw2, 2, spent
    return (
        replace(got, error=f"{got.error}; after retry: {got2.error}"),
        raw + "\n---retry---\n" + raw2,
        2,
        spent,
    )


REQUEST_FAILED = "judge request failed"
MAX_FAILURE_STREAK = 5


def failed_request(error: str | None) -> bool:
    """The judge did not answer at all (as opposed to answering unreadably): never cached."""
    return bool(error and error.startswith(REQUEST_FAILED))


class _FailureStreak:
    """Stops a judge run after 5 requests in a row that got no answer (a dead or stalled judge)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.count = 0

    def see(self, error: str | None) -> None:
        self.count = self.count + 1 if failed_request(error) else 0
        if self.count >= MAX_FAILURE_STREAK:
            raise ModelError(
                f"judge {self.label} failed {self.count} requests in a row ({error}); stopped",
                hint="check the judge model or endpoint; verdicts so far are in judgments.jsonl "
                "and cached, so running the same command again resumes",
            )


def _keep(verdict: Any, path: Path, streak: _FailureStreak, done: list[Any]) -> None:
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
    streak = _FailureStreak(judge.label)
    for i, o in enumerate(outs):
        case = cases[o.case_id]
        key = sha(json.dumps([judge.key_id, rubric.RUBRIC_VERSION, case_fingerprint(case), o.output_sha]))
        hit = cache.get(key)
        if hit is not None:
            j = replace(Judgment(**hit), model=o.model, judge=judge.label, cached=True)
        else:
            ids = [aid for aid, _ in rubric.aspect_list(case)]
            got, raw, attempts, spent = await _ask_with_retry(
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


def pair_key(judge: str, case: PromptCase, first: Output, second: Output) -> str:
    return sha(
        json.dumps(
            [judge, rubric.PAIRWISE_VERSION, case_fingerprint(case), first.output_sha, second.output_sha]
        )
    )


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
    streak = _FailureStreak(judge.label)
    for i, (case, x, y) in enumerate(jobs):
        key = pair_key(judge.key_id, case, x, y)
        hit = cache.get(key)
        if hit is not None:
            v = replace(PairVerdict(**hit), first=x.model, second=y.model, judge=judge.label, cached=True)
        else:
            got, raw, attempts, spent = await _ask_with_retry(
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
) -> JudgeOutcome:
    """Judge every output of ``outs`` except the judge's own; with ``pairwise`` compare models too."""
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
