"""``--workers`` (issue 13): a model's requests sent from several processes against the fake server.
Every request appears once, its timestamps are right, open loops keep their schedule, stages work, a
worker lost mid-run fails only its own requests, and a client at its limit says so in the report."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from bakeoff.backends.targets import resolve_targets
from bakeoff.config.settings import BenchSettings
from bakeoff.errors import BakeoffError
from bakeoff.load.workers import WorkerPool
from bakeoff.records import WORKER_LOST
from bakeoff.testing import FakePlan, FakeServer
from tests.conftest import bench, read_records
from tests.test_cli import BAKEOFF, run

QUICK = FakePlan(ttft_ms=30, itl_ms=2, tokens=16)
SLOW = FakePlan(ttft_ms=100, itl_ms=20, tokens=20)  # about 0.5 s an answer
INSTANT = FakePlan(ttft_ms=0, itl_ms=0, tokens=64)


@pytest.fixture(scope="module")
def srv() -> Iterator[FakeServer]:
    with FakeServer(QUICK, {"quick": QUICK, "slow": SLOW, "instant": INSTANT}) as server:
        yield server


def _workers_of_this_process() -> list[psutil.Process]:
    """Live worker processes started by this test process (an exited child not yet reaped, a zombie,
    has no command line to read: it is no worker any more)."""
    out = []
    for p in psutil.Process().children(recursive=True):
        try:
            if "bakeoff.load.worker_process" in p.cmdline():
                out.append(p)
        except psutil.Error:
            continue
    return out


def test_a_closed_loop_from_two_workers_sends_each_request_once(srv: FakeServer, tmp_path: Path) -> None:
    s = bench(srv.base_url, ["quick"], tmp_path / "r", rounds=5, concurrency=8, workers=2, warmup=1)
    m = s.models[0]
    assert m.status == "ok" and m.requests.ok == 10 and m.requests.error == 0
    assert m.client is not None and m.client.processes == 3  # the schedule's process and two workers
    recs = read_records(tmp_path / "r")
    measured = Counter((r["prompt_id"], r["round"]) for r in recs if not r["warmup"])
    assert measured == Counter({(p, k): 1 for p in ("p1", "p2") for k in range(1, 6)})
    assert len(recs) == 11 and sum(bool(r["warmup"]) for r in recs) == 1
    firsts = []
    for r in recs:  # stamped in a worker: 16 events, the first after the server's 30 ms, each 2 ms apart
        assert r["status"] == "ok" and len(r["events"]) == 16
        first = r["events"][0][0] / 1e6
        assert 30 <= first < 30 + 1000, first  # from the request's own start: never before the delay
        firsts.append(first)
        assert r["t0_ns"] >= r["t_scheduled_ns"] and r["t_end_ns"] > r["t0_ns"] + r["events"][-1][0] - 1
    # a loaded CI machine can stall one request; the typical one lands just after the server's delay
    assert sorted(firsts)[len(firsts) // 2] < 30 + 25, firsts
    assert not _workers_of_this_process()  # every worker exited with the model's turn


def test_an_open_loop_from_two_workers_keeps_its_schedule(srv: FakeServer, tmp_path: Path) -> None:
    s = bench(srv.base_url, ["quick"], tmp_path / "r", rounds=20, rate=20.0, workers=2, warmup=0)
    m = s.models[0]
    assert m.status == "ok" and m.requests.ok == 40
    recs = sorted(read_records(tmp_path / "r"), key=lambda r: r["t_scheduled_ns"])
    gaps = {b["t_scheduled_ns"] - a["t_scheduled_ns"] for a, b in itertools.pairwise(recs)}
    assert gaps <= {50_000_000, 50_000_001, 49_999_999}  # 1/20 s apart, as planned (rounding only)
    delays = sorted((r["t0_ns"] - r["t_scheduled_ns"]) / 1e6 for r in recs)
    assert delays[0] >= 0 and delays[len(delays) // 2] < 20  # handed to a worker and sent at once
    span = (recs[-1]["t_scheduled_ns"] - recs[0]["t_scheduled_ns"]) / 1e9
    assert (len(recs) - 1) / span == pytest.approx(20.0, rel=0.05)


def test_profile_stages_run_from_workers(srv: FakeServer, tmp_path: Path) -> None:
    s = bench(srv.base_url, ["quick"], tmp_path / "r", profile="concurrency=2,6", stage_requests=6,
              workers=2, warmup=0)  # fmt: skip
    m = s.models[0]
    assert m.status == "ok" and m.load is not None
    assert [st.label for st in m.load.stages] == ["c=2", "c=6"]
    assert [st.requests.ok for st in m.load.stages] == [6, 6]
    assert Counter(r["stage"] for r in read_records(tmp_path / "r")) == {"c=2": 6, "c=6": 6}


def test_a_worker_lost_mid_run_fails_only_its_requests(srv: FakeServer, tmp_path: Path) -> None:
    out = tmp_path / "r"
    killed: list[int] = []

    def kill_one_worker() -> None:  # once two answers are on disk, kill the first worker process
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            lines = (out / "records.jsonl").read_text().count("\n") if (out / "records.jsonl").exists() else 0
            workers = _workers_of_this_process()
            if lines >= 2 and len(workers) == 2:
                victim = min(workers, key=lambda p: p.create_time())
                killed.append(victim.pid)
                victim.kill()
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_one_worker)
    killer.start()
    s = bench(srv.base_url, ["slow"], out, rounds=15, concurrency=16, workers=2, warmup=0)
    killer.join()
    assert killed, "no worker was killed"
    m = s.models[0]
    recs = read_records(out)
    lost = [r for r in recs if r["error_kind"] == WORKER_LOST]
    # what it had in flight: about half the 16 streams, more than the 5 failures in a row that stop a
    # model whose requests fail; a lost worker is the client's failure and stops nothing
    assert 5 <= len(lost) <= 12, len(lost)
    why = re.compile(r"lost with its worker process: worker \d exited \(code -9\)")
    assert all(why.search(r["error"]) for r in lost)
    assert m.status == "ok" and m.error is None
    assert m.requests.ok == 30 - len(lost) and m.requests.error == len(lost)
    assert Counter((r["prompt_id"], r["round"]) for r in recs) == Counter(
        {(p, k): 1 for p in ("p1", "p2") for k in range(1, 16)}
    )
    assert f"slow: {len(lost)} requests were lost with a --workers process" in " ".join(s.run.notes)


def test_a_client_at_its_limit_says_so_in_its_report(srv: FakeServer, tmp_path: Path) -> None:
    out = tmp_path / "r"
    s = bench(srv.base_url, ["instant"], out, rounds=400, concurrency=256, workers=1, warmup=0,
              max_tokens=64)  # fmt: skip
    m = s.models[0]
    assert m.status == "ok" and m.requests.ok == 800
    assert m.client is not None and m.client.limited and m.client.processes == 1
    assert m.client.why is not None and "event loop woke" in m.client.why
    report = (out / "report.md").read_text()
    assert "instant: the client was the limit here: its event loop woke" in report
    assert "--workers" in report  # and what to do about it
    saved = json.loads((out / "summary.json").read_text())
    assert saved["models"][0]["client"]["limited"] is True


def test_a_worker_that_cannot_reach_the_endpoint_names_itself(tmp_path: Path) -> None:
    dead = "http://127.0.0.1:9/v1"
    settings = BenchSettings(models=["m"], endpoint=dead, workers=2, timeout_s=5)
    (target,) = resolve_targets(["m"], {}, dead)
    pool = WorkerPool(settings, target, 2)
    with pytest.raises(BakeoffError, match=r"worker \d could not start: .*127\.0\.0\.1:9"):
        asyncio.run(pool.start())
    assert all(w.proc.returncode is not None for w in pool.workers)


def test_cli_workers_flag(srv: FakeServer, tmp_path: Path) -> None:
    bad = run("bench", "--endpoint", srv.base_url, "--models", "quick", "--workers", "many",
              "--out", str(tmp_path / "bad"))  # fmt: skip
    assert bad.returncode == 2 and "invalid value for --workers: 'many'" in bad.stderr
    zero = run("bench", "--endpoint", srv.base_url, "--models", "quick", "--workers", "0",
               "--out", str(tmp_path / "zero"))  # fmt: skip
    assert zero.returncode == 2 and "--workers" in zero.stderr
    out = tmp_path / "ok"
    good = run("bench", "--endpoint", srv.base_url, "--models", "quick", "--workers", "2", "--rounds", "2",
               "--concurrency", "4", "--out", str(out))  # fmt: skip
    assert good.returncode == 0, good.stderr
    saved = json.loads((out / "summary.json").read_text())
    assert saved["run"]["settings"]["workers"] == 2 and saved["models"][0]["client"]["processes"] == 3
    measured = [r for r in read_records(out) if not r["warmup"]]
    assert measured and all(r["status"] == "ok" for r in measured)
    prompts = {r["prompt_id"] for r in measured}
    assert saved["models"][0]["requests"]["ok"] == len(measured) == 2 * len(prompts)


def test_ctrl_c_at_the_terminal_stops_every_worker(srv: FakeServer, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [BAKEOFF, "bench", "-e", srv.base_url, "-m", "slow", "-r", "50", "-c", "4", "--workers", "2",
         "--warmup", "0", "-o", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("BENCH_")},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    rec = out / "records.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and not (rec.exists() and rec.read_text().count("\n") >= 4):
        time.sleep(0.05)
    workers = [p for p in psutil.Process(proc.pid).children(recursive=True)
               if "bakeoff.load.worker_process" in p.cmdline()]  # fmt: skip
    assert len(workers) == 2
    os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole process group
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("bench did not stop within 30 s of Ctrl-C")
    assert proc.returncode == 130, err
    s = json.loads((out / "summary.json").read_text())
    assert s["run"]["interrupted"] is True and s["models"][0]["requests"]["ok"] >= 4
    recs = read_records(out)
    assert all(r["status"] == "ok" for r in recs)  # no request is blamed on the interrupted workers
    psutil.wait_procs(workers, timeout=10)
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in workers)


@pytest.mark.parametrize("workers", [1, 2])
def test_every_stamp_follows_the_servers_send_and_is_close_to_it(tmp_path: Path, workers: int) -> None:
    """The fake server's send log and bakeoff's stamps share one clock (CLOCK_MONOTONIC), in a worker
    process too: each token is stamped after the server wrote it, and soon after."""
    from bakeoff.config.settings import PromptCase

    plan = FakePlan(ttft_ms=20, itl_ms=4, tokens=8)
    with FakeServer(plan, send_log=True) as server:
        prompts = [PromptCase(id=f"q{i}", prompt=f"unique prompt {i}") for i in range(8)]
        bench(server.base_url, ["fake-model"], tmp_path / "r", prompts, rounds=1, concurrency=4,
              workers=workers, warmup=0, max_tokens=8)  # fmt: skip
        import httpx

        log = httpx.get(server.base_url.removesuffix("/v1") + "/fake/send-log").json()
        assert httpx.get(server.base_url.removesuffix("/v1") + "/fake/send-log").json() == []  # handed over
    sent = {e["content"].rsplit("\n", 1)[-1]: e["frames_ns"] for e in log}
    assert len(log) == 8
    for r in read_records(tmp_path / "r"):
        frames = sent[next(p.prompt for p in prompts if p.id == r["prompt_id"])]
        assert len(frames) == len(r["events"]) == 8
        assert all(a < b for a, b in itertools.pairwise(frames))  # the server's own pacing:
        assert (frames[-1] - frames[0]) / 1e6 > 7 * 4 - 5  # each frame due 4 ms after the one before
        for (t, _), f in zip(r["events"], frames, strict=True):
            late_ms = (r["t0_ns"] + t - f) / 1e6
            assert 0 <= late_ms < 25, late_ms  # after the write, within a loaded CI machine's jitter


def test_the_send_log_is_off_unless_asked() -> None:
    import httpx

    with FakeServer(QUICK) as server:
        r = httpx.get(server.base_url.removesuffix("/v1") + "/fake/send-log")
    assert r.status_code == 404 and "--send-log" in r.text


def test_a_failure_inside_a_worker_still_gives_its_record(
    srv: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in a worker's send (planted through ``sitecustomize`` in the worker processes only) must
    come back as that request's error record: the run never waits for a record that will not come."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import sys\n"
        "if sys.argv[-1:] == ['-m'] or 'bakeoff.load.worker_process' in ' '.join(sys.orig_argv):\n"
        "    import bakeoff.load.runner as r\n"
        "    orig, calls = r.Runner.send, [0]\n"
        "    async def send(self, *a, **k):\n"
        "        calls[0] += 1\n"
        "        if calls[0] == 2:\n"
        "            raise ValueError('a planted bug')\n"
        "        return await orig(self, *a, **k)\n"
        "    r.Runner.send = send\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(hook))
    s = bench(srv.base_url, ["quick"], tmp_path / "r", rounds=5, concurrency=4, workers=2, warmup=0)
    recs = read_records(tmp_path / "r")
    failed = [r for r in recs if r["status"] == "error"]
    assert len(recs) == 10 and len(failed) == 2  # the second send of each of the two workers
    assert all(r["error"] == "the worker process failed: ValueError: a planted bug" for r in failed)
    assert all(r["error_kind"] == "engine" for r in failed) and s.models[0].requests.ok == 8


def test_the_send_log_counts_frames_written_before_a_fault() -> None:
    import httpx

    plan = FakePlan(ttft_ms=0, itl_ms=0, tokens=8, fault="malformed", fault_after=4)
    with FakeServer(plan, send_log=True) as server:
        body = {"model": "fake-model", "messages": [{"role": "user", "content": "x"}], "stream": True}
        with httpx.stream("POST", server.base_url + "/chat/completions", json=body) as resp:
            text = b"".join(resp.iter_raw()).decode()
        log = httpx.get(server.base_url.removesuffix("/v1") + "/fake/send-log").json()
    content = text.count('"content": "w')  # whole frames: four before the malformed one, four after
    assert content == 8 and len(log[0]["frames_ns"]) == 8 and text.count('"content": "oops') == 1


def test_a_sweep_runs_from_workers(srv: FakeServer, tmp_path: Path) -> None:
    s = bench(srv.base_url, ["quick"], tmp_path / "r", profile="sweep=3", stage_requests=6, workers=2,
              warmup=0, max_concurrency=4)  # fmt: skip
    m = s.models[0]
    assert m.status == "ok" and m.load is not None and m.client is not None and m.client.processes == 3
    labels = [st.label for st in m.load.stages]
    assert labels[:2] == ["sync", "throughput c=4"] and labels[2].startswith("rate=") and len(labels) == 3
    assert [st.requests.ok for st in m.load.stages] == [6, 6, 6]
    assert m.load.stages[2].kind == "open" and m.load.stages[2].achieved_rate_per_s is not None
