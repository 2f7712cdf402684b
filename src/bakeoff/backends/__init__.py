"""Backends: one small protocol, one module per engine. Backends never import runner, metrics or reporters."""

from bakeoff.backends.base import Backend, ChatRequest, Completion, TextDelta

__all__ = ["Backend", "ChatRequest", "Completion", "TextDelta"]
