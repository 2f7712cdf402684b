"""Reference-based figures worked by hand: ROUGE-L F1 (longest common subsequence of words), key terms
and their recall, and how answers and cases average."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakeoff.backends.targets import resolve_targets
from bakeoff.config.settings import BenchSettings, ModelSpec, PromptCase
from bakeoff.quality.aggregate import reference_block
from bakeoff.quality.reference import key_terms, match, rouge_l, tokens
from bakeoff.results.schema import load_summary
from bakeoff.run.bench import run_bench

ADAPTERS = Path(__file__).parent / "data" / "quality_adapters.py"


def test_rouge_l_by_hand() -> None:
    # LCS of "the cat was on the mat" and "the cat sat on the mat" is 5 words of 6 each: P = R = F = 5/6
    assert rouge_l("the cat was on the mat", "the cat sat on the mat") == pytest.approx(5 / 6)
    # answer "a c x" against reference "a b c d": LCS "a c" = 2; P = 2/3, R = 2/4, F = 2PR/(P+R) = 4/7
    assert rouge_l("a c x", "a b c d") == pytest.approx(4 / 7)
    # punctuation and case do not count; nothing in common is 0; an empty answer is 0
    assert rouge_l("The CAT, sat!", "the cat sat") == pytest.approx(1.0)
    assert rouge_l("dogs bark", "the cat sat") == 0.0 and rouge_l("", "the cat sat") == 0.0


def test_key_terms_by_hand() -> None:
    source = "Marco: we ship version 4.2 on Thursday.\nPriya: ask Lena about the Pixel 6.\n"
    ref = (
        "Decisions\n- Version 4.2 ships on Thursday.\n\nAction items\n- Marco: cut the branch (tonight)\n"
        "- Priya: Ask Lena for the Pixel 6 (by 9th May)\n\nOpen questions\n- Dark mode? It may wait.\n"
    )
    # "Decisions", "Version", "Action", "Open", "Ask", "Dark", "It": capitalised only where any word is
    # (and "version" appears in lower case); "may" the verb is not a date, "May" the month is;
    # "9th" counts as 9; Marco and Priya are speakers; Lena and Pixel are capitalised mid-sentence
    assert key_terms(ref, source) == [
        "4.2",
        "thursday",
        "marco",
        "tonight",
        "priya",
        "lena",
        "pixel",
        "6",
        "9",
        "may",
    ]
    got = match("Marco ships 4.2 on Thursday; Lena's Pixel 6 by the 9th.", ref, source)
    # found: 4.2, thursday, marco, lena (possessive dropped), pixel, 6, 9 = 7 of 10
    assert got.term_recall == pytest.approx(7 / 10) and got.missed == ("tonight", "priya", "may")
    assert match("anything", "no terms here.").term_recall is None
    assert tokens("Q3, K&L's 1,950 on the 22nd") == {"q3", "3", "k&l", "1950", "on", "the", "22"}
    # one spelling per term: v4.2 also counts as 4.2, 3pm as 3, Thu as Thursday, Sept as September,
    # 3,000 as 3000; "may" the verb is not the month
    assert tokens("v4.2 at 3pm on Thu; it may rain; Sept 5th; 3,000") == {
        "v4.2", "4.2", "at", "3", "on", "thursday", "it", "rain", "september", "5", "3000",
    }  # fmt: skip
    assert key_terms("Pay £3,000 by Thursday, 14 May.") == ["3000", "thursday", "14", "may"]
    assert match("Paid 3000 on Thu 14th May", "Pay £3,000 by Thursday, 14 May.").term_recall == 1.0
    assert match("We may pay 3000 on Thu 14th", "Pay £3,000 by Thursday, 14 May.").missed == ("may",)


def test_reference_block_means_answers_then_cases_by_hand() -> None:
    # case a: two answers (0.2, recall 1.0) and (0.4, recall 0.5): case means 0.3 and 0.75
    # case b: one answer (0.6, recall None: the reference had no terms)
    got = reference_block({"a": [(0.2, 1.0), (0.4, 0.5)], "b": [(0.6, None)]})
    assert got is not None and got["n"] == 2
    assert got["rouge_l"] == pytest.approx((0.3 + 0.6) / 2) and got["term_recall"] == pytest.approx(0.75)
    assert got["term_recall_ci95"] is None  # one case with terms: no interval
    assert reference_block({}) is None


def test_a_run_with_references_reports_them_per_model(tmp_path: Path) -> None:
    """GoodNotes always answers "Decisions: ship 4.2 on Thursday; dark mode waits for 4.3.\\nAction
    items: Marco cuts the branch tonight.": ROUGE's tokenizer keeps letters and digits only, so 4.2 is
    two tokens and the answer is 19."""
    models = {
        "good": ModelSpec(adapter=f"{ADAPTERS}:GoodNotes"),
        "poor": ModelSpec(adapter=f"{ADAPTERS}:PoorNotes"),
    }
    cases = [
        # "ship 4 2 on thursday" (5 tokens) is a subsequence of the answer: P = 5/19, R = 1, F = 10/24
        PromptCase(id="a", prompt="p", reference="ship 4.2 on Thursday"),
        # "then marco cuts the branch tonight" (6): LCS 5, P = 5/19, R = 5/6, F = 50/125
        PromptCase(
            id="b", prompt="p", reference="Then Marco cuts the branch tonight", source="so Marco said"
        ),
        PromptCase(id="c", prompt="p"),  # no reference: not counted
    ]
    out = tmp_path / "run"
    run_bench(
        BenchSettings(models=list(models), rounds=2, warmup=0),
        cases,
        resolve_targets(list(models), models, None),
        out,
    )
    s = load_summary(out)
    ref = {m.model: m.quality.reference for m in s.models if m.quality}
    good, poor = ref["good"], ref["poor"]
    assert good is not None and poor is not None and good.n == 2 and poor.n == 2
    assert good.rouge_l == pytest.approx((10 / 24 + 50 / 125) / 2, abs=1e-4)  # rounded to 4 places
    # terms: a -> 4.2, thursday (2 of 2); b -> marco (capitalised mid-sentence in the source), tonight
    assert good.term_recall == 1.0
    # PoorNotes: "The team talked about some things." shares only "the" with b: LCS 1 -> P = 1/6, R = 1/6
    assert poor.rouge_l == pytest.approx((0 + 1 / 6) / 2, abs=1e-4) and poor.term_recall == 0.0


def test_key_term_rules_each_by_hand() -> None:
    # a word written in lower case anywhere (here "pixel's" in the transcript) is not a name
    assert key_terms("Ask Lena for the Pixel.", "the pixel's screen is cracked") == ["lena"]
    # a possessive name is the name
    assert key_terms("Use Lena's phone.") == ["lena"]
    # an acronym is a name; "I" is not; a word after a bullet "*", a full stop or a colon is not
    assert key_terms("Use the API now.") == ["api"]
    assert key_terms("Then I will go.") == []
    assert key_terms("* Decisions\n* ship it. Then stop: Later maybe") == []
    # a capital after an acronym is mid-sentence: both are names
    assert key_terms("Pay the TAX Refund now.") == ["tax", "refund"]
    # a term is listed once, in first-seen order
    assert key_terms("Ask Lena, then ask Lena again on Friday and Friday.") == ["lena", "friday"]


def test_intervals_follow_the_runs_seed() -> None:
    """Issue 32, 16: same seed, same interval; the run's seed, not a constant, drives the bootstrap."""
    from bakeoff.quality.aggregate import interval, run_seed
    from bakeoff.results.schema import RunInfo, Summary

    values = [0.1 * i + 0.013 * (i % 3) for i in range(12)]
    assert interval(values, 7) == interval(values, 7)
    assert interval(values, 7) != interval(values, 8)
    per_case = {str(i): [(v, v / 2)] for i, v in enumerate(values)}
    assert reference_block(per_case, 3) == reference_block(per_case, 3)
    assert reference_block(per_case, 3)["rouge_l_ci95"] != reference_block(per_case, 4)["rouge_l_ci95"]
    assert (
        reference_block(per_case, 3)["term_recall_ci95"] != reference_block(per_case, 4)["term_recall_ci95"]
    )

    def seeded(settings: dict[str, object]) -> int:
        return run_seed(Summary(run=RunInfo(settings=settings, environment={}, started_at="x"), models=[]))

    assert [seeded({"seed": 5}), seeded({"seed": None}), seeded({}), seeded({"seed": True})] == [5, 0, 0, 0]


def test_a_runs_reference_intervals_use_its_seed(tmp_path: Path) -> None:
    from bakeoff.testing import FakePlan, FakeServer

    from .conftest import bench

    refs = ["w0 w1 w2", "w0 x", "y z w2", "w1", "w0 w1 q r", "w2 w0", "a b c w1", "w0 w1 w2 w3 w4"]
    cases = [PromptCase(id=f"c{i}", prompt="Say it.", reference=r) for i, r in enumerate(refs)]
    got = {}
    with FakeServer(FakePlan(ttft_ms=1, itl_ms=1, tokens=3)) as srv:
        for name, seed in (("a", 0), ("b", 0), ("c", 11)):
            s = bench(srv.base_url, ["fake-model"], tmp_path / name, cases, rounds=1, warmup=0, seed=seed)
            q = s.models[0].quality
            assert q is not None and q.reference is not None
            got[name] = q.reference.rouge_l_ci95
    assert got["a"] == got["b"] and got["a"] != got["c"], got
