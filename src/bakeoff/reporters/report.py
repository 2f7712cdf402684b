"""A run's report object: everything a renderer may show, gathered once (summary, per-request records,
the default recommendation), so every renderer is a pure ``render(report) -> str``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bakeoff.analysis.recommend import Recommendation, recommend
from bakeoff.results.schema import Summary, load_records


@dataclass(frozen=True)
class RunReport:
    summary: Summary
    records: tuple[dict[str, Any], ...] = ()
    recommendation: Recommendation | None = None

    @classmethod
    def of_run(cls, run_dir: Path, summary: Summary) -> RunReport:
        """Read the run's records once and make its default recommendation from them."""
        return cls(summary, tuple(load_records(run_dir)), recommend(summary, run_dir))
