"""Summary statistics: numpy linear-interpolation percentiles over raw samples, always with n."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from pydantic import BaseModel, ConfigDict

PERCENTILES = (50, 90, 95, 99)


class Stats(BaseModel):
    """STATS of the data contract. Every field but ``n`` is ``None`` when there are no samples."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n: int
    mean: float | None = None
    min: float | None = None
    max: float | None = None
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    std: float | None = None
    """Sample standard deviation (n - 1 in the denominator, as llama-bench's ±); None below 2 samples."""


def stats(samples: Iterable[float | None]) -> Stats:
    """Describe samples; ``None`` entries (unknown values) are dropped, never counted as zero.

    Percentiles use numpy's ``linear`` method, so they always lie within [min, max].
    """
    arr = np.asarray([s for s in samples if s is not None], dtype=np.float64)
    if arr.size == 0:
        return Stats(n=0)
    p = np.percentile(arr, PERCENTILES, method="linear")
    return Stats(
        n=int(arr.size),
        mean=float(arr.mean()),
        min=float(arr.min()),
        max=float(arr.max()),
        p50=float(p[0]),
        p90=float(p[1]),
        p95=float(p[2]),
        p99=float(p[3]),
        std=float(arr.std(ddof=1)) if arr.size >= 2 else None,
    )


def ci95(draws: Iterable[float]) -> tuple[float, float]:
    """The 95% percentile interval of bootstrap draws: their 2.5th and 97.5th percentiles (linear)."""
    lo, hi = np.percentile(np.asarray(list(draws), dtype=np.float64), [2.5, 97.5], method="linear")
    return float(lo), float(hi)
