"""Foundry Local in-process: SmolLM2's GGUF converted to ONNX Runtime GenAI, registered in the local
catalog, and benchmarked beside llama.cpp running the same weights, in one table.

Needs the ``foundry`` and ``convert`` extras (CI installs them; set BAKEOFF_REQUIRE_FOUNDRY=1 to fail
rather than skip when they are missing)."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

from bakeoff.models import embedded
from bakeoff.models.convert import missing_modules
from tests.test_cli import run

MISSING = [
    m for m in ("foundry_local_sdk", "llama_cpp") if importlib.util.find_spec(m) is None
] + missing_modules()
if MISSING:
    if os.environ.get("BAKEOFF_REQUIRE_FOUNDRY"):
        raise RuntimeError(f"BAKEOFF_REQUIRE_FOUNDRY is set but {', '.join(MISSING)} are missing")
    pytest.skip(f"needs {', '.join(MISSING)}", allow_module_level=True)

pytestmark = pytest.mark.realmodel


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    home = tmp_path_factory.mktemp("foundry-home")
    env = {
        "BAKEOFF_CACHE": str(home / "cache"),
        "HOME": str(home),  # Foundry Local keeps its app data under the home folder
    }
    gguf = embedded.ensure(embedded.EMBEDDED["smollm2-135m"])
    r = run("models", "import", str(gguf), "--name", "smol-onnx", "--to", "foundry", env=env, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "converted" in r.stdout and "smol-onnx:1" in r.stdout
    out = home / "cache" / "converted" / "smol-onnx"
    return env, out


def test_import_to_foundry_writes_an_onnx_genai_folder(converted: tuple[dict[str, str], Path]) -> None:
    env, out = converted
    assert (out / "genai_config.json").is_file() and any(out.glob("*.onnx"))
    reg = json.loads((Path(env["BAKEOFF_CACHE"]) / "registry.json").read_text())
    assert reg["smol-onnx"]["backend"] == "foundry" and reg["smol-onnx"]["format"] == "onnx-genai"
    r = run("models", "list", "--backend", "foundry", env=env)
    assert r.returncode == 0 and "smol-onnx" in r.stdout


def test_foundry_and_llamacpp_run_the_same_weights_in_one_table(
    converted: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, _ = converted
    out = tmp_path / "run"
    r = run(
        "bench", "--models", "foundry:smol-onnx,llamacpp:smollm2-135m", "--rounds", "1", "--warmup", "1",
        "--max-tokens", "16", "--prompt", "List 3 privacy benefits of local inference.", "-o", str(out),
        env=env, timeout=600,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    s = json.loads((out / "summary.json").read_text())
    rows = {m["model"]: m for m in s["models"]}
    fl, ll = rows["foundry:smol-onnx"], rows["llamacpp:smollm2-135m"]
    assert fl["status"] == "ok" and ll["status"] == "ok", (fl["error"], ll["error"])
    assert fl["backend"] == "foundry" and fl["info"]["variant"] == "smol-onnx:1"
    assert fl["info"]["execution_provider"] and fl["info"]["device"]
    assert fl["tokens"]["completion_mean"] and fl["tokens"]["completion_mean"] <= 16
    assert fl["ttft_s"]["n"] == 1 and 0 < fl["ttft_s"]["p50"] < fl["latency_s"]["p50"]
    assert fl["decode_tokens_per_s"]["p50"] > 1
    assert "foundry:smol-onnx" in r.stdout and "llamacpp:smollm2-135m" in r.stdout


def test_run_on_foundry_streams_with_stats(converted: tuple[dict[str, str], Path]) -> None:
    env, _ = converted
    r = run("run", "foundry:smol-onnx", "--prompt", "Say hello.", "--max-tokens", "8", env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() and "TTFT" in r.stderr and "decode" in r.stderr
