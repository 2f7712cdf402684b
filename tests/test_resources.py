"""What each model costs the machine: memory attributed to the model, energy, roofline, budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bakeoff.analysis.resources import derive_resources
from bakeoff.backends.targets import resolve_targets
from bakeoff.config.settings import BenchSettings, PromptCase, load_models_file
from bakeoff.metrics.stats import stats
from bakeoff.monitors import energy
from bakeoff.monitors.bandwidth import decode_ceiling, memory_bandwidth_gbs
from bakeoff.results.schema import ModelSummary
from bakeoff.run.bench import run_bench

DATA = Path(__file__).parent / "data"
PROMPT = [PromptCase(id="p", prompt="hello")]


def test_memory_of_a_model_with_a_known_buffer(tmp_path: Path) -> None:
    (tmp_path / "models.json").write_text(
        json.dumps(
            {
                "echo": {"adapter": f"{DATA}/echo_adapter.py:EchoAdapter"},
                "hog": {"adapter": f"{DATA}/echo_adapter.py:HogAdapter"},
                "echo-again": {"adapter": f"{DATA}/echo_adapter.py:EchoAdapter"},
            }
        )
    )
    specs = load_models_file(tmp_path / "models.json")
    names = list(specs)
    settings = BenchSettings(models=names, rounds=3, warmup=1, max_tokens=20, max_memory_mb=100)
    s = run_bench(settings, PROMPT, resolve_targets(names, specs, None), tmp_path / "o")
    echo, hog, again = (m.resources.model_dump() for m in s.models)
    assert hog["memory_source"].startswith("bakeoff's own process")
    growth = hog["peak_rss_mb"] - echo["peak_rss_mb"]
    assert 200 * 1.048 - 30 < growth < 200 * 1.048 + 30, (echo, hog)  # 200 MiB = 209.7 MB
    assert hog["steady_rss_mb"] > 180
    # the hog's buffer is gone before the next model: it is not billed to it
    assert again["peak_rss_mb"] < 50, again
    assert hog["fits_memory"] is False and echo["fits_memory"] is True
    md = (tmp_path / "o" / "report.md").read_text()
    assert "**hog** does not fit the memory budget" in md and "## Resources" in md
    assert energy.ENERGY_FORMULA in md


def test_energy_and_load_figures(tmp_path: Path) -> None:
    specs = {"echo": load_models_file(_one(tmp_path))["echo"]}
    settings = BenchSettings(
        models=["echo"], rounds=2, warmup=1, max_tokens=10, watts_per_core=20, price_per_kwh=0.5
    )
    s = run_bench(settings, PROMPT, resolve_targets(["echo"], specs, None), tmp_path / "o")
    r = s.models[0].resources.model_dump()
    source = "measured" if energy.rapl_zones() else "estimated"
    assert r["energy_source"] == source and r["energy_j_per_token"] > 0
    if source == "estimated":
        assert r["energy_method"].endswith("x 20 W per busy core")
        assert r["energy_j"] == pytest.approx(r["energy_j_per_token"] * 20, rel=1e-6)  # 2 rounds x 10 tokens
    assert r["cost_per_mtok"] == pytest.approx(r["energy_j_per_token"] * 1e6 / 3.6e6 * 0.5)
    assert r["load_s"] > 0 and r["first_request_ttft_s"] > 0 and r["warm_ttft_s"] > 0
    assert 0 <= r["other_load_pct"] <= 100
    csv = (tmp_path / "o" / "report.csv").read_text().splitlines()
    assert "peak_rss_mb" in csv[0] and "energy_j_per_token" in csv[0]


def _one(tmp_path: Path) -> Path:
    p = tmp_path / "m.json"
    p.write_text(json.dumps({"echo": {"adapter": f"{DATA}/echo_adapter.py:BusyEcho"}}))
    return p


def test_local_server_gets_the_server_process_memory(fake, tmp_path: Path) -> None:
    settings = BenchSettings(models=["good"], rounds=1, warmup=0, endpoint=fake.base_url, max_tokens=4)
    s = run_bench(settings, PROMPT, resolve_targets(["good"], {}, fake.base_url), tmp_path)
    r = s.models[0].resources.model_dump()
    assert r["memory_source"].startswith(f"server process pid {fake.proc.pid}")
    assert r["peak_rss_mb"] > 5


def test_remote_endpoint_memory_is_null_with_reason(tmp_path: Path) -> None:
    from bakeoff.backends.targets import ModelTarget
    from bakeoff.config.settings import ModelSpec
    from bakeoff.monitors.resources import ModelMonitor

    mon = ModelMonitor(
        ModelTarget("x", "openai", ModelSpec(backend="openai", base_url="http://10.255.0.1:5273/v1"))
    )
    mon.measure_start()
    out = mon.finish()
    assert out["peak_rss_mb"] is None and "not a process on this machine" in out["memory_unavailable"]


def test_roofline_and_budget_derivation() -> None:
    row = ModelSummary(model="m", backend="llamacpp", status="ok", decode_tokens_per_s=stats([5.0, 5.0]))
    out = derive_resources(
        row,
        {"peak_rss_mb": 1500.0, "cpu_s": 2.0},
        [],
        load_s=1.0,
        model_bytes=1_000_000_000,
        download_bytes=None,
        bandwidth_gbs=10.0,
        watts_per_core=10,
        price_per_kwh=0.3,
        max_memory_mb=1024,
    )
    assert decode_ceiling(10.0, 1_000_000_000) == pytest.approx(10.0)
    assert out["decode_ceiling_tok_s"] == 10.0 and out["roofline_ratio"] == 0.5
    assert out["fits_memory"] is False and out["disk_mb"] == 1000.0
    assert out["energy_j_per_token"] is None  # no measured tokens: no per-token figure, never a guess


def test_bandwidth_probe_is_measured_once_and_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAKEOFF_CACHE", str(tmp_path))
    a = memory_bandwidth_gbs()
    b = memory_bandwidth_gbs()
    assert a == b and float(a["gbs"]) > 0.1  # type: ignore[arg-type]
    assert (tmp_path / "bandwidth.json").exists()


def test_rapl_counter_wrap(tmp_path: Path) -> None:
    z = tmp_path / "intel-rapl:0"
    z.mkdir()
    (z / "energy_uj").write_text("100\n")
    (z / "max_energy_range_uj").write_text("1000\n")
    assert energy.rapl_delta_j([z], 900, 100) == pytest.approx(200 / 1e6)


class _FakeNvml:
    """Stands in for pynvml: one GPU whose used memory rises by 512 MB once a model 'loads'."""

    def __init__(self) -> None:
        self.used = 1_000_000_000
        self.energy_mj = 5_000_000

    def nvmlInit(self) -> None: ...

    def nvmlDeviceGetCount(self) -> int:
        return 1

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        return i

    def nvmlSystemGetDriverVersion(self) -> bytes:
        return b"550.54"

    def nvmlDeviceGetName(self, h: int) -> str:
        return "Fake GPU"

    def nvmlDeviceGetMemoryInfo(self, h: int) -> object:
        return type("M", (), {"total": 80_000_000_000, "used": self.used})()

    def nvmlDeviceGetUtilizationRates(self, h: int) -> object:
        return type("U", (), {"gpu": 75})()

    def nvmlDeviceGetTotalEnergyConsumption(self, h: int) -> int:
        self.energy_mj += 1000  # 1 J per reading
        return self.energy_mj


def test_gpu_memory_utilization_and_energy_through_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import time

    from bakeoff.monitors import gpu

    fake = _FakeNvml()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    assert gpu.describe() == [
        {"index": 0, "name": "Fake GPU", "driver": "550.54", "memory_total_mb": 80000.0}
    ]
    sampler = gpu.GpuSampler(interval_s=0.005).start()
    fake.used += 512_000_000
    sampler.mark()
    time.sleep(0.05)
    out = sampler.finish()
    assert out["gpu_peak_memory_mb"] == 512.0 and out["gpu_util_mean_pct"] == 75.0
    assert out["gpu_energy_j"] == 1.0
    row = ModelSummary(model="m", backend="llamacpp", status="ok")
    from .test_metrics import rec as make_record

    rec = make_record([(5, 1), (10, 1)], 2, backend="llamacpp", token_source="native")
    derived = derive_resources(
        row,
        {**out, "cpu_s": 0.1},
        [rec],
        load_s=1.0,
        model_bytes=None,
        download_bytes=None,
        bandwidth_gbs=None,
        watts_per_core=10,
        price_per_kwh=0.3,
        max_memory_mb=None,
    )
    assert derived["energy_j"] == pytest.approx(2.0)  # 1 J GPU (measured) + 0.1 CPU-s x 10 W (estimated)
    assert derived["energy_source"] == "estimated" and "NVML GPU" in derived["energy_method"]


def test_no_gpu_without_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from bakeoff.monitors import gpu

    monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails
    assert gpu.describe() is None and gpu.GpuSampler().finish() == {}
