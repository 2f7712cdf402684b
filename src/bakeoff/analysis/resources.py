"""Resource figures of one model, derived from raw monitor readings and its summary row (pure)."""

from __future__ import annotations

from typing import Any

from bakeoff.metrics.request import request_metrics
from bakeoff.monitors import energy
from bakeoff.monitors.bandwidth import decode_ceiling
from bakeoff.records import RequestRecord
from bakeoff.results.schema import ModelSummary


def derive_resources(
    row: ModelSummary,
    raw: dict[str, Any],
    records: list[RequestRecord],
    *,
    load_s: float | None,
    model_bytes: int | None,
    download_bytes: int | None,
    bandwidth_gbs: float | None,
    watts_per_core: float,
    price_per_kwh: float,
    max_memory_mb: float | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {k: v for k, v in raw.items() if k not in ("rapl_j", "cpu_s", "gpu_energy_j")}
    out["load_s"] = load_s
    prediction = row.info.get("memory_prediction")
    out["predicted_mb"] = prediction.get("ram_mb") if isinstance(prediction, dict) else None
    if "disk_mb" in row.info:
        out["disk_mb"] = row.info["disk_mb"]
    elif model_bytes:
        out["disk_mb"] = round(model_bytes / 1e6, 1)
    out["download_mb"] = round(download_bytes / 1e6, 1) if download_bytes else None
    first = next((r for r in records if r.status == "ok"), None)  # warm-up first: the cold first answer
    out["first_request_ttft_s"] = request_metrics(first).ttft_s if first else None
    out["warm_ttft_s"] = row.ttft_s.p50
    cold = out["first_request_ttft_s"]  # the first answer of the day: the load, then a cold first token
    out["cold_start_s"] = load_s + cold if load_s is not None and cold is not None else None
    tokens = sum(r.completion_tokens or 0 for r in records if not r.warmup and r.status == "ok")
    if "rapl_j" in raw or "gpu_energy_j" in raw:
        parts = [(raw.get("rapl_j"), "RAPL CPU package"), (raw.get("gpu_energy_j"), "NVML GPU")]
        used = [(j, label) for j, label in parts if j is not None]
        cpu_note = ""
        total = sum(j for j, _ in used)
        if "rapl_j" not in raw and raw.get("cpu_s") is not None:
            cpu = energy.estimate(raw["cpu_s"], watts_per_core)
            total += cpu.energy_j
            cpu_note = f" + CPU estimated ({cpu.method})"
        source = "measured" if not cpu_note else "estimated"
        method = " + ".join(label for _, label in used) + " energy over the measured phase" + cpu_note
        e = energy.EnergyEstimate(total, source, method)
    elif raw.get("cpu_s") is not None:
        e = energy.estimate(raw["cpu_s"], watts_per_core)
    else:
        e = None
    if e is not None and tokens:
        j, cost = energy.per_token(e.energy_j, tokens, price_per_kwh)
        out.update(
            energy_j=round(e.energy_j, 3),
            energy_source=e.source,
            energy_method=e.method,
            energy_j_per_token=j,
            cost_per_mtok=cost,
            price_per_kwh=price_per_kwh,
        )
    else:
        out.update(energy_j=None, energy_source=None, energy_j_per_token=None, cost_per_mtok=None)
    decode = row.decode_tokens_per_s.p50
    if bandwidth_gbs and model_bytes:
        ceiling = decode_ceiling(bandwidth_gbs, model_bytes)
        out["memory_bandwidth_gbs"] = bandwidth_gbs
        out["decode_ceiling_tok_s"] = round(ceiling, 1)
        out["roofline_ratio"] = round(decode / ceiling, 3) if decode else None
    else:
        out["roofline_ratio"] = None
    if max_memory_mb is not None:
        peak = out.get("peak_rss_mb")
        out["max_memory_mb"] = max_memory_mb
        out["fits_memory"] = None if peak is None else bool(peak <= max_memory_mb)
    return out
