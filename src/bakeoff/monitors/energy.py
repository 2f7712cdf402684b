"""Energy per token: measured from RAPL (``/sys/class/powercap``) when readable, else estimated from
CPU time and a watts-per-busy-core figure, always labelled which."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

RAPL = Path("/sys/class/powercap")
DEFAULT_WATTS_PER_CORE = 10.0
"""Estimate of one busy x86 core's draw; override with --watts-per-core."""
DEFAULT_PRICE_PER_KWH = 0.30
"""Electricity price for the cost estimate (currency units per kWh); override with --price-per-kwh."""

ENERGY_FORMULA = (
    "energy_j = RAPL package energy delta (measured) or CPU-seconds x watts_per_core (estimated); "
    "energy_j_per_token = energy_j / output tokens; "
    "cost_per_mtok = energy_j_per_token x 1e6 / 3.6e6 x price_per_kwh"
)


def rapl_zones() -> list[Path]:
    """Package-level RAPL counters this process can read."""
    if not RAPL.exists():
        return []
    zones = []
    for z in sorted(RAPL.glob("intel-rapl:*")):
        if z.name.count(":") == 1 and (z / "energy_uj").exists():
            try:
                int((z / "energy_uj").read_text())
                zones.append(z)
            except (OSError, ValueError):
                continue
    return zones


def rapl_read(zones: list[Path]) -> int:
    return sum(int((z / "energy_uj").read_text()) for z in zones)


def rapl_delta_j(zones: list[Path], start_uj: int, end_uj: int) -> float:
    """Joules between two readings, allowing one wrap of each counter."""
    delta = end_uj - start_uj
    if delta < 0:
        delta += sum(int((z / "max_energy_range_uj").read_text()) for z in zones)
    return delta / 1e6


@dataclass(frozen=True)
class EnergyEstimate:
    energy_j: float
    source: str  # measured | estimated
    method: str


def estimate(cpu_seconds: float, watts_per_core: float = DEFAULT_WATTS_PER_CORE) -> EnergyEstimate:
    return EnergyEstimate(
        cpu_seconds * watts_per_core,
        "estimated",
        f"{cpu_seconds:.2f} CPU-s x {watts_per_core:g} W per busy core",
    )


def per_token(
    energy_j: float, tokens: int, price_per_kwh: float = DEFAULT_PRICE_PER_KWH
) -> tuple[float, float]:
    """(joules per output token, cost per million output tokens)."""
    j = energy_j / tokens
    return j, j * 1e6 / 3.6e6 * price_per_kwh
