"""compare's verdicts and gate on hand-made runs whose differences are known exactly: direction,
noise (bootstrap with records, spread without), the 2% floor, too few samples, and the rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from bakeoff.analysis.compare import bootstrap_diff, compare, delta, parse_rules
from bakeoff.errors import UsageError
from bakeoff.metrics.stats import stats
from bakeoff.reporters.diff import render_diff
from bakeoff.results.schema import ModelSummary, RunInfo, Summary, save_summary

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
    assert parse_rules(None) == []  # an empty text is an error (tested below)


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
        ("x", m, s)
        for m, s in [
            ("latency_s", "p50"),
            ("latency_s", "p95"),
            ("ttft_s", "p50"),
            ("decode_tokens_per_s", "p50"),
            ("tpot_s", "p99"),
        ]
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


def test_rule_errors_say_what_to_write() -> None:
    from bakeoff.errors import UsageError

    with pytest.raises(UsageError) as e:
        parse_rules("ttft>10")
    assert e.value.message == "cannot read --fail-on rule 'ttft>10'"
    assert e.value.hint == "write METRIC.STAT>+N% or METRIC.STAT<-N, e.g. ttft_s.p50>+10%"
    with pytest.raises(UsageError) as e:
        parse_rules("speed.p50>+1%")
    assert e.value.message == "unknown metric 'speed' in --fail-on"
    assert e.value.hint == (
        "one of latency_s, ttft_s, ttfo_s, reasoning_s, answer_decode_tokens_per_s, tpot_s, "
        "decode_tokens_per_s, output_tokens_per_s, prefill_tokens_per_s, quality"
    )
    assert [str(r) for r in parse_rules("ttft_s.p50>+1%,,latency_s.p95>+2%")] == [
        "ttft_s.p50>+1%",
        "latency_s.p95>+2%",
    ]  # an empty part is skipped, not the end


def test_statistics_of_a_resample() -> None:
    from bakeoff.analysis.compare import _stat
    from bakeoff.errors import UsageError

    xs = np.array([4.0, 1.0, 3.0, 2.0, 10.0])
    assert _stat(xs, "mean") == 4.0 and _stat(xs, "p90") == pytest.approx(7.6, rel=1e-12)
    assert _stat(xs, "p5") == pytest.approx(1.2, rel=1e-12)  # position 0.2: 1 + 0.2 x 1
    for bad in ("x50", "median", "pxx"):
        with pytest.raises(UsageError) as e:
            _stat(xs, bad)
        assert (
            e.value.message == f"unknown statistic {bad!r}" and e.value.hint == "mean, p50, p90, p95 or p99"
        )


def test_bootstrap_resamples_every_request() -> None:
    # a = [10, 0]: a resampled mean is 10, 5 or 0 with chances 1/4, 1/2, 1/4; b is constant 0.
    # diffs b - a are -10 (25%), -5, 0 (25%): the 2.5th percentile is -10 and the 97.5th is 0.
    assert bootstrap_diff([10.0, 0.0], [0.0, 0.0], "mean") == (-10.0, 0.0)
    assert bootstrap_diff([0.0, 0.0], [10.0, 0.0], "mean") == (0.0, 10.0)
    a, b = list(np.linspace(1, 2, 30)), list(np.linspace(1.1, 2.2, 30))
    assert bootstrap_diff(a, b, "p50") == bootstrap_diff(a, b, "p50")  # fixed seed: repeatable


def test_quality_is_compared_as_a_run_level_figure() -> None:
    b = ModelSummary(model="m", backend="x", status="ok", quality={"mean": 4.0})
    n = ModelSummary(model="m", backend="x", status="ok", quality={"mean": 3.0})
    d = delta([], [], b, n, "quality", "mean")
    assert (d.verdict, d.change, d.relative) == ("worse", -1.0, -0.25)
    assert d.method == "a run-level figure: any change is real"
    assert delta([], [], n, b, "quality", "mean").verdict == "better"
    assert delta([], [], b, b, "quality", "mean").verdict == "unchanged"
    unscored = ModelSummary(model="m", backend="x", status="ok", quality={"n": 0})  # checks only, no score
    assert delta([], [], b, unscored, "quality", "mean").verdict == "n/a"
    # a figure one run's quality block lacks is unknown, not an error
    assert delta([], [], b, n, "quality", "no_such_figure").verdict == "n/a"
    no_block = ModelSummary(model="m", backend="x", status="ok")  # a run without prompt cases
    assert no_block.quality is None and delta([], [], b, no_block, "quality", "mean").verdict == "n/a"
    # a value that is not a number cannot reach compare: summary.json is typed
    with pytest.raises(ValidationError, match="mean"):
        ModelSummary(model="m", backend="x", status="ok", quality={"mean": "n/a"})


def test_missing_value_keeps_what_is_known() -> None:
    d = delta([], [], row(latency_s=TIGHT), row(), "latency_s", "p50")
    assert (d.base, d.new, d.change, d.relative, d.verdict, d.method) == (1.0, None, None, None, "n/a",
                                                                          "missing in one run")  # fmt: skip


def test_relative_change_and_a_zero_base() -> None:
    d = delta([], [], row(latency_s=[2.0] * 5), row(latency_s=[3.0] * 5), "latency_s", "p50")
    assert d.relative == pytest.approx(0.5, rel=1e-12) and d.verdict == "worse"
    z = delta([], [], row(latency_s=[0.0] * 5), row(latency_s=[1.0] * 5), "latency_s", "p50")
    assert z.relative is None and z.verdict == "worse"  # no relative change from zero, still a change


def test_too_few_samples_names_both_counts() -> None:
    b, n = row(latency_s=TIGHT), row(latency_s=[5.0])
    d = delta(records(latency_s=TIGHT), records(latency_s=[5.0]), b, n, "latency_s", "p50")
    assert d.method == "too few samples to tell a change from noise: n=8/1"
    assert (d.model, d.metric, d.stat, d.base, d.new) == ("m", "latency_s", "p50", 1.0, 5.0)
    assert d.change == 4.0 and d.relative == 4.0


def test_two_samples_are_enough() -> None:
    assert verdict("latency_s", [1.0, 1.0], [2.0, 2.0]) == "worse"
    assert verdict("latency_s", [1.0, 1.0], [2.0, 2.0], with_records=False) == "worse"


def test_records_on_one_side_only_fall_back_to_the_summaries() -> None:
    base, new = [1.0] * 5, [2.0] * 5
    d = delta(records(latency_s=base), [], row(latency_s=base), row(latency_s=new), "latency_s", "p50")
    assert d.verdict == "worse" and d.method == "no per-request records: change vs spread 0"


def test_bootstrap_method_and_the_exact_zero_interval() -> None:
    flat = [1.0] * 8
    d = delta(records(latency_s=flat), records(latency_s=[3.0] * 8), row(latency_s=flat),
              row(latency_s=[3.0] * 8), "latency_s", "p50")  # fmt: skip
    assert d.method == "bootstrap 95% CI of the difference [+2, +2], n=8/8"
    # identical constant runs: the interval is exactly [0, 0], which does not exclude zero
    same = delta(records(latency_s=flat), records(latency_s=flat), row(latency_s=flat), row(latency_s=flat),
                 "latency_s", "p50", 0.0)  # fmt: skip
    assert same.verdict == "unchanged"


def test_a_change_equal_to_the_spread_is_noise() -> None:
    # base spread: p90 1.6 - p50 1.0; a change of exactly the same amount is not beyond it
    base = [1.0, 1.0, 1.0, 1.0, 2.0]
    new = [1.6] * 5
    assert verdict("latency_s", base, new, with_records=False) == "unchanged"


def test_exactly_two_percent_is_a_change() -> None:
    assert verdict("latency_s", [50.0] * 8, [51.0] * 8) == "worse"  # 1/50 = 2% exactly


def test_compare_passes_its_floor_on(tmp_path: Path) -> None:
    flat, up = [1.0] * 8, [1.015] * 8  # +1.5%
    write_run(tmp_path / "a", row(latency_s=flat), records(latency_s=flat))
    write_run(tmp_path / "b", row(latency_s=up), records(latency_s=up))
    views = {
        (d.metric, d.stat): d.verdict for d in compare(tmp_path / "a", tmp_path / "b", min_change=0.01).deltas
    }
    assert views[("latency_s", "p50")] == "worse"
    views = {(d.metric, d.stat): d.verdict for d in compare(tmp_path / "a", tmp_path / "b").deltas}
    assert views[("latency_s", "p50")] == "unchanged"


def test_gate_thresholds_are_strict_and_read_in_percent(tmp_path: Path) -> None:
    write_run(tmp_path / "a", row("z", latency_s=[0.0] * 5), row("m", latency_s=[2.0] * 5))
    write_run(tmp_path / "b", row("z", latency_s=[1.0] * 5), row("m", latency_s=[2.2] * 5))
    # m: +0.2 s = +10.000000000000009%: breaks ">+10%" but not ">+10.05%"; z has no relative change
    broken = compare(tmp_path / "a", tmp_path / "b", parse_rules("latency_s.p50>+10%")).broken
    assert [d.model for _, d in broken] == ["m"]
    assert compare(tmp_path / "a", tmp_path / "b", parse_rules("latency_s.p50>+10.05%")).broken == []
    # absolute: z changed by exactly 1.0 s, which is not above 1.0
    assert [
        d.model for _, d in compare(tmp_path / "a", tmp_path / "b", parse_rules("latency_s.p50>1")).broken
    ] == []
    assert [
        d.model for _, d in compare(tmp_path / "b", tmp_path / "a", parse_rules("latency_s.p50<-1")).broken
    ] == []
    got = compare(tmp_path / "b", tmp_path / "a", parse_rules("latency_s.p50<-0.5")).broken
    assert [d.model for _, d in got] == ["z"]


def test_settings_and_machine_differences_are_named(tmp_path: Path) -> None:
    from bakeoff.analysis.compare import setting_differences

    def s(settings: dict[str, Any], env: dict[str, Any]) -> Summary:
        return Summary(run=RunInfo(settings=settings, environment=env, started_at="t"))

    a = s({"max_tokens": 128, "stream": True, "prompts_sha256": "aa", "rounds": 3, "old_key": 1},
          {"cpu_model": "Xeon", "cpu_count": 2, "loadavg_1m_at_start": 0.1})  # fmt: skip
    b = s({"max_tokens": 64, "stream": True, "prompts_sha256": "bb", "rounds": 3},
          {"cpu_model": "EPYC", "cpu_count": 2, "loadavg_1m_at_start": 3.0})  # fmt: skip
    assert setting_differences(a, b) == [
        "prompts_sha256: 'aa' -> 'bb'",
        "max_tokens: 128 -> 64",
        "machine cpu_model: 'Xeon' -> 'EPYC'",
    ]
    assert setting_differences(a, a) == []
    save_summary(a, tmp_path / "a")
    save_summary(b, tmp_path / "b")
    c = compare(tmp_path / "a", tmp_path / "b")
    text = render_diff(c, tmp_path / "a", tmp_path / "b")
    assert "**Warning:** the two runs differ in settings or machine" in text
    assert "- max_tokens: 128 -> 64" in text and "- machine cpu_model: 'Xeon' -> 'EPYC'" in text


def test_a_value_new_in_this_run_is_kept() -> None:
    d = delta([], [], row(), row(latency_s=TIGHT), "latency_s", "p50")
    assert (d.base, d.new, d.verdict) == (None, 1.0, "n/a")
    assert delta([], [], row(latency_s=TIGHT), row(latency_s=TIGHT), "latency_s", "p42").verdict == "n/a"


def test_record_counts_decide_when_both_runs_have_records() -> None:
    # the summaries say n=1 (say, an older summary), but each run holds eight measured requests
    b, n = row(latency_s=[1.0]), row(latency_s=[2.0])
    d = delta(records(latency_s=[1.0] * 8), records(latency_s=[2.0] * 8), b, n, "latency_s", "p50")
    assert d.verdict == "worse" and d.method.endswith("n=8/8")


def test_the_gate_fails_when_the_new_run_has_nothing_to_check(tmp_path: Path) -> None:
    ok = row("m", latency_s=TIGHT)
    failed = ModelSummary(model="m", backend="openai", status="error", error="load failed: boom")
    write_run(tmp_path / "base", ok, row("other", latency_s=TIGHT), records(latency_s=TIGHT))
    write_run(tmp_path / "crashed", failed)
    rules = parse_rules("latency_s.p50>+10%")
    c = compare(tmp_path / "base", tmp_path / "crashed", rules)
    assert c.broken == []  # no number to break a rule on...
    assert c.gate_failed == [  # ...so the gate fails on what is missing instead
        "other: missing from the new run",
        "m: error in the new run (load failed: boom)",
    ]
    write_run(tmp_path / "elsewhere", row("x", latency_s=TIGHT))
    assert compare(tmp_path / "base", tmp_path / "elsewhere", rules).gate_failed[0] == (
        "the runs share no model, so no rule could be checked"
    )
    assert compare(tmp_path / "base", tmp_path / "crashed").gate_failed == []  # no rules, no gate
    same = compare(tmp_path / "base", tmp_path / "base", rules)
    assert same.gate_failed == [] and same.rules == tuple(rules)
    assert "- no rule broken" in render_diff(same, tmp_path / "base", tmp_path / "base")
    text = render_diff(c, tmp_path / "base", tmp_path / "crashed")
    gate = text.split("## Gate")[1]
    assert (
        "- **failed**: m: error in the new run (load failed: boom)" in gate and "no rule broken" not in gate
    )
    # no model in both runs: the footer says so instead of "Verdicts: ;"; no rules is no gate, said so
    apart = compare(tmp_path / "base", tmp_path / "elsewhere")
    text = render_diff(apart, tmp_path / "base", tmp_path / "elsewhere")
    assert "Verdicts: none, no model is in both runs; a change" in text and "Verdicts: ;" not in text
    assert "- no gate: no --fail-on rules were given" in text.split("## Gate")[1]


@pytest.mark.parametrize("text", ["", " ", ",", " , ,"])
def test_a_fail_on_that_names_no_rule_is_a_usage_error(text: str, tmp_path: Path) -> None:
    """A CI variable that expands empty must not switch the gate off."""
    with pytest.raises(UsageError, match="names no rule") as info:
        parse_rules(text)
    assert (
        info.value.hint
        == "give rules such as ttft_s.p50>+10%, or leave --fail-on out for a diff without a gate"
    )
    assert parse_rules(None) == []
    from .test_cli import run

    write_run(tmp_path / "base", row("m", latency_s=TIGHT), records(latency_s=TIGHT))
    write_run(tmp_path / "other", row("x", latency_s=TIGHT))
    r = run("compare", str(tmp_path / "base"), str(tmp_path / "other"), "--fail-on", text)
    assert r.returncode == 2 and "names no rule" in r.stderr
    r = run("compare", str(tmp_path / "base"), str(tmp_path / "other"), "--fail-on", "latency_s.p50>+10%")
    assert r.returncode == 1 and "share no model" in r.stderr


def test_cli_gate_exits_1_for_a_failed_model(tmp_path: Path) -> None:
    from .test_cli import run

    write_run(tmp_path / "base", row("m", latency_s=TIGHT), records(latency_s=TIGHT))
    write_run(tmp_path / "new", ModelSummary(model="m", backend="openai", status="error", error="HTTP 500"))
    r = run("compare", str(tmp_path / "base"), str(tmp_path / "new"), "--fail-on", "latency_s.p50>+10%")
    assert r.returncode == 1 and "m: error in the new run (HTTP 500)" in " ".join(r.stderr.split())
    r = run("compare", str(tmp_path / "base"), str(tmp_path / "new"))
    assert r.returncode == 0  # without --fail-on there is no gate to fail


def test_a_failed_model_without_a_message_still_fails_the_gate(tmp_path: Path) -> None:
    write_run(tmp_path / "a", row("m", latency_s=TIGHT))
    write_run(tmp_path / "b", ModelSummary(model="m", backend="openai", status="skipped"))
    c = compare(tmp_path / "a", tmp_path / "b", parse_rules("latency_s.p50>+10%"))
    assert c.gate_failed == ["m: skipped in the new run (no measured requests)"]


def test_a_run_that_stopped_early_fails_the_gate(tmp_path: Path) -> None:
    write_run(tmp_path / "a", row("m", latency_s=TIGHT), records(latency_s=TIGHT))
    stopped = row("m", latency_s=[10.0])
    stopped.error = "stopped after 5 consecutive failed requests; last: HTTP 500"
    write_run(tmp_path / "b", stopped, records(latency_s=[10.0]))
    c = compare(tmp_path / "a", tmp_path / "b", parse_rules("latency_s.p50>+10%"))
    assert c.broken == []  # one sample: too few to call a change...
    assert c.gate_failed == [  # ...but a run that gave up is a failure of its own
        "m: stopped early in the new run (stopped after 5 consecutive failed requests; last: HTTP 500)"
    ]


def test_a_rule_with_nothing_to_check_fails_the_gate(tmp_path: Path) -> None:
    write_run(tmp_path / "a", row("m", latency_s=TIGHT, ttft_s=TIGHT), records(latency_s=TIGHT, ttft_s=TIGHT))
    write_run(tmp_path / "b", row("m", latency_s=TIGHT), records(latency_s=TIGHT))  # no streaming: no TTFT
    c = compare(tmp_path / "a", tmp_path / "b", parse_rules("ttft_s.p50>+10%,latency_s.p50>+10%"))
    assert c.gate_failed == ["m: ttft_s.p50>+10% cannot be checked, the new run has no ttft_s.p50"]


def test_rules_name_only_statistics_that_exist() -> None:
    from bakeoff.errors import UsageError

    for bad in ("latency_s.median>+10%", "ttft_s.p75>+10%", "latency_s.max>+1%"):
        with pytest.raises(UsageError) as e:
            parse_rules(bad)
        assert (
            e.value.message.startswith("unknown statistic")
            and e.value.hint == "one of mean, p50, p90, p95, p99"
        )
    assert [r.stat for r in parse_rules("quality.check_pass_rate<-0.1,latency_s.mean>+5%")] == [
        "check_pass_rate",
        "mean",
    ]


def test_a_run_from_before_prompt_tags_counts_as_reusing_the_cache() -> None:
    from bakeoff.analysis.compare import setting_differences

    old = Summary(run=RunInfo(settings={"max_tokens": 8}, environment={}, started_at="t"))
    new = Summary(
        run=RunInfo(
            settings={"max_tokens": 8, "prompt_cache": "unique-prefix"}, environment={}, started_at="t"
        )
    )
    assert setting_differences(old, new) == ["prompt_cache: 'reuse' -> 'unique-prefix'"]
    same = Summary(
        run=RunInfo(settings={"max_tokens": 8, "prompt_cache": "reuse"}, environment={}, started_at="t")
    )
    assert setting_differences(old, same) == []


def test_the_footer_names_the_floor_in_use(tmp_path: Path) -> None:
    write_run(tmp_path / "a", row(latency_s=TIGHT), records(latency_s=TIGHT))
    text = render_diff(
        compare(tmp_path / "a", tmp_path / "a", min_change=0.015), tmp_path / "a", tmp_path / "a"
    )
    assert "or under 1.5% of the base, is *unchanged*." in text


def test_models_only_in_the_new_run_do_not_hide_a_failure(tmp_path: Path) -> None:
    write_run(tmp_path / "a", row("m", latency_s=TIGHT))
    write_run(
        tmp_path / "b", row("added", latency_s=TIGHT), ModelSummary(model="m", backend="x", status="error")
    )
    c = compare(tmp_path / "a", tmp_path / "b", parse_rules("latency_s.p50>+10%"))
    assert c.gate_failed == ["m: error in the new run (no measured requests)"]


def test_a_setting_only_the_base_recorded_is_not_a_difference() -> None:
    from bakeoff.analysis.compare import setting_differences

    base = Summary(run=RunInfo(settings={"max_tokens": 8, "rounds": 5}, environment={}, started_at="t"))
    new = Summary(run=RunInfo(settings={"max_tokens": 8}, environment={}, started_at="t"))
    assert setting_differences(base, new) == [] and setting_differences(new, base) == []


def test_a_run_that_recorded_no_settings_differs_in_nothing() -> None:
    """A summary rebuilt after a kill before any model finished has no settings: comparing it must not
    read the missing prompt_cache as "reuse" (what its absence meant in older runs) and warn."""
    from bakeoff.analysis.compare import setting_differences

    def run(settings: dict[str, Any], cpu: str = "a") -> Summary:
        env = {"cpu_model": cpu}
        return Summary(run=RunInfo(settings=settings, environment=env, started_at="x"), models=[])

    normal = run({"prompt_cache": "unique-prefix", "rounds": 3})
    assert setting_differences(normal, run({})) == [] and setting_differences(run({}), normal) == []
    # the machine is still compared when the settings are unknown
    assert setting_differences(normal, run({}, cpu="b")) == ["machine cpu_model: 'a' -> 'b'"]
    # a run from before the setting existed still reads as "reuse": that difference is real
    assert setting_differences(normal, run({"rounds": 3})) == ["prompt_cache: 'unique-prefix' -> 'reuse'"]
