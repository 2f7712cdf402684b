"""Foundry Local's side of the model catalog: its local and public catalogs, its cache, downloads and
bring-your-own conversion. ``FoundryBackend`` exposes these as its catalog hooks; ``bakeoff.backends.catalog``
calls them through the backend registry and never names Foundry itself."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bakeoff.backends import foundry_sdk as foundry
from bakeoff.errors import BakeoffError, DownloadError
from bakeoff.models.entry import Entry, Progress, size_mb
from bakeoff.models.registry import Registered, home, register
from bakeoff.results.folder import utc_now


def _entry(model: Any, source: str) -> Entry:
    info = model.info
    device, ep = foundry._runtime(model)
    caps = tuple(c.strip() for c in (model.capabilities or info.task or "").split(",") if c.strip())
    try:
        loaded = bool(model.is_loaded)
    except Exception:
        loaded = None
    return Entry(
        alias=model.alias,
        id=model.id,
        backend="foundry",
        source=source,
        device=(device or "cpu").lower() + (f" ({ep})" if ep else ""),
        size_mb=float(info.file_size_mb) if info.file_size_mb else None,
        size_is_download=not model.is_cached,
        license=info.license,
        capabilities=caps,
        cached=bool(model.is_cached),
        loaded=loaded,
    )


def entries(include_public: bool = True) -> tuple[list[Entry], list[str]]:
    """Foundry Local's local catalog, then its public catalog (which needs the internet)."""
    warnings: list[str] = []
    try:
        fl = foundry.sdk()
        mgr = foundry.manager()
    except BakeoffError as exc:
        return [], [f"Foundry Local: {exc.message} ({exc.hint})"]
    out = [_entry(m, "foundry local catalog") for m in mgr.get_catalog(fl.CatalogType.LOCAL).list_models()]
    if include_public:
        models: list[Any] = []
        if foundry.public_catalog_reachable():
            try:
                models = mgr.catalog.list_models()
            except Exception as exc:
                warnings.append(f"Foundry Local's public catalog failed: {type(exc).__name__}: {exc}")
        if models:
            public = [
                _entry(v, "foundry catalog") for m in models for v in getattr(m, "variants", None) or [m]
            ]
            save_public_catalog(public)
            out += public
        else:
            saved, when = load_public_catalog()
            out += saved
            warnings.append(
                f"Foundry Local's public catalog ({foundry.PUBLIC_CATALOG}) is unreachable: offline? "
                + (
                    f"Showing its listing saved {when}"
                    if saved
                    else "Only locally registered Foundry models are listed"
                )
            )
    return out, warnings


def _public_catalog_cache() -> Path:
    return home() / "foundry-public-catalog.json"


def save_public_catalog(rows: list[Entry]) -> None:
    """Keep the last public listing, so an offline ``models list`` still shows what exists."""
    try:
        path = _public_catalog_cache()
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"saved_at": time.strftime("%Y-%m-%d %H:%M"), "entries": [asdict(e) for e in rows]}
        path.write_text(json.dumps(data), encoding="utf-8")
    except OSError:
        pass  # a cache is a convenience, never a failure


def load_public_catalog() -> tuple[list[Entry], str]:
    """The saved public listing (its entries marked as saved) and when it was saved; empty if none."""
    try:
        data = json.loads(_public_catalog_cache().read_text(encoding="utf-8"))
        rows = [
            Entry(
                **{
                    **e,
                    "capabilities": tuple(e.get("capabilities") or ()),
                    "source": "foundry catalog (saved)",
                }
            )
            for e in data["entries"]
        ]
        return rows, str(data.get("saved_at", "earlier"))
    except (OSError, ValueError, KeyError, TypeError):
        return [], ""


def cached() -> list[Entry]:
    """Locally registered Foundry models and Foundry Local's cache (sizes from disk)."""
    out: list[Entry] = []
    try:
        fl = foundry.sdk()
        mgr = foundry.manager()
        out += [
            _entry(m, "foundry local catalog") for m in mgr.get_catalog(fl.CatalogType.LOCAL).list_models()
        ]
        # the SDK resolves cached models through the public catalog: offline that waits seconds
        for m in mgr.catalog.get_cached_models() if foundry.public_catalog_reachable() else []:
            e = _entry(m, "foundry cache")
            out.append(Entry(**{**asdict(e), "size_mb": size_mb(Path(m.get_path())), "path": m.get_path()}))
    except Exception:
        pass
    return out


def cache_location() -> dict[str, str]:
    try:
        mgr = foundry.manager()
        models = mgr.catalog.get_cached_models() if mgr and foundry.public_catalog_reachable() else []
    except Exception:
        return {}
    if models:
        return {"Foundry Local models": str(Path(models[0].get_path()).parent)}
    return {"Foundry Local models": "(SDK default cache; nothing cached yet)"}


def remove_cached(alias: str) -> str | None:
    """Remove a model from Foundry Local's cache; None when it is not there. Only what is on disk is
    looked at (never the public catalog, which offline would make this wait for nothing)."""
    if not foundry.public_catalog_reachable():
        return None
    found = [e for e in cached() if e.source == "foundry cache" and alias in (e.id, e.alias)]
    if not found:
        return None
    for m in foundry.manager().catalog.get_cached_models():
        if found[0].id == m.id:
            m.remove_from_cache()
            return f"{alias}: removed {m.id} from Foundry Local's cache"
    return None


def unreadable_note() -> str | None:
    """Why a name may be missing from what ``remove_cached`` can see (offline), or None."""
    if foundry.public_catalog_reachable():
        return None
    return (
        "Foundry Local's cache cannot be read offline (its SDK resolves cached models through its "
        "public catalog)"
    )


def download(ref: str, progress: Progress | None) -> str:
    """Download a catalog model into Foundry Local's cache."""
    foundry.sdk()  # BackendUnavailableError when the SDK is missing
    model = foundry.find_model(ref)
    if model.is_cached:
        return f"{ref}: {model.id} already cached at {model.get_path()}"
    try:
        model.download(progress_callback=(lambda pct: progress(ref, pct, 100.0)) if progress else None)
    except Exception as exc:
        raise DownloadError(
            f"Foundry Local could not download {model.id}: {type(exc).__name__}: {exc}",
            hint="check the internet connection; the download resumes when run again",
        ) from None
    return f"{ref}: downloaded {model.id} to {model.get_path()}"


def import_model(path: Path, alias: str, say: Callable[[str], None]) -> tuple[str, str]:
    """Convert a GGUF file or Hugging Face folder to an ONNX Runtime GenAI folder and register it with
    Foundry Local's local catalog; (what was done, how to name it in ``--models``)."""
    from bakeoff.models.convert import to_onnx_genai

    foundry.sdk()  # before a conversion that would be wasted without it
    out = home() / "converted" / alias
    to_onnx_genai(path, out, say)
    say("registering with Foundry Local's local catalog")
    registered_id = foundry.local_model_id(alias)
    foundry.find_model(alias, str(out))
    register(
        alias, Registered("foundry", str(out), "onnx-genai", str(path), utc_now(), owned=True, model=alias)
    )
    return (
        f"{alias}: converted to {out} ({size_mb(out)} MB) and registered as {registered_id}",
        f"foundry:{alias}",
    )
