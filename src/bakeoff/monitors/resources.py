"""Per-model resource monitoring during a run: memory of the process that holds the model, CPU time
and energy over the measured phase, and the load on the rest of the machine."""

from __future__ import annotations

import os
import time
from typing import Any
from urllib.parse import urlparse

import psutil

from bakeoff.backends.plugins import backend_in_process
from bakeoff.backends.targets import ModelTarget
from bakeoff.monitors import energy
from bakeoff.monitors.gpu import GpuSampler
from bakeoff.monitors.memory import RssSampler, server_pid

MB = 1e6


def _busy_cpu_seconds() -> float:
    t = psutil.cpu_times()
    return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))


class ModelMonitor:
    """Watches one model from before its load to the end of its run."""

    def __init__(self, target: ModelTarget) -> None:
        self.target = target
        self.in_process = backend_in_process(target.backend)
        self.pid: int | None = os.getpid() if self.in_process else None
        self.reason: str | None = None
        if not self.in_process:
            base = target.spec.base_url if target.spec else None
            self.pid = server_pid(base) if base else None
            if self.pid is None:
                host = urlparse(base or "").hostname
                self.reason = (
                    f"the server at {host} is not a process on this machine (or not visible to this user)"
                )
        self.sampler = RssSampler(self.pid).start() if self.pid else None
        self.gpu = GpuSampler().start()
        self.zones = energy.rapl_zones()
        self.t_measure: float | None = None
        self.busy_measure: float | None = None
        self.rapl_start: int | None = None
        self.own_cpu_start: float | None = None

    def measure_start(self) -> None:
        self.t_measure = time.perf_counter()
        self.busy_measure = _busy_cpu_seconds()
        self.own_cpu_start = _own_cpu()
        if self.sampler:
            self.sampler.mark()
        self.gpu.mark()
        if self.zones:
            self.rapl_start = energy.rapl_read(self.zones)

    def finish(self) -> dict[str, Any]:
        """Raw measurements; ``derive_resources`` turns them into the summary's figures."""
        out: dict[str, Any] = self.gpu.finish()
        if self.sampler:
            self.sampler.stop()
            s = self.sampler
            if self.in_process:
                out["memory_source"] = (
                    "bakeoff's own process (in-process engine): growth over the RSS before load"
                )
                out["peak_rss_mb"] = round((s.peak() - s.baseline) / MB, 1)
                steady = s.steady()
                out["steady_rss_mb"] = round((steady - s.baseline) / MB, 1) if steady is not None else None
            else:
                out["memory_source"] = f"server process pid {self.pid}: its whole RSS (it holds the model)"
                out["peak_rss_mb"] = round(s.peak() / MB, 1)
                steady = s.steady()
                out["steady_rss_mb"] = round(steady / MB, 1) if steady is not None else None
            out["baseline_rss_mb"] = round(s.baseline / MB, 1)
            out["rss_samples"] = len(s.samples)
        else:
            out["memory_source"] = None
            out["peak_rss_mb"] = None
            out["memory_unavailable"] = self.reason
        if self.t_measure is not None:
            wall = time.perf_counter() - self.t_measure
            out["measured_wall_s"] = round(wall, 3)
            if self.sampler and self.sampler.cpu_measured_start is not None:
                out["cpu_s"] = round(self.sampler.cpu_seconds() - self.sampler.cpu_measured_start, 3)
            if self.zones and self.rapl_start is not None:
                out["rapl_j"] = energy.rapl_delta_j(self.zones, self.rapl_start, energy.rapl_read(self.zones))
            if self.busy_measure is not None and wall > 0:
                busy = _busy_cpu_seconds() - self.busy_measure
                mine = _own_cpu() - (self.own_cpu_start or 0.0)
                if not self.in_process and self.pid and self.sampler:
                    mine += out.get("cpu_s", 0.0)
                cores = psutil.cpu_count() or 1
                out["other_load_pct"] = round(max(0.0, busy - mine) / wall / cores * 100, 1)
        return out


def _own_cpu() -> float:
    t = psutil.Process().cpu_times()
    return float(t.user + t.system)
