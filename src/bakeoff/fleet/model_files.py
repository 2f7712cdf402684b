"""A user's model files on the nodes of a fleet: a GGUF file or a converted folder named by ``path`` in
the fleet's models file.

The driver lists the files with their sizes and sha256 (``describe_files``). Each node then decides
(``plan``): it uses its own copy when it holds the same bytes at the same path, or one it was sent
before (kept in its cache under the model's digest); otherwise the driver ships the files through
Ray's object store in chunks, and the node writes them to a temporary folder, checks every file's
sha256 against the driver's and only then moves the folder into its cache (``place``). A file that
arrives different fails that model on that node with both digests; nothing half-written is kept.

Per group, ``ship_models`` says what a node may do: ``auto`` (its own copy, its cache, else shipped),
``always`` (shipped every run: what ran is exactly the driver's bytes) or ``never`` (its own copy or
the model fails there).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import shutil
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bakeoff.errors import ConfigError, DownloadError
from bakeoff.models.embedded import cache_dir, sha256_file

CHUNK_BYTES = 64 * 2**20
"""One object in Ray's object store: a 4 GB model is 64 objects, each written as it arrives."""
ShipPolicy = Literal["auto", "always", "never"]


@dataclass(frozen=True)
class FileEntry:
    """One file of a model: its path from the model's parent folder (``model.gguf``, or
    ``my-model/genai_config.json`` in a folder), its size and sha256."""

    rel: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ModelFiles:
    """A model's files as the driver has them at ``path`` (a file, or a folder when ``folder``)."""

    alias: str
    path: str
    folder: bool
    files: tuple[FileEntry, ...]

    @property
    def digest(self) -> str:
        """A single file's sha256; for a folder, the sha256 of its listing (each file's path, size
        and sha256, one line each, in path order)."""
        if not self.folder:
            return self.files[0].sha256
        lines = "".join(f"{f.rel}\0{f.size}\0{f.sha256}\n" for f in self.files)
        return hashlib.sha256(lines.encode()).hexdigest()

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def name(self) -> str:
        return Path(self.path).name


def _entries(path: Path, hashed: bool) -> tuple[FileEntry, ...]:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return tuple(
        FileEntry(p.relative_to(path.parent).as_posix(), p.stat().st_size, sha256_file(p) if hashed else "")
        for p in files
    )


def describe_files(alias: str, path: str | Path) -> ModelFiles | None:
    """The files of the model at ``path`` on this machine, hashed; None when this machine does not have
    it (then each node must hold it itself). An empty folder is a ``ConfigError``."""
    p = Path(path).expanduser()
    if not p.exists():
        return None
    files = ModelFiles(alias, str(p), p.is_dir(), _entries(p, hashed=True))
    if not files.files:
        raise ConfigError(
            f"model {alias!r}: {p} is an empty folder", hint="point its path at the model's files"
        )
    return files


def _same_listing(local: Path, files: ModelFiles) -> bool:
    """``local`` exists, is a file or a folder as the model is, and has the same files and sizes."""
    if not local.exists() or local.is_dir() != files.folder:
        return False
    return [(e.rel, e.size) for e in _entries(local, hashed=False)] == [(f.rel, f.size) for f in files.files]


def holds(local: Path, files: ModelFiles) -> bool:
    """Whether ``local`` is the same model: the same kind, the same files and sizes, the same sha256
    for each (hashed only once the listing and sizes agree). A copy this process cannot read is not."""
    try:
        return _same_listing(local, files) and all(
            sha256_file(local.parent / f.rel) == f.sha256 for f in files.files
        )
    except OSError:
        return False


def cache_root() -> Path:
    """Where a node keeps the model files it was sent: ``<bakeoff cache>/fleet-models``."""
    return cache_dir().parent / "fleet-models"


def cached_path(files: ModelFiles, root: Path) -> Path:
    """Where ``place`` keeps this model: under its digest, by its own name (two names with the same
    bytes are two copies, neither replacing the other)."""
    return root / files.digest[:32] / files.name


def plan(
    files: ModelFiles | None, local: Path, policy: ShipPolicy, root: Path
) -> tuple[Literal["found", "cached", "ship", "missing"], Path | None]:
    """What a node does for a model: use ``local`` (its own copy), the copy it was sent before, have
    the driver ship it, or fail it (``missing``). Without the driver's listing (``files`` None: the
    driver does not have the model) only the node's own copy can run, unchecked."""
    if files is None:
        return ("found", local) if local.exists() else ("missing", None)
    if policy == "always":
        return "ship", None
    if holds(local, files):
        return "found", local
    cached = cached_path(files, root)
    if holds(cached, files):  # checked again: a cached copy may have changed since it was placed
        return "cached", cached
    return ("missing", None) if policy == "never" else ("ship", None)


def chunk_count(entry: FileEntry, chunk_bytes: int = CHUNK_BYTES) -> int:
    return max(1, math.ceil(entry.size / chunk_bytes))


def read_chunk(files: ModelFiles, index: int, chunk: int, chunk_bytes: int = CHUNK_BYTES) -> bytes:
    """Chunk ``chunk`` of file ``index`` of the model, as the driver has it."""
    entry = files.files[index]
    with (Path(files.path).parent / entry.rel).open("rb") as fh:
        fh.seek(chunk * chunk_bytes)
        return fh.read(chunk_bytes)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # PermissionError: alive, another user's
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _scratch(files: ModelFiles, root: Path, kind: str) -> Path:
    """A temporary folder of this process on this host: ``.DIGEST-KIND@HOST@PID.part``."""
    return root / f".{files.digest[:32]}-{kind}@{socket.gethostname()}@{os.getpid()}.part"


def clear_stale(root: Path) -> None:
    """Remove this host's temporary folders of transfers whose process is gone (a node killed
    mid-transfer). Another host's (a cache shared over the network) are never judged from here."""
    here = socket.gethostname()
    for tmp in root.glob(".*@*@*.part"):
        _, host, pid = tmp.name.removesuffix(".part").split("@")
        if host == here and (not pid.isdigit() or int(pid) == os.getpid() or not _alive(int(pid))):
            shutil.rmtree(tmp, ignore_errors=True)


def place(files: ModelFiles, chunks: Callable[[int], Iterable[bytes]], root: Path) -> Path:
    """Write the model from ``chunks(i)`` (file i's chunks in order) into a temporary folder, check each
    file's size and sha256 against the driver's, then move it into the cache; the model's path there.
    A file that differs raises ``DownloadError`` and leaves nothing behind (nor do transfers of
    processes that died mid-way: cleared first)."""
    final = cached_path(files, root)
    tmp = _scratch(files, root, "new")
    root.mkdir(parents=True, exist_ok=True)
    clear_stale(root)
    try:
        for i, entry in enumerate(files.files):
            target = tmp / entry.rel
            target.parent.mkdir(parents=True, exist_ok=True)
            digest, size = hashlib.sha256(), 0
            with target.open("wb") as fh:
                for block in chunks(i):
                    digest.update(block)
                    size += len(block)
                    fh.write(block)
            if size != entry.size or digest.hexdigest() != entry.sha256:
                raise DownloadError(
                    f"{files.alias}: {entry.rel} arrived as {size} bytes with sha256 {digest.hexdigest()}; "
                    f"the driver's is {entry.size} bytes with sha256 {entry.sha256}",
                    hint="the model was not used on this node; run again (a transfer error) or check "
                    "that the driver's file is not being written to",
                )
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.is_dir():  # an earlier folder under this name: moved aside at once, then removed
            old = _scratch(files, root, "old")
            with contextlib.suppress(FileNotFoundError):  # another process moved it first
                os.replace(final, old)
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.replace(tmp / files.name, final)  # a file replaces a file at once
        except OSError:  # a folder another process on this host moved in first: the same, if it checks
            if not holds(final, files):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
