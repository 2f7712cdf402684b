"""Custom model adapters: bring any engine into the bake-off with two methods.

An adapter is a class with::

    def load(self, weights_path: str | None) -> None
    def generate(self, prompt: str, **params) -> str

and, optionally, ``stream(prompt, **params) -> Iterator[str]`` (pieces of text as they are made) and
``count_tokens(text) -> int``. ``params`` holds ``max_tokens``, ``temperature``, ``top_p``, ``seed``,
``stop`` and the chat ``messages`` for adapters that apply their own template.

Register one under the entry-point group ``bakeoff.adapters`` (``name = "pkg.module:Class"``) and name
it ``adapter:NAME`` in ``--models``, or point models.json at it directly with
``"adapter": "pkg.module:Class"`` or ``"adapter": "path/to/file.py:Class"`` and ``"weights": "..."``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from bakeoff.errors import ModelError

GROUP = "bakeoff.adapters"


@runtime_checkable
class ModelAdapter(Protocol):
    """The two methods every adapter has."""

    def load(self, weights_path: str | None) -> None: ...

    def generate(self, prompt: str, **params: Any) -> str: ...


@runtime_checkable
class StreamingAdapter(ModelAdapter, Protocol):
    """An adapter that can also stream pieces of its answer."""

    def stream(self, prompt: str, **params: Any) -> Iterator[str]: ...


def registered_adapters() -> dict[str, str]:
    """Adapters registered through entry points: name -> ``module:Class``."""
    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


def load_adapter_class(ref: str) -> type[Any]:
    """Resolve ``NAME`` (entry point), ``module:Class`` or ``/path/file.py:Class`` to a class."""
    if ":" not in ref:
        target = registered_adapters().get(ref)
        if target is None:
            known = ", ".join(sorted(registered_adapters())) or "none registered"
            raise ModelError(
                f"no adapter named {ref!r} (registered: {known})",
                hint="use module:Class or path/to/file.py:Class, or register it under 'bakeoff.adapters'",
            )
        ref = target
    module_ref, _, cls_name = ref.rpartition(":")
    try:
        if module_ref.endswith(".py"):
            path = Path(module_ref)
            if not path.is_file():
                raise ModelError(f"adapter file not found: {path}", hint="fix 'adapter' in models.json")
            name = f"bakeoff_adapter_{path.stem}_{abs(hash(str(path.resolve())))}"
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise ModelError(f"cannot import adapter file {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_ref)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"cannot import adapter {ref!r}: {type(exc).__name__}: {exc}") from None
    cls = getattr(module, cls_name, None)
    if cls is None:
        raise ModelError(f"adapter module {module_ref!r} has no class {cls_name!r}")
    for method in ("load", "generate"):
        if not callable(getattr(cls, method, None)):
            raise ModelError(
                f"adapter {ref!r} has no {method}() method",
                hint="an adapter needs load(weights_path) and generate(prompt, **params) -> str",
            )
    return cls  # type: ignore[no-any-return]


def render_prompt(messages: list[dict[str, str]]) -> str:
    """The plain prompt handed to ``generate``: system text, then the user turn, blank-line separated."""
    return "\n\n".join(m["content"] for m in messages if m.get("content"))
