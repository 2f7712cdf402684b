"""Foundry Local in-process, through ``foundry-local-sdk`` 2.x (``pip install 'bakeoff[foundry]'``).

The model is found in the public catalog by alias or variant id, or in the local catalog (bring your
own model: an ONNX Runtime GenAI folder, registered under ``<name>:<version>`` if it is not yet).
Each request runs in a fresh ``ChatSession`` (a session is stateful across turns: reusing one grows
the context every round), streams one ``TextItem`` per token in a worker thread that stamps each one
as it arrives, and takes usage from the final response when the runtime gives it, else the native
count of streamed items. The variant and execution provider go on every summary row, so GPU and CPU
variants of one alias can sit side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from bakeoff.backends.base import ChatRequest, Completion, Event, TextDelta
from bakeoff.backends.foundry_sdk import (
    INSTALL_HINT,
    PUBLIC_CATALOG,
    _config_provider,
    _runtime,
    find_model,
    local_model_id,
    manager,
    public_catalog_reachable,
    sdk,
)
from bakeoff.backends.threaded import Put, stream_from_thread
from bakeoff.config.settings import ModelSpec
from bakeoff.errors import BakeoffError, ModelError, RequestError

__all__ = [
    "INSTALL_HINT",
    "PUBLIC_CATALOG",
    "FoundryBackend",
    "find_model",
    "local_model_id",
    "manager",
    "public_catalog_reachable",
    "sdk",
]

_OPTIONS = frozenset({"realtime_stream", "stream_interval_ms"})


class FoundryBackend:
    """One Foundry Local model loaded in this process; one generation at a time."""

    kind = "foundry"
    supports_streaming = True
    in_process = True

    @classmethod
    def spec_for(cls, ref: str, endpoint: str | None) -> ModelSpec:
        """``foundry:ALIAS``: a model imported with ``--to foundry`` (bakeoff's registry), else a Foundry
        catalog alias or id."""
        from bakeoff.models.registry import registered_specs

        mine = registered_specs().get(ref)
        return (
            mine
            if mine is not None and mine.backend == "foundry"
            else ModelSpec(backend="foundry", model=ref)
        )

    @classmethod
    def doctor_checks(cls) -> list[tuple[str, bool, str]]:
        """Can the SDK and its native runtime start?"""
        try:
            sdk()
            manager()
        except BakeoffError as exc:
            return [("engine Foundry Local", False, f"{exc.message} ({exc.hint})")]
        from importlib.metadata import version

        return [("engine Foundry Local", True, f"foundry-local-sdk {version('foundry-local-sdk')}")]

    # catalog hooks (bakeoff.backends.catalog calls these through the backend registry)
    @classmethod
    def catalog_entries(cls, include_public: bool, endpoint: str | None) -> tuple[list[Any], list[str]]:
        from bakeoff.backends.foundry_catalog import entries

        return entries(include_public)

    @classmethod
    def cached_entries(cls) -> list[Any]:
        from bakeoff.backends.foundry_catalog import cached

        return cached()

    @classmethod
    def cache_locations(cls) -> dict[str, str]:
        from bakeoff.backends.foundry_catalog import cache_location

        return cache_location()

    @classmethod
    def remove_cached(cls, alias: str) -> str | None:
        from bakeoff.backends.foundry_catalog import remove_cached

        return remove_cached(alias)

    @classmethod
    def cache_note(cls) -> str | None:
        from bakeoff.backends.foundry_catalog import unreadable_note

        return unreadable_note()

    @classmethod
    def download(cls, ref: str, progress: Any) -> str | None:
        from bakeoff.backends.foundry_catalog import download

        return download(ref, progress)

    @classmethod
    def import_model(cls, path: Path, alias: str, say: Any) -> tuple[str, str]:
        from bakeoff.backends.foundry_catalog import import_model

        return import_model(path, alias, say)

    @classmethod
    def option_problems(cls, options: dict[str, Any]) -> list[str]:
        """models.json ``options`` this backend does not know (checked before any model loads)."""
        unknown = set(options) - _OPTIONS
        return (
            [f"unknown foundry options {sorted(unknown)}; known: {', '.join(sorted(_OPTIONS))}"]
            if unknown
            else []
        )

    def __init__(self, name: str, spec: ModelSpec) -> None:
        self.name = name
        self.spec = spec
        self.ref = spec.model or name
        self.model: Any = None
        self._lock = asyncio.Lock()
        self.realtime = bool(spec.options.get("realtime_stream", False))
        self.interval_s = float(spec.options.get("stream_interval_ms", 0)) / 1000

    async def load(self) -> float:
        start = time.perf_counter()
        model = await asyncio.to_thread(find_model, self.ref, self.spec.path)
        try:
            await asyncio.to_thread(model.load)
        except Exception as exc:
            # a registered local model is never "cached"; a catalog one must be downloaded first
            if not self.spec.path and not model.is_cached:
                raise ModelError(
                    f"Foundry Local model {model.id} is not downloaded",
                    hint=f"bakeoff models download {self.ref}",
                ) from None
            raise ModelError(f"Foundry Local could not load {model.id}: {exc}") from None
        self.model = model
        return time.perf_counter() - start

    def describe(self) -> dict[str, Any]:
        try:
            sdk_version = version("foundry-local-sdk")
        except PackageNotFoundError:
            sdk_version = "unknown"
        info: dict[str, Any] = {"engine": f"Foundry Local SDK {sdk_version} (onnxruntime-genai)"}
        if self.model is not None:
            device, ep = _runtime(self.model)
            info.update({"variant": self.model.id, "alias": self.model.alias, "device": device or "cpu"})
            info["execution_provider"] = ep or _config_provider(self.spec.path)
            try:
                path = self.model.get_path()
                info["path"] = path
                size = sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
                info["disk_mb"] = round(size / 1e6, 1)
            except Exception:
                pass
        return info

    def _produce(self, request: ChatRequest, put: Put, stop: threading.Event) -> None:
        fl = sdk()
        roles = {
            "system": fl.MessageItem.system,
            "user": fl.MessageItem.user,
            "assistant": fl.MessageItem.assistant,
        }
        n = 0
        try:
            with fl.ChatSession(self.model) as session:  # fresh per request: no history carried over
                session.set_options(
                    fl.RequestOptions(
                        search=fl.SearchOptions(
                            temperature=request.temperature,
                            max_output_tokens=request.max_tokens,
                            seed=request.seed,
                            top_p=request.top_p,
                        )
                    )
                )
                session.set_streaming(True)
                with fl.Request() as req:
                    for m in request.messages:
                        req.add_item(roles.get(m["role"], fl.MessageItem.user)(m["content"]))
                    usage, finish = None, None
                    with session.process_streaming_request(req) as stream:
                        for item in stream:
                            if stop.is_set():
                                break
                            if isinstance(item, fl.TextItem) and item.text:
                                thinking = getattr(item, "type", None) not in (None, fl.TextItemType.DEFAULT)
                                n += 1
                                put(TextDelta(time.perf_counter_ns(), item.text, 1, thinking))
                        t_end = time.perf_counter_ns()
                        if not stop.is_set():
                            try:
                                with stream.final_response as final:
                                    usage = final.get_usage()
                                    finish = final.finish_reason
                            except Exception:
                                usage = None
            completion = usage.completion_tokens if usage and usage.completion_tokens else None
            put(
                Completion(
                    t_end,
                    usage.prompt_tokens if usage and usage.prompt_tokens else None,
                    completion or n,
                    "usage" if completion else "native",
                    {2: "stop", 3: "length"}.get(int(finish)) if finish is not None else None,
                )
            )
            put(None)
        except Exception as exc:
            put(RequestError("engine_error", f"Foundry Local: {type(exc).__name__}: {exc}"))

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[Event]:
        if self.model is None:
            raise RequestError("not_loaded", f"{self.name} is not loaded")

        def produce(put: Put, stop: threading.Event) -> None:
            self._produce(request, put, stop)

        async for ev in stream_from_thread(produce, request, self._lock, self.realtime, self.interval_s):
            yield ev

    async def close(self) -> None:
        if self.model is not None:
            model, self.model = self.model, None
            with contextlib.suppress(Exception):
                await asyncio.to_thread(model.unload)
