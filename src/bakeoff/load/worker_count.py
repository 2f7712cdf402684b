"""How many processes send a model's requests (``--workers``): pure, settings and cores in."""

from __future__ import annotations

import math
import os

from bakeoff.config.settings import BenchSettings
from bakeoff.load.profile import DEFAULT_MAX_CONCURRENCY, parse_profile

ASSUMED_LATENCY_S = 1.0
"""The answer time assumed for an uncapped ``--rate`` run's load, before anything is measured."""
STREAMS_PER_WORKER = 32
"""``--workers auto`` starts a worker per this many requests in flight (at most one per core)."""


def peak_in_flight(settings: BenchSettings) -> int:
    """The most requests the run asks to have in flight at once: ``--concurrency`` for a closed loop, the
    highest concurrency of a ``concurrency=`` profile, else ``--max-concurrency`` (open-loop stages and
    a sweep's throughput stage, default 32). A ``--rate`` run without ``--max-concurrency`` has no cap:
    its rate times ``ASSUMED_LATENCY_S`` (Little's law) is the estimate."""
    cap = settings.max_concurrency or DEFAULT_MAX_CONCURRENCY
    if settings.profile:
        profile = parse_profile(settings.profile)
        if profile.kind == "concurrency":
            return max(stage.concurrency for stage in profile.fixed_stages() if stage.concurrency is not None)
        return cap
    if settings.rate:  # uncapped, an open loop's load is its rate times the server's latency
        return settings.max_concurrency or max(1, math.ceil(settings.rate * ASSUMED_LATENCY_S))
    return settings.concurrency


def node_share(in_flight: int, settings: BenchSettings) -> int:
    """A ``--load-nodes`` node's part of the load: 1/K of it, rounded up."""
    shards = int(settings.shard.split("/")[1]) if settings.shard else 1
    return math.ceil(in_flight / shards)


def auto_workers(in_flight: int, cores: int) -> int:
    """``--workers auto``: one process per ``STREAMS_PER_WORKER`` requests in flight, at most one per
    core (1 means no worker processes). The schedule's own process does little beside them: on 2 cores
    with the server on the same machine, 2 workers sent 1.5x the requests/s of one process and 3 or 4
    no more (bench/RESULTS.md, section 13)."""
    return max(1, min(math.ceil(in_flight / STREAMS_PER_WORKER), cores))


def workers_for(settings: BenchSettings, in_process: bool, cores: int | None = None) -> int:
    """How many processes send a model's requests: 1 for an in-process engine; else ``--workers``, or
    automatic from the load asked for and the cores present."""
    if in_process:
        return 1
    if settings.workers is not None:
        return settings.workers
    return auto_workers(node_share(peak_in_flight(settings), settings), cores or os.cpu_count() or 1)
