"""The probes of issue 32's "ways in" against a real ``bakeoff serve`` process, with what each got.

    .venv/bin/python bench/serve_abuse.py [--slow-sockets 30] [--big-mb 40]

Serves the test suite's instant echo adapter (no model weights) with the defaults (header timeout
10 s, 64 KiB heads, 256 connections a client) and reports: a 40 MB request head; slow-loris sockets
sending one header line every 5 s (how long they stayed open); five unfinished 40 MB heads (the
server's RSS before, during and after); a cross-origin text/plain POST; a foreign Host.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
ECHO = ROOT / "tests" / "data" / "echo_adapter.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def status_of(port: int, data: bytes, wait_s: float = 15.0) -> str:
    """The status line the server answered ``data`` with ("reset" / "closed" / "timeout" otherwise)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as s:
            s.sendall(data)
            got = s.recv(200)
    except ConnectionResetError:
        return "reset"
    except BrokenPipeError:
        return "reset while sending"
    except TimeoutError:
        return "no answer"
    return got.split(b"\r\n", 1)[0].decode("latin-1") or "closed"


def slow_loris(port: int, sockets: int, every_s: float, give_up_s: float) -> list[float]:
    """Seconds each socket stayed open while sending one header line every ``every_s``."""
    opened = []
    for _ in range(sockets):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        opened.append((s, time.monotonic()))
    lasted: dict[int, float] = {}
    start = time.monotonic()
    while len(lasted) < sockets and time.monotonic() - start < give_up_s:
        for i, (s, t0) in enumerate(opened):
            if i in lasted:
                continue
            try:
                s.sendall(b"X-Slow: 1\r\n")
                s.settimeout(0.01)
                if s.recv(1) == b"":
                    raise ConnectionResetError
            except TimeoutError:
                continue
            except OSError:
                lasted[i] = time.monotonic() - t0
        time.sleep(every_s if len(lasted) < sockets else 0)
    for s, _ in opened:
        s.close()
    return [lasted.get(i, give_up_s) for i in range(sockets)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--slow-sockets", type=int, default=30)
    ap.add_argument("--big-mb", type=int, default=40)
    args = ap.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        models = Path(tmp) / "models.json"
        models.write_text(json.dumps({"instant": {"adapter": f"{ECHO}:InstantEcho"}}))
        exe = str(Path(sys.executable).parent / "bakeoff")
        proc = subprocess.Popen([exe, "serve", "--port", str(port), "--models", "instant", "--models-file",
                                 str(models)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=dict(os.environ))  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(base + "/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            server = psutil.Process(proc.pid)
            rows = []
            big = (
                b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: "
                + b"a" * (args.big_mb << 20)
                + b"\r\n\r\n"
            )
            rows.append((f"one request with a {args.big_mb} MB head", status_of(port, big)))
            lasted = slow_loris(port, args.slow_sockets, 5.0, 60.0)
            rows.append((f"{args.slow_sockets} slow-loris sockets, a header line every 5 s",
                         f"closed after {min(lasted):.1f}-{max(lasted):.1f} s"))  # fmt: skip
            rss0 = server.memory_info().rss / 1e6
            threads = [threading.Thread(target=status_of, args=(port, big[:-4], 20)) for _ in range(5)]
            for t in threads:
                t.start()
            time.sleep(3)
            rss1 = server.memory_info().rss / 1e6
            for t in threads:
                t.join()
            time.sleep(1)
            rss2 = server.memory_info().rss / 1e6
            rows.append(("five unfinished heads of that size: server RSS",
                         f"{rss0:.0f} MB before, {rss1:.0f} MB during, {rss2:.0f} MB after"))  # fmt: skip
            body = json.dumps({"model": "instant", "messages": [{"role": "user", "content": "hi"}]})
            page = {"Origin": "http://attacker.example", "Content-Type": "text/plain"}
            r = httpx.post(base + "/v1/chat/completions", content=body, headers=page)
            rows.append(("cross-origin text/plain POST (no key)", f"HTTP {r.status_code}"))
            r = httpx.get(base + "/v1/models", headers={"Host": "attacker.example"})
            rows.append(("Host: attacker.example (DNS rebinding)", f"HTTP {r.status_code}"))
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    print("| probe | answer |\n|---|---|")
    for probe, answer in rows:
        print(f"| {probe} | {answer} |")


if __name__ == "__main__":
    main()
