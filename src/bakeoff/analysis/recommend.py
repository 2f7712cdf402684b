"""From numbers to a decision: hard constraints first, then a weighted score, the Pareto frontier of
quality against speed, and how sure the call is.

Scores are relative: on each dimension a model gets best/value (lower-is-better) or value/best
(higher-is-better), so the best model scores 1; the weighted mean over the dimensions with data is
the model's score. Its 95% interval comes from resampling each model's requests (latency and decode
rate) 500 times with a fixed seed; when the runner-up's interval overlaps the winner's, the call is a
tie, not a win.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bakeoff.errors import UsageError
from bakeoff.metrics.stats import ci95
from bakeoff.results.schema import ModelSummary, Summary, iter_records, measured_sample_arrays

DIMENSIONS = ("latency", "throughput", "quality", "checks", "memory", "capacity")
LOWER_IS_BETTER = frozenset({"latency", "memory"})
DEFAULT_WEIGHTS = {
    "latency": 1.0, "throughput": 1.0, "quality": 2.0, "checks": 1.0, "memory": 0.5, "capacity": 1.0,
}  # fmt: skip
OPTIONAL = frozenset({"capacity"})
"""Dimensions only some runs measure (capacity needs --profile and --slo): left out without a note
when no model has them."""


def parse_weights(text: str | None) -> dict[str, float]:
    """``latency=1,throughput=1,quality=2,checks=1,memory=0.5`` (unnamed dimensions keep their default)."""
    weights = dict(DEFAULT_WEIGHTS)
    given: set[str] = set()
    for part in (text or "").split(","):
        if not part.strip():
            continue
        key, _, value = part.partition("=")
        key = key.strip()
        if key not in DIMENSIONS:
            raise UsageError(f"unknown weight {key!r}", hint=f"use {', '.join(DIMENSIONS)}")
        given.add(key)
        try:
            weights[key] = float(value)
        except ValueError:
            raise UsageError(f"weight {key} must be a number, got {value!r}") from None
        if not math.isfinite(weights[key]) or weights[key] < 0:
            raise UsageError(f"weight {key} must be a finite number, 0 or more, got {value.strip()!r}")
    # an optional dimension (capacity) is scored only when measured: by default it cannot carry a score
    if not any(v for k, v in weights.items() if k not in OPTIONAL or k in given):
        raise UsageError(
            f"--weights {text!r} makes every weight 0: there is nothing to score on",
            hint="give at least one dimension a weight above 0, e.g. latency=1",
        )
    return weights


@dataclass(frozen=True)
class Constraints:
    max_memory_mb: float | None = None
    max_p95_s: float | None = None
    min_quality: float | None = None
    min_capacity: float | None = None
    """Requests per second the model must carry within the run's SLO (``capacity.py``)."""
    licenses: tuple[str, ...] = ()
    capability: str | None = None

    def __post_init__(self) -> None:
        """A limit that no model could meet, or that means nothing, is the user's mistake: say so."""
        for flag, v in (("--max-memory-mb", self.max_memory_mb), ("--max-p95-s", self.max_p95_s),
                        ("--min-capacity", self.min_capacity)):  # fmt: skip
            if v is not None and not (math.isfinite(v) and v > 0):
                raise UsageError(f"{flag} must be a number above 0, got {v:g}")
        if self.min_quality is not None and not 1 <= self.min_quality <= 5:
            raise UsageError(
                f"--min-quality {self.min_quality:g} is off the 1-5 scale of quality scores",
                hint="give a score from 1 to 5, e.g. --min-quality 3.5",
            )


@dataclass
class Candidate:
    model: str
    values: dict[str, float | None]
    score: float = 0.0
    interval: tuple[float, float] = (0.0, 0.0)
    excluded: str | None = None
    pareto: bool = False
    lost_because: str | None = None


QUALITY_SOURCES = {
    "score": "the 1-5 score of people and qualified judges",
    "trusting": "the 1-5 score of people and every judge, qualified or not (--trust-judge)",
    "reference": "ROUGE-L F1 against the reference answers (0-1): not every model has a 1-5 score",
}


@dataclass
class Recommendation:
    winner: str | None
    runners_up: list[str]
    confidence: str
    candidates: list[Candidate]
    dimensions: list[str]
    weights: dict[str, float]
    notes: list[str] = field(default_factory=list)
    frontier_axes: tuple[str, str] = ("throughput", "quality")
    quality_source: str | None = None
    """Where the quality dimension's values come from: a key of ``QUALITY_SOURCES``."""

    def to_json(self) -> dict[str, Any]:
        return {
            "winner": self.winner,
            "quality_source": self.quality_source,
            "runners_up": self.runners_up,
            "confidence": self.confidence,
            "dimensions": self.dimensions,
            "weights": self.weights,
            "frontier_axes": list(self.frontier_axes),
            "notes": self.notes,
            "candidates": [c.__dict__ | {"interval": list(c.interval)} for c in self.candidates],
        }


def quality_value(m: ModelSummary, source: str) -> float | None:
    """A model's value on the quality dimension from ``source`` (a key of ``QUALITY_SOURCES``)."""
    q = m.quality
    if source not in QUALITY_SOURCES:
        raise ValueError(f"unknown quality source {source!r}")
    if q is None:
        return None
    if source == "reference":
        return q.reference.rouge_l if q.reference else None
    return q.mean_trusting_judges if source == "trusting" else q.mean


def pick_quality_source(models: Sequence[ModelSummary], trust_judge: bool) -> str:
    """The 1-5 score (trusting every judge with ``trust_judge``) where every model has one, else the
    reference figure where every model has that, else the score (and quality drops out, with a note)."""
    score = "trusting" if trust_judge else "score"
    for source in (score, "reference"):
        if models and all(quality_value(m, source) is not None for m in models):
            return source
    return score


def _values(m: ModelSummary, source: str) -> dict[str, float | None]:
    ch = m.quality.check_pass_rate if m.quality else None
    return {
        "latency": m.latency_s.p50,
        "throughput": m.decode_tokens_per_s.p50 or m.output_tokens_per_s.mean,
        "quality": quality_value(m, source),
        "checks": ch,
        "memory": m.resources.peak_rss_mb,
        "capacity": capacity_of(m),
    }


def capacity_of(m: ModelSummary) -> float | None:
    """Requests per second within the run's SLO; None without --profile and --slo."""
    return m.load.capacity.per_s if m.load and m.load.capacity else None


def _check(m: ModelSummary, c: Constraints, trust_judge: bool) -> str | None:
    if m.status != "ok":
        return f"no results ({m.status}: {m.error})"
    peak = m.resources.peak_rss_mb
    if c.max_memory_mb is not None:
        if peak is None:
            return "memory unknown, so the memory budget cannot be checked"
        if peak > c.max_memory_mb:
            return f"peak memory {peak:.0f} MB > budget {c.max_memory_mb:g} MB"
    if c.max_p95_s is not None and (m.latency_s.p95 is None or m.latency_s.p95 > c.max_p95_s):
        return f"p95 latency {m.latency_s.p95 or float('nan'):.2f} s > SLO {c.max_p95_s:g} s"
    if c.min_capacity is not None:
        cap = capacity_of(m)
        if cap is None:
            return "capacity unknown: run bench with --profile and --slo to measure it"
        if cap < c.min_capacity:
            return f"capacity {cap:.2f} req/s within the SLO < minimum {c.min_capacity:g}"
    q = quality_value(m, "trusting" if trust_judge else "score")
    if c.min_quality is not None and (q is None or q < c.min_quality):
        return f"quality {q if q is not None else 'unknown'} < minimum {c.min_quality:g}"
    lic = str(m.info.get("license") or "").lower()
    if c.licenses and lic not in c.licenses:
        return f"license {m.info.get('license') or 'unknown'!r} not in {', '.join(c.licenses)}"
    if c.capability and c.capability not in (m.info.get("capabilities") or []):
        return f"lacks capability {c.capability!r}"
    return None


def _scores(
    vals: Mapping[str, Mapping[str, float | None]], dims: list[str], w: Mapping[str, float]
) -> dict[str, float]:
    best: dict[str, float | None] = {}
    for d in dims:
        xs = [x for v in vals.values() if (x := v[d]) is not None and x > 0]
        best[d] = (min(xs) if d in LOWER_IS_BETTER else max(xs)) if xs else None
    total_w = sum(w[d] for d in dims)
    out = {}
    for name, v in vals.items():
        rel = [(w[d], relative(d, v[d], best[d])) for d in dims]
        out[name] = sum(wd * r for wd, r in rel if r is not None) / total_w if total_w else 0.0
    return out


def relative(d: str, value: float | None, best: float | None) -> float | None:
    """How close ``value`` comes to ``best`` on dimension ``d``, 1 at best: best/value where lower is
    better, value/best where higher is (0 for a zero score); None where either is unknown, the best is
    not positive, or a lower-is-better value is not positive (no points, no gap)."""
    if value is None or best is None or best <= 0:
        return None
    if d in LOWER_IS_BETTER:
        return best / value if value > 0 else None  # 0 s or 0 MB: a broken reading, not infinitely good
    return max(value, 0.0) / best  # nothing passed, no throughput: 0 points, and the whole gap


_SAMPLED = {"latency": "latency_s", "throughput": "decode_tokens_per_s"}
"""The dimensions bootstrapped from per-request samples, and the metric each one resamples."""


def recommend(
    summary: Summary,
    run_dir: Path | None = None,
    weights: Mapping[str, float] | None = None,
    constraints: Constraints | None = None,
    boot: int = 500,
    trust_judge: bool = False,
) -> Recommendation:
    """Constraints, then the weighted score with its interval, the frontier and the confidence. The
    quality dimension uses people's and qualified judges' scores; ``trust_judge`` counts every judge."""
    w = dict(weights or DEFAULT_WEIGHTS)
    c = constraints or Constraints()
    excluded = {m.model: _check(m, c, trust_judge) for m in summary.models}
    passing = [m for m in summary.models if excluded[m.model] is None]
    source = pick_quality_source(passing, trust_judge)
    cands = [Candidate(m.model, _values(m, source), excluded=excluded[m.model]) for m in summary.models]
    ok = [x for x in cands if x.excluded is None]
    notes: list[str] = []
    for x in cands:
        if x.excluded:
            x.lost_because = f"excluded: {x.excluded}"
    if not ok:
        return Recommendation(None, [], "no model meets the constraints", cands, [], w)
    dims = [d for d in DIMENSIONS if w.get(d, 0) > 0 and all(x.values[d] is not None for x in ok)]
    unmeasured = {d for d in OPTIONAL if all(x.values[d] is None for x in ok)}  # no run measured it
    for d in DIMENSIONS:
        if w.get(d, 0) > 0 and d not in dims and d not in unmeasured:
            notes.append(f"{d} left out of the score: not measured for every remaining model")
    lower = [m.model for m in passing if m.load and m.load.capacity and m.load.capacity.basis == "at least"]
    if "capacity" in dims and lower:
        notes.append(
            f"capacity of {', '.join(lower)} is a lower bound (its most loaded stage still met the SLO): "
            "a sweep to higher load would tell"
        )
    unqualified = sorted({j for m in passing if m.quality for j in m.quality.unqualified_judges})
    if "quality" in dims:
        whose = " from people or any judge" if trust_judge else " from people or a qualified judge"
        notes.append(f"quality is {QUALITY_SOURCES[source]}" + (whose if source == "reference" else ""))
    if unqualified and not trust_judge:
        notes.append(
            f"scores of unqualified judge(s) {', '.join(unqualified)} are not counted as quality; "
            "--trust-judge counts them"
        )
    vals = {x.model: x.values for x in ok}
    point = _scores(vals, dims, w)
    columns = measured_sample_arrays(iter_records(run_dir) if run_dir else (), list(_SAMPLED.values()))
    samples: dict[str, dict[str, np.ndarray]] = {}
    for name in vals:
        per = {d: columns.get(name, {}).get(metric, np.empty(0)) for d, metric in _SAMPLED.items()}
        if any(xs.size for xs in per.values()):
            samples[name] = per
    rng = np.random.default_rng(0)
    draws: dict[str, list[float]] = {x.model: [] for x in ok}
    for _ in range(boot if samples else 0):
        rv = {}
        for name, v in vals.items():
            v2 = dict(v)
            for d in ("latency", "throughput"):
                xs = samples.get(name, {}).get(d)
                if d in dims and xs is not None and xs.size:
                    v2[d] = float(np.median(rng.choice(xs, size=len(xs))))
            rv[name] = v2
        for name, s in _scores(rv, dims, w).items():
            draws[name].append(s)
    for x in ok:
        x.score = point[x.model]
        ds = draws[x.model]
        x.interval = ci95(ds) if ds else (x.score, x.score)
    ranked = sorted(ok, key=lambda x: x.score, reverse=True)
    winner, rest = ranked[0], ranked[1:]
    ties = [x.model for x in rest if x.interval[1] >= winner.interval[0]]
    if not samples:
        notes.append("no per-request records: score intervals unavailable, ties judged on points only")
    if ties:
        confidence = f"tie: {', '.join(ties)} within the winner's 95% interval"
    elif rest:
        confidence = (
            "clear: the runner-up's 95% interval lies below the winner's "
            f"({rest[0].interval[1]:.3f} < {winner.interval[0]:.3f})"
        )
    else:
        confidence = "only one model meets the constraints"
    for x in rest:
        gaps = {
            d: w[d] * (1 - r) for d in dims if (r := relative(d, x.values[d], winner.values[d])) is not None
        }
        if gaps:
            gap = max(gaps, key=lambda k: gaps[k])
            x.lost_because = (
                f"biggest gap: {gap} ({_fmt(gap, x.values[gap])} vs {_fmt(gap, winner.values[gap])})"
            )
    second = next((d for d in ("quality", "checks") if d in dims), "memory")
    axes = ("throughput", second)
    if second == "checks":
        notes.append("no quality score for every model: the frontier is speed against checks passed")
    elif second == "memory":
        notes.append("no quality scores: the frontier is speed against memory")
    for x in ok:
        x.pareto = not any(_dominates(y, x, axes) for y in ok if y is not x)
    used = source if "quality" in dims else None
    runners_up = [x.model for x in rest]
    return Recommendation(winner.model, runners_up, confidence, cands, dims, w, notes, axes, used)


def _dominates(a: Candidate, b: Candidate, axes: Sequence[str]) -> bool:
    better_or_equal, strictly = True, False
    for d in axes:
        va, vb = a.values[d], b.values[d]
        if va is None or vb is None:
            return False
        sa, sb = (-va, -vb) if d in LOWER_IS_BETTER else (va, vb)
        if sa < sb:
            better_or_equal = False
        if sa > sb:
            strictly = True
    return better_or_equal and strictly


def _fmt(d: str | None, v: float | None) -> str:
    if v is None or d is None:
        return "n/a"
    return {
        "latency": f"{v:.2f} s",
        "throughput": f"{v:.1f} tok/s",
        "quality": f"{v:.2f}",
        "checks": f"{v:.0%} of checks",
        "memory": f"{v:.0f} MB",
        "capacity": f"{v:.2f} req/s",
    }[d]
