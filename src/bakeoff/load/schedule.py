"""Open-loop schedules: when each request is meant to go out (pure: counts and a seed in, times out)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def arrival_offsets(n: int, rate: float, arrival: str, seed: int | None) -> list[int]:
    """Nanosecond send offsets of ``n`` requests at ``rate`` per second: evenly spaced (constant) or
    with exponential gaps (Poisson), seeded so a run can be repeated."""
    if arrival == "poisson":
        gaps = np.random.default_rng(seed).exponential(1.0 / rate, size=n)
        times = np.concatenate([[0.0], np.cumsum(gaps[:-1])]) if n else np.array([])
        return [int(t * 1e9) for t in times]
    return [int(i / rate * 1e9) for i in range(n)]


SOAK_CHUNK = 4096
"""Poisson gaps drawn at a time by ``iter_arrival_offsets``."""


def iter_arrival_offsets(rate: float, arrival: str, seed: int | None) -> Iterator[int]:
    """``arrival_offsets`` without an end, made as they are asked for (a soak's schedule): the same
    offsets, in the same order, for the same rate, arrival and seed."""
    if arrival == "poisson":
        rng = np.random.default_rng(seed)
        total = 0.0
        while True:
            for gap in rng.exponential(1.0 / rate, size=SOAK_CHUNK):
                yield int(total * 1e9)
                total += float(gap)
    i = 0
    while True:
        yield int(i / rate * 1e9)
        i += 1


def shard_of(count: int, shard: str) -> list[int]:
    """The indexes of a schedule of ``count`` requests that ``shard`` ("i/K", 0-based) sends: i, i+K,
    i+2K... (``--load-nodes``: K nodes share one schedule, each request sent once)."""
    i, k = (int(x) for x in shard.split("/"))
    if not 0 <= i < k:
        raise ValueError(f"shard {shard!r}: i must be in 0..K-1")
    return list(range(i, count, k))


def owns_request(j: int, width: int, shard: str) -> bool:
    """Whether request ``j`` of a closed loop of ``width`` is ``shard``'s ("i/K"): it goes to slot
    j mod width, and slot s is node s mod K's."""
    i, k = (int(x) for x in shard.split("/"))
    return (j % width) % k == i


def closed_share(width: int, count: int | None, shard: str) -> tuple[int, int | None]:
    """``shard``'s ("i/K") part of a closed loop of ``width`` in flight and ``count`` requests (None:
    until its time is up). Slot s of the width is node s mod K's, and request j goes to slot j mod
    width, so each node sends the requests of its own slots and every slot stays busy to the end (a
    synchronous stage, width 1, is node 0's alone)."""
    i, k = (int(x) for x in shard.split("/"))
    slots = range(i, width, k)
    if count is None:
        return len(slots), None
    return len(slots), sum(len(range(s, count, width)) for s in slots)
