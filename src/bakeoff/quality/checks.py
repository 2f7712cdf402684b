"""Deterministic assertions on an output (``contains``, ``regex``, ``max_words``, a Python hook...)."""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bakeoff.config.settings import CheckSpec, PromptCase
from bakeoff.errors import BakeoffError, ConfigError
from bakeoff.workload.structured import load_schema

HookFn = Callable[[str, dict[str, Any]], Any]
_hooks: dict[str, HookFn] = {}


@dataclass(frozen=True)
class CheckResult:
    """One check on one output: passed or not, and why not."""

    check: str
    passed: bool
    reason: str = ""


def _words(text: str) -> int:
    return len(text.split())


def _items(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def load_hook(ref: str) -> HookFn:
    """``module:function`` or ``path/to/file.py:function``."""
    if ref in _hooks:
        return _hooks[ref]
    target, _, attr = ref.rpartition(":")
    try:
        if target.endswith(".py"):
            path = Path(target).expanduser()
            spec = importlib.util.spec_from_file_location(f"bakeoff_check_{abs(hash(path))}", path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {path}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
        fn = getattr(module, attr)
    except (ImportError, AttributeError, OSError, SyntaxError) as exc:
        raise ConfigError(
            f"check hook {ref!r} cannot be loaded: {exc}",
            hint="write module:function (importable) or file.py:function",
        ) from None
    if not callable(fn):
        raise ConfigError(f"check hook {ref!r} is not callable")
    hook: HookFn = fn
    _hooks[ref] = hook
    return hook


def run_check(spec: CheckSpec, output: str, case: PromptCase) -> CheckResult:
    """Evaluate one check; a hook that raises fails the check with the exception as its reason."""
    t, v, label = spec.type, spec.value, spec.label
    if t == "contains":
        missing = [s for s in _items(v) if s not in output]
        return CheckResult(label, not missing, f"missing {missing!r}" if missing else "")
    if t == "icontains":
        low = output.casefold()
        missing = [s for s in _items(v) if s.casefold() not in low]
        return CheckResult(label, not missing, f"missing {missing!r}" if missing else "")
    if t == "not_contains":
        low = output.casefold()
        found = [s for s in _items(v) if s.casefold() in low]
        return CheckResult(label, not found, f"contains {found!r}" if found else "")
    if t == "regex":
        flags = 0
        for f, bit in (("i", re.IGNORECASE), ("m", re.MULTILINE), ("s", re.DOTALL)):
            if f in spec.flags:
                flags |= bit
        ok = re.search(str(v), output, flags) is not None
        return CheckResult(label, ok, "" if ok else f"no match for /{v}/")
    if t in ("max_words", "min_words"):
        n, limit = _words(output), int(v)  # type: ignore[arg-type]
        ok = n <= limit if t == "max_words" else n >= limit
        return CheckResult(label, ok, "" if ok else f"{n} words")
    if t == "is_json":
        _, problem = whole_json(output)
        return CheckResult(label, problem is None, problem or "")
    if t == "contains_json":
        has = any(_json_at(output, i) is not None for i, ch in enumerate(output) if ch in "{[")
        return CheckResult(label, has, "" if has else "no JSON object or array in the answer")
    if t == "json_schema":
        return _schema_check(label, v, output)
    # python hook
    fn = load_hook(str(v))
    try:
        got = fn(output, case.model_dump(mode="json"))
    except Exception as exc:
        return CheckResult(label, False, f"hook raised {type(exc).__name__}: {exc}")
    if isinstance(got, tuple) and len(got) == 2:
        return CheckResult(label, bool(got[0]), "" if got[0] else str(got[1]))
    return CheckResult(label, bool(got), "" if got else "hook returned false")


def whole_json(output: str) -> tuple[Any, str | None]:
    """The answer as JSON (all of it, or one fenced block), or why it is not."""
    text = output.strip()
    fence = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", text, re.DOTALL)
    try:
        return json.loads(fence.group(1) if fence else text), None
    except ValueError as exc:
        return None, f"not JSON: {exc}"


def _json_at(text: str, start: int) -> Any:
    """The JSON value that starts at ``start`` (and may end before the text does), or None."""
    try:
        value, _ = json.JSONDecoder().raw_decode(text, start)
    except ValueError:
        return None
    return value if isinstance(value, dict | list) else None


_SCHEMAS: dict[str, dict[str, Any]] = {}


def _schema_check(label: str, ref: object, output: str) -> CheckResult:
    """Valid JSON, valid against the schema; the first violation's path (``$.action_items[0]``) and
    message when not (the ``jsonschema`` package's most relevant error)."""
    from jsonschema import validators
    from jsonschema.exceptions import best_match

    if isinstance(ref, str):
        if ref not in _SCHEMAS:
            try:
                _SCHEMAS[ref] = load_schema(ref)[1]
            except BakeoffError as exc:
                return CheckResult(label, False, f"cannot load schema {ref!r}: {exc.message}")
        schema = _SCHEMAS[ref]
    else:
        schema = dict(ref)  # type: ignore[call-overload]
    value, problem = whole_json(output)
    if problem:
        return CheckResult(label, False, problem)
    error = best_match(validators.validator_for(schema)(schema).iter_errors(value))
    if error is None:
        return CheckResult(label, True)
    return CheckResult(label, False, f"at {error.json_path}: {error.message}"[:300])


def run_checks(case: PromptCase, output: str) -> list[CheckResult]:
    """Every check of ``case`` on ``output``."""
    return [run_check(c, output, case) for c in case.checks]
