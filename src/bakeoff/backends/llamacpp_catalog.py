"""llama.cpp's side of the model catalog: the PyPI-shipped GGUFs, GGUF files from a hub, and GGUF
files you bring. ``LlamaCppBackend`` exposes these as its catalog hooks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bakeoff.errors import UsageError
from bakeoff.models import embedded
from bakeoff.models.download import fetch, hub_remote, settings_from_env
from bakeoff.models.entry import Entry, Progress, size_mb
from bakeoff.models.registry import Registered, home, register
from bakeoff.results.folder import utc_now


def entries() -> list[Entry]:
    """The PyPI-shipped models, assembled or not."""
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


def cache_locations() -> dict[str, str]:
    return {"bakeoff models (PyPI-shipped GGUFs)": str(embedded.cache_dir())}


def remove_cached(alias: str) -> str | None:
    """Remove an assembled PyPI-shipped model; None when ``alias`` is not one."""
    import shutil

    if alias not in embedded.EMBEDDED:
        return None
    folder = embedded.model_path(embedded.EMBEDDED[alias]).parent
    if not folder.exists():
        return f"{alias}: not cached"
    size = size_mb(folder)
    shutil.rmtree(folder)
    return f"{alias}: removed {folder} ({size} MB)"


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


def download(ref: str, progress: Progress | None, alias: str | None = None) -> str | None:
    """An embedded alias (assembled and verified) or ``hf:OWNER/REPO/FILE.gguf``; None otherwise."""
    if ref in embedded.EMBEDDED:
        model = embedded.EMBEDDED[ref]
        if embedded.is_ready(model):
            return f"{ref}: already cached at {embedded.model_path(model)}"
        path = embedded.ensure(model, (lambda d, t: progress(ref, d, t)) if progress else None)
        return f"{ref}: assembled and sha256-verified at {path}"
    hub = parse_hub_ref(ref)
    if hub is None:
        return None
    repo, filename = hub
    knobs = settings_from_env()
    dest = home() / "hub" / repo.replace("/", "--") / filename
    if dest.exists():
        file = dest  # only a verified file ever gets its name: this one is complete
    else:
        remote = hub_remote(repo, filename, stall_s=knobs.get("stall_s", 30.0))
        show = (lambda done, total: progress(ref, done, total or 0)) if progress else None
        file = fetch(
            remote,
            dest,
            progress=show,
            stall_s=knobs.get("stall_s", 30.0),
            retries=int(knobs.get("retries", 4)),
            backoff_s=knobs.get("backoff_s", 1.0),
        ).path
    name = alias or Path(filename).stem.lower()
    register(name, Registered("llamacpp", str(file), "gguf", f"hf:{repo}/{filename}", utc_now(), owned=True))
    return f"{name}: downloaded {filename} to {file}"


def is_gguf(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"GGUF"
    except OSError:
        return False


def import_model(path: Path, alias: str, say: Callable[[str], None]) -> tuple[str, str]:
    """Register a GGUF file for llama.cpp; (what was done, how to name it in ``--models``)."""
    if path.is_file() and is_gguf(path):
        register(alias, Registered("llamacpp", str(path), "gguf", str(path), utc_now()))
        return f"{alias}: registered {path} for llama.cpp ({size_mb(path)} MB)", alias
    if path.is_dir() and (path / "config.json").is_file():
        raise UsageError(
            f"{path} is a Hugging Face folder; llama.cpp runs GGUF files",
            hint="convert it with llama.cpp's convert_hf_to_gguf.py and import the .gguf, "
            "or run it on Foundry Local with --to foundry",
        )
    raise UsageError(f"{path} is neither a GGUF file nor a Hugging Face model folder")
