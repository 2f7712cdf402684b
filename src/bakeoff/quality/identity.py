"""Who a model is, for the judge: never judge yourself, and never reuse another model's cached verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bakeoff.backends.targets import ModelTarget
from bakeoff.results.schema import Summary


def identity(info: dict[str, Any]) -> tuple[str, ...] | None:
    """What makes two model descriptions the same model: its file, its endpoint id, or its weights."""
    if info.get("path"):
        return ("path", str(Path(str(info["path"])).resolve()))
    if info.get("model_id"):
        return ("endpoint", str(info.get("endpoint", "")).rstrip("/"), str(info["model_id"]))
    if info.get("weights"):
        return ("adapter", str(info.get("engine")), str(info["weights"]))
    return None


def judge_key_id(target: ModelTarget, info: dict[str, Any]) -> str:
    """What a cache key knows the judge by: its alias plus what identifies the model (full path,
    endpoint model id, adapter weights), so another file under the same alias never hits the cache."""
    ident = identity(info)
    return target.name if ident is None else f"{target.name}={ident[-1]}"


def judge_label(target: ModelTarget, info: dict[str, Any]) -> str:
    """The judge's name in results: its alias, plus the file name or model id when they differ."""
    ident = identity(info)
    if ident is None:
        return target.name
    what = Path(ident[-1]).name if ident[0] == "path" else ident[-1]
    return target.name if what == target.name else f"{target.name} ({what})"


def self_models(summary: Summary, target: ModelTarget, info: dict[str, Any]) -> set[str]:
    """The run's models that are the judge itself: same alias, or the same file, endpoint id or weights."""
    mine = identity(info)
    out = set()
    for m in summary.models:
        if m.model == target.name or (mine is not None and identity(m.info) == mine):
            out.add(m.model)
    return out
