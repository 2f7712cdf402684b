"""``bakeoff doctor``: the session's verification checklist as one command.

The cache is readable and writable; the engines the targets need are installed; every target model
appears where it should (in the cache, or at the endpoint's ``/v1/models``) and answers a short chat
request. Each check passes or fails with a reason.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from bakeoff.backends.base import ChatRequest, Completion, TextDelta, make_backend
from bakeoff.backends.plugins import load_backend_class
from bakeoff.backends.targets import ModelTarget
from bakeoff.config.settings import normalize_endpoint
from bakeoff.errors import BakeoffError
from bakeoff.models import embedded


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check_cache() -> Check:
    root = embedded.cache_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / ".bakeoff-write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        return Check(
            "cache", False, f"{root} is not writable: {exc} (set BAKEOFF_CACHE to a writable folder)"
        )
    ready = [m.alias for m in embedded.EMBEDDED.values() if embedded.is_ready(m)]
    size = sum(embedded.model_path(embedded.EMBEDDED[a]).stat().st_size for a in ready) / 1e6
    return Check(
        "cache",
        True,
        f"{root}: {len(ready)} verified models, {size:.0f} MB ({', '.join(ready) or 'none yet'})",
    )


def check_engine(targets: Sequence[ModelTarget]) -> list[Check]:
    """Each backend in use checks its own engine (``doctor_checks`` on the backend class)."""
    out: list[Check] = []
    for name in dict.fromkeys(t.backend for t in targets if not t.error):
        try:
            checks = getattr(load_backend_class(name), "doctor_checks", None)
            out += [Check(label, ok, detail) for label, ok, detail in (checks() if checks else [])]
        except BakeoffError as exc:
            why = f"{exc.message} ({exc.hint})" if exc.hint else exc.message
            out.append(Check(f"engine {name}", False, why))
        except Exception as exc:  # a plugin's check that crashes is a failed check, not a crash
            out.append(Check(f"engine {name}", False, f"{type(exc).__name__}: {exc}"))
    return out


def check_endpoint(endpoint: str, names: Sequence[str]) -> list[Check]:
    url = normalize_endpoint(endpoint) + "/models"
    try:
        r = httpx.get(url, timeout=10)
        r.raise_for_status()
        ids = [m["id"] for m in r.json()["data"]]
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        return [Check("endpoint", False, f"GET {url} failed: {exc}")]
    out = [Check("endpoint", True, f"GET {url}: {len(ids)} models")]
    for name in names:
        out.append(
            Check(
                f"listed {name}",
                name in ids,
                "listed at the endpoint"
                if name in ids
                else f"not in {url} (it lists: {', '.join(ids) or 'nothing'})",
            )
        )
    return out


async def check_answers(target: ModelTarget, timeout_s: float) -> Check:
    """Load the model and ask for a few tokens; report load time, TTFT and tokens."""
    if target.error or target.spec is None:
        return Check(f"answers {target.name}", False, target.error or "no spec")
    try:
        backend = make_backend(load_backend_class(target.backend), target.name, target.spec)
        load_s = await backend.load()
        req = ChatRequest(
            messages=({"role": "user", "content": "Reply with the word OK."},),
            max_tokens=8,
            temperature=0.0,
            timeout_s=timeout_s,
        )
        t0 = time.perf_counter()
        first: float | None = None
        text, done = "", None
        try:
            async for ev in backend.stream_chat(req):
                if isinstance(ev, TextDelta) and ev.text:
                    first = first or time.perf_counter() - t0
                    text += ev.text
                elif isinstance(ev, Completion):
                    done = ev
        finally:
            await backend.close()
    except BakeoffError as exc:
        return Check(f"answers {target.name}", False, exc.message)
    except Exception as exc:
        return Check(f"answers {target.name}", False, f"{type(exc).__name__}: {exc}")
    if done is None or not text.strip():
        return Check(f"answers {target.name}", False, "empty answer")
    ttft = f"TTFT {first * 1000:.0f} ms, " if first is not None and backend.supports_streaming else ""
    return Check(
        f"answers {target.name}",
        True,
        f"load {load_s:.2f} s, {ttft}{done.completion_tokens} tokens: {text.strip()[:40]!r}",
    )


def run_doctor(targets: Sequence[ModelTarget], endpoint: str | None, timeout_s: float = 60.0) -> list[Check]:
    checks = [check_cache(), *check_engine(targets)]
    if endpoint:
        here = normalize_endpoint(endpoint)
        ids = [
            t.spec.model or t.name
            for t in targets
            if t.spec and t.spec.base_url and normalize_endpoint(t.spec.base_url) == here
        ]
        checks += check_endpoint(endpoint, ids)
    for t in targets:
        checks.append(asyncio.run(check_answers(t, timeout_s)))
    return checks
