"""Model lifecycle across engines: list, download, cache, remove, import.

Sources of models: bakeoff's registry (models you imported or downloaded, ``~/.cache/bakeoff/registry.json``),
your models.json, and every backend's own catalog hooks: llama.cpp's PyPI-shipped GGUFs and hub
downloads, an OpenAI-compatible endpoint's ``/v1/models``, Foundry Local's local and public catalogs.
This module iterates the registered backends (``catalog_entries``, ``cached_entries``, ``cache_locations``,
``remove_cached``, ``cache_note``, ``download``, ``import_model``) and names none of them, so a plugin's
backend lists, downloads and imports its models the same way. Nothing here deletes a file bakeoff did
not create.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bakeoff.backends.plugins import backend_names, backend_trait
from bakeoff.config.settings import ModelSpec
from bakeoff.errors import BackendUnavailableError, DownloadError, ModelError, ModelNotFoundError, UsageError
from bakeoff.models import embedded
from bakeoff.models.entry import Entry, Progress
from bakeoff.models.entry import size_mb as _size_mb
from bakeoff.models.registry import home, load_registry, registry_path, save_registry

__all__ = [
    "Entry",
    "Progress",
    "cache_locations",
    "cached_entries",
    "download",
    "import_model",
    "list_models",
]


def _hooks(name: str) -> list[tuple[str, Any]]:
    """``(backend, hook)`` for every registered backend that has the class hook ``name``."""
    return [(b, h) for b in backend_names() if (h := backend_trait(b, name, None)) is not None]


# -------------------------------------------------------------------------------------------------
# listing


def registry_entries() -> list[Entry]:
    out = []
    for alias, r in load_registry().items():
        p = Path(r.path)
        out.append(
            Entry(
                alias=alias,
                id=r.model or p.name,
                backend=r.backend,
                source="imported",
                device="cpu",
                size_mb=_size_mb(p),
                license=r.license,
                capabilities=tuple(r.capabilities),
                cached=p.exists(),
                path=r.path,
            )
        )
    return out


def models_file_entries(user_models: dict[str, ModelSpec]) -> list[Entry]:
    from bakeoff.backends.targets import infer_backend

    return [
        Entry(
            alias=alias,
            id=spec.model or spec.path or spec.embedded or spec.adapter or alias,
            backend=infer_backend(alias, spec),
            source="models.json",
            size_mb=spec.size_mb,
            license=spec.license,
            capabilities=tuple(spec.capabilities),
            cached=Path(spec.path).exists() if spec.path else None,
            path=spec.path,
        )
        for alias, spec in user_models.items()
    ]


def list_models(
    backend: str | None = None,
    cached_only: bool = False,
    user_models: dict[str, ModelSpec] | None = None,
    endpoint: str | None = None,
) -> tuple[list[Entry], list[str]]:
    """Every model bakeoff knows of, with warnings for sources that could not be read."""
    entries: list[Entry] = []
    warnings: list[str] = []
    for name, hook in _hooks("catalog_entries"):
        if backend not in (None, name):
            continue
        try:
            found, warn = hook(not cached_only, endpoint)
        except Exception as exc:  # a plugin's catalog failing is a warning, never the listing
            found, warn = [], [f"{name}: listing failed: {type(exc).__name__}: {exc}"]
        entries += [e for e in found if not any(e.id == x.id for x in entries)]
        # an engine that is not installed is only worth a line when it was asked for (or has models)
        warnings += warn if backend == name or found else [w for w in warn if "unreachable" in w]
    mine = [*registry_entries(), *models_file_entries(user_models or {})]
    entries += [e for e in mine if not any(e.id == x.id for x in entries)]
    # built-in models first, then yours, then what servers and catalogs offer
    order = {"pypi": 0, "imported": 1, "models.json": 2}
    entries.sort(key=lambda e: order.get(e.source, 3))
    if backend:
        entries = [e for e in entries if e.backend == backend]
    if cached_only:
        entries = [e for e in entries if e.cached]
    return entries, warnings


# -------------------------------------------------------------------------------------------------
# download


def download(ref: str, progress: Progress | None = None, alias: str | None = None) -> str:
    """Fetch a model so it runs offline later (the first backend that knows ``ref``); returns a line
    saying where it is."""
    unavailable: list[str] = []
    for name, hook in _hooks("download"):
        try:
            line = hook(ref, progress, alias) if _takes_alias(hook) else hook(ref, progress)
        except DownloadError:
            raise  # a model this backend knows failed to download: that is the answer
        except (BackendUnavailableError, ModelError) as exc:  # not installed, or not its model
            unavailable.append(f"{name}: {exc.message}")
            continue
        if line is not None:
            return str(line)
    known = ", ".join(embedded.EMBEDDED)
    raise ModelError(
        f"unknown model {ref!r}: not a PyPI-shipped alias ({known}), not hf:OWNER/REPO/FILE.gguf"
        + (f", and {'; '.join(unavailable)}" if unavailable else ""),
        hint="`bakeoff models list` shows what can be downloaded",
    )


def _takes_alias(hook: Any) -> bool:
    import inspect

    try:
        return "alias" in inspect.signature(hook).parameters
    except (TypeError, ValueError):
        return False


# -------------------------------------------------------------------------------------------------
# cache


def cache_locations() -> dict[str, str]:
    out: dict[str, str] = {}
    for _, hook in _hooks("cache_locations"):
        try:
            out.update(hook())
        except Exception:
            continue
    out.update(
        {
            "imported / converted / hub models": str(home()),
            "registry of imported models": str(registry_path()),
            "judge verdicts": str(home() / "judgments"),
        }
    )
    return out


def cached_entries() -> list[Entry]:
    """What is on disk, with its size: every backend's cached models and what you imported."""
    entries: list[Entry] = []
    for _, hook in _hooks("catalog_entries"):
        try:
            found, _ = hook(False, None)
        except Exception:
            continue
        entries += [e for e in found if e.cached]
    entries += [e for e in registry_entries() if e.cached]
    for _, hook in _hooks("cached_entries"):
        try:
            entries += [e for e in hook() if not any(e.id == x.id for x in entries)]
        except Exception:
            continue
    return entries


def remove(alias: str) -> str:
    """Remove a cached model: a backend's cached copy, or the registry entry and the files bakeoff made."""
    reg = load_registry()
    if alias in reg:
        item = reg.pop(alias)
        save_registry(reg)
        path = Path(item.path)
        if item.owned and path.exists() and home() in path.resolve().parents:
            size = _size_mb(path)
            shutil.rmtree(path) if path.is_dir() else path.unlink()
            return f"{alias}: unregistered and removed {path} ({size} MB)"
        return f"{alias}: unregistered ({path} is yours and was left in place)"
    for _, hook in _hooks("remove_cached"):
        line = hook(alias)
        if line is not None:
            return str(line)
    notes = [n for _, hook in _hooks("cache_note") if (n := hook())]
    msg = f"no cached model named {alias!r}" + (f" in bakeoff's cache; {'; '.join(notes)}" if notes else "")
    raise ModelNotFoundError(msg, hint="`bakeoff models cache list` shows what is cached")


# -------------------------------------------------------------------------------------------------
# import


def import_model(
    path: Path, alias: str, to: str | None = None, log: Callable[[str], None] | None = None
) -> tuple[str, str]:
    """Bring your own model: the ``to`` backend's ``import_model`` hook registers it (llama.cpp, the
    default: a GGUF file; Foundry Local: a GGUF file or Hugging Face folder converted to ONNX Runtime
    GenAI). Returns (what was done, how to name the model in ``--models``)."""
    say = log or (lambda _msg: None)
    path = path.expanduser().resolve()
    if not path.exists():
        raise UsageError(f"{path} does not exist")
    if alias in embedded.EMBEDDED:
        raise UsageError(f"{alias!r} is a built-in model alias", hint="choose another --name")
    importers = dict(_hooks("import_model"))
    default = next((b for b in importers if backend_trait(b, "import_by_default", False)), None)
    target = to or default
    if target not in importers:
        raise UsageError(f"unknown target {to!r}", hint=f"--to one of: {', '.join(importers)}")
    line, use = importers[target](path, alias, say)
    return str(line), str(use)
