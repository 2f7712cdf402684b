"""A run's report object: everything a renderer may show (summary, per-request records, the default
recommendation), so every renderer is a pure ``render(report) -> str``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bakeoff.analysis.recommend import Recommendation, recommend
from bakeoff.results.schema import Summary, iter_records


@dataclass(frozen=True)
class RunReport:
    """``records`` are given in memory (tests, a library caller), or read from ``run_dir``'s
    records.jsonl one line at a time by ``iter_records``, so a long run is never held whole."""

    summary: Summary
    records: Sequence[dict[str, Any]] = ()
    recommendation: Recommendation | None = None
    run_dir: Path | None = None

    @classmethod
    def of_run(cls, run_dir: Path, summary: Summary) -> RunReport:
        """The run's report, its records read from the folder as renderers ask, and its default
        recommendation."""
        return cls(summary, (), recommend(summary, run_dir), run_dir)

    def iter_records(self) -> Iterator[dict[str, Any]]:
        """The per-request records, in the order they were written."""
        if self.run_dir is not None:
            yield from iter_records(self.run_dir)
        else:
            yield from self.records
