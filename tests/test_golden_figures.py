"""Issue 30: the exact figures of a fixed 20,000-request records file stand byte for byte.

The expected file was written by the record-list summary (the code before summaries were built in
constant memory); whatever reads records.jsonl now must give the same JSON, float for float."""

from __future__ import annotations

import json
from pathlib import Path

from bakeoff.run.bench import recover_summary
from tests.golden_records import SLO, figures, golden_records, write_golden

EXPECTED = Path(__file__).parent / "data" / "golden_20k_figures.json"


def test_the_figures_of_a_fixed_records_file_stand(tmp_path: Path) -> None:
    write_golden(tmp_path / "records.jsonl", golden_records())
    (tmp_path / "summary.json").write_text(
        json.dumps(
            {
                "schema_version": 1,
                "run": {"settings": {"slo": SLO}, "environment": {}, "started_at": "fixed"},
                "models": [],
            }
        )
    )
    summary = recover_summary(tmp_path)
    assert summary is not None
    got = figures(summary.models)
    assert got == json.loads(EXPECTED.read_text())
