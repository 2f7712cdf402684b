"""A snapshot of the machine a run happened on, saved in every summary."""

from __future__ import annotations

import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import psutil

from bakeoff.monitors import gpu
from bakeoff.version import __version__


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _pkg(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def snapshot() -> dict[str, Any]:
    """CPU, cores, RAM, OS, Python, engine versions and the load on the machine when the run began."""
    vm = psutil.virtual_memory()
    load1: float | None
    load5: float | None
    try:
        load1, load5, _ = os.getloadavg()
    except OSError:
        load1 = load5 = None
    cores = psutil.cpu_count(logical=True)
    return {
        "cpu_model": _cpu_model(),
        "cpu_count": cores,
        "cpu_count_physical": psutil.cpu_count(logical=False),
        "ram_gb": round(vm.total / 2**30, 1),
        "ram_available_gb": round(vm.available / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "bakeoff": __version__,
        "engines": {k: v for k in ("llama-cpp-python", "httpx", "numpy") if (v := _pkg(k))},
        "gpu": gpu.describe(),
        "loadavg_1m_at_start": load1,
        "loadavg_5m_at_start": load5,
        "busy_at_start": bool(load1 is not None and cores and load1 > 0.5 * cores),
    }
