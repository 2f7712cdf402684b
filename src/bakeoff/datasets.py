"""Prompts from a dataset file, read offline: ``bakeoff bench --dataset FILE [--column NAME] [--samples N]``.

- **CSV** (``.csv``): one prompt per row, from the column ``--column`` (default ``prompt``).
- **JSON Lines** (``.jsonl``) or a **JSON list** (``.json``) of objects: the field ``--column``
  (default ``prompt``), or for a conversation, its first user turn: ShareGPT's
  ``{"conversations": [{"from": "human", "value": ...}, ...]}`` or OpenAI-style
  ``{"messages": [{"role": "user", "content": ...}, ...]}``.

Empty prompts are skipped. ``--samples N`` takes N rows at random with the run's seed (the same seed
always takes the same rows), kept in file order. Each prompt's id is ``STEM-ROW`` (the row's line in a
CSV or JSONL file, its index in a JSON list), so records say which row they came from.
"""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path
from typing import Any

from .config import PromptCase
from .errors import ConfigError, UsageError

SUFFIXES = (".csv", ".jsonl", ".json")
USER_ROLES = ("human", "user")


def _turn_text(obj: dict[str, Any]) -> str | None:
    """The first user turn of a ShareGPT or OpenAI-style conversation, else None."""
    for key, role_key, text_key in (("conversations", "from", "value"), ("messages", "role", "content")):
        turns = obj.get(key)
        if isinstance(turns, list):
            for t in turns:
                if isinstance(t, dict) and t.get(role_key) in USER_ROLES and isinstance(t.get(text_key), str):
                    return str(t[text_key])
            return ""  # a conversation without a user turn: nothing to send
    return None


def _from_object(obj: Any, column: str, path: Path, line: int | None, key: str | None) -> str:
    if not isinstance(obj, dict):
        raise ConfigError(
            f"expected a JSON object, got {type(obj).__name__}", source=str(path), line=line, key=key
        )
    turn = _turn_text(obj)
    if turn is not None:
        return turn
    if column not in obj:
        raise ConfigError(
            f"no field {column!r} (it has: {', '.join(map(str, obj)) or 'nothing'})",
            source=str(path),
            line=line,
            key=key,
            hint="name the prompt field with --column, or give a conversation "
            '("conversations" or "messages")',
        )
    return str(obj[column])


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
        start = reader.line_num + 1
        for row in reader:
            rows.append((str(start), row.get(col) or ""))  # the line the row starts on
            start = reader.line_num + 1
    elif suffix == ".jsonl":
        for n, line in enumerate(text.splitlines(), 1):
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
            rows.append((str(i), _from_object(obj, col, path, None, f"[{i}]")))
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
        if samples < len(rows):
            picked = sorted(random.Random(seed).sample(range(len(rows)), samples))
            rows = [rows[i] for i in picked]
    return [PromptCase(id=f"{p.stem}-{rid}", prompt=text) for rid, text in rows]
