"""``bakeoff recommend FLEET_DIR``: a fleet's picks worked out again from its saved folders, with the
user's weights and constraints (the fleet run itself picks with the defaults and each group's budget)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bakeoff.analysis.recommend import Constraints
from bakeoff.fleet.matrix import apply_picks
from bakeoff.fleet.results import FleetSummary, load_fleet
from bakeoff.results.schema import load_summary


def repick(
    fleet_dir: Path,
    weights: Mapping[str, float] | None = None,
    constraints: Constraints | None = None,
    trust_judge: bool = False,
) -> FleetSummary:
    """The saved fleet summary with each group's pick and the fleet-wide default worked out again from
    every node's saved run (a node folder without a summary counts as not finished)."""
    fs = load_fleet(fleet_dir)
    summaries = {
        n.folder: load_summary(fleet_dir / n.folder / "summary.json")
        for g in fs.groups
        for n in g.nodes
        if (fleet_dir / n.folder / "summary.json").exists()
    }
    fs.fleet_recommendation = apply_picks(fs.groups, summaries, fleet_dir, weights, constraints, trust_judge)
    return fs
