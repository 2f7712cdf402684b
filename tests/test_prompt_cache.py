"""Repeated prompts must not read as cold TTFT: requests to a server carry a unique tag by default
(recorded), ``--reuse-prompt-cache`` turns it off, and a run whose repeated prompts answer far faster
than their first sending says so."""

from __future__ import annotations

import json
from pathlib import Path

from bakeoff.config.settings import BenchSettings, load_models_file
from bakeoff.load.cache_tag import WORDS, tagged
from bakeoff.reporters.markdown import render_markdown
from bakeoff.reporters.report import RunReport
from bakeoff.results.schema import RunInfo, Summary

from .conftest import PROMPTS, bench, read_records
from .test_cli import run

DATA = Path(__file__).parent / "data"


def test_requests_to_a_server_are_tagged_uniquely(fake, tmp_path: Path) -> None:
    s = bench(fake.base_url, ["good"], tmp_path / "tagged", rounds=2)
    recs = read_records(tmp_path / "tagged")
    tags = [r["extra"]["cache_tag"] for r in recs]  # type: ignore[index]
    assert len(tags) == 5 and len(set(tags)) == 5 and all(len(t.split()) == 3 for t in tags)
    assert all(w in WORDS for t in tags for w in t.split())
    # the fake server counts one prompt token per word: the tag is exactly three more
    assert [r["prompt_tokens"] for r in recs if not r["warmup"]] == [6, 7, 6, 7]
    assert s.run.settings["prompt_cache"] == "unique-prefix"


def test_reuse_sends_prompts_unchanged(fake, tmp_path: Path) -> None:
    out = tmp_path / "reuse"
    flags = ["-r", "1", "--warmup", "0", "--prompt", "one two three", "--reuse-prompt-cache"]
    r = run("bench", "-e", fake.base_url, "-m", "good", *flags, "-o", str(out))
    assert r.returncode == 0, r.stderr
    recs = read_records(out)
    assert recs[0]["extra"] == {} and recs[0]["prompt_tokens"] == 3
    assert json.loads((out / "summary.json").read_text())["run"]["settings"]["prompt_cache"] == "reuse"


def test_in_process_engines_are_not_tagged(tmp_path: Path) -> None:
    from bakeoff.backends.targets import resolve_targets
    from bakeoff.run.bench import run_bench

    (tmp_path / "m.json").write_text(json.dumps({"echo": {"adapter": f"{DATA}/echo_adapter.py:EchoAdapter"}}))
    targets = resolve_targets(["echo"], load_models_file(tmp_path / "m.json"), None)
    run_bench(
        BenchSettings(models=["echo"], rounds=1, warmup=0, max_tokens=4), PROMPTS, targets, tmp_path / "o"
    )
    assert all(r["extra"] == {} for r in read_records(tmp_path / "o"))  # they reset their cache per request


def test_the_note_reaches_the_report() -> None:
    s = Summary(
        run=RunInfo(settings={}, environment={}, started_at="t", notes=["m: a prompt cache may be..."])
    )
    assert "> **Note:** m: a prompt cache may be..." in render_markdown(RunReport(s))


def test_the_tag_goes_before_the_first_message() -> None:
    msgs = ({"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"})
    assert tagged(msgs, "river lamp stone") == (
        {"role": "system", "content": "river lamp stone\nBe brief."},
        {"role": "user", "content": "Hi"},
    )
    assert len(WORDS) == len(set(WORDS)) == 146
