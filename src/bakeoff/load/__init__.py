"""Load generation: the runner that sends requests and stamps records, and its schedules."""

from bakeoff.load.runner import ModelOutcome, Runner

__all__ = ["ModelOutcome", "Runner"]
