"""The client watching itself (issue 13): loop lag and CPU over a window worked by hand, the verdict
at its thresholds, and a real run that records both."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakeoff.client_load import CPU_LIMIT, LAG_LIMIT_S, client_load, cpu_share

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


def test_lag_and_verdict_by_hand() -> None:
    # 100 wake-ups inside the window, lags 0..99 us; one outside it (ignored)
    lags = [(i * 10 * MS, i * 1000) for i in range(100)] + [(2 * S, 50 * MS)]
    marks = [(0, 0.0), (S, 0.5)]
    got = client_load(lags, marks, 0, 990 * MS, in_process=False)
    assert got is not None and got.samples == 100
    assert got.loop_lag_p50_s == pytest.approx(49.5e-6, rel=1e-12)
    assert got.loop_lag_p99_s == pytest.approx(98.01e-6, rel=1e-12)
    assert got.cpu_share == pytest.approx(0.5) and not got.limited and got.why is None
    # a busy client: 95% of a core, judged only for a model in another process
    busy = client_load(lags, [(0, 0.0), (S, 0.95)], 0, 990 * MS, in_process=False)
    assert busy is not None and busy.limited and busy.why == "it used 95% of a core"
    assert not client_load(lags, [(0, 0.0), (S, 0.95)], 0, 990 * MS, in_process=True).limited  # type: ignore[union-attr]
    # exactly at the CPU limit counts; the lag limit is exceeded only above it
    at = client_load(lags, [(0, 0.0), (S, CPU_LIMIT)], 0, 990 * MS, in_process=False)
    assert at is not None and at.limited
    flat = [(i * MS, int(LAG_LIMIT_S * 1e9)) for i in range(10)]
    edge = client_load(flat, [], 0, S, in_process=True)
    assert edge is not None and not edge.limited and edge.cpu_share is None
    late = client_load([(i * MS, 12_049_000) for i in range(10)], [], 0, S, in_process=True)
    assert late is not None and late.limited
    assert late.why == "its event loop woke 12.0 ms late (p99), so its timestamps and sends can be"
    both = client_load([(i * MS, 12 * MS) for i in range(10)], [(0, 0.0), (S, 1.0)], 0, S, in_process=False)
    assert both is not None and both.why == (
        "its event loop woke 12.0 ms late (p99), so its timestamps and sends can be; it used 100% of a core"
    )
    assert client_load(lags, marks, 3 * S, 4 * S, in_process=False) is None  # no wake-up in the window


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
