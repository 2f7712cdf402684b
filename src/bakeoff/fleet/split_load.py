"""``bakeoff bench --load-nodes K``: one endpoint's load, more than one client machine can generate,
sent from K Ray nodes at once.

The schedule (``--rate``, even or Poisson, or each open stage of a ``--profile``) is the run's own,
computed whole on every node from the same seed; node i sends the requests i, i+K, i+2K... at their
scheduled times from one common start. A closed-loop stage is dealt the same way: node i keeps every
K-th slot of its width (a sweep's synchronous stage, width 1, is node 0's alone). Every stage starts
together: each node waits at its start until all do. A sweep's rate stages come from the merged
synchronous and throughput stages, which only the driver sees, so it sends the rates with the start.
Durations (TTFT, ITL, latency) are measured on the node that sent the request, so no clock has to
agree across machines for them. The aggregate figures (requests/s, tokens/s) need one window, so each
node's ``perf_counter_ns`` is mapped to the driver's: the driver asks each node for its clock and
takes the offset against the midpoint of its own before and after (Cristian's method: the error is
at most half the round trip, reported). Each node warms up first and then waits; once all are
waiting, the driver sets the common start, in each node's own clock through its offset.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bakeoff.backends.targets import ModelTarget
from bakeoff.config.settings import BenchSettings, PromptCase
from bakeoff.errors import UsageError
from bakeoff.fleet.driver import connect, ray_module, select_nodes, user_labels, version_mismatch
from bakeoff.fleet.node import PROTOCOL, NodeBench, first_line
from bakeoff.load.profile import Stage, parse_profile, sweep_rates
from bakeoff.load.runner import MEASURE, SWEEP_RATES, ModelOutcome, achieved_rate
from bakeoff.monitors.environment import snapshot
from bakeoff.quality.store import save_cases
from bakeoff.records import RequestRecord
from bakeoff.results.folder import claim, utc_now
from bakeoff.results.schema import Summary, save_summary
from bakeoff.run.bench import build_summary, write_reports
from bakeoff.version import __version__

START_AHEAD_S = 0.5
"""How far ahead the common start is set once every node has warmed up and waits for it: time for the
driver's word to reach every node."""


@dataclass
class NodeClock:
    """A node's ``perf_counter_ns`` against the driver's: ``offset_ns`` is node minus driver."""

    node_id: str
    host: str | None
    offset_ns: int
    round_trip_ns: int
    labels: dict[str, str] = field(default_factory=dict)


def clock_offset(before_ns: int, node_ns: int, after_ns: int) -> tuple[int, int]:
    """(offset, round trip) of a node's clock read between the driver's ``before`` and ``after``: the
    node read it, at best, at the midpoint (Cristian), so the offset is off by at most half the trip."""
    return node_ns - (before_ns + after_ns) // 2, after_ns - before_ns


def to_driver_clock(line: dict[str, Any], offset_ns: int) -> dict[str, Any]:
    """A record line with its absolute times moved from the node's clock to the driver's (events are
    offsets from the record's own send time: unchanged)."""
    out = dict(line)
    for key in ("t_scheduled_ns", "t0_ns", "t_end_ns"):
        out[key] = int(line[key]) - offset_ns
    return out


def run_split_load(
    settings: BenchSettings,
    prompts: Sequence[PromptCase],
    target: ModelTarget,
    out_dir: Path,
    nodes: int,
    address: str | None = None,
    labels: dict[str, str] | None = None,
    on_record: Callable[[RequestRecord], None] | None = None,
    *,
    overwrite: bool = False,
) -> tuple[Summary, list[NodeClock]]:
    """Send one endpoint's ``--rate`` schedule or ``--profile`` from ``nodes`` Ray nodes (those with
    CPUs, matching ``labels`` when given) and write one run under ``out_dir``: records on the driver's
    clock, tagged with their node; the summary over the common window; each node's clock offset in its
    notes."""
    if not settings.rate and not settings.profile:
        raise UsageError("--load-nodes splits a load: give --rate or --profile")
    if settings.max_seconds:  # each node's budget would start at its own time
        raise UsageError(
            "--load-nodes cannot take --max-seconds: each node's budget would start at its own time",
            hint="bound the load instead: --rounds for a --rate, --stage-seconds or --stage-requests for "
            "a --profile",
        )
    profile = parse_profile(settings.profile) if settings.profile else None
    if target.backend != "openai":
        raise UsageError("--load-nodes sends to one endpoint", hint="give --endpoint and the model it serves")
    ray = ray_module()
    ours = connect(ray, address)
    started = utc_now()
    t0 = time.perf_counter()
    try:
        shards = _place(ray, settings, prompts, nodes, labels)
        claim(out_dir, overwrite=overwrite)  # only now: a run that cannot start leaves the folder as it was
        save_cases(prompts, out_dir)
        for i, shard in enumerate(shards):  # each node its share (the runner deals it: load/schedule.py)
            mine = {"models": [target.name], "shard": f"{i}/{nodes}", "shard_start_ns": None}
            ray.get(shard.actor.configure.remote(settings.model_copy(update=mine)))
            shard.actor.start.remote()
        sweep = profile.count if profile is not None and profile.kind == "sweep" else 0
        lines, released = _collect(ray, shards, out_dir / "records.jsonl", on_record, sweep)
    finally:
        if ours:
            ray.shutdown()
    records = [RequestRecord.from_json(line) for line in lines]
    outcome = ModelOutcome(target)
    outcome.status = "ok" if any(r.status == "ok" and not r.warmup for r in records) else "error"
    outcome.error = "; ".join(s.error for s in shards if s.error) or None
    early = early_notes(shards, released)
    if early:
        outcome.error = "; ".join([*([outcome.error] if outcome.error else []), *early])
    if profile is not None:  # the stages in the order they started
        ordered = sorted((r for r in records if r.stage), key=lambda r: r.t_scheduled_ns or r.t0_ns)
        outcome.stages = [Stage.from_label(label) for label in dict.fromkeys(str(r.stage) for r in ordered)]
    summary = build_summary(settings, snapshot(), started, [outcome], records, prompts)
    offsets = "; ".join(
        f"{s.clock.host or '?'} {s.clock.node_id[:8]} {s.clock.offset_ns / 1e6:+.3f} ms "
        f"(+/- {s.clock.round_trip_ns / 2e6:.3f} ms)"
        for s in shards
    )
    summary.run.notes.append(f"load split across {nodes} Ray nodes; their clocks against this one: {offsets}")
    summary.run.finished_at = utc_now()
    summary.run.wall_s = time.perf_counter() - t0
    save_summary(summary, out_dir)
    write_reports(summary, out_dir)
    return summary, [s.clock for s in shards]


@dataclass
class _Shard:
    actor: Any
    clock: NodeClock
    done: bool = False
    waiting: str | None = None
    """The point where the node waits for the others (``MEASURE``, a stage's label, ``SWEEP_RATES``)."""
    error: str | None = None
    stopped: str | None = None
    """Why the node's own run of the model ended early (its summary's error), if it did."""
    ended_at: int = 0
    """How many points had been released when it ended: any released later went on without it."""


def early_notes(shards: Sequence[_Shard], released: Sequence[str]) -> list[str]:
    """For each node that ended before the others (lost, or its run of the model stopped): the stages
    the others sent without its share, the one it ended in counted "in part"."""

    def name(point: str) -> str:
        return "the measured requests" if point == MEASURE else point

    notes = []
    for s in shards:
        gone = bool(s.error or s.stopped)
        after = [name(p) for p in released[s.ended_at :] if p != SWEEP_RATES]
        inside = released[s.ended_at - 1] if gone and s.ended_at and s.waiting is None else None
        missed = [f"{name(inside)} (in part)"] if inside not in (None, SWEEP_RATES) else []
        missed += after
        if missed:
            why = f" ({s.stopped})" if s.stopped and not s.error else ""
            notes.append(
                f"node {s.clock.node_id[:8]} ended early{why}; sent without its share: {', '.join(missed)}"
            )
    return notes


def split_sweep_rates(lines: Sequence[dict[str, Any]], count: int) -> tuple[float, ...]:
    """A split sweep's rate stages: ``sweep_rates`` of the achieved rates of every node's synchronous
    and throughput stages, merged on the driver's clock (none when either has no record)."""
    records = [RequestRecord.from_json(line) for line in lines]
    sync = achieved_rate([r for r in records if r.stage == "sync"])
    most = achieved_rate([r for r in records if (r.stage or "").startswith("throughput")])
    if sync is None or most is None:
        return ()
    return tuple(sweep_rates(sync, most, count - 2))


def _place(
    ray: Any,
    settings: BenchSettings,
    prompts: Sequence[PromptCase],
    nodes: int,
    labels: dict[str, str] | None,
) -> list[_Shard]:
    """An actor on each of the first ``nodes`` nodes with CPUs (and the labels), its clock measured."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    with_cpus = [n for n in ray.nodes() if (n.get("Resources") or {}).get("CPU", 0) > 0]
    alive = select_nodes(with_cpus, labels or {})
    if len(alive) < nodes:
        raise UsageError(
            f"--load-nodes {nodes}: the cluster has {len(alive)} node(s) with CPUs"
            + (f" and the labels {labels}" if labels else ""),
            hint="start more nodes (`ray start --address ...`) or ask for fewer",
        )
    remote = ray.remote(NodeBench)
    shards = []
    for i, n in enumerate(alive[:nodes]):
        strategy = NodeAffinitySchedulingStrategy(node_id=str(n["NodeID"]), soft=False)
        actor = remote.options(num_cpus=0, scheduling_strategy=strategy).remote(
            f"shard {i}", settings, list(prompts)
        )
        trips = []
        try:
            info = ray.get(actor.describe.remote(), timeout=300)
            for _ in range(5):  # the tightest of five round trips
                before = time.perf_counter_ns()
                node_ns = ray.get(actor.clock.remote(), timeout=60)
                trips.append(clock_offset(before, node_ns, time.perf_counter_ns()))
        except (ray.exceptions.RayError, TimeoutError) as exc:
            raise UsageError(
                f"--load-nodes: node {str(n['NodeID'])[:8]} could not start its sender: {first_line(exc)}",
                hint="check the node (`ray status`), or ask for fewer nodes",
            ) from None
        if (info["bakeoff_version"], info.get("protocol")) != (__version__, PROTOCOL):
            raise UsageError(
                f"--load-nodes: node {str(n['NodeID'])[:8]} runs another bakeoff: {version_mismatch(info)}",
                hint="install the same bakeoff on every node",
            )
        offset, trip = min(trips, key=lambda t: t[1])
        shards.append(_Shard(actor, NodeClock(str(n["NodeID"]), info["host"], offset, trip, user_labels(n))))
    return shards


def _collect(
    ray: Any,
    shards: Sequence[_Shard],
    path: Path,
    on_record: Callable[[RequestRecord], None] | None,
    sweep: int = 0,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Take every shard's records as they complete, on the driver's clock and tagged with the node,
    each written at once, and start each stage once every node waits at it; until every shard is done
    (or lost). ``sweep``: a sweep's stage count (its rates are worked out here). The lines, and the
    points released, in order."""
    lines: list[dict[str, Any]] = []
    released: list[str] = []
    with path.open("ab") as fh:
        while active := [s for s in shards if not s.done]:
            for s in active:
                try:
                    got = ray.get(s.actor.take.remote(), timeout=120)
                except ray.exceptions.RayError as exc:
                    s.done, s.error = True, f"node {s.clock.node_id[:8]} lost: {first_line(exc)}"
                    s.ended_at = len(released)
                    continue
                s.waiting = got.get("waiting")
                for line in got["lines"]:
                    moved = to_driver_clock(line, s.clock.offset_ns)
                    moved["node"] = {"id": s.clock.node_id, "host": s.clock.host, "labels": s.clock.labels}
                    fh.write(orjson.dumps(moved) + b"\n")
                    fh.flush()
                    lines.append(moved)
                    if on_record is not None:
                        on_record(RequestRecord.from_json(moved))
                if got["done"]:
                    s.done, s.ended_at = True, len(released)
                    s.error = f"node {s.clock.node_id[:8]}: {got['error']}" if got["error"] else None
                    rows = (got["summary"] or {}).get("models") or [{}]
                    s.stopped = rows[0].get("error")
            points = {s.waiting for s in shards if not s.done}
            if len(points) == 1 and (point := points.pop()) is not None and point not in released:
                released.append(point)  # every node still running waits at the same point: go
                rates = split_sweep_rates(lines, sweep) if point == SWEEP_RATES else ()
                start = time.perf_counter_ns() + int(START_AHEAD_S * 1e9)
                for shard in shards:
                    if not shard.done:  # the start, in its own clock
                        shard.actor.go.remote(point, start + shard.clock.offset_ns, rates)
            time.sleep(0.2)
    return lines, released
