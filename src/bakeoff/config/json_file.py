"""Reading a JSON configuration file so that every error names the file, line and key: UTF-8 (a
byte-order mark allowed), no key twice in one object, and pydantic's errors turned into a location."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from bakeoff.errors import ConfigError


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads`` keeps the last of two equal keys without a word; a config file may not."""
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKey(k)
        out[k] = v
    return out


def _read_json(path: Path) -> tuple[Any, str]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("file not found", source=str(path), hint="check the path you passed") from None
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror or exc}", source=str(path)) from None
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark (Notepad's UTF-8) is not an error
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            source=str(path),
            line=line,
            hint="save it as UTF-8",
        ) from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates), text
    except _DuplicateKey as dup:
        key, first, second = _first_duplicate(text) or (dup.key, None, None)
        where = f" (lines {first} and {second})" if first else ""
        raise ConfigError(
            f"key {key.rsplit('.', 1)[-1]!r} appears twice{where}; JSON would silently keep only the last",
            source=str(path),
            line=second,
            key=key,
            hint="keep one of them",
        ) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"invalid JSON: {exc.msg} (column {exc.colno})",
            source=str(path),
            line=exc.lineno,
            hint="fix the JSON syntax at that line",
        ) from None


def _first_duplicate(text: str) -> tuple[str, int, int] | None:
    """(dotted key path, first line, second line) of the first key repeated within one JSON object
    (the decoder only says which key; this finds where, in the object that repeats it)."""
    containers: list[tuple[str, dict[str, int] | None]] = []  # (path, keys seen; None for a list)
    last_key = ""
    string: str | None = None
    string_line = 0
    i, n, line = 0, len(text), 1
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            string, string_line = text[i + 1 : j], line
            i = j + 1
            continue
        if c == "\n":
            line += 1
        elif c == ":" and string is not None and containers and containers[-1][1] is not None:
            path, seen = containers[-1]
            assert seen is not None
            full = f"{path}.{string}" if path else string
            if string in seen:
                return full, seen[string], string_line
            seen[string] = string_line
            last_key = full
        elif c in "{[":
            parent = containers[-1][0] if containers else ""
            if containers and containers[-1][1] is not None:
                parent = last_key
            containers.append((parent, {} if c == "{" else None))
        elif c in "}]" and containers:
            containers.pop()
        if not c.isspace():
            string = None
        i += 1
    return None


def locate(text: str, loc: tuple[int | str, ...]) -> int | None:
    """Best-effort line number of a key path (strings are object keys, ints list indexes)."""
    pos = 0
    for part in loc:
        if isinstance(part, str):
            m = re.compile(r'"' + re.escape(part) + r'"\s*:').search(text, pos)
            if not m:
                break
            pos = m.start()
        else:
            # advance to the part-th element of the list that starts after pos
            start = text.find("[", pos)
            if start < 0:
                break
            pos = _nth_element(text, start, part)
    return text.count("\n", 0, pos) + 1


def _nth_element(text: str, list_start: int, index: int) -> int:
    """Offset of the index-th element of the JSON list whose '[' is at list_start."""
    depth, count, in_str, esc = 0, 0, False, False
    element_start = list_start + 1
    for i in range(list_start + 1, len(text)):
        c = text[i]
        if in_str:
            if esc:
                esc = False
            elif c == "\\":
                esc = True
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c in "[{":
            depth += 1
        elif c in "]}":
            if depth == 0:
                break
            depth -= 1
        elif c == "," and depth == 0:
            count += 1
            if count > index:
                break
            element_start = i + 1
    while element_start < len(text) and text[element_start] in " \t\r\n":
        element_start += 1
    return element_start


def _raise_validation(
    exc: ValidationError, path: Path, text: str, prefix: tuple[int | str, ...], model: type[BaseModel]
) -> None:
    # a misspelt key is usually the cause of a "field required" beside it: report it first
    err = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
    loc = (*prefix, *err["loc"])
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = f"unknown key {loc[-1]!r}"
    hint = None
    if err["type"] == "extra_forbidden" and len(err["loc"]) == 1:
        hint = f"allowed keys: {', '.join(model.model_fields)}"
    more = len(exc.errors()) - 1
    if more:
        msg += f" (and {more} more error{'s' if more > 1 else ''})"
    where = loc[:-1] if err["type"] == "missing" else loc  # a missing key's line is its object's
    raise ConfigError(msg, source=str(path), line=locate(text, where), key=key, hint=hint) from None
