"""bakeoff: a bake-off between language models on your own hardware.

The public surface is ``__all__``; each name loads on first use, so ``import bakeoff`` stays cheap::

    from bakeoff import BenchSettings, benchmark

    summary = benchmark(BenchSettings(models=["smollm2-135m"], rounds=1))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bakeoff.version import __version__

__all__ = [
    "BakeoffError",
    "BenchSettings",
    "ModelSpec",
    "PromptCase",
    "Summary",
    "__version__",
    "benchmark",
    "load_summary",
]

# name -> the module that defines it
_HOMES = {
    "BakeoffError": "bakeoff.errors",
    "BenchSettings": "bakeoff.config.settings",
    "ModelSpec": "bakeoff.config.settings",
    "PromptCase": "bakeoff.config.settings",
    "Summary": "bakeoff.results.schema",
    "benchmark": "bakeoff.run.api",
    "load_summary": "bakeoff.results.schema",
}

if TYPE_CHECKING:
    from bakeoff.config.settings import BenchSettings, ModelSpec, PromptCase
    from bakeoff.errors import BakeoffError
    from bakeoff.results.schema import Summary, load_summary
    from bakeoff.run.api import benchmark


def __getattr__(name: str) -> Any:
    """Import a public name from its home module on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'bakeoff' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
