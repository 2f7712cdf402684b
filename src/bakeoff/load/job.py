"""One request to send: which prompt, which round, warm-up or measured, in which stage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bakeoff.config.settings import PromptCase


@dataclass
class Job:
    prompt: PromptCase
    round: int
    warmup: bool
    stage: str | None = None
    data: dict[str, Any] | None = None
    """``--data``: the prompt's token count, the forced answer length and the tokenizer used."""
