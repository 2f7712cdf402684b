"""Load generation: the runner that sends requests and stamps records, and its schedules."""

from .runner import ModelOutcome, Runner

__all__ = ["ModelOutcome", "Runner"]
