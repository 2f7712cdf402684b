"""Entry-point hooks. Built-in backends register through the same ``bakeoff.backends`` group that
third-party packages use: ``[project.entry-points."bakeoff.backends"] mine = "pkg.module:Class"``."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import Any

from bakeoff.errors import BackendUnavailableError, UsageError

GROUP = "bakeoff.backends"

_BUILTIN_FALLBACK = {
    # Used only when bakeoff runs from a source tree without installed metadata.
    "openai": "bakeoff.backends.openai:OpenAIBackend",
    "llamacpp": "bakeoff.backends.llamacpp:LlamaCppBackend",
    "adapter": "bakeoff.backends.adapter:AdapterBackend",
    "foundry": "bakeoff.backends.foundry:FoundryBackend",
}


@cache
def _entry_points() -> dict[str, str]:
    found = {ep.name: ep.value for ep in entry_points(group=GROUP)}
    return {**_BUILTIN_FALLBACK, **found}


def backend_names() -> list[str]:
    """Names usable as ``backend`` in models.json or as the ``BACKEND:`` prefix of ``--models``."""
    return sorted(_entry_points())


def load_backend_class(name: str) -> Any:
    """Import the class registered under ``name``."""
    target = _entry_points().get(name)
    if target is None:
        raise UsageError(
            f"unknown backend {name!r}; known backends: {', '.join(backend_names())}",
            hint="install the plugin that provides it, or fix the backend name",
        )
    module_name, _, attr = target.partition(":")
    try:
        module = __import__(module_name, fromlist=[attr])
    except ImportError as exc:
        raise BackendUnavailableError(
            f"backend {name!r} cannot be imported: {exc}",
            hint=f"install its extra, e.g. pip install 'bakeoff[{name}]'",
        ) from None
    return getattr(module, attr)


def backend_trait(name: str, attr: str, default: Any) -> Any:
    """A class attribute a backend declares about itself (``in_process``, ``threaded_engine``...), or
    ``default`` when it does not say or cannot be imported."""
    try:
        return getattr(load_backend_class(name), attr, default)
    except Exception:  # an unknown or broken plugin: its target fails on its own, with the reason
        return default


def backend_in_process(name: str) -> bool:
    """Whether the backend runs the model inside this process (its memory is ours to measure)."""
    return bool(backend_trait(name, "in_process", True))
