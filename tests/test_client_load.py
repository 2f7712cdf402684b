"""The client watching itself (issue 13): loop lag and CPU over a window worked by hand, the verdict
at its thresholds, and a real run that records both."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakeoff.analysis.client import CPU_LIMIT, LAG_LIMIT_S, client_load, cpu_share

MS = 1_000_000
S = 1_000_000_000


def test_cpu_share_by_hand() -> None:
    # marks at 0 s (1.0 CPU s), 2 s (2.5) and 4 s (2.9): over the window 0.5 .. 1.5 s, the marks around
    # it are 0 s and 2 s: 1.5 CPU s in 2 s
    marks = [(0, 1.0), (2 * S, 2.5), (4 * S, 2.9)]
    assert cpu_share(marks, S // 2, 3 * S // 2) == pytest.approx(0.75, rel=1e-12)
    assert cpu_share(marks, 2 * S, 4 * S) == pytest.approx(0.2)  # marks on the window's edges count
    assert cpu_share(marks, 0, 4 * S) == pytest.approx(1.9 / 4)
    assert cpu_share(marks, -1, 3 * S) is None  # nothing before the window
    assert cpu_share(marks, S, 5 * S) is None  # nothing after it
    assert cpu_share([(S, 1.0)], S, S) is None  # one mark: no time between


def _one(marks: list[tuple[int, float]]) -> dict[str, list[tuple[int, float]]]:
    return {"client": marks}


def test_lag_and_verdict_by_hand() -> None:
    # 100 wake-ups inside the window, lags 0..99 us; one outside it (ignored)
    lags = [(i * 10 * MS, i * 1000) for i in range(100)] + [(2 * S, 50 * MS)]
    marks = _one([(0, 0.0), (S, 0.5)])
    got = client_load({"client": lags}, marks, 0, 990 * MS, in_process=False)
    assert got is not None and got.samples == 100 and got.processes == 1
    assert got.loop_lag_p50_s == pytest.approx(49.5e-6, rel=1e-12)
    assert got.loop_lag_p99_s == pytest.approx(98.01e-6, rel=1e-12)
    assert got.cpu_share == pytest.approx(0.5) and not got.limited and got.why is None
    # a busy client: 95% of a core, judged only for a model in another process
    lags = {"client": lags}
    busy = client_load(lags, _one([(0, 0.0), (S, 0.95)]), 0, 990 * MS, in_process=False)
    assert busy is not None and busy.limited and busy.why == "it used 95% of a core"
    assert not client_load(lags, _one([(0, 0.0), (S, 0.95)]), 0, 990 * MS, in_process=True).limited  # type: ignore[union-attr]
    # exactly at the CPU limit counts; the lag limit is exceeded only above it
    at = client_load(lags, _one([(0, 0.0), (S, CPU_LIMIT)]), 0, 990 * MS, in_process=False)
    assert at is not None and at.limited
    flat = [(i * MS, int(LAG_LIMIT_S * 1e9)) for i in range(10)]
    edge = client_load({"client": flat}, {}, 0, S, in_process=True)
    assert edge is not None and not edge.limited and edge.cpu_share is None and edge.processes == 1
    late = client_load({"client": [(i * MS, 12_049_000) for i in range(10)]}, {}, 0, S, in_process=True)
    assert late is not None and late.limited
    assert late.why == "its event loop woke 12.0 ms late (p99), so its timestamps and sends can be"
    both = client_load({"client": [(i * MS, 12 * MS) for i in range(10)]}, _one([(0, 0.0), (S, 1.0)]), 0, S,
                       in_process=False)  # fmt: skip
    assert both is not None and both.why == (
        "its event loop woke 12.0 ms late (p99), so its timestamps and sends can be; it used 100% of a core"
    )
    assert client_load(lags, marks, 3 * S, 4 * S, in_process=False) is None  # no wake-up in the window


def test_worker_processes_are_judged_by_the_busiest() -> None:
    lags = {"client": [(i * 10 * MS, 1000) for i in range(100)]}
    # the client process used 30% of a core, worker 1 40%, worker 2 92% (over 2 s: 1.84 CPU s)
    marks = {
        "client": [(0, 1.0), (2 * S, 1.6)],
        "worker 1": [(0, 0.0), (2 * S, 0.8)],
        "worker 2": [(0, 0.5), (2 * S, 2.34)],
    }
    got = client_load(lags, marks, 0, S, in_process=False)
    assert got is not None and got.processes == 3 and got.cpu_share == pytest.approx(0.92)
    assert got.limited and got.why == "its worker 2 used 92% of a core"
    # the schedule's own process the busiest: "it"
    marks["client"] = [(0, 0.0), (2 * S, 1.9)]
    got = client_load(lags, marks, 0, S, in_process=False)
    assert got is not None and got.cpu_share == pytest.approx(0.95) and got.why == "it used 95% of a core"
    # a worker that exited early has no mark after the window: the others still count
    calm = {"client": [(0, 0.0), (2 * S, 0.2)], "worker 1": [(0, 0.0)], "worker 2": [(0, 0.0), (2 * S, 0.6)]}
    got = client_load(lags, calm, 0, S, in_process=False)
    assert got is not None and got.cpu_share == pytest.approx(0.3) and not got.limited
    assert got.processes == 3


def test_the_laggiest_process_is_judged_on_its_own() -> None:
    # the client and worker 1 wake 0.1 ms late; worker 2, 2 of its 100 wake-ups 20 ms late: its p99 is
    # 20 ms (linear: the 99th percentile of 98 x 0.1 ms and 2 x 20 ms is 20 ms). Pooled with the others'
    # 200 wake-ups it would read 0.1 ms and hide
    calm = [(i * 10 * MS, 100_000) for i in range(100)]
    spiky = [(i * 10 * MS, 20 * MS if i in (10, 60) else 100_000) for i in range(100)]
    got = client_load({"client": calm, "worker 1": calm, "worker 2": spiky}, {}, 0, S, in_process=False)
    assert got is not None and got.samples == 300 and got.processes == 3
    assert got.loop_lag_p99_s == pytest.approx(0.020, rel=1e-9) and got.loop_lag_p50_s == pytest.approx(1e-4)
    assert got.limited and got.why == (
        "its worker 2's event loop woke 20.0 ms late (p99), so its timestamps and sends can be"
    )
    pooled = client_load({"client": sorted(calm + calm + spiky)}, {}, 0, S, in_process=False)
    assert pooled is not None and not pooled.limited  # what the merge would have said
    # the schedule's own process the laggiest, beside a calm worker whose name sorts after it
    mine = client_load({"client": spiky, "worker 1": calm}, {}, 0, S, in_process=False)
    assert mine is not None and mine.loop_lag_p99_s == pytest.approx(0.020, rel=1e-9)
    assert mine.why == "its event loop woke 20.0 ms late (p99), so its timestamps and sends can be"


def test_worker_count_by_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    from bakeoff.config.settings import BenchSettings
    from bakeoff.load.worker_count import STREAMS_PER_WORKER, auto_workers, peak_in_flight, workers_for

    assert STREAMS_PER_WORKER == 32
    # one per 32 requests in flight, rounded up, at most one per core, at least one
    assert [auto_workers(n, 8) for n in (1, 32, 33, 64, 65, 256, 1024)] == [1, 1, 2, 2, 3, 8, 8]
    assert auto_workers(64, 2) == 2 and auto_workers(64, 1) == 1 and auto_workers(0, 4) == 1
    closed = BenchSettings(models=["m"], concurrency=64)
    assert peak_in_flight(closed) == 64
    # an uncapped --rate: its rate x 1 s (Little's law, before anything is measured), rounded up
    assert peak_in_flight(BenchSettings(models=["m"], rate=5.0)) == 5
    assert peak_in_flight(BenchSettings(models=["m"], rate=200.5)) == 201
    assert peak_in_flight(BenchSettings(models=["m"], rate=0.2)) == 1
    assert peak_in_flight(BenchSettings(models=["m"], rate=5.0, max_concurrency=100)) == 100
    assert peak_in_flight(BenchSettings(models=["m"], profile="sweep", max_concurrency=70)) == 70
    assert peak_in_flight(BenchSettings(models=["m"], profile="concurrency=4,96,16", max_concurrency=8)) == 96
    assert peak_in_flight(BenchSettings(models=["m"], profile="rates=1,2")) == 32
    assert workers_for(closed, in_process=False, cores=16) == 2
    assert workers_for(closed, in_process=True, cores=16) == 1  # an in-process engine: never
    # the cores present, when not given: os.cpu_count(), or 1 where it cannot tell
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert workers_for(closed, in_process=False) == 2
    assert workers_for(BenchSettings(models=["m"], concurrency=1000), in_process=False) == 16
    monkeypatch.setattr("os.cpu_count", lambda: None)
    assert workers_for(closed, in_process=False) == 1
    pinned = BenchSettings(models=["m"], concurrency=64, workers=5)
    assert workers_for(pinned, in_process=False, cores=2) == 5
    assert workers_for(pinned, in_process=True, cores=2) == 1


def test_a_run_records_the_client(fake, tmp_path: Path) -> None:
    from tests.conftest import bench

    s = bench(fake.base_url, ["chunky"], tmp_path / "r", rounds=1)
    client = s.models[0].client
    assert client is not None and client.samples > 10  # a 10 ms timer over about half a second
    assert client.loop_lag_p99_s is not None and client.loop_lag_p99_s >= 0
    assert client.cpu_share is not None and 0 <= client.cpu_share <= 2.0


def test_a_record_line_holds_every_field_as_asdict_would() -> None:
    from dataclasses import asdict, fields

    from bakeoff.records import ContentEvent, RequestRecord

    events = (ContentEvent(3, 1), ContentEvent(5, None))
    rec = RequestRecord(model="m", backend="b", prompt_id="p", round=2, warmup=True, stream=True, status="ok",
                        t_scheduled_ns=1, t0_ns=2, t_end_ns=9, events=events,
                        prompt_tokens=4, completion_tokens=2, token_source="usage", finish_reason="stop",
                        output="hi", extra={"data": {"length_held": True}}, stage="c=2")  # fmt: skip
    line = rec.to_json()
    want = asdict(rec)
    want["events"] = [[3, 1], [5, None]]
    assert line == want and list(line) == [f.name for f in fields(RequestRecord)]
    line["extra"]["data"]["length_held"] = False  # the line is a copy: the record is unchanged
    assert rec.extra["data"]["length_held"] is True
    assert RequestRecord.from_json(rec.to_json()) == rec
