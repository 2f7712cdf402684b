"""Compare two saved runs: align models, report deltas with noise-aware verdicts, gate on rules.

A change counts only when it is larger than the runs' own noise and big enough to matter: with both
runs' ``records.jsonl`` at hand, the 95% bootstrap interval of the difference of the statistic (2000
resamples of the per-request values, fixed seed) must exclude zero; without records, the change must
exceed the wider of the two runs' p50-to-p90 spreads; and either way it must be at least
``min_change`` (2%) of the base value. A ``--fail-on`` rule breaks only on a real (not noise)
change beyond its threshold, so a CI gate does not flap on a shared machine.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bakeoff.errors import UsageError
from bakeoff.metrics import definitions
from bakeoff.metrics.stats import ci95
from bakeoff.results.schema import ModelSummary, Summary, load_records, load_summary, measured_samples


def compared_metrics() -> tuple[str, ...]:
    """Per-request metrics compare resamples (``compare=True`` in metrics.definitions); ``quality``, a
    run-level figure, is compared too."""
    return tuple(m.name for m in definitions.request_metrics_defs() if m.compare)


def default_view() -> list[tuple[str, str]]:
    """(metric, statistic) pairs compare shows without a rule, from each metric's ``compare_view``."""
    return [(m.name, st) for m in definitions.request_metrics_defs() for st in m.compare_view]


def _higher_is_better(metric: str) -> bool:
    return metric == "quality" or definitions.get(metric).higher_is_better


RULE_STATS = ("mean", "p50", "p90", "p95", "p99")
"""Statistics a rule may name: those every summary keeps and compare can resample."""

_RULE = re.compile(r"^\s*([a-z_]+)\.([a-z0-9_]+)\s*([<>])\s*([+-]?\d+(?:\.\d+)?)(%?)\s*$")


@dataclass(frozen=True)
class Rule:
    metric: str
    stat: str
    op: str  # '>' breaks when the change is above the threshold, '<' when below
    value: float
    relative: bool

    def __str__(self) -> str:
        return f"{self.metric}.{self.stat}{self.op}{self.value:+g}{'%' if self.relative else ''}"


def parse_rules(text: str | None) -> list[Rule]:
    """``"ttft_s.p50>+10%,decode_tokens_per_s.mean<-5%,quality.mean<-0.3"``. None is no gate; a text
    that names no rule (``""``, a CI variable that expanded empty) is an error, not a gate switched off."""
    if text is not None and not text.replace(",", "").strip():
        raise UsageError(
            f"--fail-on {text!r} names no rule",
            hint="give rules such as ttft_s.p50>+10%, or leave --fail-on out for a diff without a gate",
        )
    rules = []
    for part in (text or "").split(","):
        if not part.strip():
            continue
        m = _RULE.match(part)
        if not m:
            raise UsageError(
                f"cannot read --fail-on rule {part.strip()!r}",
                hint="write METRIC.STAT>+N% or METRIC.STAT<-N, e.g. ttft_s.p50>+10%",
            )
        metric, stat, op, value, pct = m.groups()
        known = [*compared_metrics(), "quality"]
        if metric not in known:
            raise UsageError(f"unknown metric {metric!r} in --fail-on", hint=f"one of {', '.join(known)}")
        if metric != "quality" and stat not in RULE_STATS:
            raise UsageError(
                f"unknown statistic {stat!r} in --fail-on rule {part.strip()!r}",
                hint=f"one of {', '.join(RULE_STATS)}",
            )
        rules.append(Rule(metric, stat, op, float(value), pct == "%"))
    return rules


@dataclass(frozen=True)
class Delta:
    model: str
    metric: str
    stat: str
    base: float | None
    new: float | None
    change: float | None  # new - base
    relative: float | None  # change / base
    verdict: str  # better | worse | unchanged | too few samples | n/a
    method: str


def _stat(xs: np.ndarray, stat: str) -> float:
    if stat == "mean":
        return float(xs.mean())
    if stat.startswith("p") and stat[1:].isdigit():
        return float(np.percentile(xs, int(stat[1:]), method="linear"))
    raise UsageError(f"unknown statistic {stat!r}", hint="mean, p50, p90, p95 or p99")


def bootstrap_diff(
    a: Sequence[float], b: Sequence[float], stat: str, n: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """95% interval of stat(b) - stat(a), resampling each side's requests."""
    rng = np.random.default_rng(seed)
    xa, xb = np.asarray(a), np.asarray(b)
    ia = rng.integers(0, len(xa), size=(n, len(xa)))
    ib = rng.integers(0, len(xb), size=(n, len(xb)))
    diffs = np.array([_stat(xb[j], stat) - _stat(xa[i], stat) for i, j in zip(ia, ib, strict=True)])
    return ci95(diffs)


def _value(m: ModelSummary, metric: str, stat: str) -> float | None:
    if metric == "quality":
        v = getattr(m.quality, stat, None)  # no quality block (None), or a figure it lacks: unknown
        return float(v) if isinstance(v, int | float) else None
    st = m.stat(metric)
    v = getattr(st, stat, None)
    return float(v) if v is not None else None


REAL = ("better", "worse")
"""The verdicts a --fail-on rule can break on: noise, too few samples and missing values never do."""


def _spread(m: ModelSummary, metric: str) -> float:
    """p90 - p50 of a metric's summary statistics: the noise bar when no per-request records exist."""
    st = m.stat(metric)
    assert st.p90 is not None and st.p50 is not None  # callers check n >= MIN_SAMPLES first
    return float(abs(st.p90 - st.p50))


def _n(m: ModelSummary, metric: str) -> int:
    n: int = m.stat(metric).n
    return n


MIN_SAMPLES = 2
"""A verdict needs at least this many measured requests on each side: one sample has no spread."""

MIN_CHANGE = 0.02
"""Changes smaller than this fraction are "unchanged" even when statistically detectable: a benchmark
that calls a 0.3% TTFT shift "better" is reporting precision, not a difference anyone can use."""


def delta(
    base_records: list[dict[str, Any]],
    new_records: list[dict[str, Any]],
    b: ModelSummary,
    n: ModelSummary,
    metric: str,
    stat: str,
    min_change: float = MIN_CHANGE,
) -> Delta:
    vb, vn = _value(b, metric, stat), _value(n, metric, stat)
    if vb is None or vn is None:
        return Delta(b.model, metric, stat, vb, vn, None, None, "n/a", "missing in one run")
    change = vn - vb
    rel = change / vb if vb else None
    if metric not in compared_metrics():  # quality: one figure per run, nothing to resample
        real, method = change != 0, "a run-level figure: any change is real"
    else:
        sa = measured_samples(base_records, b.model, metric)
        sb = measured_samples(new_records, n.model, metric)
        counts = (len(sa), len(sb)) if sa and sb else (_n(b, metric), _n(n, metric))
        if min(counts) < MIN_SAMPLES:
            method = f"too few samples to tell a change from noise: n={counts[0]}/{counts[1]}"
            return Delta(b.model, metric, stat, vb, vn, change, rel, "too few samples", method)
        if sa and sb:
            lo, hi = bootstrap_diff(sa, sb, stat)
            real = lo > 0 or hi < 0
            method = f"bootstrap 95% CI of the difference [{lo:+.4g}, {hi:+.4g}], n={len(sa)}/{len(sb)}"
        else:
            noise = max(_spread(b, metric), _spread(n, metric))
            real = abs(change) > noise
            method = f"no per-request records: change vs spread {noise:.4g}"
    if rel is not None and abs(rel) < min_change:
        real = False
    better = change > 0 if _higher_is_better(metric) else change < 0
    verdict = "unchanged" if not real else ("better" if better else "worse")
    return Delta(b.model, metric, stat, vb, vn, change, rel, verdict, method)


@dataclass
class Comparison:
    base: Summary
    new: Summary
    deltas: list[Delta]
    only_base: list[str]
    only_new: list[str]
    broken: list[tuple[Rule, Delta]]
    settings_differ: list[str]
    gate_failed: list[str]
    min_change: float = MIN_CHANGE
    rules: tuple[Rule, ...] = ()


def compare(
    base_dir: Path, new_dir: Path, rules: Sequence[Rule] = (), min_change: float = MIN_CHANGE
) -> Comparison:
    base, new = load_summary(base_dir), load_summary(new_dir)
    brecs, nrecs = load_records(base_dir), load_records(new_dir)  # read once, not once per delta
    bm = {m.model: m for m in base.models}
    nm = {m.model: m for m in new.models}
    views = list(dict.fromkeys([*default_view(), *((r.metric, r.stat) for r in rules)]))
    deltas = [
        delta(brecs, nrecs, bm[name], nm[name], metric, stat, min_change)
        for name in bm
        if name in nm
        for metric, stat in views
    ]
    broken = []
    for rule in rules:
        for d in deltas:
            if (d.metric, d.stat) != (rule.metric, rule.stat) or d.change is None or d.verdict not in REAL:
                continue
            amount = (d.relative * 100 if d.relative is not None else None) if rule.relative else d.change
            if amount is None:
                continue
            if (rule.op == ">" and amount > rule.value) or (rule.op == "<" and amount < rule.value):
                broken.append((rule, d))
    return Comparison(
        base,
        new,
        deltas,
        [m for m in bm if m not in nm],
        [m for m in nm if m not in bm],
        broken,
        setting_differences(base, new),
        gate_failures(base, new, rules, deltas) if rules else [],
        min_change,
        tuple(rules),
    )


def gate_failures(
    base: Summary, new: Summary, rules: Sequence[Rule] = (), deltas: Sequence[Delta] = ()
) -> list[str]:
    """What fails a gate whatever the thresholds say: nothing to compare, a model gone, a model that
    failed or stopped early, a rule with no value to check in the new run.

    A rule can only break on a number that exists; a new run whose model crashed has none, so without
    these a gate would pass exactly when the change is worst. (Too few samples is not a failure: the
    number exists, it just cannot be told from noise.)"""
    names = {m.model for m in new.models}
    shared = [m.model for m in base.models if m.model in names]
    out = [] if shared else ["the runs share no model, so no rule could be checked"]
    out += [f"{m.model}: missing from the new run" for m in base.models if m.model not in names]
    for m in new.models:
        if m.model not in shared:
            continue
        if m.status != "ok":
            out.append(f"{m.model}: {m.status} in the new run ({m.error or 'no measured requests'})")
        elif m.error:  # ok with an error: stopped early (e.g. after consecutive failed requests)
            out.append(f"{m.model}: stopped early in the new run ({m.error})")
    failed = {m.model for m in new.models if m.status != "ok"}
    for rule in rules:
        for d in deltas:
            if (d.metric, d.stat) == (rule.metric, rule.stat) and d.new is None and d.model not in failed:
                out.append(f"{d.model}: {rule} cannot be checked, the new run has no {d.metric}.{d.stat}")
    return out


COMPARED_SETTINGS = (
    "prompts_sha256", "prompts_source", "prompt_count", "max_tokens", "temperature", "seed", "stream",
    "concurrency", "rate", "arrival", "rounds", "warmup", "endpoint", "prompt_cache",
)  # fmt: skip
_BEFORE = {"prompt_cache": "reuse"}
"""What a run recorded before a setting existed meant: prompts were sent unchanged."""
"""Run settings that change what a metric measures; a difference in any of them is named in the diff."""
COMPARED_MACHINE = ("cpu_model", "cpu_count", "ram_gb", "machine", "os", "gpu")
"""Environment facts that make two runs different machines."""


def setting_differences(base: Summary, new: Summary) -> list[str]:
    """Each setting or machine fact that both runs recorded and that differs, as ``key: old -> new``
    (a key only one run recorded, e.g. from an older bakeoff, is not a difference, unless what its
    absence meant is known: ``_BEFORE``). A run that recorded no settings at all (rebuilt from its
    records after a kill before any model finished) has nothing to compare: what it ran is unknown,
    not "as before"."""
    out = []
    for a, b, keys, prefix in (
        (base.run.settings, new.run.settings, COMPARED_SETTINGS, ""),
        (base.run.environment, new.run.environment, COMPARED_MACHINE, "machine "),
    ):
        if not a or not b:
            continue
        for k in keys:
            va, vb = a.get(k, _BEFORE.get(k)), b.get(k, _BEFORE.get(k))
            if (k in a or k in _BEFORE) and (k in b or k in _BEFORE) and va != vb:
                out.append(f"{prefix}{k}: {va!r} -> {vb!r}")
    return out
