"""A snapshot of the machine a run happened on, saved in every summary."""

from __future__ import annotations

import os
import platform
import subprocess
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


def git_state(cwd: str | None = None) -> dict[str, Any] | None:
    """The git commit (and its committer date) and whether the working tree had uncommitted changes to
    tracked files, of the folder a run started in; None outside a repository or without git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
        if head.returncode != 0:
            return None
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                                capture_output=True, text=True, timeout=10)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
    when = subprocess.run(["git", "show", "-s", "--format=%cI", "HEAD"], cwd=cwd, capture_output=True,
                          text=True, timeout=5)  # fmt: skip
    committed = when.stdout.strip() if when.returncode == 0 and when.stdout.strip() else None
    return {"commit": head.stdout.strip(), "dirty": dirty, "committed_at": committed}


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
        "host": platform.node(),
        "git": git_state(),
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
