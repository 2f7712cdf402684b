"""A loaded judge model and what every verdict needs: the verdict cache, one request at temperature 0
with a fixed seed, one retry on an unreadable reply, and a stop when the judge no longer answers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bakeoff.backends.base import Backend, ChatRequest, TextDelta, make_backend
from bakeoff.backends.plugins import load_backend_class
from bakeoff.backends.targets import ModelTarget
from bakeoff.config.settings import PromptCase
from bakeoff.errors import BakeoffError, ModelError
from bakeoff.models import embedded
from bakeoff.quality.identity import judge_key_id, judge_label
from bakeoff.quality.parse import Parsed
from bakeoff.quality.store import sha

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
            if isinstance(ev, TextDelta) and not ev.reasoning:  # a reasoning judge's thinking is no verdict
                parts.append(ev.text)
        return "".join(parts), time.perf_counter() - t0

    async def close(self) -> None:
        if self.backend is not None:
            await self.backend.close()


async def ask_with_retry(
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


class FailureStreak:
    """Stops a judge run after 5 requests in a row that got no answer (a dead or stalled judge)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.count = 0

    def see(self, error: str | None) -> None:
        self.count = self.count + 1 if failed_request(error) else 0
        if self.count >= MAX_FAILURE_STREAK:
            raise ModelError(
                f"judge {self.label} failed {self.count} requests in a row ({error}); stopped",
                hint="check the judge model or endpoint; verdicts so far are kept in the run folder "
                "and cached, so running the same command again resumes",
            )
