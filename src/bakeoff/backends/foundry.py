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
import json
import os
import socket
import threading
import time
from collections.abc import AsyncIterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from ..config import ModelSpec
from ..errors import BackendUnavailableError, BakeoffError, ModelError, RequestError
from .base import ChatRequest, Completion, Event, TextDelta
from .threaded import Put, stream_from_thread

INSTALL_HINT = (
    "pip install 'bakeoff[foundry]' (foundry-local-sdk 2.x, Linux x86-64/ARM64, Windows, macOS arm64)"
)
_manager_lock = threading.Lock()
PUBLIC_CATALOG = "https://api.catalog.azureml.ms"
_OPTIONS = frozenset({"realtime_stream", "stream_interval_ms"})


_reachable: dict[str, bool] = {}


def public_catalog_reachable(timeout_s: float = 1.5) -> bool:
    """Whether the public catalog's host answers a TCP connect within ``timeout_s`` (name lookup
    included, which a socket timeout does not bound). Asked once per process: offline, listing and
    removing models answer at once instead of waiting on the SDK's own, much longer, timeouts."""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True  # through a proxy a direct connect says nothing: let the SDK try
    if PUBLIC_CATALOG not in _reachable:
        host = PUBLIC_CATALOG.split("//", 1)[-1].split("/", 1)[0]
        ok: list[bool] = []

        def probe() -> None:
            try:
                socket.create_connection((host, 443), timeout=timeout_s).close()
                ok.append(True)
            except OSError:
                pass

        t = threading.Thread(target=probe, daemon=True)
        t.start()
        t.join(timeout_s)
        _reachable[PUBLIC_CATALOG] = bool(ok)
    return _reachable[PUBLIC_CATALOG]


def sdk() -> Any:
    """The imported ``foundry_local_sdk`` module, or a clear error saying how to install it."""
    try:
        import foundry_local_sdk
    except ImportError as exc:
        raise BackendUnavailableError(
            f"foundry-local-sdk is not importable: {exc}", hint=INSTALL_HINT
        ) from None
    return foundry_local_sdk


def manager() -> Any:
    """The process-wide ``FoundryLocalManager`` (initialised once, with app name ``bakeoff``)."""
    fl = sdk()
    with _manager_lock:
        if fl.FoundryLocalManager.instance is None:
            try:
                # the native runtime logs to the terminal; keep it to fatal errors unless asked
                level = os.environ.get("FOUNDRY_LOCAL_LOG_LEVEL", "Fatal")
                fl.FoundryLocalManager.initialize(
                    fl.Configuration(app_name="bakeoff", log_level=fl.LogLevel(level))
                )
            except Exception as exc:
                raise BackendUnavailableError(
                    f"Foundry Local could not start: {type(exc).__name__}: {exc}",
                    hint="check that the foundry-local-sdk wheel matches this platform (glibc 2.28+ on x64)",
                ) from None
        return fl.FoundryLocalManager.instance


def local_model_id(name: str) -> str:
    """A canonical ``<name>:<version>`` id for a bring-your-own model."""
    return name if ":" in name else f"{name}:1"


def find_model(ref: str, path: str | None = None) -> Any:
    """A catalog model by alias or variant id: the local catalog first (registering ``path`` when
    given and not yet known), then the public catalog. Raises ``ModelError`` saying what was tried."""
    fl = sdk()
    mgr = manager()
    local = mgr.get_catalog(fl.CatalogType.LOCAL)
    model = local.get_model_variant(local_model_id(ref)) or local.get_model(ref)
    if model is not None and path and not _same_path(model, Path(path)):
        # registered before from another folder (a re-import): point it at this one
        local.unregister_model(model.id)
        model = None
    if model is None and path:
        folder = Path(path).expanduser()
        if not (folder / "genai_config.json").is_file():
            raise ModelError(
                f"{folder} is not an ONNX Runtime GenAI model folder (no genai_config.json)",
                hint="convert a model with `bakeoff models import PATH --name ALIAS --to foundry`",
            )
        with fl.ModelInfoBuilder() as meta:
            meta.set_string_property("task", "chat-completion")
            meta.set_string_property("display_name", ref)
            model = local.register_model(model_path=str(folder), model_id=local_model_id(ref), metadata=meta)
    if model is not None:
        return model
    offline = ModelError(
        f"Foundry Local model {ref!r} is not registered locally, and the public catalog "
        f"({PUBLIC_CATALOG}) could not be read: offline?",
        hint="connect to the internet to use catalog models, or bring one in with "
        "`bakeoff models import PATH --name ALIAS --to foundry`",
    )
    if not public_catalog_reachable():
        raise offline
    try:
        public = mgr.catalog
        model = public.get_model_variant(ref) or public.get_model(ref)
        if model is None and not public.list_models():  # an unreachable catalog reads as empty
            raise offline
    except ModelError:
        raise
    except Exception:  # the public catalog needs the internet
        raise offline from None
    if model is None:
        raise ModelError(
            f"no Foundry Local model {ref!r} in the local or public catalog",
            hint="`bakeoff models list --backend foundry` shows what exists",
        )
    return model


def _config_provider(path: str | None) -> str:
    """The execution provider a GenAI folder's ``genai_config.json`` asks for (none listed: CPU)."""
    if not path:
        return "default"
    try:
        cfg = json.loads((Path(path) / "genai_config.json").read_text(encoding="utf-8"))
        opts = cfg["model"]["decoder"]["session_options"].get("provider_options") or []
    except (OSError, ValueError, KeyError, TypeError):
        return "default (genai_config.json)"
    names = [next(iter(o)) for o in opts if isinstance(o, dict) and o]
    return ", ".join(names) if names else "CPUExecutionProvider"


def _same_path(model: Any, folder: Path) -> bool:
    try:
        return Path(model.get_path()).resolve() == folder.expanduser().resolve()
    except Exception:
        return False


def _runtime(model: Any) -> tuple[str | None, str | None]:
    try:
        rt = model.info.runtime
    except Exception:
        return None, None
    if rt is None:
        return None, None
    device = getattr(rt.device_type, "value", rt.device_type)
    return (str(device) if device else None), (rt.execution_provider or None)


class FoundryBackend:
    """One Foundry Local model loaded in this process; one generation at a time."""

    kind = "foundry"
    supports_streaming = True
    in_process = True

    @classmethod
    def spec_for(cls, ref: str, endpoint: str | None) -> ModelSpec:
        """``foundry:ALIAS``: a model imported with ``--to foundry`` (bakeoff's registry), else a Foundry
        catalog alias or id."""
        from ..registry import registered_specs

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
                                if getattr(item, "type", None) not in (None, fl.TextItemType.DEFAULT):
                                    continue  # reasoning text is not part of the answer
                                n += 1
                                put(TextDelta(time.perf_counter_ns(), item.text, 1))
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
