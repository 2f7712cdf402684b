"""Downloads that recover, against a local HTTP server that stalls mid-file, fails, ignores Range or
serves the wrong bytes: the retry resumes from the partial bytes and the result is verified."""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bakeoff.errors import DownloadError
from bakeoff.models.download import Remote, fetch, hub_remote, part_path, settings_from_env
from tests.test_cli import run

BLOB = os.urandom(3 * 1024 * 1024 + 17)
SHA = hashlib.sha256(BLOB).hexdigest()
PATH = "/owner/repo/resolve/main/model.gguf"


@dataclass
class Plan:
    """What the server does on each GET, in order (the last one repeats)."""

    gets: list[str] = field(default_factory=lambda: ["ok"])
    body: bytes = BLOB
    ranges: list[str | None] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)
    auth: list[str | None] = field(default_factory=list)


class Handler(http.server.BaseHTTPRequestHandler):
    plan: Plan

    def log_message(self, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        if self.path != PATH:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(302)
        self.send_header("Location", PATH + "?cdn=1")
        self.send_header("X-Linked-Size", str(len(BLOB)))
        self.send_header("X-Linked-Etag", f'"{SHA}"')
        self.end_headers()

    def do_GET(self) -> None:
        plan = self.plan
        if not self.path.startswith(PATH):
            self.send_response(404)
            self.end_headers()
            return
        i = len(plan.ranges)
        how = plan.gets[min(i, len(plan.gets) - 1)]
        rng = self.headers.get("Range")
        plan.ranges.append(rng)
        plan.auth.append(self.headers.get("Authorization"))
        if how == "500":
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            plan.sent.append(0)
            return
        start = int(rng.split("=")[1].rstrip("-")) if rng and how != "no-range" else 0
        body = plan.body[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(plan.body) - 1}/{len(plan.body)}")
        self.end_headers()
        if how == "stall":  # a third of the rest, then nothing: the client's stall limit ends it
            cut = len(body) // 3
            self.wfile.write(body[:cut])
            self.wfile.flush()
            plan.sent.append(cut)
            time.sleep(2.0)
            return
        self.wfile.write(body)
        plan.sent.append(len(body))


@pytest.fixture()
def server() -> Iterator[tuple[str, Plan]]:
    plan = Plan()
    handler = type("H", (Handler,), {"plan": plan})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", plan
    httpd.shutdown()
    httpd.server_close()


def _remote(url: str, sha: str | None = SHA) -> Remote:
    return Remote(url + PATH, len(BLOB), sha)


def test_a_stalled_download_resumes_from_its_partial_bytes(server: tuple[str, Plan], tmp_path: Path) -> None:
    url, plan = server
    plan.gets = ["stall", "ok"]
    waits: list[float] = []
    got = fetch(_remote(url), tmp_path / "m.gguf", stall_s=0.5, backoff_s=0.25, sleep=waits.append)
    first = plan.sent[0]
    assert 0 < first < len(BLOB)
    assert plan.ranges == [None, f"bytes={first}-"]  # the retry asked only for what was missing
    assert plan.sent[1] == len(BLOB) - first
    assert got.attempts == 2 and got.resumed_bytes == first and got.sha256 == SHA
    assert (tmp_path / "m.gguf").read_bytes() == BLOB and not part_path(tmp_path / "m.gguf").exists()
    assert waits == [0.25]


def test_errors_are_retried_with_backoff_and_a_range_ignoring_server_starts_over(
    server: tuple[str, Plan], tmp_path: Path
) -> None:
    url, plan = server
    plan.gets = ["stall", "500", "500", "no-range"]
    waits: list[float] = []
    got = fetch(_remote(url), tmp_path / "m.gguf", stall_s=0.5, backoff_s=1.0, retries=4, sleep=waits.append)
    assert waits == [1.0, 2.0, 4.0]  # doubling
    assert got.attempts == 4 and got.resumed_bytes == 0  # the 200 sent it all again
    assert (tmp_path / "m.gguf").read_bytes() == BLOB


def test_wrong_bytes_never_get_the_name(server: tuple[str, Plan], tmp_path: Path) -> None:
    url, plan = server
    plan.body = bytes(len(BLOB))  # the right size, the wrong content
    dest = tmp_path / "m.gguf"
    with pytest.raises(DownloadError, match="sha256") as exc:
        fetch(_remote(url), dest, stall_s=0.5, retries=1, sleep=lambda s: None)
    assert "after 2 tries" in exc.value.message
    assert not dest.exists() and not part_path(dest).exists()
    assert len(plan.ranges) == 2 and plan.ranges[1] is None  # the bad file was fetched again from scratch


def test_stalls_every_time_keep_the_partial_file_and_say_so(server: tuple[str, Plan], tmp_path: Path) -> None:
    url, plan = server
    plan.gets = ["stall"]
    dest = tmp_path / "m.gguf"
    with pytest.raises(DownloadError) as exc:
        fetch(_remote(url), dest, stall_s=0.3, retries=1, sleep=lambda s: None)
    assert "try 1: stalled: no byte for 0.3 s" in exc.value.message and "try 2: stalled" in exc.value.message
    assert not dest.exists()
    kept = part_path(dest).stat().st_size
    assert kept == sum(plan.sent) and str(part_path(dest)) in (exc.value.hint or "")
    plan.gets = ["ok"]  # the next run resumes it
    got = fetch(_remote(url), dest, stall_s=0.5, retries=0)
    assert got.resumed_bytes == kept and dest.read_bytes() == BLOB


def test_a_missing_file_is_final(server: tuple[str, Plan], tmp_path: Path) -> None:
    url, plan = server
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch(Remote(url + "/nope", None, None), tmp_path / "x", stall_s=0.5, sleep=lambda s: None)
    assert plan.ranges == []  # not retried


def test_hub_metadata_and_env_knobs(server: tuple[str, Plan], monkeypatch: pytest.MonkeyPatch) -> None:
    url, _ = server
    monkeypatch.setenv("HF_ENDPOINT", url)
    assert hub_remote("owner/repo", "model.gguf") == Remote(url + PATH, len(BLOB), SHA)
    with pytest.raises(DownloadError, match="HTTP 404"):
        hub_remote("owner/other", "model.gguf")
    monkeypatch.setenv("BAKEOFF_DOWNLOAD_RETRIES", "2")
    monkeypatch.setenv("BAKEOFF_DOWNLOAD_STALL_S", "0.5")
    assert settings_from_env() == {"retries": 2, "stall_s": 0.5}
    monkeypatch.setenv("BAKEOFF_DOWNLOAD_BACKOFF_S", "soon")
    with pytest.raises(DownloadError, match="BAKEOFF_DOWNLOAD_BACKOFF_S"):
        settings_from_env()


def test_models_download_from_a_hub_that_stalls(server: tuple[str, Plan], tmp_path: Path) -> None:
    url, plan = server
    plan.gets = ["stall", "ok"]
    env = {
        "BAKEOFF_CACHE": str(tmp_path / "cache"),
        "HOME": str(tmp_path),
        "HF_ENDPOINT": url,
        "BAKEOFF_DOWNLOAD_STALL_S": "0.5",
        "BAKEOFF_DOWNLOAD_BACKOFF_S": "0.1",
    }
    r = run("models", "download", "hf:owner/repo/model.gguf", "--name", "mine", env=env)
    assert r.returncode == 0, r.stderr
    assert "mine: downloaded model.gguf" in r.stdout
    saved = tmp_path / "cache" / "hub" / "owner--repo" / "model.gguf"
    assert saved.read_bytes() == BLOB and plan.ranges[1] == f"bytes={plan.sent[0]}-"


def test_a_hub_token_goes_with_every_try(
    server: tuple[str, Plan], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, plan = server
    plan.gets = ["stall", "ok"]
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    remote = hub_remote("owner/repo", "model.gguf")
    fetch(remote, tmp_path / "m.gguf", stall_s=0.5, sleep=lambda s: None)
    assert plan.auth == ["Bearer hf_secret", "Bearer hf_secret"]  # a gated file is not a 401 on the GET
