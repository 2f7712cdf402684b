"""Property-based tests (Hypothesis) for the statistics, the open-loop schedules, compare's bootstrap
and the Bradley-Terry fit, plus the schedules' known answers."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bakeoff.analysis.compare import bootstrap_diff
from bakeoff.load.schedule import arrival_offsets
from bakeoff.metrics.stats import stats
from bakeoff.quality.pairwise import Comparison, bradley_terry

samples = st.lists(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False), min_size=1, max_size=200
)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(samples)
def test_percentiles_are_ordered_and_inside_the_samples(xs: list[float]) -> None:
    s = stats(xs)
    assert s.n == len(xs)
    assert s.min == min(xs) and s.max == max(xs)
    eps = 1e-9 * max(1.0, abs(s.min or 0), abs(s.max or 0))
    assert s.min - eps <= s.p50 <= s.p90 + eps  # type: ignore[operator]
    assert s.p90 <= s.p95 + eps and s.p95 <= s.p99 + eps and s.p99 <= s.max + eps  # type: ignore[operator]
    assert s.min - eps <= s.mean <= s.max + eps  # type: ignore[operator]


@FAST
@given(samples, st.integers(min_value=0, max_value=20))
def test_unknown_values_never_count(xs: list[float], nones: int) -> None:
    assert stats([*xs, *([None] * nones)]) == stats(xs)


@FAST
@given(samples)
def test_order_of_samples_does_not_matter(xs: list[float]) -> None:
    a, b = stats(xs), stats(list(reversed(xs)))
    assert (a.p50, a.p90, a.p95, a.p99, a.min, a.max) == (b.p50, b.p90, b.p95, b.p99, b.min, b.max)


@FAST
@given(
    st.integers(min_value=0, max_value=500),
    st.floats(min_value=0.1, max_value=5000),
    st.sampled_from(["constant", "poisson"]),
    st.integers(min_value=0, max_value=2**31),
)
def test_schedules_start_at_zero_never_go_back_and_keep_every_request(
    n: int, rate: float, arrival: str, seed: int
) -> None:
    offs = arrival_offsets(n, rate, arrival, seed)
    assert len(offs) == n and all(isinstance(o, int) for o in offs)
    if n:
        assert offs[0] == 0
    assert all(b >= a for a, b in itertools.pairwise(offs))
    assert offs == arrival_offsets(n, rate, arrival, seed)  # the same seed, the same schedule


@FAST
@given(st.integers(min_value=2, max_value=300), st.floats(min_value=0.5, max_value=1000))
def test_constant_schedule_is_evenly_spaced(n: int, rate: float) -> None:
    offs = arrival_offsets(n, rate, "constant", None)
    gap = 1e9 / rate
    assert all(abs(o - i * gap) <= 1 for i, o in enumerate(offs))


def test_schedules_by_hand() -> None:
    assert arrival_offsets(4, 10.0, "constant", 0) == [0, 100_000_000, 200_000_000, 300_000_000]
    assert arrival_offsets(3, 4.0, "constant", None) == [0, 250_000_000, 500_000_000]
    assert arrival_offsets(0, 4.0, "poisson", 1) == [] and arrival_offsets(1, 4.0, "poisson", 1) == [0]
    assert arrival_offsets(50, 2.0, "poisson", 1) != arrival_offsets(50, 2.0, "poisson", 2)


def test_poisson_gaps_are_exponential_at_the_asked_rate() -> None:
    """Independent check with SciPy: the gaps of a seeded Poisson schedule pass a Kolmogorov-Smirnov
    test against Exponential(1/rate), and their mean is 1/rate within 3 standard errors."""
    from scipy.stats import kstest

    rate, n = 20.0, 4000
    offs = np.asarray(arrival_offsets(n, rate, "poisson", 3)) / 1e9
    gaps = np.diff(offs)
    assert abs(gaps.mean() - 1 / rate) < 3 * (1 / rate) / math.sqrt(len(gaps))
    assert kstest(gaps, "expon", args=(0, 1 / rate)).pvalue > 0.01
    # the schedule spans n - 1 gaps: about (n - 1) / rate seconds
    assert offs[-1] == pytest.approx((n - 1) / rate, rel=0.1)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(min_value=0.1, max_value=10), min_size=2, max_size=30),
    st.lists(st.floats(min_value=0.1, max_value=10), min_size=2, max_size=30),
    st.sampled_from(["mean", "p50", "p95"]),
)
def test_bootstrap_interval_is_ordered_and_bounded(a: list[float], b: list[float], stat: str) -> None:
    lo, hi = bootstrap_diff(a, b, stat, n=200)
    assert lo <= hi
    assert min(b) - max(a) - 1e-9 <= lo and hi <= max(b) - min(a) + 1e-9


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from("abc"), st.sampled_from("ab-")), max_size=40)
)
def test_bradley_terry_is_centred_finite_and_rewards_wins(games: list[tuple[str, str, str]]) -> None:
    comps = []
    for x, y, w in games:
        if x == y:
            continue
        a, b = sorted((x, y))
        comps.append(Comparison("c", a, b, {"a": a, "b": b}.get(w), True))
    bt = bradley_terry(["a", "b", "c"], comps)
    assert abs(sum(bt.values())) < 1e-6 and all(math.isfinite(v) for v in bt.values())
    # one more win for the weakest model never lowers its strength
    weakest = min(bt, key=lambda m: bt[m])
    other = next(m for m in "abc" if m != weakest)
    a, b = sorted((weakest, other))
    more = bradley_terry(["a", "b", "c"], [*comps, Comparison("x", a, b, weakest, True)])
    assert more[weakest] >= bt[weakest] - 1e-6
