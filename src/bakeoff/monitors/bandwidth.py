"""This machine's memory bandwidth, measured once with a streaming-read probe and cached.

Decoding one token reads (about) every weight once, so bandwidth / model bytes is a ceiling on the
decode rate; how close a model comes to it shows how much the engine leaves on the table.
"""

from __future__ import annotations

import json
import os
import platform
import threading
import time

import numpy as np

from bakeoff.models.embedded import cache_dir

PROBE_MB = 256


def _threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _probe(size_mb: int = PROBE_MB, reps: int = 5) -> float:
    """Best-of-``reps`` GB/s for a max-reduction over a buffer far larger than the CPU caches, split
    across one thread per CPU (numpy releases the GIL), as an engine's decode threads read weights."""
    a = np.ones(size_mb * 1024 * 1024 // 8, dtype=np.float64)
    parts = np.array_split(a, _threads())
    a.max()  # touch every page first
    best = 0.0
    for _ in range(reps):
        threads = [threading.Thread(target=p.max) for p in parts]
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        best = max(best, a.nbytes / (time.perf_counter() - t) / 1e9)
    return best


def memory_bandwidth_gbs(refresh: bool = False) -> dict[str, object]:
    """``{"gbs": float, "method": str, "measured_at": str}``, cached per machine in the bakeoff cache."""
    path = cache_dir().parent / "bandwidth.json"
    key = f"{platform.node()}|{platform.machine()}|{platform.processor()}"
    if path.exists() and not refresh:
        try:
            data = json.loads(path.read_text())
            if data.get("key") == key:
                return {k: v for k, v in data.items() if k != "key"}
        except (OSError, ValueError):
            pass
    gbs = _probe()
    data = {
        "key": key,
        "gbs": round(gbs, 2),
        "method": f"numpy max-reduction over {PROBE_MB} MiB in {_threads()} threads, best of 5",
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data))
    except OSError:
        pass
    return {k: v for k, v in data.items() if k != "key"}


def decode_ceiling(gbs: float, model_bytes: int) -> float:
    """Tokens/s a memory-bound decoder cannot beat: bandwidth / bytes read per token (~ weight size)."""
    return gbs * 1e9 / model_bytes
