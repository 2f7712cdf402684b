"""The old import path of the library API, kept for users who wrote ``from bakeoff.api import benchmark``.

New code imports from the package root (``from bakeoff import benchmark``)."""

from bakeoff.run.api import benchmark

__all__ = ["benchmark"]
