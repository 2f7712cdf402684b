"""NVIDIA GPUs through NVML (the ``nvidia-ml-py`` package, imported as ``pynvml``), when present.

Without the package or a GPU every function returns None/empty: nothing here is required.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any


def _nvml() -> Any | None:
    try:
        import pynvml  # type: ignore[import-not-found]

        pynvml.nvmlInit()
        if pynvml.nvmlDeviceGetCount() < 1:
            return None
        return pynvml
    except Exception:
        return None


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def describe() -> list[dict[str, Any]] | None:
    """One entry per GPU: name, driver, total memory; None without NVML or a GPU."""
    nv = _nvml()
    if nv is None:
        return None
    driver = _text(nv.nvmlSystemGetDriverVersion())
    out = []
    for i in range(nv.nvmlDeviceGetCount()):
        h = nv.nvmlDeviceGetHandleByIndex(i)
        out.append(
            {
                "index": i,
                "name": _text(nv.nvmlDeviceGetName(h)),
                "driver": driver,
                "memory_total_mb": round(nv.nvmlDeviceGetMemoryInfo(h).total / 1e6, 1),
            }
        )
    return out


@dataclass
class GpuSampler:
    """Samples used memory and utilization of every GPU; reads the energy counter where supported."""

    interval_s: float = 0.05
    samples: list[tuple[int, int, int]] = field(default_factory=list)  # (t_ns, used bytes, util %)

    def __post_init__(self) -> None:
        self.nv = _nvml()
        self.handles = (
            []
            if self.nv is None
            else [self.nv.nvmlDeviceGetHandleByIndex(i) for i in range(self.nv.nvmlDeviceGetCount())]
        )
        self.baseline = self._used() if self.handles else 0
        self.energy_start_mj: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bakeoff-gpu", daemon=True)

    @property
    def available(self) -> bool:
        return bool(self.handles)

    def _used(self) -> int:
        assert self.nv is not None
        return sum(int(self.nv.nvmlDeviceGetMemoryInfo(h).used) for h in self.handles)

    def _util(self) -> int:
        assert self.nv is not None
        return max(int(self.nv.nvmlDeviceGetUtilizationRates(h).gpu) for h in self.handles)

    def _energy_mj(self) -> int | None:
        assert self.nv is not None
        try:
            return sum(int(self.nv.nvmlDeviceGetTotalEnergyConsumption(h)) for h in self.handles)
        except Exception:
            return None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.perf_counter_ns(), self._used(), self._util()))
            except Exception:
                return
            self._stop.wait(self.interval_s)

    def start(self) -> GpuSampler:
        if self.available:
            self._thread.start()
        return self

    def mark(self) -> None:
        if self.available:
            self.energy_start_mj = self._energy_mj()

    def finish(self) -> dict[str, Any]:
        if not self.available:
            return {}
        self._stop.set()
        self._thread.join(timeout=2)
        used = [u for _, u, _ in self.samples] or [self.baseline]
        util = [g for _, _, g in self.samples]
        out: dict[str, Any] = {
            "gpu_peak_memory_mb": round((max(used) - self.baseline) / 1e6, 1),
            "gpu_util_mean_pct": round(sum(util) / len(util), 1) if util else None,
        }
        end = self._energy_mj()
        if self.energy_start_mj is not None and end is not None:
            out["gpu_energy_j"] = (end - self.energy_start_mj) / 1000
        return out
