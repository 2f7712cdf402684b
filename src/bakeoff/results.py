"""The versioned report model (summary.json): save and load. Reporters render only from this."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import __version__
from .errors import ReportError
from .metrics.stats import Stats

SCHEMA_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RequestCounts(_Strict):
    ok: int = 0
    error: int = 0


class TokenInfo(_Strict):
    prompt_mean: float | None = None
    completion_mean: float | None = None
    source: Literal["usage", "native", "estimated"] | None = None


class PromptSummary(_Strict):
    """Per-prompt view of one model, so outliers show."""

    prompt_id: str
    n: int
    latency_s_mean: float | None = None
    ttft_s_mean: float | None = None
    completion_tokens_mean: float | None = None
    errors: int = 0


class ModelSummary(_Strict):
    """One model's row. ``model`` is the name exactly as the user gave it."""

    model: str
    backend: str
    status: Literal["ok", "error", "skipped"]
    error: str | None = None
    requests: RequestCounts = Field(default_factory=RequestCounts)
    ttft_s: Stats = Field(default_factory=lambda: Stats(n=0))
    latency_s: Stats = Field(default_factory=lambda: Stats(n=0))
    tpot_s: Stats = Field(default_factory=lambda: Stats(n=0))
    itl_s: Stats = Field(default_factory=lambda: Stats(n=0))
    decode_tokens_per_s: Stats = Field(default_factory=lambda: Stats(n=0))
    output_tokens_per_s: Stats = Field(default_factory=lambda: Stats(n=0))
    latency_from_scheduled_s: Stats = Field(default_factory=lambda: Stats(n=0))
    ttft_from_scheduled_s: Stats = Field(default_factory=lambda: Stats(n=0))
    aggregate_output_tokens_per_s: float | None = None
    tokens: TokenInfo = Field(default_factory=TokenInfo)
    errors_by_kind: dict[str, int] = Field(default_factory=dict)
    per_prompt: list[PromptSummary] = Field(default_factory=list)
    sample_response: str | None = None
    info: dict[str, Any] = Field(default_factory=dict)
    resources: dict[str, Any] = Field(default_factory=dict)
    quality: dict[str, Any] = Field(default_factory=dict)


class ToolInfo(_Strict):
    name: str = "bakeoff"
    version: str = __version__


class RunInfo(_Strict):
    settings: dict[str, Any]
    environment: dict[str, Any]
    started_at: str
    finished_at: str | None = None
    wall_s: float | None = None
    interrupted: bool = False
    notes: list[str] = Field(default_factory=list)


class Summary(_Strict):
    schema_version: int = SCHEMA_VERSION
    tool: ToolInfo = Field(default_factory=ToolInfo)
    run: RunInfo
    models: list[ModelSummary] = Field(default_factory=list)
    quality: dict[str, Any] = Field(
        default_factory=dict, description="run-level quality: judges, agreement, pairwise ranking, notes"
    )


def save_summary(summary: Summary, out_dir: Path) -> Path:
    """Write ``summary.json`` atomically (a crash never leaves half a file)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "summary.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(summary.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_records(run_dir: Path) -> list[dict[str, Any]]:
    """The run's ``records.jsonl`` as dicts (unreadable lines skipped; empty when there is none)."""
    path = (run_dir if run_dir.is_dir() else run_dir.parent) / "records.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def measured_samples(records: Sequence[dict[str, Any]], model: str, metric: str) -> list[float]:
    """One metric's per-request values for a model: measured (not warm-up), successful requests."""
    return [
        float(v)
        for r in records
        if r.get("model") == model
        and not r.get("warmup")
        and r.get("status") == "ok"
        and (v := (r.get("metrics") or {}).get(metric)) is not None
    ]


def load_summary(path: Path) -> Summary:
    """Read a saved summary (a run folder or the file itself)."""
    if path.is_dir():
        path = path / "summary.json"
    if not path.exists():
        raise ReportError(f"{path} not found", hint="pass the folder that `bakeoff bench --out` wrote")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path} is not readable JSON: {exc}") from None
    version = data.get("schema_version") if isinstance(data, dict) else None
    if not isinstance(version, int):
        raise ReportError(f"{path} has no schema_version; it was not written by bakeoff")
    if version > SCHEMA_VERSION:
        raise ReportError(
            f"{path} uses schema version {version}; this bakeoff reads up to {SCHEMA_VERSION}",
            hint="upgrade bakeoff to read it",
        )
    try:
        return Summary.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise ReportError(f"{path}: {loc}: {err['msg']}") from None
