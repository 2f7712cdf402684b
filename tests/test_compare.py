"""bakeoff compare: noise reads as unchanged, a real slowdown breaks the gate (exit 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bakeoff.analysis.compare import bootstrap_diff, parse_rules
from bakeoff.errors import UsageError
from bakeoff.testing import FakePlan, FakeServer

from .test_cli import run

FAST = FakePlan(ttft_ms=20, itl_ms=5, tokens=20)
SLOW = FakePlan(ttft_ms=20, itl_ms=7.5, tokens=20)


def bench(url: str, out: Path) -> None:
    r = run("bench", "-e", url, "-m", "m", "-r", "6", "--warmup", "1", "-o", str(out))
    assert r.returncode == 0, r.stderr


def test_noise_is_unchanged_and_a_slowdown_fails_the_gate(tmp_path: Path) -> None:
    with FakeServer(FAST, {"m": FAST}) as srv:
        bench(srv.base_url, tmp_path / "base")
        bench(srv.base_url, tmp_path / "again")
    with FakeServer(SLOW, {"m": SLOW}) as srv:
        bench(srv.base_url, tmp_path / "slow")
    gate = "ttft_s.p50>+10%,decode_tokens_per_s.p50<-5%"
    r = run(
        "compare",
        str(tmp_path / "base"),
        str(tmp_path / "again"),
        "--fail-on",
        gate,
        "--out",
        str(tmp_path / "diff.md"),
    )
    assert r.returncode == 0, r.stdout + r.stderr
    rows = [ln for ln in r.stdout.splitlines() if ln.startswith("| m |")]
    assert rows and all(ln.rstrip(" |").endswith("unchanged") for ln in rows), rows
    assert "no rule broken" in (tmp_path / "diff.md").read_text()
    r = run("compare", str(tmp_path / "base"), str(tmp_path / "slow"), "--fail-on", gate)
    assert r.returncode == 1
    assert "**broken** `decode_tokens_per_s.p50<-5%`" in r.stdout
    assert "| m | decode_tokens_per_s.p50 |" in r.stdout and "worse" in r.stdout
    assert "ttft_s.p50>+10%" not in r.stdout.split("## Gate")[1]  # TTFT did not change


def test_compare_without_records_uses_the_summary_spread(tmp_path: Path) -> None:
    with FakeServer(FAST, {"m": FAST}) as srv:
        bench(srv.base_url, tmp_path / "a")
        bench(srv.base_url, tmp_path / "b")
    (tmp_path / "a" / "records.jsonl").unlink()
    r = run("compare", str(tmp_path / "a"), str(tmp_path / "b"))
    assert r.returncode == 0 and "Verdicts: no per-request records" in r.stdout
    assert "unchanged" in r.stdout


def test_rules_and_bootstrap() -> None:
    rules = parse_rules("ttft_s.p50>+10%, decode_tokens_per_s.mean<-5%,quality.mean<-0.3")
    assert [str(r) for r in rules] == ["ttft_s.p50>+10%", "decode_tokens_per_s.mean<-5%", "quality.mean<-0.3"]
    with pytest.raises(UsageError):
        parse_rules("ttft>10")
    with pytest.raises(UsageError):
        parse_rules("speed.p50>+1%")
    lo, hi = bootstrap_diff([1.0, 1.1, 0.9, 1.0], [2.0, 2.1, 1.9, 2.0], "p50")
    assert 0.8 < lo <= hi < 1.2
    lo, hi = bootstrap_diff([1.0, 1.2, 0.8, 1.0], [1.1, 0.9, 1.0, 1.0], "mean")
    assert lo < 0 < hi


def test_older_or_foreign_summaries(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "summary.json").write_text(json.dumps({"schema_version": 99}))
    r = run("compare", str(tmp_path / "x"), str(tmp_path / "x"))
    assert r.returncode == 1 and "schema version 99" in r.stderr
