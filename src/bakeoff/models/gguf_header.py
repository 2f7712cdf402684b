"""Read a GGUF file's header (metadata and tensor table) without loading it: what memory-fit prediction
needs, in pure Python (no llama.cpp, no weights read).

The format (GGUF v2/v3, little-endian): magic ``GGUF``, version, tensor count, metadata count, the
metadata as typed key/value pairs, then one entry per tensor (name, dimensions, type, offset into the
data section, which starts at the next multiple of ``general.alignment`` after the table).
"""

from __future__ import annotations

import itertools
import mmap
import struct
from dataclasses import dataclass
from math import prod
from pathlib import Path
from typing import Any

from bakeoff.errors import ModelError

_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9
_SKIPPED_ARRAY_ITEMS = 64
"""Arrays longer than this (a vocabulary's tokens, scores, merges) keep only their length."""


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int
    nbytes: int
    """Bytes it takes in the data section (to the next tensor's offset: alignment padding included)."""


@dataclass(frozen=True)
class GgufHeader:
    """A GGUF file's metadata (long arrays as their length: ``ArrayLen``) and tensor table."""

    path: Path
    version: int
    metadata: dict[str, Any]
    tensors: tuple[TensorInfo, ...]
    data_offset: int
    file_size: int

    def get(self, key: str, default: Any = None) -> Any:
        """``key`` under the model's architecture (``block_count`` is ``llama.block_count``), else as is."""
        arch = self.metadata.get("general.architecture", "")
        return self.metadata.get(f"{arch}.{key}", self.metadata.get(key, default))

    @property
    def tensor_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors)

    @property
    def parameters(self) -> int:
        return sum(prod(t.shape) for t in self.tensors)


@dataclass(frozen=True)
class ArrayLen:
    """A metadata array kept as its element type and length only."""

    item_type: int
    length: int


class _Reader:
    def __init__(self, buf: mmap.mmap, path: Path) -> None:
        self.buf, self.pos, self.path = buf, 0, path

    def scalar(self, fmt: str) -> Any:
        try:
            (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        except struct.error:
            raise ModelError(
                f"{self.path}: the GGUF header ends early (at byte {self.pos})",
                hint="the file is truncated: download it again",
            ) from None
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        n = self.scalar("<Q")
        if self.pos + n > len(self.buf):
            raise ModelError(
                f"{self.path}: a GGUF string runs past the end of the file", hint="download it again"
            )
        raw = self.buf[self.pos : self.pos + n]
        self.pos += n
        return bytes(raw).decode("utf-8", errors="replace")

    def value(self, kind: int) -> Any:
        if kind in _SCALARS:
            return self.scalar(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item, n = self.scalar("<I"), self.scalar("<Q")
            if n <= _SKIPPED_ARRAY_ITEMS:
                return [self.value(item) for _ in range(n)]
            if item in _SCALARS:
                self.pos += n * struct.calcsize(_SCALARS[item])
            else:
                for _ in range(n):
                    self.value(item)
            return ArrayLen(item, n)
        raise ModelError(
            f"{self.path}: unknown GGUF value type {kind} at byte {self.pos}", hint="is it a GGUF file?"
        )


def read_header(path: Path) -> GgufHeader:
    """The header of the GGUF file at ``path``; ``ModelError`` naming the file when it is not one."""
    path = Path(path)
    with path.open("rb") as fh:
        size = path.stat().st_size
        if size < 24:
            raise ModelError(f"{path}: {size} bytes is too short for a GGUF file", hint="download it again")
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            if buf[:4] != b"GGUF":
                raise ModelError(
                    f"{path} is not a GGUF file (no GGUF magic)", hint="give llama.cpp a .gguf file"
                )
            r = _Reader(buf, path)
            r.pos = 4
            version, n_tensors, n_kv = r.scalar("<I"), r.scalar("<Q"), r.scalar("<Q")
            metadata = {}
            for _ in range(n_kv):
                key = r.string()
                metadata[key] = r.value(r.scalar("<I"))
            raw = []
            for _ in range(n_tensors):
                name = r.string()
                dims = tuple(r.scalar("<Q") for _ in range(r.scalar("<I")))
                raw.append((name, dims, r.scalar("<I"), r.scalar("<Q")))
            align = int(metadata.get("general.alignment", 32))
            data_offset = -(-r.pos // align) * align
    ends = sorted({off for *_, off in raw} | {size - data_offset})
    next_of = dict(itertools.pairwise(ends))
    tensors = tuple(
        TensorInfo(name, dims, kind, off, next_of.get(off, size - data_offset) - off)
        for name, dims, kind, off in raw
    )
    return GgufHeader(path, version, metadata, tensors, data_offset, size)
