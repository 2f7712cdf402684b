"""Capability routing: ``model: "auto"`` or ``"auto:<capability>"`` answered by the model a saved
bake-off recommends (overall, or among the models tagged with that capability)."""

from __future__ import annotations

from pathlib import Path

from bakeoff.analysis.recommend import Constraints, recommend
from bakeoff.results.schema import load_summary


def routes_from_run(run_dir: Path, served: list[str]) -> tuple[dict[str, str], list[str]]:
    """(routes, notes): ``auto`` and one ``auto:<tag>`` per capability tag in the run."""
    summary = load_summary(run_dir)
    base = run_dir if run_dir.is_dir() else run_dir.parent
    routes: dict[str, str] = {}
    notes: list[str] = []
    tags = sorted({t for m in summary.models for t in (m.info.get("capabilities") or [])})
    for route, constraints in [
        ("auto", Constraints()),
        *((f"auto:{t}", Constraints(capability=t)) for t in tags),
    ]:
        rec = recommend(summary, base, constraints=constraints)
        if rec.winner is None:
            notes.append(f"{route}: no recommendation ({rec.confidence})")
        elif rec.winner not in served:
            notes.append(f"{route}: recommended {rec.winner} is not served here")
        else:
            routes[route] = rec.winner
    return routes, notes
