"""``bakeoff view`` in a real browser (issue 31): Playwright drives the Debian-installed Chromium (no
browser download) against the ``bakeoff view`` command a user types. Open the runs list, filter it,
open a run, compare two runs and read the verdict, rate three answers blind with the keyboard and find
them in ``annotate``'s store and in ``recommend``'s input. A screenshot of each page is kept
(``BAKEOFF_SCREENSHOT_DIR``, else the test's own folder)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bakeoff.analysis.recommend import recommend
from bakeoff.config.settings import PromptCase
from bakeoff.quality.store import load_human
from bakeoff.results.index import run_id
from bakeoff.results.schema import load_summary
from bakeoff.testing import FakePlan, FakeServer

from .conftest import bench
from .test_html import CHROMIUM

pytest.importorskip("starlette")
if CHROMIUM is None and os.environ.get("BAKEOFF_REQUIRE_BROWSER"):
    raise RuntimeError("chromium is required here (BAKEOFF_REQUIRE_BROWSER is set)")
if CHROMIUM is None:
    pytest.skip("chromium not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

CASES = [
    PromptCase(id="p1", prompt="Summarize: we ship on Friday, Ana writes the notes."),
    PromptCase(id="p2", prompt="Summarize: the budget is 40k; Ben checks it by Monday."),
]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("viewb")
    fast, slow = FakePlan(ttft_ms=5, itl_ms=1, tokens=6), FakePlan(ttft_ms=80, itl_ms=10, tokens=6)
    with FakeServer(fast, {"fast": fast, "slow": slow}) as srv:
        bench(srv.base_url, ["fast", "slow"], base / "runs" / "before", CASES, rounds=2)
        bench(srv.base_url, ["fast", "slow"], base / "runs" / "after", CASES, rounds=2)
    return base


@pytest.fixture()
def app_url(root: Path, tmp_path: Path) -> Iterator[str]:
    exe = str(Path(sys.executable).parent / "bakeoff")
    cmd = [exe, "view", str(root / "runs"), "--no-open", "--index", str(tmp_path / "i.sqlite")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("bakeoff view: http://127.0.0.1:"), line + proc.stdout.read()
        assert "(2 runs)" in line
        yield line.split()[2]
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_list_filter_open_compare_and_rate_in_chromium(app_url: str, root: Path, tmp_path: Path) -> None:
    shots = Path(os.environ.get("BAKEOFF_SCREENSHOT_DIR") or tmp_path)
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        # the runs list, then filtered by model
        page.goto(app_url)
        assert page.locator("#runs tr[data-run]").count() == 2
        page.screenshot(path=str(shots / "view-runs.png"), full_page=True)
        page.fill("input[name=model]", "slow")
        page.click("form.filters button")
        assert "model=slow" in page.url and page.locator("#runs tr[data-run]").count() == 2
        page.fill("input[name=model]", "nosuchmodel")
        page.click("form.filters button")
        assert page.locator("#runs tr[data-run]").count() == 0 and page.inner_text("#count") == "0 runs"
        # one run: its answers and its report (inside the page)
        page.goto(app_url)
        page.click(f"a[href='/run/{run_id(root / 'runs' / 'before')}']")
        assert page.locator("#answers tr").count() == 1 + 4  # header, 2 models x 2 prompts
        report = page.frame_locator("#report")
        assert "Recommendation" in report.locator("body").inner_text()
        page.screenshot(path=str(shots / "view-run.png"), full_page=True)
        # compare the two runs: tick both, press the button, read a verdict
        page.goto(app_url)
        for box in page.locator("#runs input[type=checkbox]").all():
            box.check()
        page.click("#compare")
        assert page.url.count("ids=") == 2
        verdicts = page.locator("table.diff td.verdict").all_inner_texts()
        assert verdicts and set(verdicts) <= {"better", "worse", "unchanged", "too few samples", "n/a"}
        assert page.locator("ul.gate li").count() >= 1
        page.screenshot(path=str(shots / "view-compare.png"), full_page=True)
        # rate three answers blind, with the keyboard only
        folder = root / "runs" / "after"
        page.goto(app_url.rstrip("/") + f"/rate/{run_id(folder)}")
        page.fill("input[name=rater]", "ana")
        page.press("input[name=rater]", "Enter")
        page.wait_for_selector("#answer")
        assert "fast" not in page.content() and "slow" not in page.content()
        page.screenshot(path=str(shots / "view-rate.png"), full_page=True)
        for n, score in enumerate(("4", "2", "5")):
            assert page.inner_text("#left") == str(4 - n)
            page.keyboard.press(score)
            with page.expect_navigation():
                page.keyboard.press("Enter")
        assert page.inner_text("#left") == "1"
        # a pair, blind, with the keyboard: b is better
        page.goto(app_url.rstrip("/") + f"/rate/{run_id(folder)}/pairs?rater=ana")
        assert "2 of 2 pairs left" in page.content() and "fast" not in page.content()
        page.screenshot(path=str(shots / "view-pairs.png"), full_page=True)
        with page.expect_navigation():
            page.keyboard.press("b")
        assert "1 of 2 pairs left" in page.content()
        # trends and records
        page.goto(app_url.rstrip("/") + "/trend?metric=ttft_s.p50&rule=10")
        assert (
            page.locator("svg.chart polyline").count() == 2
            and page.locator("svg.chart line.rule").count() == 2
        )
        page.screenshot(path=str(shots / "view-trend.png"), full_page=True)
        page.goto(app_url.rstrip("/") + f"/run/{run_id(folder)}/records")
        assert page.locator("#records tr").count() == 1 + 10  # 2 models x (warm-up + 2 prompts x 2 rounds)
        page.screenshot(path=str(shots / "view-records.png"), full_page=True)
        browser.close()
    assert not errors, errors
    humans = load_human(folder)  # annotate's store
    assert sorted(h.score for h in humans) == [2, 4, 5] and {h.rater for h in humans} == {"ana"}
    summary = load_summary(folder)
    scored = {m.model: m.quality.human_scored for m in summary.models if m.quality}
    assert sum(scored.values()) == 3
    rec = recommend(summary, folder)  # recommend reads them: each rated model has a quality value
    assert all(c.values.get("quality") is not None for c in rec.candidates if scored.get(c.model))
    pages = ("runs", "run", "compare", "rate", "pairs", "trend", "records")
    assert all((shots / f"view-{n}.png").stat().st_size > 5_000 for n in pages)
