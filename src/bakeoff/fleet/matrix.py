"""The fleet's figures from its nodes' summaries: the model x group matrix, each group's pick and one
fleet-wide default. Pure: summaries in, cells and picks out."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from bakeoff.analysis.recommend import Constraints, Recommendation, quality_value, recommend
from bakeoff.fleet.results import FleetGroup, GroupPick, MatrixCell
from bakeoff.results.schema import ModelSummary, Summary


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
        fits=False if False in fits else (None if not fits or None in fits else True),
        quality=_median([quality_value(r, "score") for r in rows]),
    )


def matrix(groups: Sequence[FleetGroup], summaries: Mapping[str, Summary]) -> list[MatrixCell]:
    return [cell(g, model, summaries) for g in groups for model in g.models]


def _run_dir(root: Path | None, folder: str) -> Path | None:
    """A node's run folder (its records give the recommendation its intervals), when there is a root."""
    return root / folder if root is not None else None


def group_pick(
    group: FleetGroup,
    summaries: Mapping[str, Summary],
    root: Path | None = None,
    weights: Mapping[str, float] | None = None,
    constraints: Constraints | None = None,
    trust_judge: bool = False,
) -> GroupPick:
    """The group's recommendation: each finished node's own (with ``weights``, under ``constraints``
    and the group's memory budget, the lower of the two), and the winner most of them chose (ties:
    the first node's), with that node's confidence."""
    recs = _node_picks(group, summaries, root, weights, constraints, trust_judge)
    if not recs:
        return GroupPick(why="no node of this group finished")
    counts = Counter(r.winner for r in recs)
    winner = max(counts, key=counts.__getitem__)  # the first seen among equals
    first = next(r for r in recs if r.winner == winner)
    return GroupPick(
        winner=winner,
        picked_on=counts[winner],
        of_nodes=len(recs),
        confidence=first.confidence,
        why=None if winner else "no model meets the group's constraints",
    )


def apply_picks(
    groups: Sequence[FleetGroup],
    summaries: Mapping[str, Summary],
    root: Path | None = None,
    weights: Mapping[str, float] | None = None,
    constraints: Constraints | None = None,
    trust_judge: bool = False,
) -> GroupPick:
    """Set each group's ``recommendation`` (``group_pick``); the fleet-wide default (``fleet_pick``)."""
    for g in groups:
        g.recommendation = group_pick(g, summaries, root, weights, constraints, trust_judge)
    return fleet_pick(groups, summaries, root, weights, constraints, trust_judge)


def _node_picks(
    group: FleetGroup,
    summaries: Mapping[str, Summary],
    root: Path | None,
    weights: Mapping[str, float] | None,
    constraints: Constraints | None,
    trust_judge: bool,
) -> list[Recommendation]:
    """Each finished node's own recommendation, under ``constraints`` and the group's memory budget
    (the lower of the two)."""
    given = constraints or Constraints()
    budgets = [b for b in (group.max_memory_mb, given.max_memory_mb) if b is not None]
    limits = replace(given, max_memory_mb=min(budgets) if budgets else None)
    return [
        recommend(summary, _run_dir(root, node.folder), weights, limits, trust_judge=trust_judge)
        for node in group.nodes
        if node.status == "ok" and (summary := summaries.get(node.folder)) is not None
    ]


def meets(
    group: FleetGroup,
    summaries: Mapping[str, Summary],
    constraints: Constraints | None = None,
    trust_judge: bool = False,
) -> set[str]:
    """The models that ``constraints`` and the group's budget leave in on most of its finished nodes."""
    recs = _node_picks(group, summaries, None, None, constraints, trust_judge)
    counts = Counter(c.model for r in recs for c in r.candidates if c.excluded is None)
    return {m for m, n in counts.items() if 2 * n > len(recs)}


def smallest(groups: Sequence[FleetGroup]) -> FleetGroup:
    """The group whose machines are smallest: the lowest memory budget (a group without one counts as
    unbounded), then the least RAM of its nodes."""

    def key(g: FleetGroup) -> tuple[float, float]:
        budget = g.max_memory_mb if g.max_memory_mb is not None else math.inf
        rams = [float(r) for n in g.nodes if isinstance(r := n.environment.get("ram_gb"), int | float)]
        return budget, min(rams, default=math.inf)

    return min(groups, key=key)


def ran_ok(group: FleetGroup, model: str, summaries: Mapping[str, Summary]) -> bool:
    """Whether a finished node of the group ran the model ok (a lost node's partial run does not count)."""
    return any(
        m.model == model and m.status == "ok"
        for n in group.nodes
        if n.status == "ok" and n.folder in summaries
        for m in summaries[n.folder].models
    )


def fleet_pick(
    groups: Sequence[FleetGroup],
    summaries: Mapping[str, Summary],
    root: Path | None = None,
    weights: Mapping[str, float] | None = None,
    constraints: Constraints | None = None,
    trust_judge: bool = False,
) -> GroupPick:
    """One default for every group: among the models that ran ok on every group and that every other
    group's limits (``constraints`` and its budget) leave in on most of its nodes, the one the
    smallest group picks under its own (the majority of its finished nodes, as ``group_pick``, with
    the same ``weights`` and ``constraints``)."""
    models = {m for g in groups for m in g.models}
    everywhere = {m for m in models if all(ran_ok(g, m, summaries) for g in groups)}
    if not everywhere:
        return GroupPick(why="no model ran ok on every group")
    small = smallest(groups)
    for g in groups:
        if g is not small:
            everywhere &= meets(g, summaries, constraints, trust_judge)
    if not everywhere:
        return GroupPick(why="no model ok on every group meets every other group's constraints")
    shared = {
        folder: summary.model_copy(update={"models": [m for m in summary.models if m.model in everywhere]})
        for folder, summary in summaries.items()
    }
    pick = group_pick(small, shared, root, weights, constraints, trust_judge)
    if pick.winner is None:
        return pick.model_copy(update={"why": f"no model ok on every group meets {small.name}'s constraints"})
    why = f"chosen on group {small.name} (the smallest) among the models ok on every group"
    return pick.model_copy(update={"why": why})
