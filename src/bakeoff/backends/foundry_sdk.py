"""Foundry Local's SDK, found and started once: the manager, catalog lookups and the public catalog's
reachability. Used by the backend (``foundry``) and its catalog hooks (``foundry_catalog``)."""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path
from typing import Any

from bakeoff.errors import BackendUnavailableError, ModelError

INSTALL_HINT = (
    "pip install 'bakeoff[foundry]' (foundry-local-sdk 2.x, Linux x86-64/ARM64, Windows, macOS arm64)"
)
_manager_lock = threading.Lock()
PUBLIC_CATALOG = "https://api.catalog.azureml.ms"


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
