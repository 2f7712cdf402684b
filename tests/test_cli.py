"""The commands a user types, run as real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

BAKEOFF = str(Path(sys.executable).parent / "bakeoff")


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith("BENCH_") and k != "FOUNDRY_LOCAL_ENDPOINT"
    }
    full_env.update(env or {})
    return subprocess.run([BAKEOFF, *args], capture_output=True, text=True, env=full_env, timeout=timeout)


def test_bench_against_endpoint_writes_every_report(fake, tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = run(
        "bench",
        "--endpoint",
        fake.base_url.removesuffix("/v1"),
        "--models",
        "good,http500",
        "--rounds",
        "1",
        "--max-tokens",
        "16",
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    assert "good" in r.stdout and "http500" in r.stdout and "Avg latency" in r.stdout
    assert "HTTP 500: injected failure" in r.stderr
    for name in ("summary.json", "records.jsonl", "report.md", "report.csv"):
        assert (out / name).exists(), name
    s = json.loads((out / "summary.json").read_text())
    assert s["run"]["settings"]["max_tokens"] == 16
    assert s["run"]["settings"]["endpoint"] == fake.base_url  # /v1 appended
    good = s["models"][0]
    assert good["model"] == "good" and good["status"] == "ok" and good["tokens"]["completion_mean"] == 16
    csv_lines = (out / "report.csv").read_text().splitlines()
    assert csv_lines[0].startswith("model,backend,status") and len(csv_lines) == 3
    assert "| Model | Status | Avg latency | p95 |" in (out / "report.md").read_text()


def test_environment_variables_and_flags_override_them(fake, tmp_path: Path) -> None:
    env = {
        "FOUNDRY_LOCAL_ENDPOINT": fake.base_url,
        "BENCH_MODELS": "good",
        "BENCH_ROUNDS": "2",
        "BENCH_MAX_TOKENS": "8",
        "BENCH_PROMPT": "hello there",
        "BENCH_STREAM": "0",
    }
    r = run("bench", "--out", str(tmp_path / "a"), env=env)
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "a" / "summary.json").read_text())
    st = s["run"]["settings"]
    assert (st["models"], st["rounds"], st["max_tokens"], st["stream"]) == (["good"], 2, 8, False)
    assert st["prompts_source"] == "BENCH_PROMPT"
    assert s["models"][0]["ttft_s"]["n"] == 0  # non-streaming: TTFT unknown
    r = run("bench", "--rounds", "1", "--max-tokens", "4", "--out", str(tmp_path / "b"), env=env)
    st = json.loads((tmp_path / "b" / "summary.json").read_text())["run"]["settings"]
    assert (st["rounds"], st["max_tokens"]) == (1, 4)


def test_exit_1_when_no_model_produces_results(fake, tmp_path: Path) -> None:
    r = run(
        "bench",
        "--endpoint",
        fake.base_url,
        "--models",
        "http500,nope",  # at an endpoint any name is a model id there: "nope" fails at run time
        "--rounds",
        "1",
        "--out",
        str(tmp_path / "x"),
    )
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert (tmp_path / "x" / "summary.json").exists()


def test_config_errors_exit_2_with_location_and_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "models.json"
    bad.write_text('{\n  "m": {"backend": "openai",\n        "capabilitys": ["chat"]}\n}\n')
    r = run("bench", "--models-file", str(bad), "--out", str(tmp_path / "o"))
    assert r.returncode == 2
    assert f"{bad}:3 [m.capabilitys]: unknown key 'capabilitys'" in r.stderr
    assert "allowed keys" in r.stderr and "Traceback" not in r.stderr
    r = run("bench", "--rounds", "0", "--models", "x", "--endpoint", "http://127.0.0.1:9/v1")
    assert r.returncode == 2 and "rounds" in r.stderr
    r = run("bench", "--prompts", str(tmp_path / "missing.json"))
    assert r.returncode == 2 and "file not found" in r.stderr
    r = run("bench", "--no-such-flag")
    assert r.returncode == 2


def test_debug_shows_traceback(tmp_path: Path) -> None:
    r = run("--debug", "bench", "--prompts", str(tmp_path / "missing.json"))
    assert r.returncode == 2 and "Traceback" in r.stderr


def test_report_rerenders_from_saved_summary(fake, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert (
        run(
            "bench", "-e", fake.base_url, "-m", "good", "-r", "1", "--max-tokens", "4", "-o", str(out)
        ).returncode
        == 0
    )
    (out / "report.md").unlink()
    (out / "report.csv").unlink()
    r = run("report", str(out), "--format", "md")
    assert r.returncode == 0 and "# Benchmark report" in r.stdout
    assert (out / "report.md").exists() and (out / "report.csv").exists()
    assert run("report", str(out), "--format", "csv", "--no-write").stdout.startswith("model,backend")
    assert run("report", str(out), "--format", "xml").returncode == 2
    r = run("report", str(tmp_path / "nothing"))
    assert r.returncode == 2 and "does not exist" in r.stderr


def test_ctrl_c_keeps_what_was_measured(fake, tmp_path: Path) -> None:
    out = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
    proc = subprocess.Popen(
        [BAKEOFF, "bench", "-e", fake.base_url, "-m", "good", "-r", "50", "--warmup", "0", "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # a test run started in the background inherits SIGINT ignored; a user's terminal does not
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 60
    rec = out / "records.jsonl"
    while time.time() < deadline:
        if rec.exists() and len(rec.read_text().splitlines()) >= 2:
            break
        time.sleep(0.1)
    before = rec.read_text().splitlines() if rec.exists() else []
    measured = len(before)
    assert measured >= 2, "no records on disk before Ctrl-C: records must be written as they arrive"
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"bench did not stop within 30 s of Ctrl-C ({measured} records before it): {err[-2000:]}")
    assert proc.returncode == 130, err
    assert "interrupted" in err
    s = json.loads((out / "summary.json").read_text())
    assert s["run"]["interrupted"] is True
    m = s["models"][0]
    assert m["requests"]["ok"] >= 2 and m["latency_s"]["n"] >= 2
    after = (out / "records.jsonl").read_text().splitlines()
    assert after[: len(before)] == before  # what was on disk before the signal is kept as it was
    assert m["requests"]["ok"] >= len(before)
    assert "partial results" in (out / "report.md").read_text()


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version(flag: str) -> None:
    r = run(flag)
    assert r.returncode == 0 and ("bench" in r.stdout or "bakeoff" in r.stdout)


def test_doctor_passes_and_fails_clearly(fake, tmp_path: Path) -> None:
    r = run("doctor", "--endpoint", fake.base_url, "--models", "good,nousage")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PASS endpoint" in r.stdout and "PASS listed good" in r.stdout and "PASS answers good" in r.stdout
    r = run("doctor", "--endpoint", fake.base_url, "--models", "good,ghost,http500")
    assert r.returncode == 1
    assert "FAIL listed ghost" in r.stdout and "FAIL answers ghost" in r.stdout
    assert "FAIL answers http500" in r.stdout and "HTTP 500" in r.stdout
    dead = "http://127.0.0.1:9/v1"
    r = run("doctor", "--endpoint", dead, "--models", "x")
    assert r.returncode == 1 and "FAIL endpoint" in r.stdout
