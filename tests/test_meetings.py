"""Long meetings (issue 26): the seeded transcript generator, the fact scorer worked by hand, the
suite through ``bakeoff bench`` and its report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bakeoff.config.settings import FactSpec, PromptCase
from bakeoff.errors import UsageError
from bakeoff.quality.facts import facts_block, normalize, score_notes
from bakeoff.records import ContentEvent, RequestRecord
from bakeoff.workload.meetings import (
    DATES,
    PEOPLE,
    approx_tokens,
    build_meeting,
    length_label,
    meetings_suite,
    parse_lengths,
    resolve_suite,
)
from tests.test_cli import run as cli


@pytest.mark.parametrize("tokens", [1000, 4000])
def test_a_meeting_is_the_same_bytes_twice_and_its_facts_sit_where_they_were_planted(tokens: int) -> None:
    text, facts = build_meeting(tokens, seed=7)
    again, facts_again = build_meeting(tokens, seed=7)
    assert text == again and facts == facts_again
    assert build_meeting(tokens, seed=8)[0] != text
    assert abs(approx_tokens(text) - tokens) / tokens < 0.05  # the length asked for, within 5%
    assert len(facts) == 6 + tokens // 2000 and [f.id for f in facts] == [
        f"f{i}" for i in range(1, len(facts) + 1)
    ]
    assert {f.position for f in facts} == {"start", "middle", "end"}
    lines = text.splitlines()
    for f in facts:
        # the key is said only where the fact was planted: in its (adjacent) lines and nowhere else
        where = [i for i, line in enumerate(lines) if normalize(f.key) in normalize(line)]
        assert where and where[-1] - where[0] <= 1, (f.key, where)
        # its recorded share of the transcript is the share of tokens before its first line
        before = "\n".join(lines[: where[0]]) + "\n"
        assert f.at == pytest.approx(approx_tokens(before) / approx_tokens(text), abs=0.002)
        band = {"start": (0.0, 0.2), "middle": (0.4, 0.6), "end": (0.8, 1.0)}[f.position or ""]
        assert band[0] <= (f.at or 0) <= band[1], (f.position, f.at)
        if f.kind == "action":
            assert f.owner in text and f.due in DATES and f.owner in PEOPLE
            assert re.search(rf"{f.owner}: Sure, I'll .* by .*{f.due}", text)


def test_lengths_and_the_suite() -> None:
    assert parse_lengths("1k, 4k,8K,1500") == (1000, 4000, 8000, 1500)
    assert [length_label(n) for n in (800, 1000, 1500, 16000)] == ["800", "1k", "1.5k", "16k"]
    for bad, says in (("1k,x", "'x' is not a length"), ("100", "outside 200-131072"),
                      ("1k,1k", "each length once"), ("", "is not a length")):  # fmt: skip
        with pytest.raises(UsageError, match=says):
            parse_lengths(bad)
    cases = meetings_suite((1000, 2000), per_length=2)
    assert [c.id for c in cases] == ["meeting-1k-1", "meeting-1k-2", "meeting-2k-1", "meeting-2k-2"]
    assert cases[0].source != cases[1].source and all(c.facts for c in cases)
    assert "length:2k" in cases[3].tags and "{source}" in cases[0].prompt
    got, source = resolve_suite("long-meetings", "1k")
    assert len(got) == 2 and source == "suite long-meetings (1k tokens, seed 0)"
    with pytest.raises(UsageError, match="--lengths goes with --suite long-meetings"):
        resolve_suite("meeting-notes", "1k")
    assert resolve_suite("meeting-notes")[1] == "suite meeting-notes"


SOURCE = (
    "Meeting transcript. Attendees: Amara, Bilal, Chen.\n"
    "Amara: I'd say we go with Halcyon as the payments vendor.\n"
    "Chen: Amara, can you write the migration runbook?\n"
    "Amara: Sure, I'll write the migration runbook by Tuesday -- no, make that Friday.\n"
    "Bilal: For the record, the quarterly budget is capped at 48,200 dollars.\n"
    "Chen: Bilal, can you order the test handsets?\n"
    "Bilal: Sure, I'll order the test handsets by March 17.\n"
    "Chen: One thing nobody has answered: whether the Lisbon office joins the rollout.\n"
)
FACTS = [
    FactSpec(id="f1", kind="decision", key="Halcyon", position="start"),
    FactSpec(id="f2", kind="action", key="migration runbook", owner="Amara", due="Friday", position="start"),
    FactSpec(id="f3", kind="number", key="48,200", position="middle"),
    FactSpec(id="f4", kind="action", key="test handsets", owner="Bilal", due="March 17", position="end"),
    FactSpec(id="f5", kind="question", key="Lisbon office", position="end"),
]


def test_the_fact_scorer_by_hand() -> None:
    notes = (
        "Decisions:\n"
        "- Go with HALCYON for payments.\n"
        "- Bilal writes the migration   runbook by Friday.\n"  # owner wrong (another attendee), date right
        "- Budget: $48200.\n"  # the digits without their separator
        "- Yara orders the test handsets by June 2.\n"  # invented owner and invented date
    )
    s = score_notes(notes, FACTS, SOURCE)
    got = {f.fact: (f.recalled, f.owner, f.due) for f in s.facts}
    assert got == {
        "f1": (True, None, None),
        "f2": (True, "wrong", "right"),
        "f3": (True, None, None),
        "f4": (True, "missing", "missing"),  # Yara and June 2 are no one and no date of this meeting
        "f5": (False, None, None),
    }
    assert s.invented_owners == ("Yara",) and s.invented_dates == ("June 2",)
    assert s.recall == 4 / 5
    # the date the meeting corrected away is a wrong date, not a missing one; the right owner is right
    s = score_notes("- Amara: migration runbook, due Tuesday", FACTS, SOURCE)
    assert (s.facts[1].owner, s.facts[1].due) == ("right", "wrong")
    assert s.invented_owners == () and s.invented_dates == ()  # Tuesday was said in the meeting
    # nothing recalled
    assert score_notes("We talked about many things.", FACTS, SOURCE).recall == 0.0


def _rec(model: str, case: str, output: str, *, warmup: bool = False, ok: bool = True) -> RequestRecord:
    return RequestRecord(model=model, backend="openai", prompt_id=case, round=1, warmup=warmup, stream=True,
                         status="ok" if ok else "error", t_scheduled_ns=0, t0_ns=0, t_end_ns=10,
                         events=(ContentEvent(5, 1),), output=output)  # fmt: skip


def test_facts_block_by_hand() -> None:
    cases = {
        "a": PromptCase(id="a", prompt="{source}", source=SOURCE, facts=FACTS, tags=["length:1k"]),
        "b": PromptCase(id="b", prompt="{source}", source=SOURCE, facts=FACTS[:2], tags=["length:4k"]),
        "plain": PromptCase(id="plain", prompt="hi"),
    }
    recs = [
        # case a: f1, f2 (owner right, date wrong), f5 recalled; f3, f4 not: 3 of 5
        _rec("m", "a", "Halcyon chosen.\nAmara: migration runbook by Tuesday.\nOpen: Lisbon office?"),
        # case b: f1 recalled, f2 recalled with owner and date right; invents Oskar: 2 of 2
        _rec("m", "b", "Halcyon. Amara writes the migration runbook by Friday with Oskar."),
        _rec("m", "a", "Halcyon", warmup=True),  # not measured
        _rec("m", "a", "", ok=False),  # failed: not an answer
        _rec("m", "plain", "hi"),  # no facts
    ]
    block = facts_block(cases, recs)
    assert block == {
        "answers": 2,
        "checked": 7,
        "recalled": 5,
        "recall": round(5 / 7, 4),
        # positions: start f1 f2 (a: 2 of 2, b: 2 of 2), middle f3 (a: 0 of 1), end f4 f5 (a: 1 of 2)
        "by_position": {"start": 1.0, "middle": 0.0, "end": 0.5},
        "by_length": {"1k": 0.6, "4k": 1.0},
        "by_kind": {"action": round(2 / 3, 4), "decision": 1.0, "number": 0.0, "question": 1.0},
        "actions_recalled": 2,
        "owner_right": 1.0,
        "due_right": 0.5,
        "invented_owners": 1,
        "invented_dates": 0,
    }
    assert facts_block({"plain": cases["plain"]}, recs) is None


def test_bench_on_long_meetings_reports_facts_kept(fake, tmp_path: Path) -> None:
    """Against the fake server (whose answers name no fact) the plumbing must still count every fact
    of every answer as checked and not kept, and report.md must show the table."""
    out = tmp_path / "run"
    r = cli("bench", "-e", fake.base_url, "-m", "good", "--suite", "long-meetings", "--lengths", "1k",
            "-r", "1", "--warmup", "0", "--max-tokens", "8", "-o", str(out))  # fmt: skip
    assert r.returncode == 0, r.stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["run"]["settings"]["prompts_source"] == "suite long-meetings (1k tokens, seed 0)"
    facts = s["models"][0]["quality"]["facts"]
    n_facts = sum(len(c["facts"]) for c in json.loads((out / "cases.json").read_text()))
    assert facts["answers"] == 2 and facts["checked"] == n_facts and facts["recall"] == 0.0
    assert facts["by_length"] == {"1k": 0.0}
    md = (out / "report.md").read_text()
    assert "## Facts kept" in md and "| good | 0% (0/" in md
    r = cli("bench", "-e", fake.base_url, "-m", "good", "--lengths", "1k", "-o", str(tmp_path / "x"))
    assert r.returncode == 2 and "--lengths goes with --suite long-meetings" in r.stderr
