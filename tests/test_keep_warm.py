"""``bakeoff serve --keep-warm`` / ``--idle-unload`` (issue 29, the first answer of the day): the idle
policy worked with explicit clocks, then once in real time behind the app, and the duration flags."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from bakeoff.backends.targets import ModelTarget
from bakeoff.config.durations import parse_duration
from bakeoff.config.settings import ModelSpec
from bakeoff.errors import UsageError
from bakeoff.serve.app import ModelHost, create_app

from .test_cli import run

DATA = Path(__file__).parent / "data"
GOOD = {"model": "echo", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}


def _host(log: Path, **kw: float) -> ModelHost:
    spec = ModelSpec(adapter=f"{DATA}/echo_adapter.py:EchoAdapter", weights=str(log))
    return ModelHost([ModelTarget("echo", "adapter", spec)], **kw)  # type: ignore[arg-type]


def test_durations_as_written() -> None:
    assert [parse_duration(t, "--x") for t in ("90", "30s", "500ms", "10m", "1.5h", "2d", " 5 S ")] == [
        90, 30, 0.5, 600, 5400, 172800, 5]  # fmt: skip
    for bad in ("0", "-1", "abc", "1x", "inf", "", "0ms"):
        with pytest.raises(UsageError) as e:
            parse_duration(bad, "--keep-warm")
        assert e.value.message == f"cannot read --keep-warm {bad!r} as a duration"
        assert "--keep-warm 30s" in (e.value.hint or "")


def test_the_idle_policy_by_the_clock(tmp_path: Path) -> None:
    log = tmp_path / "echo.log"

    async def go() -> None:
        host = _host(log, keep_warm_s=30.0, idle_unload_s=600.0)
        h = host.models["echo"]
        await host.tend()  # nothing loaded: nothing to do
        assert h.keep_warm_requests == 0 and h.unloads == 0
        await host.get("echo")
        assert not host.warm(h)  # loaded, never generated
        t = time.monotonic()
        h.last_request = h.last_generated = t - 29.5
        await host.tend(now=t)
        assert h.keep_warm_requests == 0  # not quiet long enough yet
        h.last_generated = t - 30.5
        await host.tend(now=t)
        assert h.keep_warm_requests == 1 and log.read_text() == "1\n"  # one light request of one token
        assert host.warm(h) and h.last_generated >= t
        h.active = 1
        h.last_generated = t - 99
        await host.tend(now=t)
        assert h.keep_warm_requests == 1  # a model answering a client is never pinged or unloaded
        h.active = 0
        assert not host.warm(h, now=h.last_generated + 31.5) and host.warm(h, now=h.last_generated + 30.5)
        h.last_request = t - 600.5  # keep-warm requests are not use: idle for 600 s, so unloaded
        await host.tend(now=t)
        assert h.backend is None and h.unloads == 1 and not host.warm(h)
        await host.get("echo")  # the next request loads it again
        assert h.backend is not None
        await host.close()

    asyncio.run(go())


def test_keep_warm_behind_the_app_in_real_time(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    log = tmp_path / "echo.log"
    host = _host(log, keep_warm_s=0.2)
    with TestClient(create_app(host), base_url="http://127.0.0.1") as client:
        assert client.post("/v1/chat/completions", json=GOOD).status_code == 200
        deadline = time.monotonic() + 10  # idle: the model is sent a one-token request about every 0.2 s
        while (m := client.get("/health").json()["models"]["echo"])["keep_warm_requests"] < 2:
            assert time.monotonic() < deadline, m
            time.sleep(0.1)
        assert m["loaded"] and m["warm"] and m["keep_warm_requests"] >= 2, m
        assert log.read_text().splitlines()[0] == "4" and set(log.read_text().splitlines()[1:]) == {"1"}


def test_a_bad_duration_is_a_usage_error() -> None:
    r = run("serve", "--models", "smollm2-135m", "--keep-warm", "soon")
    assert r.returncode == 2 and "cannot read --keep-warm 'soon' as a duration" in r.stderr
    assert "Traceback" not in r.stderr
