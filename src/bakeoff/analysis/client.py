"""Whether the client was the limit: loop lag and CPU of the measuring processes over a window (pure).

A client at its limit inflates every TTFT and ITL it reports and sends an open loop's requests late,
so a figure it limited must not be read as the server's. Two signs, each with its threshold:

- an event loop of its (the client's, or a ``--workers`` process's) woke late: the p99 of a 10 ms
  timer's lateness above ``LAG_LIMIT_S`` (every arrival timestamp taken on that loop, and every
  scheduled send, can be that late);
- one of its processes (the client, or a ``--workers`` process) used at least ``CPU_LIMIT`` of a core
  (only judged when the model runs in another process: an in-process engine's own CPU is the
  process's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from bakeoff.records import RequestRecord
from bakeoff.results.schema import ClientLoad

LAG_LIMIT_S = 0.005
CPU_LIMIT = 0.9


def cpu_share(marks: Sequence[tuple[int, float]], start_ns: int, end_ns: int) -> float | None:
    """CPU seconds per wall second between the last mark at or before ``start_ns`` and the first at or
    after ``end_ns`` (the marks nearest outside the window: stage starts and the watch's ends)."""
    before = [m for m in marks if m[0] <= start_ns]
    after = [m for m in marks if m[0] >= end_ns]
    if not before or not after:
        return None
    (t0, c0), (t1, c1) = before[-1], after[0]
    return (c1 - c0) / ((t1 - t0) / 1e9) if t1 > t0 else None


def client_load(
    lags: Mapping[str, Sequence[tuple[int, int]]],
    marks: Mapping[str, Sequence[tuple[int, float]]],
    start_ns: int,
    end_ns: int,
    in_process: bool,
) -> ClientLoad | None:
    """The client's figures over [start_ns, end_ns] and whether it was the limit; None without a
    wake-up in the window. ``lags`` and ``marks`` hold each process's wake-ups and CPU marks by name
    (``"client"`` for the one that runs the schedule, ``"worker N"`` for the others): the loop lag is
    the laggiest process's (by p99) and the CPU share the busiest one's, so no process hides behind
    the others."""
    p99s: dict[str, tuple[float, float]] = {}
    samples = 0
    for name, series in lags.items():
        inside = [lag / 1e9 for t, lag in series if start_ns <= t <= end_ns]
        if inside:
            samples += len(inside)
            p50, p99 = (float(v) for v in np.percentile(inside, [50, 99], method="linear"))
            p99s[name] = (p50, p99)
    if not p99s:
        return None
    laggiest = max(p99s, key=lambda name: p99s[name][1])
    p50, p99 = p99s[laggiest]
    shares = {name: cpu_share(m, start_ns, end_ns) for name, m in marks.items()}
    known = {name: v for name, v in shares.items() if v is not None}
    busiest = max(known, key=lambda name: known[name]) if known else None
    share = known[busiest] if busiest is not None else None
    why = []
    if p99 > LAG_LIMIT_S:
        whose = "its" if laggiest == "client" else f"its {laggiest}'s"
        why.append(
            f"{whose} event loop woke {p99 * 1000:.1f} ms late (p99), so its timestamps and sends can be"
        )
    if not in_process and share is not None and share >= CPU_LIMIT:
        who = "it" if busiest == "client" else f"its {busiest}"
        why.append(f"{who} used {share:.0%} of a core")
    return ClientLoad(
        loop_lag_p50_s=p50,
        loop_lag_p99_s=p99,
        cpu_share=share,
        processes=max(len(marks), len(lags)),  # lags has an entry: a window without any returned None
        samples=samples,
        limited=bool(why),
        why="; ".join(why) or None,
    )


def client_over(
    lags: Mapping[str, Sequence[tuple[int, int]]],
    marks: Mapping[str, Sequence[tuple[int, float]]],
    records: Sequence[RequestRecord],
    in_process: bool,
) -> ClientLoad | None:
    """``client_load`` over the measured records' window (first scheduled send to last end); None
    without a measured record."""
    measured = [r for r in records if not r.warmup]
    if not measured:
        return None
    start, end = min(r.t_scheduled_ns for r in measured), max(r.t_end_ns for r in measured)
    return client_load(lags, marks, start, end, in_process)
