"""Known answers for the judging arithmetic: agreement (kappa and Spearman worked by hand), pairwise
combination and Bradley-Terry (closed form for two models, the MLE equations for three), and who
counts as the judge itself."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bakeoff.backends.targets import ModelTarget
from bakeoff.config.settings import FactSpec, PromptCase
from bakeoff.quality.agreement import agreement
from bakeoff.quality.identity import identity, judge_key_id, judge_label, self_models
from bakeoff.quality.pairwise import Comparison, bradley_terry, combine, rank
from bakeoff.quality.store import PairVerdict
from bakeoff.results.schema import ModelSummary, RunInfo, Summary

HUMAN = [1, 2, 3, 4, 5, 3, 2, 4]
JUDGE = [2, 2, 3, 5, 4, 3, 1, 4]


def test_agreement_worked_by_hand() -> None:
    a = agreement(HUMAN, JUDGE)
    assert a["n"] == 8
    assert a["exact"] == 0.5  # positions 2, 3, 6, 8 agree
    assert a["within_one"] == 1.0
    # quadratic weights (i-j)^2/16: observed disagreement 4 x 1/16 over 8 = 1/32;
    # expected from the marginals = 3/16; kappa = 1 - (1/32)/(3/16) = 5/6
    assert a["kappa_quadratic"] == pytest.approx(5 / 6)
    # average ranks human [1, 2.5, 4.5, 6.5, 8, 4.5, 2.5, 6.5], judge [2.5, 2.5, 4.5, 8, 6.5, 4.5, 1, 6.5];
    # deviations from 4.5: cross products sum to 36, squares to 40.5 each; rho = 36 / 40.5 = 8/9
    assert a["spearman"] == pytest.approx(8 / 9)


def test_agreement_of_opposite_raters() -> None:
    a = agreement([1, 2, 4, 5], [5, 4, 2, 1])
    assert a["exact"] == 0.0 and a["within_one"] == 0.0
    assert a["spearman"] == pytest.approx(-1.0)
    # observed: mean of (16 + 4 + 4 + 16)/16 = 0.625; both marginals uniform over {1, 2, 4, 5}, so
    # expected = mean over the 16 pairs of (i-j)^2/16 = 80/16/16 = 0.3125; kappa = 1 - 0.625/0.3125 = -1
    assert a["kappa_quadratic"] == pytest.approx(-1.0)


def test_agreement_where_it_is_undefined() -> None:
    same = agreement([3, 3, 3], [3, 3, 3])
    assert same["exact"] == 1.0 and same["kappa_quadratic"] is None and same["spearman"] is None
    one_sided = agreement([1, 2, 3], [3, 3, 3])
    assert one_sided["spearman"] is None  # a constant rater has no rank order
    assert one_sided["kappa_quadratic"] == pytest.approx(0.0)  # constant judge: no better than chance
    two = agreement([1, 5], [1, 5])
    assert two["spearman"] is None and two["kappa_quadratic"] == pytest.approx(1.0)  # n < 3: no rho
    assert agreement([], [])["exact"] is None
    with pytest.raises(ValueError, match="same length"):
        agreement([1], [1, 2])


def v(
    case: str, first: str, second: str, winner: str | None, ok: bool = True, judge: str = "j"
) -> PairVerdict:
    return PairVerdict("k", judge, "r", case, first, second, ok, winner)


def test_combine_order_swapped_pairs() -> None:
    verdicts = [
        v("1", "a", "b", "A"), v("1", "b", "a", "B"),  # a both times
        v("2", "a", "b", "A"), v("2", "b", "a", "A"),  # position bias: tie, inconsistent
        v("3", "a", "b", "tie"), v("3", "b", "a", "tie"),  # tie both ways: consistent
        v("4", "a", "b", "B"), v("4", "b", "a", None, ok=False),  # half unparsed: dropped
        v("5", "a", "b", "B"),  # no swapped twin: dropped
        v("6", "b", "a", "A"), v("6", "a", "b", "B"),  # b both times, listed swapped
        v("7", "a", "b", "A", judge="other"), v("7", "b", "a", "B", judge="j"),  # different judges
    ]  # fmt: skip
    got = {c.case_id: (c.a, c.b, c.winner, c.consistent) for c in combine(verdicts)}
    assert got == {
        "1": ("a", "b", "a", True),
        "2": ("a", "b", None, False),
        "3": ("a", "b", None, True),
        "6": ("a", "b", "b", True),
    }


def test_a_persons_verdicts_count_one_order_each_and_not_in_position_consistency() -> None:
    people = [
        v("1", "b", "a", "A", judge="human:ana"),  # b shown first and picked: b wins, stored a < b
        v("2", "a", "b", "B", judge="human:ana"),  # b
        v("3", "a", "b", "tie", judge="human:ben"),  # a tie
        v("4", "a", "b", None, ok=False, judge="human:ana"),  # not a verdict: dropped
        v("5", "a", "b", "A", judge="humans"),  # a model judge whose name only starts alike: needs a twin
    ]  # fmt: skip
    got = sorted((c.case_id, c.a, c.b, c.winner, c.consistent, c.human) for c in combine(people))
    assert got == [
        ("1", "a", "b", "b", True, True),
        ("2", "a", "b", "b", True, True),
        ("3", "a", "b", None, True, True),
    ]
    judged = [v("9", "a", "b", "A"), v("9", "b", "a", "A")]  # one model-judge pair, position-biased
    out = rank(["a", "b"], [*people[:3], *judged], boot=10)
    # by hand: b wins 2 (cases 1, 2), ties 2 (case 3, and case 9's inconsistent pair), a wins none
    assert (out["models"]["b"]["wins"], out["models"]["b"]["ties"], out["models"]["a"]["wins"]) == (2, 2, 0)
    assert out["comparisons"] == 4
    assert out["position_consistency"] == 0.0  # only the model judge's pair counts, and it was inconsistent
    assert rank(["a", "b"], people[:3], boot=10)["position_consistency"] is None


def test_bradley_terry_two_models_closed_form() -> None:
    # a beats b 3 times, b beats a once, one tie; prior adds one virtual tie: wins a = 3 + 0.5 + 0.5 = 4,
    # wins b = 1 + 0.5 + 0.5 = 2; MLE p_a / p_b = 4 / 2, log-strengths centred: +-ln(2)/2
    comps = [Comparison(str(i), "a", "b", "a", True) for i in range(3)]
    comps += [Comparison("3", "a", "b", "b", True), Comparison("4", "a", "b", None, False)]
    bt = bradley_terry(["a", "b"], comps)
    assert bt["a"] == pytest.approx(math.log(2) / 2, abs=1e-6)
    assert bt["b"] == pytest.approx(-math.log(2) / 2, abs=1e-6)
    assert bradley_terry([], []) == {}
    even = bradley_terry(["a", "b"], [])
    assert even == {"a": pytest.approx(0.0), "b": pytest.approx(0.0)}


def test_bradley_terry_three_models_satisfy_the_likelihood_equations() -> None:
    wins = {("a", "b"): 5, ("b", "a"): 1, ("b", "c"): 4, ("c", "b"): 2, ("a", "c"): 4, ("c", "a"): 2}
    comps = [
        Comparison(f"{w}{lo}{i}", *sorted((w, lo)), w, True) for (w, lo), n in wins.items() for i in range(n)
    ]
    bt = bradley_terry(["a", "b", "c"], comps)
    p = {m: math.exp(x) for m, x in bt.items()}
    assert sum(bt.values()) == pytest.approx(0.0, abs=1e-9)
    for i in p:  # observed wins (+ half the virtual tie per pair) = expected wins under the model
        observed = sum(wins[(i, j)] + 0.5 for j in p if j != i)
        expected = sum((wins[(i, j)] + wins[(j, i)] + 1) * p[i] / (p[i] + p[j]) for j in p if j != i)
        assert observed == pytest.approx(expected, rel=1e-6)
    assert bt["a"] > bt["b"] > bt["c"]


def test_rank_counts_win_rates_and_consistency() -> None:
    verdicts = [
        v("1", "a", "b", "A"), v("1", "b", "a", "B"),
        v("2", "a", "b", "A"), v("2", "b", "a", "B"),
        v("3", "a", "b", "A"), v("3", "b", "a", "A"),
        v("4", "a", "b", None, ok=False), v("4", "b", "a", "A"),
    ]  # fmt: skip
    r = rank(["a", "b"], verdicts, boot=50)
    a, b = r["models"]["a"], r["models"]["b"]
    assert (a["wins"], a["losses"], a["ties"], a["comparisons"]) == (2, 0, 1, 3)
    assert (b["wins"], b["losses"], b["ties"], b["comparisons"]) == (0, 2, 1, 3)
    assert a["win_rate"] == pytest.approx(2.5 / 3) and b["win_rate"] == pytest.approx(0.5 / 3)
    assert r["order"] == ["a", "b"] and r["comparisons"] == 3
    assert r["position_consistency"] == pytest.approx(2 / 3)
    assert r["unparsed"] == 1 and r["verdicts"] == 8
    # a: 2 + 0.5 (tie) + 0.5 (prior) = 3 wins, b: 0 + 0.5 + 0.5 = 1 -> a's log-strength = ln(3)/2
    assert a["bt"] == pytest.approx(round(math.log(3) / 2, 4))
    lo, hi = a["bt_ci95"]
    assert lo <= a["bt"] <= hi and hi <= round(
        math.log(7) / 2, 4
    )  # at most 3 wins of 3 resampled cases: (3.5/0.5)
    empty = rank(["a", "b"], [])
    assert empty["models"]["a"]["win_rate"] is None and empty["models"]["a"]["bt_ci95"] is None
    assert empty["position_consistency"] is None


def test_identity_by_file_endpoint_or_weights(tmp_path: Path) -> None:
    f = tmp_path / "m.gguf"
    f.write_text("x")
    (tmp_path / "sub").mkdir()
    assert identity({"path": str(tmp_path / "sub" / ".." / "m.gguf")}) == ("path", str(f.resolve()))
    assert identity({"model_id": "qwen", "endpoint": "http://h:1/v1/"}) == (
        "endpoint",
        "http://h:1/v1",
        "qwen",
    )
    assert identity({"model_id": "qwen"}) == ("endpoint", "", "qwen")
    assert identity({"weights": "/w", "engine": "torch"}) == ("adapter", "torch", "/w")
    assert identity({"license": "x"}) is None


def test_judge_key_and_label(tmp_path: Path) -> None:
    t = ModelTarget("judge", "llamacpp", None)
    f = str((tmp_path / "qwen.gguf").resolve())
    assert judge_key_id(t, {"path": f}) == f"judge={f}"
    assert judge_key_id(t, {}) == "judge"
    assert judge_label(t, {"path": f}) == "judge (qwen.gguf)"
    assert judge_label(t, {"model_id": "judge"}) == "judge"  # nothing to add
    assert judge_label(t, {"model_id": "qwen-7b", "endpoint": "http://h/v1"}) == "judge (qwen-7b)"
    assert judge_label(t, {}) == "judge"


def _summary(*rows: tuple[str, dict[str, object]]) -> Summary:
    return Summary(
        run=RunInfo(settings={}, environment={}, started_at="t"),
        models=[ModelSummary(model=n, backend="llamacpp", status="ok", info=i) for n, i in rows],
    )


def test_a_judge_never_judges_itself_under_another_name(tmp_path: Path) -> None:
    gguf = str(tmp_path / "qwen.gguf")
    s = _summary(
        ("qwen", {"path": gguf}),
        ("same-file", {"path": gguf}),
        ("other", {"path": str(tmp_path / "smol.gguf")}),
        ("served", {"model_id": "qwen", "endpoint": "http://h/v1"}),
        ("served-elsewhere", {"model_id": "qwen", "endpoint": "http://other/v1"}),
        ("no-info", {}),
    )
    judge = ModelTarget("judge-alias", "llamacpp", None)
    assert self_models(s, judge, {"path": gguf}) == {"qwen", "same-file"}
    assert self_models(s, judge, {"model_id": "qwen", "endpoint": "http://h/v1/"}) == {"served"}
    assert self_models(s, ModelTarget("no-info", "llamacpp", None), {}) == {"no-info"}  # by alias
    assert self_models(s, judge, {}) == set()


def test_agreement_uses_the_whole_1_to_5_scale() -> None:
    # human [1, 2, 5], judge [2, 1, 5]. On the 1-5 scale, weights (i-j)^2/16: observed (1 + 1 + 0)/16/3;
    # expected over the marginals {1, 2, 5} x {1, 2, 5}: squared gaps sum to 52 over 9 pairs, /16.
    # kappa = 1 - (2/3) / (52/9) = 23/26. (Over the used labels only it would be 0.5.)
    a = agreement([1, 2, 5], [2, 1, 5])
    assert a["kappa_quadratic"] == pytest.approx(23 / 26, rel=1e-12)
    assert a["spearman"] == pytest.approx(0.5, rel=1e-12)  # ranks [1,2,3] vs [2,1,3]: 1 - 6*2/(3*8)
    assert a["exact"] == pytest.approx(1 / 3) and a["n"] == 3


def test_three_pairs_are_enough_for_spearman() -> None:
    a = agreement([1, 2, 3], [1, 3, 2])
    assert a["spearman"] == pytest.approx(0.5) and a["kappa_quadratic"] == pytest.approx(0.5)


def test_empty_agreement_is_all_unknown() -> None:
    assert agreement([], []) == {
        "n": 0,
        "exact": None,
        "within_one": None,
        "kappa_quadratic": None,
        "spearman": None,
    }
    with pytest.raises(ValueError, match=r"^paired scores must have the same length$"):
        agreement([1, 2], [1])
    both_constant = agreement([3, 3, 3], [4, 4, 4])
    assert both_constant["kappa_quadratic"] is None and both_constant["within_one"] == 1.0


def test_a_tie_against_a_pick_is_inconsistent() -> None:
    got = combine([v("1", "a", "b", "tie"), v("1", "b", "a", "A")])  # tie, then b
    assert [(c.winner, c.consistent) for c in got] == [(None, False)]


def test_rank_counts_ties_and_models_outside_the_list() -> None:
    verdicts = [
        v("1", "a", "b", "tie"), v("1", "b", "a", "tie"),
        v("2", "a", "b", "tie"), v("2", "b", "a", "tie"),
        v("3", "a", "b", "A"), v("3", "b", "a", "B"),
    ]  # fmt: skip
    r = rank(["b"], verdicts, boot=20)  # "a" was judged but is not ranked (e.g. it was the judge)
    b = r["models"]["b"]
    assert (b["wins"], b["losses"], b["ties"], b["comparisons"]) == (0, 1, 2, 3)
    assert b["win_rate"] == pytest.approx((0 + 0.5 * 2) / 3)
    assert b["bt"] == 0.0 and bradley_terry(["a"], []) == {"a": 0.0}  # alone, a model is the mean


def test_rank_is_repeatable_and_resamples_every_case() -> None:
    one = [v("1", "a", "b", "A"), v("1", "b", "a", "B")]
    r = rank(["a", "b"], one, boot=30)  # a single case: every resample is that case
    assert r["models"]["a"]["bt_ci95"] == [r["models"]["a"]["bt"]] * 2
    many = [
        x for i in range(6) for x in (v(str(i), "a", "b", "A" if i % 3 else "B"), v(str(i), "b", "a", "B"))
    ]
    assert rank(["a", "b"], many, boot=200) == rank(["a", "b"], many, boot=200)


def test_judge_key_uses_the_endpoint_model_id() -> None:
    t = ModelTarget("judge", "openai", None)
    assert judge_key_id(t, {"model_id": "qwen-7b", "endpoint": "http://h/v1"}) == "judge=qwen-7b"
    assert judge_label(t, {"model_id": "org/qwen-7b", "endpoint": "http://h/v1"}) == "judge (org/qwen-7b)"


def test_one_rater_with_two_levels_still_gets_kappa_and_rho() -> None:
    # human [1, 2, 2], judge constant 3: observed (4 + 1 + 1)/16/3 = 1/8; expected
    # (1/3 x 4 + 2/3 x 1)/16 = 1/8 -> kappa 0 (no better than chance), rho undefined
    a = agreement([1, 2, 2], [3, 3, 3])
    assert a["kappa_quadratic"] == pytest.approx(0.0, abs=1e-12) and a["spearman"] is None
    assert agreement([3, 3, 3], [1, 2, 2])["kappa_quadratic"] == pytest.approx(0.0, abs=1e-12)
    assert agreement([3, 3, 3], [1, 2, 3])["spearman"] is None
    # ranks [1.5, 1.5, 3] against [1, 2, 3]: covariance 1.5, variances 1.5 and 2 -> 1.5 / sqrt(3)
    assert agreement([1, 1, 2], [1, 2, 3])["spearman"] == pytest.approx(1.5 / math.sqrt(3), rel=1e-12)
    assert agreement([1, 2, 3], [1, 1, 2])["spearman"] == pytest.approx(1.5 / math.sqrt(3), rel=1e-12)


def test_bradley_terry_ignores_models_outside_the_ranking() -> None:
    outside = [Comparison("0", "a", "z", "z", True), Comparison("0", "b", "z", "z", True)]
    inside = [Comparison(str(i), "a", "b", "a", True) for i in range(3)]
    # a: 3 + 0.5 prior, b: 0.5 -> +-ln(7)/2; the games against z change nothing
    bt = bradley_terry(["a", "b"], [*outside, *inside])
    assert bt["a"] == pytest.approx(math.log(7) / 2, abs=1e-6) and bt == bradley_terry(["a", "b"], inside)


def test_rank_order_is_by_strength_not_by_name() -> None:
    verdicts = [x for i in range(3) for x in (v(str(i), "a", "b", "B"), v(str(i), "b", "a", "A"))]
    assert rank(["a", "b"], verdicts, boot=10)["order"] == ["b", "a"]


def test_rank_intervals_are_seeded() -> None:
    verdicts = [
        x
        for i in range(40)
        for x in (v(str(i), "a", "b", "A" if i % 3 else "B"), v(str(i), "b", "a", "B" if i % 5 else "A"))
    ]
    r0 = rank(["a", "b"], verdicts, boot=200)
    assert r0 == rank(["a", "b"], verdicts, boot=200)
    assert r0 != rank(["a", "b"], verdicts, boot=200, seed=1)  # fine-grained enough to show a reseed


# --- structured notes read field by field (issue 28), worked by hand -----------------------------


def _fields_case() -> PromptCase:
    source = (
        "Amara: I'll update the pricing sheet by Friday. Bilal: I can book the offsite venue by March 3. "
        "Chen: test handsets by Tuesday. Budget is 48,200 dollars. Open: the Lisbon office."
    )
    facts = [
        FactSpec(id="d1", kind="decision", key="Halcyon"),
        FactSpec(id="d2", kind="decision", key="Kestrel"),
        FactSpec(id="a1", kind="action", key="pricing sheet", owner="Amara", due="Friday"),
        FactSpec(id="a2", kind="action", key="offsite venue", owner="Bilal", due="March 3"),
        FactSpec(id="a3", kind="action", key="test handsets", owner="Chen", due="Tuesday"),
        FactSpec(id="q1", kind="question", key="Lisbon office"),
        FactSpec(id="n1", kind="number", key="48,200"),
    ]
    return PromptCase(id="m", prompt="Notes as JSON.", source=source, facts=facts)


ANSWER_A = """{"summary": "Budget 48200 dollars.",
 "decisions": ["Go with Halcyon", "Move to Brightwater"],
 "action_items": [
   {"owner": "Amara", "task": "Update the pricing sheet", "due": "Friday"},
   {"owner": "Chen", "task": "Book the offsite venue", "due": "Tuesday"},
   {"owner": "Yara", "task": "Order snacks", "due": "June 2"}],
 "open_questions": ["Kestrel design?"]}"""
ANSWER_C = """```json
{"decisions": [], "action_items": [{"owner": "Bilal", "task": "offsite venue", "due": "March 3"}],
 "open_questions": ["the Lisbon office"]}
```"""


def test_structured_notes_are_read_field_by_field() -> None:
    from bakeoff.quality.fields import score_fields

    case = _fields_case()
    a = score_fields(ANSWER_A, case.facts, case.user_text())
    assert a.parsed
    assert a.decisions == (1, 2)  # Halcyon; Kestrel is only in open_questions: the wrong field
    assert a.actions == (2, 3) and a.owners == ("right", "wrong") and a.dues == ("right", "wrong")
    assert a.questions == (0, 1) and a.numbers == (1, 1)  # 48200 = 48,200
    assert a.listed_decisions == (1, 2) and a.listed_actions == (
        2,
        3,
    )  # Brightwater, snacks: not the meeting's
    assert a.invented_owners == 1  # Yara is never in the meeting
    prose = score_fields("We chose Halcyon; Amara does the pricing sheet.", case.facts, case.user_text())
    assert not prose.parsed and prose.decisions == (0, 2) and prose.actions == (0, 3) and prose.owners == ()
    nulls = score_fields('{"action_items": [{"owner": "", "task": "test handsets", "due": null}]}',
                         case.facts, case.user_text())  # fmt: skip
    assert nulls.owners == ("missing",) and nulls.dues == ("missing",)
    assert not score_fields('{"title": "no notes fields"}', case.facts, case.user_text()).parsed
    assert not score_fields("[1, 2]", case.facts, case.user_text()).parsed


def test_the_fields_block_of_a_model() -> None:
    from bakeoff.quality.fields import fields_block

    case = _fields_case()

    def r(text: str, **kw: object) -> object:
        from bakeoff.records import RequestRecord

        base: dict[str, object] = dict(model="m", backend="openai", prompt_id="m", round=1, warmup=False,
                                       stream=True, status="ok", t_scheduled_ns=0, t0_ns=0, t_end_ns=1,
                                       output=text)  # fmt: skip
        base.update(kw)
        return RequestRecord(**base)  # type: ignore[arg-type]

    # the warm-up first, the failure in the middle: both are passed over, the answers after them read
    recs = [r(ANSWER_C, warmup=True), r(ANSWER_A), r("", status="error"), r("Halcyon chosen."), r(ANSWER_C)]
    got = fields_block({"m": case}, recs)  # type: ignore[arg-type]
    # by hand over A, the prose answer and C (the warm-up and the failure left out):
    assert got == {
        "answers": 3,
        "parsed": 2,
        "decision_recall": round(1 / 6, 4),  # (1 + 0 + 0) / (2 + 2 + 2)
        "decision_precision": 0.5,  # (1 + 0) / (2 + 0)
        "action_recall": round(3 / 9, 4),  # (2 + 0 + 1) / 9
        "action_precision": 0.75,  # (2 + 1) / (3 + 1)
        "owner_right": round(2 / 3, 4),  # right, wrong, right
        "owner_wrong": 1,
        "due_right": round(2 / 3, 4),  # right, wrong, right
        "due_wrong": 1,
        "question_recall": round(1 / 3, 4),
        "number_recall": round(1 / 3, 4),
        "invented_owners": 1,
    }
    assert fields_block({"m": case}, [r("just prose")]) is None  # type: ignore[list-item]
    assert fields_block({}, recs) is None  # type: ignore[arg-type]


def test_what_is_not_a_notes_object_or_field() -> None:
    from bakeoff.quality.fields import _texts, fields_block, score_fields

    case = _fields_case()
    # true, false and null are no text; lists and objects are read all the way down
    assert _texts({"a": True, "b": None, "c": [1, "x", [2.5, False]], "d": {"e": "y"}}) == [
        "1",
        "x",
        "2.5",
        "y",
    ]
    assert not score_fields('"decisions"', case.facts, case.user_text()).parsed  # a JSON string is no object
    odd = score_fields('{"decisions": null, "action_items": null, "open_questions": "Lisbon office"}',
                       case.facts, case.user_text())  # fmt: skip
    assert odd.parsed and odd.decisions == (0, 2) and odd.actions == (0, 3) and odd.questions == (0, 1)
    no_task = score_fields(
        '{"action_items": [{"owner": "Amara"}, "pricing sheet"]}', case.facts, case.user_text()
    )
    assert no_task.actions == (0, 3) and no_task.listed_actions == (
        0,
        1,
    )  # an item without a task lists nothing

    def r(text: str) -> object:
        from bakeoff.records import RequestRecord

        return RequestRecord(model="m", backend="openai", prompt_id="m", round=1, warmup=False, stream=True,
                             status="ok", t_scheduled_ns=0, t0_ns=0, t_end_ns=1, output=text)  # fmt: skip

    # no decision listed and no action recalled: those shares are unknown (None), not 0 or a crash
    got = fields_block({"m": case}, [r('{"decisions": [], "open_questions": ["the Lisbon office"]}')])  # type: ignore[list-item]
    assert got is not None
    assert got["decision_precision"] is None and got["action_precision"] is None
    assert got["owner_right"] is None and got["due_right"] is None
    assert (got["question_recall"], got["decision_recall"]) == (1.0, 0.0)
