"""Resident memory of a process, sampled in a background thread while a model runs."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlparse

import psutil


@dataclass
class RssSampler:
    """Samples ``pid``'s RSS every ``interval_s``; ``mark()`` notes when the measured phase starts."""

    pid: int
    interval_s: float = 0.02
    samples: list[tuple[int, int]] = field(default_factory=list)
    measured_from_ns: int | None = None

    def __post_init__(self) -> None:
        self._proc = psutil.Process(self.pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bakeoff-rss", daemon=True)
        self.baseline = self.rss()
        self.cpu_measured_start: float | None = None

    def rss(self) -> int:
        try:
            return int(self._proc.memory_info().rss)
        except psutil.Error:
            return 0

    def cpu_seconds(self) -> float:
        try:
            t = self._proc.cpu_times()
            return float(t.user + t.system)
        except psutil.Error:
            return 0.0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter_ns(), self.rss()))
            self._stop.wait(self.interval_s)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def mark(self) -> None:
        """The measured phase starts now (steady memory and CPU time are taken from here)."""
        self.measured_from_ns = time.perf_counter_ns()
        self.cpu_measured_start = self.cpu_seconds()

    def stop(self) -> None:
        self.samples.append((time.perf_counter_ns(), self.rss()))
        self._stop.set()
        self._thread.join(timeout=2)

    def peak(self) -> int:
        return max((r for _, r in self.samples), default=self.baseline)

    def steady(self) -> int | None:
        """Median RSS over the measured phase."""
        xs = sorted(r for t, r in self.samples if self.measured_from_ns and t >= self.measured_from_ns)
        return xs[len(xs) // 2] if xs else None


def server_pid(base_url: str) -> int | None:
    """The pid listening on the endpoint's port, when the endpoint is on this machine."""
    u = urlparse(base_url)
    if u.hostname not in ("127.0.0.1", "localhost", "::1", "0.0.0.0"):
        return None
    port = u.port or (443 if u.scheme == "https" else 80)
    try:
        conns = psutil.net_connections(kind="tcp")
    except (psutil.Error, OSError):
        return None
    for c in conns:
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
            return int(c.pid)
    return None
