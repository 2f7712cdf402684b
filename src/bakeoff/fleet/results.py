"""The fleet's saved report (``fleet.json``): each group, its nodes and what became of them, the
model x group matrix, and the recommendations. Versioned, unknown keys rejected, saved atomically;
every fleet report renders from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from bakeoff.errors import ReportError
from bakeoff.results.schema import ToolInfo, _Strict, save_json

FLEET_REPORT_VERSION = 2
"""2 added groups' ``resources`` and nodes' ``bakeoff_path`` and ``model_files`` (a version 1 file reads
as it is)."""
NodeStatus = Literal["ok", "error", "node lost", "interrupted", "version mismatch"]


class FleetNode(_Strict):
    """One node's part: where it ran, what happened, and its own run folder (``folder``)."""

    group: str
    node_id: str
    host: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    status: NodeStatus = "ok"
    error: str | None = None
    records: int = 0
    """Record lines the driver received from it (kept whatever became of the node)."""
    folder: str
    """The node's run folder, relative to the fleet folder: a ``bench`` run (``bakeoff report`` reads it)."""
    bakeoff_version: str | None = None
    bakeoff_path: str | None = None
    """Where the node imported bakeoff from (under Ray's runtime resources with ``--ship-bakeoff``)."""
    model_files: dict[str, str] = Field(default_factory=dict)
    """How each models-file model's files got to the node (found, sent before, shipped) or why not."""
    environment: dict[str, Any] = Field(default_factory=dict)
    """The node's machine (CPU, RAM, GPU, memory bandwidth), as its own summary records it."""


class MatrixCell(_Strict):
    """One model on one group: the median over the group's nodes of each node's figure."""

    model: str
    group: str
    nodes: int = 0
    """Nodes of the group whose run of this model finished ok."""
    status: str
    """``ok`` on every node, else what went wrong (``node lost``, the model's own error)."""
    decode_tokens_per_s: float | None = None
    ttft_p50_s: float | None = None
    latency_p50_s: float | None = None
    peak_memory_mb: float | None = None
    decode_ceiling_tok_s: float | None = None
    fits: bool | None = None
    quality: float | None = None


class GroupPick(_Strict):
    """A group's recommendation: the winner on most of its nodes."""

    winner: str | None = None
    picked_on: int = 0
    """Nodes whose own recommendation was ``winner``."""
    of_nodes: int = 0
    confidence: str | None = None
    why: str | None = None


class FleetGroup(_Strict):
    name: str
    labels: dict[str, str]
    resources: dict[str, float] = Field(default_factory=dict)
    models: list[str]
    max_memory_mb: float | None = None
    nodes: list[FleetNode] = Field(default_factory=list)
    recommendation: GroupPick = Field(default_factory=GroupPick)


class FleetSummary(_Strict):
    schema_version: int = FLEET_REPORT_VERSION
    kind: Literal["fleet"] = "fleet"
    tool: ToolInfo = Field(default_factory=ToolInfo)
    settings: dict[str, Any] = Field(default_factory=dict)
    address: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    wall_s: float | None = None
    interrupted: bool = False
    groups: list[FleetGroup] = Field(default_factory=list)
    matrix: list[MatrixCell] = Field(default_factory=list)
    fleet_recommendation: GroupPick = Field(default_factory=GroupPick)
    """One default for every group: ok on all of them, chosen under the smallest group's budget."""
    notes: list[str] = Field(default_factory=list)


def save_fleet(summary: FleetSummary, out_dir: Path) -> Path:
    """Write ``fleet.json`` atomically."""
    return save_json(summary, out_dir / "fleet.json")


def load_fleet(path: Path) -> FleetSummary:
    """Read a saved ``fleet.json`` (the fleet folder or the file)."""
    if path.is_dir():
        path = path / "fleet.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(
            f"{path} not found", hint="pass the folder that `bakeoff fleet --out` wrote"
        ) from None
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path} is not readable JSON: {exc}") from None
    version = data.get("schema_version") if isinstance(data, dict) else None
    if not isinstance(version, int) or version > FLEET_REPORT_VERSION:
        raise ReportError(
            f"{path}: schema version {version!r}; this bakeoff reads up to {FLEET_REPORT_VERSION}"
        )
    try:
        return FleetSummary.model_validate(data)
    except ValidationError as exc:
        raise ReportError(
            f"{path} is not a fleet report this bakeoff can read: {exc.errors()[0]['msg']} at "
            f"{'.'.join(str(p) for p in exc.errors()[0]['loc'])}",
            hint="was it written by another bakeoff, or edited? Run the fleet again",
        ) from None
