"""Issue 30: reports read records.jsonl a line at a time and stay bounded in size whatever the run's
length; what they draw and compute from the records is unchanged (checked against hand values)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from bakeoff.reporters.html import MAX_DOTS, _box_plot, dot_sample
from bakeoff.results.schema import (
    iter_records,
    load_records,
    measured_sample_arrays,
    measured_samples,
    unreadable_lines,
)


def _write(folder: Path, lines: list[str]) -> None:
    (folder / "records.jsonl").write_text("".join(line + "\n" for line in lines))


def test_records_stream_line_by_line_and_damage_is_named(tmp_path: Path) -> None:
    rows = [
        {"model": "a", "status": "ok", "warmup": False, "metrics": {"latency_s": 1.0, "itl_s": [0.1, 0.2]}},
        {"model": "a", "status": "ok", "warmup": True, "metrics": {"latency_s": 9.0, "itl_s": [9.0]}},
        {"model": "b", "status": "error", "warmup": False, "metrics": {"latency_s": None, "itl_s": []}},
        {"model": "b", "status": "ok", "warmup": False, "metrics": {"latency_s": 2.5, "itl_s": []}},
        {"model": "a", "status": "ok", "warmup": False, "metrics": {"latency_s": 3.0, "itl_s": [0.3]}},
    ]
    lines = [json.dumps(r) for r in rows]
    _write(tmp_path, [lines[0], "", lines[1], "[1, 2]", lines[2], '{"cut short', lines[3], lines[4]])
    assert list(iter_records(tmp_path)) == rows == load_records(tmp_path)
    assert unreadable_lines(tmp_path) == [4, 6]
    cols = measured_sample_arrays(iter_records(tmp_path), ["latency_s", "itl_s"])
    assert set(cols) == {"a", "b"}  # b's failure adds nothing, its success does
    assert cols["a"]["latency_s"].tolist() == [1.0, 3.0]  # warm-up left out, record order kept
    assert cols["a"]["itl_s"].tolist() == [0.1, 0.2, 0.3]  # lists flattened in order
    assert cols["b"]["latency_s"].tolist() == [2.5] and cols["b"]["itl_s"].size == 0
    assert cols["a"]["latency_s"].dtype == np.float64
    assert measured_samples(rows, "a", "itl_s") == [0.1, 0.2, 0.3]
    assert measured_samples(rows, "nobody", "latency_s") == []
    (tmp_path / "empty").mkdir()
    assert list(iter_records(tmp_path / "empty")) == [] and unreadable_lines(tmp_path / "empty") == []


def test_dots_past_the_limit_are_evenly_spaced_order_statistics() -> None:
    xs = np.arange(10, dtype=np.float64)[::-1].copy()  # 9..0, unsorted on purpose
    assert dot_sample(xs, 10) is xs  # at the limit: every sample, as given
    # 4 of 10: ranks round(0, 3, 6, 9) of the sorted values
    assert dot_sample(xs, 4).tolist() == [0.0, 3.0, 6.0, 9.0]
    # 3 of 10: ranks 0, 4.5 -> 4 (numpy rounds half to even), 9
    assert dot_sample(xs, 3).tolist() == [0.0, 4.0, 9.0]
    big = np.linspace(0.0, 1.0, 20_001)
    got = dot_sample(big)
    assert got.size == MAX_DOTS and got[0] == 0.0 and got[-1] == 1.0


def test_a_box_plot_draws_at_most_the_limit_and_says_so() -> None:
    many = np.linspace(0.1, 2.0, 5000)
    few = np.array([0.5, 1.5])
    svg = _box_plot("latency", [("long", many), ("short", few)], 1.0, "s")
    assert svg.count("<circle") == MAX_DOTS + 2
    assert f"long {MAX_DOTS:,} of 5,000" in svg
    # the box still uses every sample: the median of 0.1..2.0 is 1.05; with 1.05 x 2.0 as the scale
    # top (2.1) the median line sits at 150 + (640 - 170) x 1.05 / 2.1 = 385
    med = re.findall(r'<line x1="([0-9.]+)" x2="\1" y1="30"', svg)
    assert med and float(med[0]) == 385.0
    plain = _box_plot("latency", [("short", few)], 1.0, "s")
    assert "dots drawn" not in plain and plain.count("<circle") == 2
