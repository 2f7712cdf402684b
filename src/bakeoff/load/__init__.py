"""Load generation: the runner that sends requests and stamps records."""

from .runner import ModelOutcome, ModelTarget, Runner

__all__ = ["ModelOutcome", "ModelTarget", "Runner"]
