"""compare's verdicts and gate on hand-made runs whose differences are known exactly: direction,
noise (bootstrap with records, spread without), the 2% floor, too few samples, and the rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bakeoff.compare import DEFAULT_VIEW, bootstrap_diff, compare, delta, parse_rules
from bakeoff.metrics.stats import stats
from bakeoff.reporters.diff import render_diff
from bakeoff.results import ModelSummary, RunInfo, Summary, save_summary

METRICS = ("ttft_s", "latency_s", "tpot_s", "decode_tokens_per_s", "output_tokens_per_s")


def row(name: str = "m", **values: list[float]) -> ModelSummary:
    return ModelSummary(model=name, backend="openai", status="ok", **{k: stats(v) for k, v in values.items()})  # type: ignore[arg-type]


def records(name: str = "m", **values: list[float]) -> list[dict[str, Any]]:
    n = max(len(v) for v in values.values())
    out = [{"model": name, "status": "ok", "warmup": True, "metrics": {k: 999.0 for k in values}}]
    out += [
        {"model": name, "status": "ok", "warmup": False, "metrics": {k: v[i] for k, v in values.items()}}
        for i in range(n)
    ]
    out.append({"model": name, "status": "error", "warmup": False, "metrics": {k: 999.0 for k in values}})
    return out


TIGHT = [1.00, 1.01, 0.99, 1.00, 1.02, 0.98, 1.00, 1.01]


def scaled(xs: list[float], k: float) -> list[float]:
    return [x * k for x in xs]


def verdict(metric: str, base: list[float], new: list[float], with_records: bool = True) -> str:
    b, n = row(**{metric: base}), row(**{metric: new})
    br = records(**{metric: base}) if with_records else []
    nr = records(**{metric: new}) if with_records else []
    return delta(br, nr, b, n, metric, "p50").verdict


@pytest.mark.parametrize(
    ("metric", "factor", "expected"),
    [
        ("latency_s", 1.5, "worse"),
        ("latency_s", 0.6, "better"),
        ("ttft_s", 1.5, "worse"),
        ("ttft_s", 0.6, "better"),
        ("tpot_s", 1.5, "worse"),
        ("decode_tokens_per_s", 1.5, "better"),
        ("decode_tokens_per_s", 0.6, "worse"),
        ("output_tokens_per_s", 1.5, "better"),
    ],
)
def test_direction_of_a_clear_change(metric: str, factor: float, expected: str) -> None:
    assert verdict(metric, TIGHT, scaled(TIGHT, factor)) == expected
    assert verdict(metric, TIGHT, scaled(TIGHT, factor), with_records=False) == expected


def test_identical_runs_are_unchanged() -> None:
    for metric in METRICS:
        assert verdict(metric, TIGHT, list(TIGHT)) == "unchanged"


def test_the_two_percent_floor() -> None:
    # a perfectly clean 1.9% shift is detectable but too small to matter; 2.1% is a change
    flat = [1.0] * 8
    assert verdict("latency_s", flat, [1.019] * 8) == "unchanged"
    assert verdict("latency_s", flat, [1.021] * 8) == "worse"
    assert verdict("latency_s", flat, [0.981] * 8) == "unchanged"
    assert verdict("latency_s", flat, [0.979] * 8) == "better"
    b, n = row(latency_s=flat), row(latency_s=[1.019] * 8)
    d = delta(records(latency_s=flat), records(latency_s=[1.019] * 8), b, n, "latency_s", "p50", 0.01)
    assert d.verdict == "worse"  # --min-change-pct 1 lowers the floor


def test_without_records_a_change_inside_the_spread_is_noise() -> None:
    # spread p90 - p50 of the base: [1, 1, 1, 1, 2] -> p50 1, p90 1.6 -> spread 0.6
    base = [1.0, 1.0, 1.0, 1.0, 2.0]
    inside = [1.5, 1.5, 1.5, 1.5, 1.5]  # +0.5 < 0.6
    outside = [1.7, 1.7, 1.7, 1.7, 1.7]  # +0.7 > 0.6
    assert verdict("latency_s", base, inside, with_records=False) == "unchanged"
    assert verdict("latency_s", base, outside, with_records=False) == "worse"
    d = delta([], [], row(latency_s=base), row(latency_s=outside), "latency_s", "p50")
    assert d.method == "no per-request records: change vs spread 0.6"
    assert d.change == pytest.approx(0.7) and d.relative == pytest.approx(0.7)


def test_spread_of_the_new_run_counts_too() -> None:
    base = [1.5] * 5
    new = [1.0, 1.0, 1.0, 1.0, 2.0]  # p50 1.0, spread 0.6 > |change| 0.5
    assert verdict("latency_s", base, new, with_records=False) == "unchanged"


def test_too_few_samples_is_its_own_verdict_and_never_breaks_the_gate(tmp_path: Path) -> None:
    assert verdict("latency_s", [1.0], [5.0]) == "too few samples"
    assert verdict("latency_s", [1.0], [5.0], with_records=False) == "too few samples"
    assert verdict("latency_s", TIGHT, [5.0]) == "too few samples"
    d = delta([], [], row(latency_s=[1.0]), row(latency_s=[5.0]), "latency_s", "p50")
    assert d.method == "too few samples to tell a change from noise: n=1/1"
    write_run(tmp_path / "a", row(latency_s=[1.0]), records(latency_s=[1.0]))
    write_run(tmp_path / "b", row(latency_s=[5.0]), records(latency_s=[5.0]))
    c = compare(tmp_path / "a", tmp_path / "b", parse_rules("latency_s.p50>+10%"))
    assert c.broken == []
    text = render_diff(c, tmp_path / "a", tmp_path / "b")
    assert "too few samples" in text and "no per-request records" not in text


def test_missing_value_is_not_applicable() -> None:
    d = delta([], [], row(latency_s=TIGHT), row(), "latency_s", "p50")
    assert d.verdict == "n/a" and d.change is None


def test_bootstrap_interval_matches_normal_theory() -> None:
    """Independent reference: for means of n=400 samples the 95% interval of the difference is about
    +-1.96 standard errors (a 50% interval would be +-0.67)."""
    rng = np.random.default_rng(11)
    a = rng.normal(10.0, 1.0, 400)
    b = rng.normal(10.3, 1.0, 400)
    lo, hi = bootstrap_diff(list(a), list(b), "mean")
    se = float(np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)))
    diff = float(b.mean() - a.mean())
    assert (hi - lo) == pytest.approx(2 * 1.96 * se, rel=0.12)
    assert (lo + hi) / 2 == pytest.approx(diff, abs=0.25 * se)


def test_just_inside_and_just_outside_the_interval() -> None:
    # two samples of 200 with sd 1: SE of the difference of means ~0.1. A shift of 1 SE lies inside
    # the 95% interval (unchanged; a 50% interval would call it real); 4 SE lies outside.
    rng = np.random.default_rng(5)
    noise_a, noise_b = rng.normal(0, 1, 200), rng.normal(0, 1, 200)
    noise_b = noise_b - noise_b.mean() + noise_a.mean()  # same sample mean: the shift is exact
    base = list(100 + noise_a)
    for shift, expected in ((0.1, "unchanged"), (0.4, "worse")):
        new = list(100 + shift + noise_b)
        b, n = row(latency_s=base), row(latency_s=new)
        d = delta(records(latency_s=base), records(latency_s=new), b, n, "latency_s", "mean", 0.0)
        assert d.verdict == expected, (shift, d.method)


def test_rules_parse_and_read_back() -> None:
    rules = parse_rules("ttft_s.p50>+10%, decode_tokens_per_s.mean<-5%,quality.mean<-0.3,latency_s.p95>0.25")
    assert [str(r) for r in rules] == [
        "ttft_s.p50>+10%",
        "decode_tokens_per_s.mean<-5%",
        "quality.mean<-0.3",
        "latency_s.p95>+0.25",
    ]
    assert [(r.op, r.value, r.relative) for r in rules] == [
        (">", 10.0, True),
        ("<", -5.0, True),
        ("<", -0.3, False),
        (">", 0.25, False),
    ]
    assert parse_rules("") == [] and parse_rules(" , ") == []


def write_run(path: Path, *rows_and_records: Any, settings: dict[str, Any] | None = None) -> None:
    models = [x for x in rows_and_records if isinstance(x, ModelSummary)]
    recs = [r for x in rows_and_records if isinstance(x, list) for r in x]
    save_summary(
        Summary(run=RunInfo(settings=settings or {}, environment={}, started_at="t"), models=models), path
    )
    (path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))


def test_gate_breaks_on_real_changes_beyond_the_threshold_only(tmp_path: Path) -> None:
    write_run(tmp_path / "base", row(latency_s=TIGHT, decode_tokens_per_s=TIGHT),
              records(latency_s=TIGHT, decode_tokens_per_s=TIGHT))  # fmt: skip
    slower = scaled(TIGHT, 1.2)  # +20% latency, decode unchanged
    write_run(tmp_path / "new", row(latency_s=slower, decode_tokens_per_s=TIGHT),
              records(latency_s=slower, decode_tokens_per_s=TIGHT))  # fmt: skip
    c = compare(tmp_path / "base", tmp_path / "new", parse_rules("latency_s.p50>+10%"))
    assert [(str(r), d.metric) for r, d in c.broken] == [("latency_s.p50>+10%", "latency_s")]
    assert compare(tmp_path / "base", tmp_path / "new", parse_rules("latency_s.p50>+25%")).broken == []
    # absolute thresholds are in the metric's unit: +0.2 s > 0.1 s breaks, > 0.3 s does not
    assert len(compare(tmp_path / "base", tmp_path / "new", parse_rules("latency_s.p50>0.1")).broken) == 1
    assert compare(tmp_path / "base", tmp_path / "new", parse_rules("latency_s.p50>0.3")).broken == []
    # a rule on a metric that did not change never breaks, whatever its threshold
    assert (
        compare(tmp_path / "base", tmp_path / "new", parse_rules("decode_tokens_per_s.p50<+50%")).broken == []
    )
    # "<" rules break below the threshold
    assert len(compare(tmp_path / "new", tmp_path / "base", parse_rules("latency_s.p50<-10%")).broken) == 1
    assert compare(tmp_path / "base", tmp_path / "new", parse_rules("latency_s.p50<-10%")).broken == []


def test_views_and_model_alignment(tmp_path: Path) -> None:
    write_run(tmp_path / "a", row("x", latency_s=TIGHT), row("gone", latency_s=TIGHT))
    write_run(tmp_path / "b", row("x", latency_s=TIGHT), row("added", latency_s=TIGHT))
    c = compare(tmp_path / "a", tmp_path / "b", parse_rules("tpot_s.p99>+5%"))
    assert c.only_base == ["gone"] and c.only_new == ["added"]
    assert [(d.model, d.metric, d.stat) for d in c.deltas] == [
        ("x", m, s) for m, s in [*DEFAULT_VIEW, ("tpot_s", "p99")]
    ]
    text = render_diff(c, tmp_path / "a", tmp_path / "b")
    assert "Only in base: gone; only in new: added" in text


def test_render_names_each_verdict(tmp_path: Path) -> None:
    write_run(tmp_path / "a", row(latency_s=TIGHT, ttft_s=TIGHT), records(latency_s=TIGHT, ttft_s=TIGHT))
    faster_ttft = scaled(TIGHT, 0.5)
    slower = scaled(TIGHT, 1.5)
    write_run(tmp_path / "b", row(latency_s=slower, ttft_s=faster_ttft),
              records(latency_s=slower, ttft_s=faster_ttft))  # fmt: skip
    c = compare(tmp_path / "a", tmp_path / "b", parse_rules("latency_s.p50>+10%"))
    text = render_diff(c, tmp_path / "a", tmp_path / "b")
    rows = {
        ln.split("|")[2].strip(): ln.split("|")[6].strip()
        for ln in text.splitlines()
        if ln.startswith("| m |")
    }
    assert rows["ttft_s.p50"] == "better" and rows["latency_s.p50"] == "worse"
    assert "- **broken** `latency_s.p50>+10%`: m latency_s.p50 1 -> 1.5" in text
