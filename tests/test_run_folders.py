"""A run folder holds exactly one run; a killed run keeps what it measured; a path that does not exist
is an error naming it (issue 15, "Runs and their folders"). Each test runs the commands a user types."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.test_cli import BAKEOFF, run


def _bench(fake, out: Path, *extra: str, models: str = "good") -> subprocess.CompletedProcess[str]:
    return run(
        "bench", "-e", fake.base_url, "-m", models, "-r", "1", "--max-tokens", "4", "-o", str(out), *extra
    )


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_a_folder_that_holds_a_run_is_refused_and_overwrite_replaces_it(fake, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert _bench(fake, out).returncode == 0
    first = _lines(out / "records.jsonl")
    summary = (out / "summary.json").read_text()
    assert len(first) == 4 + 1  # the session's four prompts x one round, plus one warm-up
    r = _bench(fake, out, models="chunky")
    assert r.returncode == 2 and "already holds a run" in r.stderr and "--overwrite" in r.stderr
    assert "Traceback" not in r.stderr
    assert _lines(out / "records.jsonl") == first and (out / "summary.json").read_text() == summary
    (out / "mine.txt").write_text("not a run file")
    r = _bench(fake, out, "--overwrite", models="chunky")
    assert r.returncode == 0, r.stderr
    recs = [json.loads(x) for x in _lines(out / "records.jsonl")]
    assert len(recs) == 5 and {x["model"] for x in recs} == {"chunky"}  # nothing of the first run mixed in
    s = json.loads((out / "summary.json").read_text())
    assert [m["model"] for m in s["models"]] == ["chunky"]
    assert (out / "mine.txt").read_text() == "not a run file"  # --overwrite removes run files only


@pytest.mark.parametrize("kind", ["file", "under-a-file", "proc"])
def test_an_unusable_out_is_one_line_and_exit_2(fake, tmp_path: Path, kind: str) -> None:
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    out = {"file": a_file, "under-a-file": a_file / "run", "proc": Path("/proc/bakeoff-test/run")}[kind]
    r = _bench(fake, out)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and str(out) in r.stderr
    assert len([x for x in r.stderr.splitlines() if x.strip()]) <= 2  # the error and its hint


def _start_and_wait_for_records(fake, out: Path) -> tuple[subprocess.Popen[str], list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
    proc = subprocess.Popen(
        [
            BAKEOFF,
            "bench",
            "-e",
            fake.base_url,
            "-m",
            "good,chunky",
            "-r",
            "50",
            "--warmup",
            "0",
            "-o",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    rec = out / "records.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline:
        if rec.exists() and len(_lines(rec)) >= 3:
            break
        time.sleep(0.1)
    before = _lines(rec) if rec.exists() else []
    assert len(before) >= 3, "no records on disk: records must be written as they arrive"
    return proc, before


def test_sigterm_is_handled_like_ctrl_c(fake, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc, before = _start_and_wait_for_records(fake, out)
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("bench did not stop within 30 s of SIGTERM")
    assert proc.returncode == 143, err
    assert "terminated" in err and "Traceback" not in err
    s = json.loads((out / "summary.json").read_text())
    assert s["run"]["interrupted"] is True and s["run"]["finished_at"]
    good = s["models"][0]
    assert good["model"] == "good" and good["requests"]["ok"] >= len(before)
    assert s["models"][1]["status"] == "skipped"  # chunky never started
    assert _lines(out / "records.jsonl")[: len(before)] == before
    assert "partial results" in (out / "report.md").read_text()


def test_report_rebuilds_the_summary_of_a_killed_run(fake, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc, _ = _start_and_wait_for_records(fake, out)
    proc.kill()  # SIGKILL: nothing can be written on the way out
    proc.communicate(timeout=30)
    recs = [json.loads(x) for x in _lines(out / "records.jsonl")]
    ok = sum(1 for x in recs if x["model"] == "good" and x["status"] == "ok" and not x["warmup"])
    assert ok >= 3
    assert not (out / "summary.json").exists()  # the first model had not finished: no summary yet
    r = run("compare", str(out), str(out))
    assert r.returncode == 1 and "bakeoff report" in r.stderr  # the hint says how to rebuild it
    lines = (out / "records.jsonl").read_text().splitlines(keepends=True)
    (out / "records.jsonl").write_text("".join([*lines[:2], "{garbage\n", "[1, 2]\n", *lines[2:]]))
    r = run("report", str(out), "--format", "json")
    assert r.returncode == 0, r.stderr
    assert "rebuilt from records.jsonl" in r.stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["run"]["interrupted"] is True
    [good] = s["models"]
    assert good["status"] == "ok" and "partial" in good["error"]
    assert good["requests"]["ok"] == ok and good["latency_s"]["n"] == ok
    # the rebuilt p50 is the median of the recorded latencies, not a figure from anywhere else
    # (E2E latency = arrival of the last content event, DESIGN.md)
    lat = sorted(x["events"][-1][0] / 1e9 for x in recs if x["model"] == "good" and x["status"] == "ok")
    mid = len(lat) // 2
    expect = lat[mid] if len(lat) % 2 else (lat[mid - 1] + lat[mid]) / 2
    assert good["latency_s"]["p50"] == pytest.approx(expect)
    assert "rebuilt from records.jsonl" in (out / "report.md").read_text()
    # the damaged lines are counted and named, not skipped without a word
    assert "records.jsonl: 2 line(s) are not a JSON record and were left out: 3, 4" in s["run"]["notes"]


def test_a_killed_run_keeps_the_rows_of_models_that_finished(fake, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert _bench(fake, out, models="good,chunky").returncode == 0
    s = json.loads((out / "summary.json").read_text())
    finished_good = s["models"][0]
    # what a run killed during its second model leaves: the summary saved after the first model
    s["run"]["finished_at"] = None
    s["models"][1].update(status="skipped", error=None)
    (out / "summary.json").write_text(json.dumps(s))
    r = run("report", str(out), "--format", "json")
    assert r.returncode == 0, r.stderr
    new = json.loads((out / "summary.json").read_text())
    assert new["models"][0] == finished_good  # kept as saved, resources included
    chunky = new["models"][1]
    assert chunky["status"] == "ok" and chunky["requests"]["ok"] == 4 and "partial" in chunky["error"]


@pytest.mark.parametrize(
    "command",
    [
        ["report"],
        ["recommend"],
        ["judge", "--judge", "good"],
        ["annotate", "export"],
        ["annotate", "import", "sheet.csv"],
        ["compare", "SAME"],
    ],
)
def test_a_mistyped_run_folder_is_an_error_naming_it(fake, tmp_path: Path, command: list[str]) -> None:
    out = tmp_path / "run"
    assert _bench(fake, out).returncode == 0
    typo = tmp_path / "rnu"
    before = sorted(p.name for p in tmp_path.iterdir())
    args = [str(out) if a == "SAME" else a for a in command]
    if command[0] == "annotate":
        r = run(*args[:2], str(typo), *args[2:])
    elif command[0] == "compare":
        r = run("compare", str(typo), *args[1:])
    else:
        r = run(args[0], str(typo), *args[1:])
    assert r.returncode == 2, r.stderr
    assert f"{typo} does not exist" in r.stderr and "Traceback" not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written to the parent


@pytest.mark.parametrize("models", ["good,good", "good, chunky ,good"])
def test_the_same_model_twice_is_refused(fake, tmp_path: Path, models: str) -> None:
    r = _bench(fake, tmp_path / "run", models=models)
    assert r.returncode == 2 and "'good' is named 2 times" in r.stderr
    assert not (tmp_path / "run").exists()  # nothing was run


@pytest.mark.parametrize("models", ["", ",", " , "])
def test_an_empty_model_list_is_a_usage_error(fake, tmp_path: Path, models: str) -> None:
    r = _bench(fake, tmp_path / "run", models=models)
    assert r.returncode == 2 and "names no model" in r.stderr
    assert not (tmp_path / "run").exists()


def test_a_rebuilt_summary_is_rebuilt_once(fake, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert _bench(fake, out, models="good,chunky").returncode == 0
    s = json.loads((out / "summary.json").read_text())
    s["run"]["finished_at"] = None
    s["models"][1].update(status="skipped", error=None)
    (out / "summary.json").write_text(json.dumps(s))
    # --no-write: the rebuilt summary is shown, nothing is written
    r = run("report", str(out), "--format", "json", "--no-write")
    assert r.returncode == 0 and "rebuilt from records.jsonl" in r.stdout
    assert json.loads((out / "summary.json").read_text())["run"]["finished_at"] is None
    for _ in range(2):
        assert run("report", str(out), "--format", "json").returncode == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["run"]["finished_at"] and sum("rebuilt from records.jsonl" in n for n in s["run"]["notes"]) == 1


def test_report_and_compare_read_the_summary_file_they_are_given(fake, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert _bench(fake, out).returncode == 0
    own = (out / "summary.json").read_text()
    other = json.loads(own)
    other["models"][0]["model"] = "renamed"
    (out / "old.json").write_text(json.dumps(other))
    r = run("report", str(out / "old.json"), "--format", "json")
    assert r.returncode == 0 and '"renamed"' in r.stdout
    assert (out / "summary.json").read_text() == own  # another file's content never lands in summary.json
    r = run("compare", str(out / "old.json"), str(out / "summary.json"))
    assert "Only in base: renamed" in r.stdout and "only in new: good" in r.stdout
