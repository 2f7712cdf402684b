"""Repeated prompts must not read as cold TTFT: requests to a server carry a unique one-word tag by
default (recorded), ``--reuse-prompt-cache`` turns it off, and a run whose later rounds answer far
faster than the first says so."""

from __future__ import annotations

import json
from pathlib import Path

from bakeoff.config import BenchSettings, load_models_file
from bakeoff.records import ContentEvent, RequestRecord
from bakeoff.reporters.markdown import render_markdown
from bakeoff.results import RunInfo, Summary
from bakeoff.summarize import warm_cache_note

from .conftest import PROMPTS, bench, read_records
from .test_cli import run

DATA = Path(__file__).parent / "data"
MS = 1_000_000


def test_requests_to_a_server_are_tagged_uniquely(fake, tmp_path: Path) -> None:
    s = bench(fake.base_url, ["good"], tmp_path / "tagged", rounds=2)
    recs = read_records(tmp_path / "tagged")
    tags = [r["extra"]["cache_tag"] for r in recs]  # type: ignore[index]
    assert len(tags) == 5 and len(set(tags)) == 5 and all(t.startswith("[bakeoff-") for t in tags)
    # the fake server counts one prompt token per word: the tag is exactly one more
    assert [r["prompt_tokens"] for r in recs if not r["warmup"]] == [4, 5, 4, 5]
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
    from bakeoff.bench import run_bench
    from bakeoff.targets import resolve_targets

    (tmp_path / "m.json").write_text(json.dumps({"echo": {"adapter": f"{DATA}/echo_adapter.py:EchoAdapter"}}))
    targets = resolve_targets(["echo"], load_models_file(tmp_path / "m.json"), None)
    run_bench(
        BenchSettings(models=["echo"], rounds=1, warmup=0, max_tokens=4), PROMPTS, targets, tmp_path / "o"
    )
    assert all(r["extra"] == {} for r in read_records(tmp_path / "o"))  # they reset their cache per request


def _rec(round_: int, ttft_ms: float, **kw: object) -> RequestRecord:
    base: dict[str, object] = dict(
        model="m", backend="openai", prompt_id="p", round=round_, warmup=False, stream=True, status="ok",
        t_scheduled_ns=0, t0_ns=0, t_end_ns=int(ttft_ms * MS) + MS,
        events=(ContentEvent(int(ttft_ms * MS), None), ContentEvent(int(ttft_ms * MS) + MS, None)),
        completion_tokens=2,
    )  # fmt: skip
    base.update(kw)
    return RequestRecord(**base)  # type: ignore[arg-type]


def test_later_rounds_far_faster_than_the_first_are_flagged() -> None:
    cached = [_rec(1, 200), _rec(1, 220), _rec(2, 20), _rec(3, 24), _rec(0, 5, warmup=True)]
    note = warm_cache_note("m", cached)
    assert note is not None and note.startswith(
        "m: median TTFT of rounds 2+ (22.0 ms) is under half of round 1's (210.0 ms)"
    )
    assert warm_cache_note("m", [_rec(1, 200), _rec(2, 100)]) is None  # exactly half: not flagged
    assert warm_cache_note("m", [_rec(1, 200), _rec(2, 99)]) is not None
    assert warm_cache_note("m", [_rec(1, 200)]) is None  # one round: nothing to compare
    assert (
        warm_cache_note("m", [_rec(1, 200), _rec(2, 20, stream=False)]) is None
    )  # no TTFT without streaming
    assert warm_cache_note("m", [_rec(1, 200), _rec(2, 20, status="error")]) is None


def test_the_note_reaches_the_report() -> None:
    s = Summary(
        run=RunInfo(settings={}, environment={}, started_at="t", notes=["m: a prompt cache may be..."])
    )
    assert "> **Note:** m: a prompt cache may be..." in render_markdown(s)
