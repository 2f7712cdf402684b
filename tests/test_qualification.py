"""Judge qualification (issue 16): the gold answers, each corruption checked to change what it claims,
grading worked by hand, scripted judges qualified or not end to end, and the qualification cache."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bakeoff.backends.targets import resolve_targets
from bakeoff.config.settings import BenchSettings, ModelSpec, PromptCase, load_suite
from bakeoff.errors import UsageError
from bakeoff.quality import calibration as cal
from bakeoff.quality.checks import run_checks
from bakeoff.quality.judge import run_judge
from bakeoff.quality.qualify import MODES, QUALIFICATION_FILE, default_set
from bakeoff.quality.store import load_cases, load_run_records, outputs
from bakeoff.results.schema import load_summary
from bakeoff.run.bench import run_bench

ADAPTERS = Path(__file__).parent / "data" / "quality_adapters.py"
SUITE = [c for c in load_suite("meeting-notes")[0] if c.reference]


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAKEOFF_CACHE", str(tmp_path / "cache"))


def test_every_meeting_has_a_gold_answer_that_passes_its_own_checks() -> None:
    assert len(SUITE) == 9 and all(c.source for c in SUITE)
    for case in SUITE:
        assert case.reference is not None
        failed = [r.check for r in run_checks(case, case.reference) if not r.passed]
        assert not failed, f"{case.id}: gold fails {failed}"
        parts = cal.sections(case.reference)
        assert all(parts[h] for h in cal.HEADINGS)
        owners = [m.group("owner") for line in parts["Action items"] if (m := cal.ACTION.match(line))]
        assert owners and all(o in case.source for o in owners)  # type: ignore[operator]


# Whose action item the owner_swapped corruption gives to whom: each new owner is a person of that
# meeting (another owner in its gold), never a heading such as "Meeting:" or "Facilitator:".
SWAPS = {
    "standup": ("Tom", "Marco"),
    "launch": ("Mei", "Daniel"),
    "incident": ("Felix", "Omar"),
    "budget": ("Kwame", "Bruno"),
    "design": ("Arjun", "Kofi"),
    "hiring": ("Fatima", "Ben"),
    "customer": ("Ethan", "Rosa"),
    "pta": ("Ahmed", "Grace"),
    "roadmap": ("Raj", "Victor"),
}


# The date_changed corruption by hand: the first weekday or month, moved three on (Thursday -> Sunday,
# May -> August, December -> March), everywhere in the gold.
DATES = {
    "standup": ("Thursday", "Sunday"),
    "launch": ("Tuesday", "Friday"),
    "incident": ("May", "August"),
    "budget": ("September", "December"),
    "design": ("Monday", "Thursday"),
    "hiring": ("September", "December"),
    "customer": ("October", "January"),
    "pta": ("Saturday", "Tuesday"),
    "roadmap": ("July", "October"),
}


def test_what_each_corruption_says_it_changed() -> None:
    standup, launch = SUITE[0], SUITE[1]
    g = standup.reference or ""
    made = {k: cal.corrupt(k, standup, g, launch.reference or "") for k in cal.KINDS}
    assert made["decision_dropped"].changed == "dropped decision 'Version 4.2 ships on Thursday.'"
    assert made["date_changed"].changed == "Thursday -> Sunday"
    assert made["transcript_echoed"].changed == "the transcript itself"
    assert made["other_meeting"].changed == "the gold answer of another meeting"
    assert made["repetition_loop"].changed == "'- Version 4.2 ships on Thursday.' written 12 times"
    assert made["cut_in_half"].changed == f"kept the first {len(g.split()) // 2} of {len(g.split())} words"
    with pytest.raises(ValueError, match="unknown corruption 'typo'"):
        cal.corrupt("typo", standup, g, "")
    no_source = standup.model_copy(update={"source": None})
    assert cal.corrupt("transcript_echoed", no_source, g, "").text == ""


def test_corruptions_that_cannot_apply_say_why() -> None:
    one_owner = "Decisions\n- x\n\nAction items\n- Ana: do it (today)\n\nOpen questions\n- y\n"
    with pytest.raises(UsageError, match=r"^no other person in the meeting to swap for owner Ana$"):
        cal.owner_swapped(one_owner, "Ana: hello\nAna: again")
    with pytest.raises(UsageError, match=r"^gold answer names no weekday or month to change$"):
        cal.date_changed(one_owner)
    with pytest.raises(
        UsageError, match=r"^judge calibration needs at least two cases with a source and a gold"
    ):
        cal.calibration_set([SUITE[0], SUITE[1].model_copy(update={"source": None})])


def test_speakers_are_labels_used_twice() -> None:
    assert cal.speakers("Meeting: notes\nAna: hi\nBo: yes\nAna: ok\nBo: fine\n") == ["Ana", "Bo"]


def test_a_corruption_that_does_not_apply_moves_to_the_next_meeting() -> None:
    no_date = "Decisions\n- Ship it.\n\nAction items\n- Ana: ship (tomorrow)\n\nOpen questions\n- When?\n"
    x = PromptCase(id="x", prompt="p", source="Ana: a\nBo: b\nAna: c\nBo: d", reference=no_date)
    cases = [SUITE[0], SUITE[1], x, SUITE[2]]  # standup, launch, x, incident
    s = cal.calibration_set(cases)
    by = {it.kind: it.case_id for it in s.items}
    # kind 2 (date_changed) starts at the third meeting, x, which names no weekday or month: incident
    assert by["date_changed"] == "incident" and by["decision_dropped"] == "launch"
    assert by["transcript_echoed"] == "incident" and by["repetition_loop"] == "standup"
    assert by["cut_in_half"] == "launch" and by["other_meeting"] == "x"  # x's own corruptions work
    assert set(s.gold) == {it.case_id for it in s.items}
    problem = "gold answer names no weekday or month to change"
    with pytest.raises(
        UsageError, match=f"^no case allows the date_changed corruption \\(x: {problem}; y: {problem}\\)$"
    ):
        cal.calibration_set([x, x.model_copy(update={"id": "y"})])


@pytest.mark.parametrize("case", SUITE, ids=lambda c: c.id)
def test_each_corruption_changes_what_it_claims(case: PromptCase) -> None:
    gold, source = case.reference or "", case.source or ""
    other = SUITE[(SUITE.index(case) + 1) % len(SUITE)].reference or ""
    made = {k: cal.corrupt(k, case, gold, other) for k in cal.KINDS}
    assert all(m.text.strip() != gold.strip() for m in made.values())
    g_lines = gold.splitlines()

    swapped = made["owner_swapped"].text.splitlines()
    diff = [(a, b) for a, b in zip(g_lines, swapped, strict=True) if a != b]
    assert len(diff) == 1  # one line changed: the first action item's owner, nothing else
    (before, after) = diff[0]
    old_owner, new_owner = before[2:].split(":")[0], after[2:].split(":")[0]
    assert before.split(":", 1)[1] == after.split(":", 1)[1] and old_owner != new_owner
    assert (old_owner, new_owner) == SWAPS[case.id]  # read off each transcript by hand: real people
    assert re.search(rf"\b{new_owner}\b", source)
    assert before == cal.sections(gold)["Action items"][0]

    dropped = made["decision_dropped"].text
    first = cal.sections(gold)["Decisions"][0]
    assert first not in dropped.splitlines()
    assert [x for x in g_lines if x != first] == dropped.splitlines()

    changed = made["date_changed"]
    old, new = changed.changed.split(" -> ")
    assert (old, new) == DATES[case.id]
    assert re.search(rf"\b{old}\b", gold) and not re.search(rf"\b{old}\b", changed.text)
    assert len(re.findall(rf"\b{new}\b", changed.text)) == len(re.findall(rf"\b{old}\b", gold)) + len(
        re.findall(rf"\b{new}\b", gold)
    )
    assert re.sub(rf"\b{new}\b", old, changed.text) == re.sub(
        rf"\b{new}\b", old, gold
    )  # nothing else differs

    assert made["transcript_echoed"].text == source

    loop = made["repetition_loop"].text.splitlines()
    assert loop == ["Decisions"] + [first] * 12 and "12 times" in made["repetition_loop"].changed

    half = made["cut_in_half"].text
    assert gold.startswith(half) and len(half.split()) == len(gold.split()) // 2

    assert made["other_meeting"].text == other != gold


def test_the_calibration_set_is_small_and_hides_the_reference() -> None:
    s = default_set()
    assert [it.kind for it in s.items] == list(cal.KINDS)
    assert sorted(s.gold) == sorted({it.case_id for it in s.items}) and len(s.gold) == 4
    assert all(c.reference is None for c in s.cases.values())  # the judge never sees the gold as such
    by = {c.id: c for c in SUITE}
    other = next(it for it in s.items if it.kind == "other_meeting")
    assert other.case_id == "incident" and other.text == by["budget"].reference  # the next meeting's gold
    # a case with a gold answer but no transcript is never used
    no_source = SUITE[0].model_copy(update={"source": None})
    assert "standup" not in cal.calibration_set([no_source, *SUITE[1:4]]).gold
    # 4 golds + 7 corruptions scored; 7 pairs in both orders: about 20 verdicts per mode
    assert len(s.gold) + len(s.items) == 11


def test_a_gold_answer_in_the_wrong_shape_is_named() -> None:
    with pytest.raises(UsageError, match="line 1 is neither a heading"):
        cal.sections("- an item before any heading\nDecisions\n- x\n")
    with pytest.raises(UsageError, match=r"^gold answer has no items under Action items, Open questions$"):
        cal.sections("Decisions\n- x\n")
    with pytest.raises(UsageError, match="line 2 is neither a heading"):
        cal.sections("Decisions\nShip it.\n")
    with pytest.raises(UsageError, match="not '- Owner: task \\(due\\)'"):
        cal.sections("Decisions\n- x\n\nAction items\n- do it\n\nOpen questions\n- y\n")


ITEMS = default_set().items


def test_grade_scores_by_hand() -> None:
    golds = {cid: 5 for cid in {it.case_id for it in ITEMS}}
    g = cal.grade_scores(ITEMS, golds, {k: 2 for k in cal.KINDS})
    # scores: four 5s and seven 2s; mean 34/11, population std sqrt(mean of squared deviations)
    mean = 34 / 11
    spread = ((4 * (5 - mean) ** 2 + 7 * (2 - mean) ** 2) / 11) ** 0.5
    assert g.qualified and g.passed == 7 and g.accuracy == 1.0 and g.unparsed == 0
    assert g.score_spread == pytest.approx(spread) and g.gold_mean == 5 and g.corrupt_mean == 2
    # a tie is not a catch; an unparsed verdict is not a catch; 5 of 7 is below 80%
    bad = {k: 2 for k in cal.KINDS} | {"owner_swapped": 5, "date_changed": None}
    g = cal.grade_scores(ITEMS, golds, bad)
    assert g.passed == 5 and g.accuracy == pytest.approx(5 / 7) and not g.qualified and g.unparsed == 1
    assert not g.by_kind["owner_swapped"] and not g.by_kind["date_changed"] and g.by_kind["cut_in_half"]
    # 6 of 7 (86%) qualifies
    g = cal.grade_scores(ITEMS, golds, {k: 2 for k in cal.KINDS} | {"owner_swapped": 5})
    assert g.passed == 6 and g.qualified
    # a judge that always says 4: nothing caught, no spread
    g = cal.grade_scores(ITEMS, {c: 4 for c in golds}, {k: 4 for k in cal.KINDS})
    assert g.passed == 0 and g.score_spread == 0.0 and not g.qualified
    # the pass mark is inclusive: 4 of 5 items is exactly 80%
    five = ITEMS[:5]
    g = cal.grade_scores(five, golds, {k: 2 for k in cal.KINDS} | {five[0].kind: 5})
    assert g.accuracy == 0.8 and g.qualified
    # no items: nothing caught, not qualified (no division by zero)
    g = cal.grade_scores([], {}, {})
    assert g.accuracy == 0.0 and not g.qualified and g.items == 0
    # nothing parsed: no spread, no means (not NaN)
    g = cal.grade_scores(ITEMS, {c: None for c in golds}, {k: None for k in cal.KINDS})
    assert g.score_spread is None and g.gold_mean is None and g.corrupt_mean is None and g.unparsed == 11
    # an unparsed gold verdict fails every item made from that meeting (standup: kinds 0 and 4)
    g = cal.grade_scores(ITEMS, golds | {"standup": None}, {k: 2 for k in cal.KINDS})
    assert g.passed == 5 and not g.by_kind["owner_swapped"] and not g.by_kind["repetition_loop"]


def test_grade_pairs_by_hand() -> None:
    always_a = {(k, first): "A" for k in cal.KINDS for first in (True, False)}
    g = cal.grade_pairs(ITEMS, always_a)
    assert g.passed == 0 and g.position_bias == 1.0 and not g.qualified
    gold_wins = {(k, first): "A" if first else "B" for k in cal.KINDS for first in (True, False)}
    g = cal.grade_pairs(ITEMS, gold_wins)
    assert g.passed == 7 and g.position_bias == 0.5 and g.qualified
    # nothing parsed: no bias figure
    g = cal.grade_pairs(ITEMS, {(k, first): None for k in cal.KINDS for first in (True, False)})
    assert g.position_bias is None and g.unparsed == 14 and g.passed == 0
    # one order right, the other a tie: not a catch; an unparsed verdict leaves the bias denominator
    mixed = gold_wins | {("cut_in_half", False): "tie", ("other_meeting", True): None}
    g = cal.grade_pairs(ITEMS, mixed)
    assert g.passed == 5 and g.unparsed == 1
    assert g.position_bias == pytest.approx(6 / 13)  # 13 parsed verdicts: 6 said A, 6 B, 1 tie


def _spec(cls: str) -> ModelSpec:
    return ModelSpec(adapter=f"{ADAPTERS}:{cls}")


JUDGES = {
    "four": _spec("AlwaysFour"),
    "always-a": _spec("AlwaysA"),
    "gold": _spec("GoldJudge"),
    "flaky": _spec("FlakyGoldJudge"),
}


@pytest.fixture()
def run(tmp_path: Path) -> Path:
    out = tmp_path / "run"
    models = {"good": _spec("GoodNotes")}
    cases = [PromptCase(id="c", prompt="Notes:\n{source}", source="Marco: ship Thursday.")]
    targets = resolve_targets(["good"], models, None)
    run_bench(BenchSettings(models=["good"], rounds=1, warmup=0), cases, targets, out)
    return out


def qualify(run: Path, name: str, **kw: object) -> object:
    target = resolve_targets([name], JUDGES, None)[0]
    outs = outputs(load_run_records(run))
    return run_judge(run, load_summary(run), load_cases(run), outs, target, qualify="only", **kw)  # type: ignore[arg-type]


def test_scripted_judges_qualify_or_not(run: Path) -> None:
    four = qualify(run, "four").qualification  # type: ignore[attr-defined]
    assert not four.qualified("rubric") and four.rubric.passed == 0 and four.rubric.score_spread == 0
    assert not four.qualified("pairwise") and four.pairwise.passed == 0
    biased = qualify(run, "always-a").qualification  # type: ignore[attr-defined]
    assert not biased.qualified("pairwise") and biased.pairwise.position_bias == 1.0
    assert biased.rubric.unparsed == 11 and not biased.qualified("rubric")  # it never gives a score
    gold = qualify(run, "gold").qualification  # type: ignore[attr-defined]
    assert gold.qualified("rubric") and gold.qualified("pairwise")
    assert gold.rubric.passed == 7 and gold.rubric.gold_mean == 5 and gold.rubric.corrupt_mean == 2
    assert gold.pairwise.passed == 7 and gold.pairwise.position_bias == 0.5
    assert gold.rubric.verdicts == 11 and gold.pairwise.verdicts == 14
    assert gold.calibration == cal.CALIBRATION_VERSION and gold.threshold == cal.THRESHOLD


def test_a_qualification_is_cached_per_judge_and_its_verdicts_kept(run: Path) -> None:
    import json

    first = qualify(run, "gold")
    lines = [json.loads(x) for x in (run / QUALIFICATION_FILE).read_text().splitlines()]
    assert len(lines) == 25 and not any(x["cached"] for x in lines)
    assert len({x["key"] for x in lines}) == 2  # one test per mode
    again = qualify(run, "gold")
    assert again.qualification == first.qualification  # type: ignore[attr-defined]
    lines = [json.loads(x) for x in (run / QUALIFICATION_FILE).read_text().splitlines()]
    assert len(lines) == 25  # served from the cache; its verdicts are already in this run's file
    elsewhere = run.parent / "other-run"
    elsewhere.mkdir()
    target = resolve_targets(["gold"], JUDGES, None)[0]
    outs = outputs(load_run_records(run))
    run_judge(elsewhere, load_summary(run), load_cases(run), outs, target, qualify="only")
    moved = [json.loads(x) for x in (elsewhere / QUALIFICATION_FILE).read_text().splitlines()]
    assert len(moved) == 25 and all(x["cached"] for x in moved)  # a cached result brings its verdicts
    shorter = qualify(run, "gold", max_tokens=32)  # asked differently: asked again, not served
    lines = [json.loads(x) for x in (run / QUALIFICATION_FILE).read_text().splitlines()]
    assert len(lines) == 50 and not any(x["cached"] for x in lines[25:])
    assert shorter.qualification.qualified("rubric")  # type: ignore[attr-defined]
    other = qualify(run, "four")  # another judge is never served the first one's result
    assert not other.qualification.qualified("rubric")  # type: ignore[attr-defined]
    uncached = qualify(run, "gold", use_cache=False)
    lines = [json.loads(x) for x in (run / QUALIFICATION_FILE).read_text().splitlines()]
    assert not lines[-1]["cached"]

    def verdicts(q: object) -> dict:  # everything but the time it took
        d = q.model_dump()  # type: ignore[attr-defined]
        return {m: {k: v for k, v in (d[m] or {}).items() if k != "seconds_per_verdict"} for m in MODES}

    assert verdicts(uncached.qualification) == verdicts(first.qualification)  # type: ignore[attr-defined]


def test_a_judge_that_fails_requests_is_incomplete_not_unqualified_and_not_cached(run: Path) -> None:
    import json

    q = qualify(run, "flaky").qualification  # type: ignore[attr-defined]
    # the transcript_echoed verdicts got no answer: 1 rubric, 2 pairwise; everything else was right
    assert q.rubric.failed_requests == 1 and q.pairwise.failed_requests == 2
    assert q.rubric.passed == 6 and not q.qualified("rubric") and not q.qualified("pairwise")
    assert not (run.parent / "cache" / "judgments").exists() or not [
        p
        for p in (run.parent / "cache" / "judgments").rglob("*.json")
        if "result" in json.loads(p.read_text())
    ]
    from bakeoff.quality.aggregate import qualification_note
    from bakeoff.results.schema import JudgeInfo

    note = qualification_note("flaky", JudgeInfo(qualification=q), "rubric")
    assert note is not None and "incomplete: 1 requests got no answer" in note


def test_merging_a_new_test_with_the_last_one() -> None:
    from bakeoff.cli.quality_cmds import merge_qualification
    from bakeoff.results.schema import Qualification, QualificationResult

    ok, bad = QualificationResult(qualified=True, passed=7), QualificationResult(qualified=False, passed=1)
    prompts = {"rubric": "rubric-v2", "pairwise": "pairwise-v1"}
    old = Qualification(calibration="c1", threshold=0.8, prompts=prompts, rubric=ok, pairwise=bad)
    new = Qualification(calibration="c1", threshold=0.8, prompts=prompts, pairwise=ok)
    merged = Qualification.model_validate(merge_qualification(old, new))
    assert merged.rubric == ok and merged.pairwise == ok  # pairwise replaced, rubric kept
    other_set = Qualification(calibration="c2", threshold=0.8, prompts=prompts, pairwise=ok)
    assert Qualification.model_validate(merge_qualification(old, other_set)).rubric is None
    new_prompts = {"rubric": "rubric-v3", "pairwise": "pairwise-v1"}
    reworded = Qualification(calibration="c1", threshold=0.8, prompts=new_prompts, pairwise=ok)
    assert Qualification.model_validate(merge_qualification(old, reworded)).rubric is None
    assert merge_qualification(None, new) == new.model_dump()


def test_a_qualification_under_other_prompts_is_not_trusted() -> None:
    from bakeoff.quality.aggregate import qualification_note, trusted
    from bakeoff.results.schema import JudgeInfo, Qualification, QualificationResult

    ok = QualificationResult(qualified=True, passed=7, items=7)
    now = JudgeInfo(
        qualification=Qualification(
            calibration="c", threshold=0.8, prompts={"rubric": "rubric-v2"}, rubric=ok
        )
    )
    assert trusted(now, "rubric") and qualification_note("j", now, "rubric") is None
    old = JudgeInfo(
        qualification=Qualification(
            calibration="c", threshold=0.8, prompts={"rubric": "rubric-v1"}, rubric=ok
        )
    )
    assert not trusted(old, "rubric")
    assert "under other prompts (rubric-v1)" in (qualification_note("j", old, "rubric") or "")
    assert not trusted(JudgeInfo(), "rubric")


def test_the_judge_column_says_whose_scores_it_holds() -> None:
    from bakeoff.reporters.terminal import judge_cell
    from bakeoff.results.schema import ModelQuality

    assert judge_cell(ModelQuality(judge_mean=3.5, judges=["a"])) == "3.50"
    assert (
        judge_cell(ModelQuality(judge_mean=3.5, judges=["a"], unqualified_judges=["a"]))
        == "3.50 (unqualified)"
    )
    mixed = ModelQuality(judge_mean=3.5, judges=["a", "b"], unqualified_judges=["b"])
    assert judge_cell(mixed) == "3.50 (incl. unqualified)"
    assert judge_cell(ModelQuality()) == "-"
