"""The HTML report: self-contained, and its charts render in a real headless browser (Chromium)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bakeoff.testing import FakePlan, FakeServer

from .test_cli import run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("html") / "run"
    fast = FakePlan(ttft_ms=10, itl_ms=3, tokens=12)
    slow = FakePlan(ttft_ms=30, itl_ms=9, tokens=12)
    models = {"fast": fast, "slow": slow, "broken": FakePlan(fault="http_500", ttft_ms=1)}
    with FakeServer(fast, models) as srv:
        r = run("bench", "-e", srv.base_url, "-m", "fast,slow,broken", "-r", "3", "-o", str(out))
    assert r.returncode == 0, r.stderr
    return out


def test_html_is_self_contained(run_dir: Path) -> None:
    page = (run_dir / "report.html").read_text()
    assert page.startswith("<!doctype html>")
    assert not re.search(r"""(src|href)=["']?https?://""", page)  # opens offline
    assert page.count('<svg class="chart"') >= 5  # scatter, 2 distributions, heat map, resources
    assert "Recommendation" in page and "fast" in page and "HTTP 500" in page
    r = run("report", str(run_dir), "--format", "html", "--no-write")
    assert r.returncode == 0 and r.stdout.startswith("<!doctype html>")


def test_charts_render_in_headless_chromium(run_dir: Path, tmp_path: Path) -> None:
    if CHROMIUM is None:
        if os.environ.get("BAKEOFF_REQUIRE_BROWSER"):
            raise RuntimeError("chromium is required here (BAKEOFF_REQUIRE_BROWSER is set)")
        pytest.skip("chromium not installed (apt-get install chromium)")
    page = (run_dir / "report.html").as_uri()
    profile = tmp_path / "profile"
    dom = subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            page,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert 'data-rendered="ok"' in dom.stdout, dom.stderr[-2000:]
    assert int(re.search(r'data-charts="(\d+)"', dom.stdout).group(1)) >= 5  # type: ignore[union-attr]
    console_errors = [
        ln for ln in dom.stderr.splitlines() if "CONSOLE" in ln and ("Uncaught" in ln or "Error" in ln)
    ]
    assert not console_errors, console_errors
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={profile}2",
            f"--screenshot={shot}",
            "--window-size=1200,2400",
            page,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.exists() and shot.stat().st_size > 20_000
    keep = os.environ.get("BAKEOFF_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, Path(keep) / "report.png")
