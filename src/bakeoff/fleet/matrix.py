"""The fleet's figures from its nodes' summaries: the model x group matrix, each group's pick and one
fleet-wide default. Pure: summaries in, cells and picks out."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..recommend import Constraints, quality_value, recommend
from ..results import ModelSummary, Summary
from .results import FleetGroup, GroupPick, MatrixCell


def _median(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return float(statistics.median(known)) if known else None


def cell(group: FleetGroup, model: str, summaries: Mapping[str, Summary]) -> MatrixCell:
    """One model on one group: each figure the median over the nodes whose run of it finished ok."""
    rows: list[ModelSummary] = []
    problems: list[str] = []
    for node in group.nodes:
        summary = summaries.get(node.folder)
        row = next((m for m in summary.models if m.model == model), None) if summary else None
        if node.status != "ok":
            problems.append(node.status if node.status == "node lost" else f"node {node.status}")
        if row is None:
            if node.status == "ok":
                problems.append("not run")
            continue
        if row.status == "ok":
            rows.append(row)
        elif node.status == "ok":
            problems.append(row.error or row.status)
    if not group.nodes:
        problems.append("no node")
    fits = [r.resources.fits_memory for r in rows]
    return MatrixCell(
        model=model,
        group=group.name,
        nodes=len(rows),
        status="ok" if not problems else "; ".join(dict.fromkeys(problems)),
        decode_tokens_per_s=_median([r.stat("decode_tokens_per_s").p50 for r in rows]),
        ttft_p50_s=_median([r.ttft_s.p50 for r in rows]),
        latency_p50_s=_median([r.latency_s.p50 for r in rows]),
        peak_memory_mb=_median([r.resources.peak_rss_mb for r in rows]),
        decode_ceiling_tok_s=_median([r.resources.decode_ceiling_tok_s for r in rows]),
        fits=None if not fits or None in fits else all(fits),
        quality=_median([quality_value(r, "score") for r in rows]),
    )


def matrix(groups: Sequence[FleetGroup], summaries: Mapping[str, Summary]) -> list[MatrixCell]:
    return [cell(g, model, summaries) for g in groups for model in g.models]


def group_pick(group: FleetGroup, summaries: Mapping[str, Summary], root: Path | None = None) -> GroupPick:
    """The group's recommendation: each finished node's own (under the group's memory budget), and
    the winner most of them chose (ties: the first node's)."""
    winners: list[str | None] = []
    confidence = None
    for node in group.nodes:
        summary = summaries.get(node.folder)
        if node.status != "ok" or summary is None:
            continue
        rec = recommend(
            summary,
            root / node.folder if root else None,
            constraints=Constraints(max_memory_mb=group.max_memory_mb),
            boot=200,
        )
        winners.append(rec.winner)
        confidence = confidence or rec.confidence
    if not winners:
        return GroupPick(of_nodes=0, why="no node of this group finished")
    winner, count = Counter(winners).most_common(1)[0]
    return GroupPick(
        winner=winner,
        picked_on=count,
        of_nodes=len(winners),
        confidence=confidence,
        why=None if winner else "no model meets the group's constraints",
    )


def smallest(groups: Sequence[FleetGroup]) -> FleetGroup:
    """The group whose machines are smallest: the lowest memory budget, else the least RAM."""

    def key(g: FleetGroup) -> tuple[float, float]:
        budget = g.max_memory_mb if g.max_memory_mb is not None else float("inf")
        rams = [float(r) for n in g.nodes if isinstance(r := n.environment.get("ram_gb"), int | float)]
        return budget, min(rams) if rams else float("inf")

    return min(groups, key=key)


def fleet_pick(
    groups: Sequence[FleetGroup], cells: Sequence[MatrixCell], summaries: Mapping[str, Summary]
) -> GroupPick:
    """One default for every group: among the models that ran ok on every group, the one the smallest
    group's recommendation picks under its own budget."""
    ok = {(c.model, c.group) for c in cells if c.status == "ok"}
    everywhere = {c.model for c in cells if all((c.model, g.name) in ok for g in groups)}
    if not everywhere:
        return GroupPick(why="no model ran ok on every group")
    small = smallest(groups)
    for node in small.nodes:
        summary = summaries.get(node.folder)
        if node.status != "ok" or summary is None:
            continue
        shared = summary.model_copy(update={"models": [m for m in summary.models if m.model in everywhere]})
        rec = recommend(shared, None, constraints=Constraints(max_memory_mb=small.max_memory_mb), boot=200)
        why = f"chosen on group {small.name} (the smallest) among the models ok on every group"
        return GroupPick(
            winner=rec.winner, picked_on=1, of_nodes=1, confidence=rec.confidence,
            why=why if rec.winner else f"no model ok on every group meets {small.name}'s constraints",
        )  # fmt: skip
    return GroupPick(why=f"no node of the smallest group ({small.name}) finished")
