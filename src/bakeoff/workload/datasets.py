"""Prompts from a dataset file, read offline: ``bakeoff bench --dataset FILE [--column NAME] [--samples N]``.

- **CSV** (``.csv``): one prompt per row, from the column ``--column`` (default ``prompt``).
- **JSON Lines** (``.jsonl``) or a **JSON list** (``.json``) of objects: the field ``--column``
  (default ``prompt``), or for a conversation, its first user turn: ShareGPT's
  ``{"conversations": [{"from": "human", "value": ...}, ...]}`` or OpenAI-style
  ``{"messages": [{"role": "user", "content": ...}, ...]}``.

The column, when an object has it, wins over a conversation in the same object. Empty and null prompts are
skipped; any other value that is not text is an error naming its line. ``--samples N`` takes N rows at
random with the run's seed (the same seed always takes the same rows), kept in file order. Each
prompt's id is ``STEM-ROW``: the row's number in a CSV file (1 = the first row after the header), its
line in a JSON Lines file, its index in a JSON list; so records say which row they came from.
"""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path
from typing import Any

from bakeoff.config.settings import PromptCase
from bakeoff.errors import ConfigError, UsageError

SUFFIXES = (".csv", ".jsonl", ".json")
USER_ROLES = ("human", "user")


def _text(value: Any) -> str | None:
    """A prompt's text: a string, an OpenAI content list's text parts joined, "" for null; else None."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(p, dict) for p in value):
        return "\n".join(str(p["text"]) for p in value if p.get("type") == "text" and "text" in p)
    return None


def _turn(obj: dict[str, Any]) -> Any:
    """The content of a conversation's first user turn ("" without one); ``...`` when not a conversation."""
    for key, role_key, text_key in (("conversations", "from", "value"), ("messages", "role", "content")):
        turns = obj.get(key)
        if isinstance(turns, list):
            first = next((t for t in turns if isinstance(t, dict) and t.get(role_key) in USER_ROLES), None)
            return "" if first is None else first.get(text_key)
    return ...


def _from_object(obj: Any, column: str, path: Path, line: int | None, key: str | None) -> str:
    def fail(message: str, hint: str | None = None) -> ConfigError:
        return ConfigError(message, source=str(path), line=line, key=key, hint=hint)

    if not isinstance(obj, dict):
        raise fail(f"expected a JSON object, got {type(obj).__name__}")
    value = obj[column] if column in obj else _turn(obj)
    if value is ...:
        raise fail(
            f"no field {column!r} (it has: {', '.join(map(str, obj)) or 'nothing'})",
            'name the prompt field with --column, or give a conversation ("conversations" or "messages")',
        )
    text = _text(value)
    if text is None:
        raise fail(f"the prompt is {type(value).__name__}, not text")
    return text


def read_rows(path: Path, column: str | None = None) -> list[tuple[str, str]]:
    """Every (row id, prompt) of a dataset file, in file order, empty prompts skipped."""
    col = column or "prompt"
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise UsageError(f"{path} is not a dataset file", hint=f"use one of {', '.join(SUFFIXES)}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", source=str(path), hint="save it as UTF-8") from None
    except OSError as exc:
        raise UsageError(f"cannot read dataset {path}: {exc.strerror or exc}") from None
    rows: list[tuple[str, str]] = []
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))  # quoted newlines stay in their field
        fields = reader.fieldnames or []
        if col not in fields:
            raise ConfigError(
                f"no column {col!r} (its columns: {', '.join(fields) or 'none'})",
                source=str(path),
                line=1,
                hint="name the prompt column with --column",
            )
        for n, row in enumerate(reader, 1):
            rows.append((str(n), row.get(col) or ""))
    elif suffix == ".jsonl":
        for n, line in enumerate(text.split("\n"), 1):  # not splitlines(): U+2028 may sit inside a string
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as exc:
                raise ConfigError(f"not valid JSON: {exc}", source=str(path), line=n) from None
            rows.append((str(n), _from_object(obj, col, path, n, None)))
    else:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"not valid JSON: {exc}", source=str(path)) from None
        if not isinstance(data, list):
            raise ConfigError("expected a JSON list of objects", source=str(path), line=1)
        for i, obj in enumerate(data):
            rows.append((str(i), _from_object(obj, col, path, None, str(i))))
    kept = [(rid, p) for rid, p in rows if p.strip()]
    if not kept:
        raise ConfigError("no prompts found", source=str(path))
    return kept


def load_dataset(
    path: str | Path, column: str | None = None, samples: int | None = None, seed: int | None = 0
) -> list[PromptCase]:
    """The prompts of a dataset file as prompt cases (``samples`` of them, drawn with ``seed``)."""
    p = Path(path)
    rows = read_rows(p, column)
    if samples is not None:
        if samples < 1:
            raise UsageError("--samples must be at least 1")
        if samples > len(rows):
            raise UsageError(
                f"--samples {samples} but {p} has {len(rows)} prompt rows",
                hint=f"give --samples {len(rows)} or fewer, or leave it out to take every row",
            )
        if samples < len(rows):
            picked = sorted(random.Random(seed).sample(range(len(rows)), samples))
            rows = [rows[i] for i in picked]
    return [PromptCase(id=f"{p.stem}-{rid}", prompt=text) for rid, text in rows]
