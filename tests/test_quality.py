"""The quality pipeline end to end on scripted adapters: checks, judge (cache, unparsed, self-judging),
pairwise with a position-biased judge, blind annotation round trip, agreement, and the reports."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from bakeoff.backends.targets import resolve_targets
from bakeoff.config.settings import BenchSettings, ModelSpec, PromptCase, load_prompts, load_suite
from bakeoff.errors import ConfigError, ModelError, UsageError
from bakeoff.quality.aggregate import apply_quality
from bakeoff.quality.agreement import agreement
from bakeoff.quality.annotate import export_sheet, import_sheet
from bakeoff.quality.checks import run_checks
from bakeoff.quality.judge import run_judge
from bakeoff.quality.pairwise import Comparison, bradley_terry
from bakeoff.quality.rubric import PAIRWISE_VERSION, RUBRIC_VERSION
from bakeoff.quality.store import load_cases, load_judgments, outputs
from bakeoff.records import RequestRecord
from bakeoff.results.schema import Qualification, QualificationResult, RunQuality, load_records, load_summary
from bakeoff.run.bench import run_bench
from bakeoff.testing import FakeServer
from tests.test_cli import run as cli

ADAPTERS = Path(__file__).parent / "data" / "quality_adapters.py"


def spec(cls: str) -> ModelSpec:
    return ModelSpec(adapter=f"{ADAPTERS}:{cls}")


MODELS = {
    name: spec(cls) for name, cls in [("good", "GoodNotes"), ("poor", "PoorNotes"), ("inject", "InjectNotes")]
}
JUDGES = {
    name: spec(cls)
    for name, cls in [
        ("kjudge", "KeywordJudge"),
        ("garbage", "GarbageJudge"),
        ("always-a", "AlwaysA"),
        ("pairjudge", "KeywordPairJudge"),
        ("echo", "ObedientJudge"),
    ]
}

CASES = [
    PromptCase(
        id="standup",
        prompt="Notes please:\n{source}",
        source="Marco: we ship 4.2 on Thursday.",
        aspects=[
            {"id": "decisions", "text": "Ships Thursday", "weight": 2},
            {"id": "owners", "text": "Marco"},
        ],
        checks=[
            {"type": "icontains", "value": "thursday"},
            {"type": "python", "value": f"{ADAPTERS}:mentions_marco", "id": "names Marco"},
            {"type": "max_words", "value": 40},
        ],
    ),
    PromptCase(id="rag", prompt="Explain RAG.", aspects=[{"id": "retrieval", "text": "retrieves"}]),
    PromptCase(id="plain", prompt="Say hi."),
]


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAKEOFF_CACHE", str(tmp_path / "cache"))


@pytest.fixture()
def run(tmp_path: Path) -> Path:
    out = tmp_path / "run"
    settings = BenchSettings(models=list(MODELS), rounds=2, warmup=1)
    run_bench(settings, CASES, resolve_targets(list(MODELS), MODELS, None), out)
    return out


# What these tests' judges are taken to have scored on the calibration set: their qualification itself
# is tested in test_qualification.py; here the question is what their verdicts add up to.
PASSED = Qualification(
    calibration="given",
    threshold=0.8,
    prompts={"rubric": RUBRIC_VERSION, "pairwise": PAIRWISE_VERSION},
    rubric=QualificationResult(qualified=True),
    pairwise=QualificationResult(qualified=True),
)


def judge(out: Path, name: str, qualified: bool = True, **kw: object) -> object:
    """Run a scripted judge (untested unless ``qualify`` is passed) and aggregate, taking it as
    ``qualified`` when it was not tested."""
    summary = load_summary(out)
    recs = [RequestRecord.from_json(d) for d in load_records(out)]
    target = resolve_targets([name], {**MODELS, **JUDGES}, None)[0]
    kw.setdefault("qualify", "skip")
    result = run_judge(out, summary, load_cases(out), outputs(recs), target, **kw)  # type: ignore[arg-type]
    q = result.qualification or (PASSED if qualified else None)
    summary.quality = RunQuality.model_validate(
        {"judges": {result.judge: {"skipped_self": list(result.skipped_self), "qualification": q}}}
    )
    apply_quality(summary, out)
    return result, summary


def test_checks_each_type() -> None:
    case = PromptCase(
        id="c",
        prompt="p",
        checks=[
            {"type": "contains", "value": ["Alpha", "Beta"]},
            {"type": "icontains", "value": "gamma"},
            {"type": "not_contains", "value": ["as an ai"]},
            {"type": "regex", "value": "^alpha", "flags": "im"},
            {"type": "max_words", "value": 5},
            {"type": "min_words", "value": 3},
            {"type": "is_json"},
        ],
    )
    res = {r.check: r for r in run_checks(case, "Alpha Beta GAMMA")}
    assert [r.passed for r in res.values()] == [True, True, True, True, True, True, False]
    res = run_checks(case, '```json\n{"alpha": "Beta gamma", "x": "As an AI"}\n```')
    by = {r.check.split(":")[0]: r for r in res}
    assert by["contains"].passed is False and "Alpha" in by["contains"].reason
    assert by["not_contains"].passed is False
    assert by["is_json"].passed is True
    assert by["regex"].passed is False


def test_check_hook_that_raises_fails_with_reason(tmp_path: Path) -> None:
    hook = tmp_path / "hooks.py"
    hook.write_text("def boom(output, case):\n    raise ValueError('bad input')\n")
    case = PromptCase(id="c", prompt="p", checks=[{"type": "python", "value": f"{hook}:boom"}])
    (r,) = run_checks(case, "x")
    assert not r.passed and "ValueError: bad input" in r.reason


def test_malformed_checks_name_file_line_and_key(tmp_path: Path) -> None:
    p = tmp_path / "prompts.json"
    p.write_text(
        '[\n  {"id": "a", "prompt": "x",\n   "checks": [{"type": "regex", "value": "(unclosed"}]}\n]\n'
    )
    with pytest.raises(ConfigError) as e:
        load_prompts(p)
    assert "prompts.json:" in str(e.value) and "checks" in str(e.value) and "invalid regex" in str(e.value)
    p.write_text('[{"id": "a", "prompt": "x", "checks": [{"type": "sounds_good"}]}]')
    with pytest.raises(ConfigError, match="type"):
        load_prompts(p)
    p.write_text('[{"id": "a", "prompt": "x", "source": {"file": "missing.txt"}}]')
    with pytest.raises(ConfigError, match=r"missing\.txt"):
        load_prompts(p)


def test_meeting_notes_suite_is_complete() -> None:
    cases, _ = load_suite("meeting-notes")
    meetings = [c for c in cases if "meeting-notes" in c.tags]
    assert len(meetings) >= 8 and len(cases) == len(meetings) + 4
    for c in meetings:
        assert c.source and len(c.source.split()) > 80
        assert {"decisions", "owners", "dates", "open_questions"} <= {a.id for a in c.aspects}
        assert len(c.checks) >= 3
        assert c.source in c.messages()[-1]["content"]
    with pytest.raises(UsageError, match="meeting-notes"):
        load_suite("no-such-suite")


def test_bench_records_check_pass_rates_and_saves_cases(run: Path) -> None:
    s = load_summary(run)
    q = {m.model: m.quality for m in s.models}
    assert q["good"].checks.pass_rate == 1.0
    assert q["poor"].checks.passed == 2 and q["poor"].checks.total == 6  # only max_words passes
    assert q["good"].mean is None and q["good"].source is None  # nobody has judged yet
    assert [c.id for c in load_cases(run)] == ["standup", "rag", "plain"]
    rows = [json.loads(x) for x in (run / "checks.jsonl").read_text().splitlines()]
    assert len(rows) == 6  # 3 models x 2 rounds of the one case with checks
    assert any(
        r["results"][1] == {"check": "names Marco", "passed": False, "reason": "Marco is not named"}
        for r in rows
    )


def test_judge_scores_caches_and_means_by_case(run: Path) -> None:
    result, s = judge(run, "kjudge")
    assert result.judged == 9 and result.cached == 0 and result.unparsed == 0  # 3 models x 3 distinct answers
    q = {m.model: m.quality for m in s.models}
    assert q["good"].mean == 5.0 and q["poor"].mean == 2.0 and q["inject"].mean == 2.0
    assert q["good"].n == 3 and q["good"].n_outputs == 6
    assert q["good"].aspect_coverage["decisions"] == 1.0 and q["poor"].aspect_coverage["owners"] == 0.0
    assert len(list((run.parent / "cache" / "judgments").rglob("*.json"))) == 9
    again, _ = judge(run, "kjudge")
    assert again.cached == 9 and again.calls == 0
    assert len(load_judgments(run)) == 9  # replaced by key, not duplicated


def test_an_unqualified_judge_is_shown_but_kept_out_of_the_score(run: Path) -> None:
    _, s = judge(run, "kjudge", qualified=False)  # never tested
    q = {m.model: m.quality for m in s.models}
    assert all(x.mean is None and x.n == 0 and x.source is None for x in q.values())
    assert q["good"].judge_mean == 5.0 and q["poor"].judge_mean == 2.0  # still visible
    assert q["good"].mean_trusting_judges == 5.0 and q["inject"].mean_trusting_judges == 2.0
    assert q["good"].source_trusting_judges == "judge" and q["good"].unqualified_judges == ["kjudge"]
    assert q["good"].aspect_coverage == {}  # its aspect verdicts are not coverage either
    assert any("kjudge was not qualified" in n and "--trust-judge" in n for n in s.quality.notes)
    from bakeoff.analysis.recommend import recommend

    assert "quality" not in recommend(s, run).dimensions
    trusting = recommend(s, run, trust_judge=True)
    assert trusting.quality_source == "trusting" and trusting.winner == "good"
    # failed, with its result: the note says what it missed
    failed = Qualification(
        calibration="given",
        threshold=0.8,
        rubric=QualificationResult(qualified=False, passed=2, items=7, by_kind={"cut_in_half": False}),
    )
    s.quality.judges["kjudge"].qualification = failed  # type: ignore[union-attr]
    s = apply_quality(s, run)
    assert any(
        "scored the gold answer above 2 of 7" in n and "missed: cut_in_half" in n for n in s.quality.notes
    )
    assert s.models[0].quality.mean is None  # type: ignore[union-attr]


def test_unparsed_is_excluded_and_counted_never_scored(run: Path) -> None:
    result, s = judge(run, "garbage")
    assert result.unparsed == 9 and result.calls == 18  # one retry each
    for m in s.models:
        assert m.quality.mean is None and m.quality.unparsed_rate == 1.0
    j = load_judgments(run)[0]
    assert j.score is None and "---retry---" in j.raw and "after retry" in (j.error or "")
    assert any("unparsed" in n for n in s.quality.notes)


def test_echoing_judge_is_not_fooled_by_an_injected_answer(run: Path) -> None:
    _, s = judge(run, "echo")
    assert {m.model: m.quality.mean for m in s.models}["inject"] == 1.0


def test_a_candidate_never_judges_itself(run: Path) -> None:
    result, s = judge(run, "good")
    assert result.skipped_self == ("good",)
    assert {j.model for j in load_judgments(run)} == {"poor", "inject"}
    good = next(m for m in s.models if m.model == "good")
    assert good.quality.self_judging_skipped and good.quality.mean is None


def test_position_biased_pairwise_judge_yields_only_ties(run: Path) -> None:
    result, s = judge(run, "always-a", pairwise=True)
    assert result.pairs == 3 * 3 * 2  # 3 cases x 3 pairs x 2 orders
    pw = s.quality.pairwise
    assert pw.comparisons == 9 and pw.position_consistency == 0.0
    for r in pw.models.values():
        assert r.ties == 6 and r.wins == 0 and r.win_rate == 0.5 and r.bt == 0.0
    assert any("inconsistent pairs count as ties" in n for n in s.quality.notes)


def test_consistent_pairwise_judge_ranks_with_intervals(run: Path) -> None:
    _, s = judge(run, "pairjudge", pairwise=True)
    pw = s.quality.pairwise
    assert pw.order[0] == "good" and pw.position_consistency == 1.0
    good = pw.models["good"]
    assert good.wins == 6 and good.win_rate == 1.0 and good.bt > 0
    assert good.bt_ci95[0] <= good.bt <= good.bt_ci95[1]


def test_bradley_terry_orders_by_strength() -> None:
    comps = [Comparison(str(i), "a", "b", "a", True) for i in range(8)]
    comps += [Comparison(str(i), "b", "c", "b", True) for i in range(8)]
    comps += [Comparison(str(i), "a", "c", "a", True) for i in range(8)]
    bt = bradley_terry(["a", "b", "c"], comps)
    assert bt["a"] > bt["b"] > bt["c"] and abs(sum(bt.values())) < 1e-9


def fill(
    sheet: Path, out: Path, score: dict[str, str], edit: dict[int, dict[str, str]] | None = None
) -> None:
    rows = list(csv.DictReader(sheet.open()))
    for r in rows:
        r["score"] = score.get(r["output"], "")
        r["aspect_1_met"] = "y" if r["score"] and r["aspect_1"] else ""
    for i, changes in (edit or {}).items():
        rows[i].update(changes)
    with out.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def test_annotation_round_trip_is_blind_and_overrides_the_judge(run: Path, tmp_path: Path) -> None:
    judge(run, "kjudge")
    recs = [RequestRecord.from_json(d) for d in load_records(run)]
    sheet = tmp_path / "sheet.csv"
    n = export_sheet(run, load_cases(run), outputs(recs), sheet, seed=3)
    assert n == 9
    text = sheet.read_text()
    assert "GoodNotes" not in text and "good" not in next(csv.reader(sheet.open()))
    ids = [r["row_id"] for r in csv.DictReader(sheet.open())]
    assert len(set(ids)) == 9 and all(len(i) == 8 for i in ids)
    key = list(csv.DictReader((run / "annotation-key.csv").open()))
    assert {k["model"] for k in key} == {"good", "poor", "inject"}
    # a second export keeps the ids of the same answers
    export_sheet(run, load_cases(run), outputs(recs), tmp_path / "again.csv", seed=4)
    assert sorted(r["row_id"] for r in csv.DictReader((tmp_path / "again.csv").open())) == sorted(ids)

    from tests.data.quality_adapters import GoodNotes, InjectNotes, PoorNotes

    filled = tmp_path / "filled.csv"
    fill(sheet, filled, {GoodNotes.text: "4", PoorNotes.text: "2", InjectNotes.text: "1"})
    import_sheet(run, load_cases(run), filled)
    s = apply_quality(load_summary(run), run)
    q = {m.model: m.quality for m in s.models}
    assert q["good"].mean == 4.0 and q["good"].judge_mean == 5.0 and q["good"].source == "human"
    assert q["inject"].mean == 1.0 and q["inject"].human_scored == 3
    ((label, a),) = s.quality.agreement.items()
    assert label.startswith("kjudge") and a.n == 9
    assert a.exact == pytest.approx(3 / 9) and a.within_one == pytest.approx(9 / 9)
    assert a.spearman == pytest.approx(agreement([4] * 3 + [2] * 3 + [1] * 3, [5] * 3 + [2] * 6)["spearman"])


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({0: {"score": "7"}}, "score '7' must be a whole number from 1 to 5"),
        ({0: {"score": "four"}}, "score 'four'"),
        ({0: {"score": "3.5"}}, "score '3.5'"),
        ({0: {"row_id": "deadbeef"}}, "unknown row_id 'deadbeef'"),
        ({1: {"row_id": "__dup__"}}, "repeats row 2"),
        ({-1: {"aspect_1_met": "maybe"}}, "aspect_1_met 'maybe'"),
        ({-2: {"aspect_1_met": "y"}}, "aspect_1_met is marked but this case has only 0 aspects"),
    ],
)
def test_malformed_sheets_are_rejected_whole(run: Path, tmp_path: Path, edit: dict, message: str) -> None:
    recs = [RequestRecord.from_json(d) for d in load_records(run)]
    sheet = tmp_path / "sheet.csv"
    export_sheet(run, load_cases(run), outputs(recs), sheet, seed=1)
    rows = list(csv.DictReader(sheet.open()))
    first_id = rows[0]["row_id"]
    for changes in edit.values():
        if changes.get("row_id") == "__dup__":
            changes["row_id"] = first_id
    # -1: the first row whose case has aspects; -2: the first whose case has none
    with_aspects = next(i for i, r in enumerate(rows) if r["aspect_1"])
    without = next(i for i, r in enumerate(rows) if not r["aspect_1"])
    edit = {{-1: with_aspects, -2: without}.get(i, i): c for i, c in edit.items()}
    bad = tmp_path / "bad.csv"
    fill(sheet, bad, {}, edit)
    with pytest.raises(ConfigError, match="nothing was imported") as e:
        import_sheet(run, load_cases(run), bad)
    assert message in str(e.value) and "bad.csv" in str(e.value)
    assert not (run / "human.jsonl").exists()


def test_sheet_without_score_column_is_rejected(run: Path, tmp_path: Path) -> None:
    recs = [RequestRecord.from_json(d) for d in load_records(run)]
    export_sheet(run, load_cases(run), outputs(recs), tmp_path / "s.csv", seed=1)
    bad = tmp_path / "bad.csv"
    bad.write_text("row_id,notes\nabc,hi\n")
    with pytest.raises(ConfigError, match="no score column"):
        import_sheet(run, load_cases(run), bad)


def test_agreement_statistics() -> None:
    perfect = agreement([1, 2, 3, 4, 5], [1, 2, 3, 4, 5])
    assert perfect["exact"] == 1.0 and perfect["kappa_quadratic"] == pytest.approx(1.0)
    assert perfect["spearman"] == pytest.approx(1.0)
    off = agreement([1, 2, 3, 4, 5], [2, 3, 4, 5, 5])
    assert off["exact"] == 0.2 and off["within_one"] == 1.0 and 0 < off["kappa_quadratic"] < 1
    assert agreement([3, 3, 3], [3, 3, 3])["spearman"] is None  # undefined, not a made-up number
    assert agreement([], [])["n"] == 0


def test_cli_suite_judge_annotate_and_report(tmp_path: Path) -> None:
    models = tmp_path / "models.json"
    models.write_text(json.dumps({n: {"adapter": s.adapter} for n, s in {**MODELS, **JUDGES}.items()}))
    out = tmp_path / "cli-run"
    mf = ["--models-file", str(models)]
    r = cli(
        "bench",
        *mf,
        "-m",
        "good,poor",
        "--suite",
        "meeting-notes",
        "-r",
        "1",
        "--warmup",
        "0",
        "-o",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    assert "Checks" in r.stdout
    r = cli("judge", str(out), *mf, "--judge", "kjudge")
    assert r.returncode == 0, r.stderr
    assert "judged 26 answers" in r.stdout and "quality and speed" in r.stdout
    # kjudge scores by one keyword: tested first on the calibration set, it fails, and its scores
    # are shown as unqualified, not as the models' quality
    assert "judge qualification: kjudge" in r.stdout and "qualified (>= 80%)" in r.stdout
    assert "failed qualification for rubric scores" in r.stderr
    md = (out / "report.md").read_text()
    assert "## Quality beside speed" in md and "| good | n/a | 0 | \\- | 5.00 (unqualified)" in md
    assert "**not qualified** for rubric" in md and "| kjudge | rubric |" in md
    summary = load_summary(out)
    info = summary.quality.judges["kjudge"]
    assert info.qualification is not None and info.qualification.rubric is not None
    assert info.qualification.pairwise is None and not info.qualified("rubric")
    assert {m.model: m.quality.mean_trusting_judges for m in summary.models}["good"] == 5.0
    lines = (out / "qualification.jsonl").read_text().splitlines()
    assert len(lines) == 11 and all(json.loads(x)["mode"] == "rubric" for x in lines)
    r = cli("recommend", str(out))
    assert "not counted as quality; --trust-judge counts them" in r.stdout
    r = cli("recommend", str(out), "--trust-judge")
    assert "every judge, qualified or not" in r.stdout
    r = cli("judge", str(out), *mf, "--judge", "kjudge", "--qualify")
    assert r.returncode == 1, r.stderr  # it fails: a script can gate on the judge
    assert "judged" not in r.stdout and "Pairwise" in r.stdout
    assert load_summary(out).quality.judges["kjudge"].qualification.pairwise is not None  # type: ignore[union-attr]
    r = cli("judge", str(out), *mf, "--judge", "kjudge", "--qualify", "--no-qualify")
    assert r.returncode == 2 and "contradict" in r.stderr
    r = cli("judge", str(out), *mf, "--judge", "pairjudge", "--pairwise")
    assert r.returncode == 0, r.stderr
    assert "Bradley-Terry" in (out / "report.md").read_text()
    sheet = tmp_path / "sheet.csv"
    r = cli("annotate", "export", str(out), "-o", str(sheet))
    assert r.returncode == 0 and sheet.exists()
    bad = tmp_path / "bad.csv"
    bad.write_text("row_id,score\nnope,9\n")
    r = cli("annotate", "import", str(out), str(bad))
    assert r.returncode == 2 and "unknown row_id 'nope'" in r.stderr and "Traceback" not in r.stderr
    r = cli("judge", str(out), "--judge", "no-such-model")
    assert r.returncode != 0 and "unknown model" in r.stderr and "Traceback" not in r.stderr
    r = cli("bench", "--suite", "meeting-notes", "--prompt", "x", "-o", str(tmp_path / "x"))
    assert r.returncode == 2 and "only one of" in r.stderr


def test_judge_over_http_reads_unreadable_replies_as_unparsed(run: Path, fake: FakeServer) -> None:
    """The fake server answers in filler words: every verdict is unparsed after its one retry."""
    result, s = judge_at(run, "nousage", fake.base_url)
    assert result.judged == 9 and result.unparsed == 9 and result.calls == 18
    assert all(m.quality.mean is None and m.quality.unparsed_rate == 1.0 for m in s.models)


def test_dead_judge_stops_after_five_and_caches_none(run: Path, fake: FakeServer, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="5 requests in a row"):  # while being qualified
        judge_at(run, "http500", fake.base_url)
    assert not (run / "judgments.jsonl").exists()
    with pytest.raises(ModelError, match="5 requests in a row"):
        judge_at(run, "http500", fake.base_url, qualify="skip")
    js = load_judgments(run)
    assert len(js) == 5 and all(not j.ok and (j.error or "").startswith("judge request failed") for j in js)
    assert not list((tmp_path / "cache" / "judgments").rglob("*.json"))  # an outage never poisons the cache


def judge_at(out: Path, model: str, base_url: str, **kw: Any) -> tuple:
    summary = load_summary(out)
    recs = [RequestRecord.from_json(d) for d in load_records(out)]
    target = resolve_targets([model], {}, base_url)[0]
    result = run_judge(out, summary, load_cases(out), outputs(recs), target, timeout_s=10, **kw)
    return result, apply_quality(summary, out)


def test_recommend_weighs_checks_then_judge_quality(run: Path) -> None:
    from bakeoff.analysis.recommend import recommend

    rec = recommend(load_summary(run), run)
    assert "checks" in rec.dimensions and "quality" not in rec.dimensions
    assert rec.frontier_axes == ("throughput", "checks")
    by = {c.model: c for c in rec.candidates}
    assert by["good"].values["checks"] == 1.0 and by["poor"].values["checks"] == pytest.approx(1 / 3)
    _, s = judge(run, "kjudge")
    rec = recommend(s, run)
    assert "quality" in rec.dimensions and rec.frontier_axes == ("throughput", "quality")
    after = {c.model: c for c in rec.candidates}
    assert after["good"].values["quality"] == 5.0 and after["poor"].values["quality"] == 2.0
    assert rec.winner == "good"


def test_verdicts_under_an_older_rubric_are_ignored_not_mixed(run: Path) -> None:
    _, s = judge(run, "kjudge")
    lines = (run / "judgments.jsonl").read_text().splitlines()
    old = json.loads(lines[0]) | {"key": "old-key", "rubric": "rubric-v0", "score": 1}
    (run / "judgments.jsonl").write_text("\n".join([*lines, json.dumps(old)]) + "\n")
    s = apply_quality(s, run)
    assert {m.model: m.quality.mean for m in s.models}["good"] == 5.0
    assert any("1 verdicts under older rubric versions are ignored" in n for n in s.quality.notes)


def test_markdown_tables_survive_pipes_in_check_names(run: Path) -> None:
    from bakeoff.reporters.markdown import render_markdown
    from bakeoff.reporters.report import RunReport

    s = load_summary(run)
    s.models[0].quality.checks.by_check = {"regex:a|b": 0.5}
    md = render_markdown(RunReport(s))
    assert "| regex:a\\|b |" in md
    assert CASES[0].checks[0].label == "icontains:thursday"
    assert PromptCase(id="x", prompt="y", checks=[{"type": "contains", "value": ["a", "b"]}]).checks[
        0
    ].label == ("contains:a, b")


def test_two_models_with_the_same_answers_each_keep_their_verdicts(tmp_path: Path) -> None:
    """The same weights served twice (or any temperature-0 twin) answer alike; the verdicts' key names
    the answer, not the model, so each model must keep its own: both score 5.0 on all 3 cases, none
    of them unparsed, and a trusting recommend keeps both."""
    models = {"good": spec("GoodNotes"), "twin": spec("GoodNotes")}
    out = tmp_path / "twins"
    run_bench(
        BenchSettings(models=list(models), rounds=2, warmup=0),
        CASES,
        resolve_targets(list(models), models, None),
        out,
    )
    _, s = judge(out, "kjudge")
    js = load_judgments(out)
    assert sorted(j.model for j in js) == ["good"] * 3 + ["twin"] * 3
    assert {(j.model, j.case_id): j.score for j in js} == {
        (m, c): 5 for m in ("good", "twin") for c in ("standup", "rag", "plain")
    }
    for m in s.models:
        assert m.quality.judge_mean == 5.0 and m.quality.mean == 5.0 and m.quality.n == 3, m.model
        assert m.quality.n_outputs == 6 and m.quality.unparsed_rate == 0.0
    from bakeoff.analysis.recommend import Constraints, recommend

    rec = recommend(s, out, constraints=Constraints(min_quality=3), trust_judge=True)
    assert {c.model: c.excluded for c in rec.candidates} == {"good": None, "twin": None}
    assert {c.model: c.values["quality"] for c in rec.candidates} == {"good": 5.0, "twin": 5.0}


def test_pairwise_verdicts_of_twin_answers_are_kept_per_pair_of_models(tmp_path: Path) -> None:
    from bakeoff.quality.store import PAIRWISE_FILE, PairVerdict, append, load_pairs

    def verdict(first: str, winner: str) -> PairVerdict:
        return PairVerdict(key="k", judge="j", rubric="r", case_id="c", first=first, second="poor",
                           ok=True, winner=winner)  # fmt: skip

    for v in (verdict("good", "B"), verdict("twin", "A"), verdict("good", "A")):  # good's is redone
        append(tmp_path / PAIRWISE_FILE, v)
    assert sorted((v.first, v.winner) for v in load_pairs(tmp_path)) == [("good", "A"), ("twin", "A")]
