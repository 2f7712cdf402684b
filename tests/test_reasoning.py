"""Reasoning models measured apart (issue 29): thinking recognised in a delta field or inline, TTFO after
it, thinking and answer tokens counted apart, checks on the answer only, ``reasoning_exhausted`` named.

Expected values are worked by hand from the fake server's plan: thinking of R tokens then an answer of
A tokens, the first token at TTFT and each later one ITL after the one before, so the first answer token
arrives at TTFT + R * ITL."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest

from bakeoff.config.settings import PromptCase
from bakeoff.metrics.reasoning import Piece, reasoning_token_count, split_reasoning
from bakeoff.metrics.request import request_metrics
from bakeoff.records import ContentEvent, RequestRecord
from bakeoff.testing import FakePlan, FakeServer

from .conftest import bench, read_records

TTFT, ITL, R, A = 0.100, 0.010, 6, 5
SLACK = 0.025


def test_thinking_in_tags_is_split_from_the_answer() -> None:
    s = split_reasoning([Piece("<think>"), Piece("hm "), Piece("ok"), Piece("</think>"), Piece("\n\n"),
                         Piece("Hi"), Piece(" there")])  # fmt: skip
    assert (s.answer, s.reasoning, s.first_answer) == ("Hi there", "hm ok", 5)
    assert s.reasoning_pieces == (
        True,
        True,
        True,
        True,
        True,
        False,
        False,
    )  # the blank line is not the answer


def test_a_tag_split_over_two_events_and_a_template_opened_block() -> None:
    s = split_reasoning([Piece("let me"), Piece(" see</thi"), Piece("nk>Yes"), Piece(".")])
    assert (s.answer, s.reasoning, s.first_answer) == ("Yes.", "let me see", 2)
    assert s.reasoning_pieces == (True, True, False, False)


def test_thinking_sent_apart_and_answers_without_any() -> None:
    s = split_reasoning([Piece("a", True), Piece("b", True), Piece("Hi"), Piece("!")])
    assert (s.answer, s.reasoning, s.first_answer, s.reasoning_pieces) == (
        "Hi!",
        "ab",
        2,
        (True, True, False, False),
    )
    plain = split_reasoning([Piece("\n"), Piece("Hi")])  # no thinking: nothing moves, TTFO is TTFT
    assert (plain.answer, plain.reasoning, plain.first_answer) == ("\nHi", "", 0)
    assert plain.reasoning_pieces == (False, False)
    late = split_reasoning(
        [Piece("The tag "), Piece("<think> is "), Piece("HTML-like")]
    )  # quoted, not thinking
    assert late.answer == "The tag <think> is HTML-like" and late.reasoning == ""
    cut = split_reasoning([Piece("<think>"), Piece("still going")])  # never closed: all thinking
    assert (cut.answer, cut.reasoning, cut.first_answer) == ("", "still going", None)


def test_reasoning_tokens_counted_from_the_best_source() -> None:
    ev = (ContentEvent(1, 2, True), ContentEvent(2, 3, True), ContentEvent(3, 1))
    assert reasoning_token_count(7, ev, "x", 9) == 7  # the server's count
    assert reasoning_token_count(None, ev, "x", 9) == 5  # the events say: 2 + 3
    unknown = (ContentEvent(1, None, True), ContentEvent(2, None, True), ContentEvent(3, None))
    assert reasoning_token_count(None, unknown, "x" * 40, 9) == 9  # 40 chars / 4 = 10, capped at all 9
    assert reasoning_token_count(None, unknown, "xy", None) == 2  # one per event at least
    assert reasoning_token_count(None, ev, "", 9) is None


def test_ttfo_reasoning_time_and_answer_rate_by_hand() -> None:
    ms = 1_000_000
    rec = RequestRecord(
        model="m", backend="openai", prompt_id="p", round=1, warmup=False, stream=True, status="ok",
        t_scheduled_ns=0, t0_ns=0, t_end_ns=200 * ms,
        events=(ContentEvent(50 * ms, None, True), ContentEvent(80 * ms, None, True),
                ContentEvent(120 * ms, None), ContentEvent(150 * ms, None), ContentEvent(180 * ms, None)),
        completion_tokens=10, reasoning_tokens=4, reasoning="..", output="abc",
    )  # fmt: skip
    m = request_metrics(rec)
    assert m.ttft_s == pytest.approx(0.050) and m.ttfo_s == pytest.approx(0.120)
    assert m.reasoning_s == pytest.approx(0.070)
    assert m.answer_decode_tokens_per_s == pytest.approx((10 - 4 - 1) / (0.180 - 0.120))
    assert m.tpot_s == pytest.approx((0.180 - 0.050) / 9)  # TPOT stays over every token
    plain = request_metrics(
        dataclasses.replace(
            rec,
            events=tuple(ContentEvent(e.offset_ns, None) for e in rec.events),
            reasoning="",
            reasoning_tokens=None,
        )
    )
    assert plain.ttfo_s == plain.ttft_s and plain.reasoning_s is None
    assert plain.answer_decode_tokens_per_s == pytest.approx(plain.decode_tokens_per_s)


def test_a_record_keeps_its_thinking_through_json() -> None:
    rec = RequestRecord(
        model="m", backend="openai", prompt_id="p", round=1, warmup=False, stream=True, status="ok",
        t_scheduled_ns=0, t0_ns=0, t_end_ns=9, events=(ContentEvent(1, None, True), ContentEvent(2, 1)),
        reasoning="hm", reasoning_tokens=1, output="Hi",
    )  # fmt: skip
    line = rec.to_json()
    assert line["events"] == [[1, None, 1], [2, 1]] and line["reasoning"] == "hm"
    assert RequestRecord.from_json(line) == rec
    old = {k: v for k, v in line.items() if k not in ("reasoning", "reasoning_tokens")}
    old["events"] = [[1, None], [2, 1]]  # a record written before reasoning was recorded
    assert RequestRecord.from_json(old).events == (ContentEvent(1, None), ContentEvent(2, 1))


ANSWER_CHECK = [PromptCase(id="q", prompt="say it", checks=[{"type": "regex", "value": r"^w0 "}])]


@pytest.mark.parametrize("style", ["reasoning_content", "reasoning", "think", "think_open"])
def test_a_reasoning_server_is_measured_apart(tmp_path: Path, style: str) -> None:
    plan = FakePlan(
        ttft_ms=TTFT * 1000, itl_ms=ITL * 1000, tokens=A, reasoning_tokens=R, reasoning_style=style
    )
    with FakeServer(plan) as srv:
        s = bench(srv.base_url, ["fake-model"], tmp_path, ANSWER_CHECK, rounds=3, warmup=0)
    m = s.models[0]
    assert m.status == "ok" and m.requests.ok == 3
    assert TTFT <= m.ttft_s.p50 < TTFT + SLACK  # the first token of any kind: the first thinking one
    assert TTFT + R * ITL <= m.stat("ttfo_s").p50 < TTFT + R * ITL + SLACK
    assert m.stat("reasoning_s").p50 == pytest.approx(R * ITL, abs=0.008)
    assert m.tokens.completion_mean == R + A and m.tokens.reasoning_mean == R  # the server's own counts
    assert m.stat("answer_decode_tokens_per_s").p50 == pytest.approx(1 / ITL, rel=0.25)
    rec = read_records(tmp_path)[0]
    assert rec["output"] == "w0 w1 w2 w3 w4 "  # the answer alone: the check's ^w0 holds on it
    assert (
        rec["reasoning"].startswith("r0 ")
        and "w0" not in rec["reasoning"]
        and "think>" not in rec["reasoning"]
    )
    assert sum(len(e) > 2 for e in rec["events"]) == R  # every thinking token flagged, none of the answer
    assert m.quality is not None and m.quality.check_pass_rate == 1.0


def test_reasoning_that_uses_up_max_tokens_is_named(tmp_path: Path) -> None:
    plan = FakePlan(ttft_ms=5, itl_ms=1, tokens=A, reasoning_tokens=20, reasoning_style="think")
    with FakeServer(plan) as srv:
        s = bench(srv.base_url, ["fake-model"], tmp_path, rounds=2, warmup=0, max_tokens=8)
    m = s.models[0]
    assert m.requests.ok == 0 and m.errors_by_kind == {"reasoning_exhausted": 4}
    assert m.tokens.reasoning_exhausted == 4
    rec = read_records(tmp_path)[0]
    assert rec["status"] == "error" and rec["output"] == "" and rec["completion_tokens"] == 8
    assert "used all 8 max_tokens before any answer" in rec["error"]


def test_reasoning_columns_show_only_when_a_model_reasoned(tmp_path: Path) -> None:
    from rich.console import Console

    from bakeoff.reporters.terminal import summary_table

    models = {"thinker": FakePlan(ttft_ms=5, itl_ms=1, tokens=4, reasoning_tokens=4),
              "plain": FakePlan(ttft_ms=5, itl_ms=1, tokens=4)}  # fmt: skip
    with FakeServer(FakePlan(), models) as srv:
        both = bench(srv.base_url, ["thinker", "plain"], tmp_path / "a", rounds=1, warmup=0)
        plain = bench(srv.base_url, ["plain"], tmp_path / "b", rounds=1, warmup=0)

    def text(summary: object) -> str:
        buf = io.StringIO()
        Console(file=buf, width=250).print(summary_table(summary))  # type: ignore[arg-type]
        return buf.getvalue()

    assert "TTFO p50" in text(both) and "TTFO p50" not in text(plain)


def test_reasoning_effort_reaches_the_server(tmp_path: Path) -> None:
    plan = FakePlan(
        ttft_ms=2, itl_ms=1, tokens=3, reasoning_tokens=6, reasoning_by_effort={"low": 2, "high": 10}
    )
    with FakeServer(plan) as srv:
        low = bench(
            srv.base_url, ["fake-model"], tmp_path / "low", rounds=1, warmup=0, reasoning_effort="low"
        )
        high = bench(
            srv.base_url, ["fake-model"], tmp_path / "high", rounds=1, warmup=0, reasoning_effort="high"
        )
        unset = bench(srv.base_url, ["fake-model"], tmp_path / "unset", rounds=1, warmup=0)
    assert [s.models[0].tokens.reasoning_mean for s in (low, high, unset)] == [2, 10, 6]
    assert low.run.settings["reasoning_effort"] == "low"


def test_the_splitter_edges() -> None:
    assert split_reasoning([]).first_answer is None  # nothing sent: no answer either
    # a template-opened block, then an answer that quotes the tag: the block is still the thinking
    s = split_reasoning([Piece("plan</think>"), Piece("Use <think> tags.")])
    assert (s.answer, s.reasoning, s.first_answer) == ("Use <think> tags.", "plan", 1)
    # thinking sent apart and inline in the same answer: both are kept, in arrival order
    both = split_reasoning([Piece("first ", True), Piece("<think>then</think>"), Piece("Done")])
    assert (both.answer, both.reasoning, both.reasoning_pieces) == ("Done", "first then", (True, True, False))


def test_an_answer_of_two_tokens_and_one_with_no_answer_event() -> None:
    ms = 1_000_000
    base = dict(model="m", backend="openai", prompt_id="p", round=1, warmup=False, stream=True, status="ok",
                t_scheduled_ns=0, t0_ns=0, t_end_ns=100 * ms, reasoning="..")  # fmt: skip
    two = RequestRecord(**base, events=(ContentEvent(10 * ms, None, True), ContentEvent(40 * ms, None),
                        ContentEvent(60 * ms, None)), completion_tokens=3, reasoning_tokens=1)  # fmt: skip
    assert request_metrics(two).answer_decode_tokens_per_s == pytest.approx(1 / 0.020)  # (2 - 1) / 20 ms
    only = RequestRecord(**base, events=(ContentEvent(10 * ms, None, True),), completion_tokens=1)
    m = request_metrics(only)  # thought, then stopped without an answer: no answer metrics
    assert m.ttft_s == pytest.approx(0.010) and (m.ttfo_s, m.reasoning_s, m.answer_decode_tokens_per_s) == (
        None, None, None)  # fmt: skip


def test_events_that_carry_no_token_add_none() -> None:
    ev = (ContentEvent(1, 2, True), ContentEvent(2, 0, True), ContentEvent(3, 1))
    assert reasoning_token_count(None, ev, "abc", 9) == 2


def test_a_models_thinking_tokens_average_over_every_answer() -> None:
    from bakeoff.analysis.summarize import summarize_model

    base = dict(model="m", backend="openai", prompt_id="p", warmup=False, stream=True, t_scheduled_ns=0,
                t0_ns=0, t_end_ns=10, events=(ContentEvent(1, None),), completion_tokens=8)  # fmt: skip
    recs = [
        RequestRecord(**base, round=1, status="ok", reasoning="hm", reasoning_tokens=4),
        RequestRecord(**base, round=2, status="ok"),  # answered without thinking: 0 of its tokens
        RequestRecord(**base, round=3, status="error", error_kind="reasoning_exhausted", reasoning="x"),
        RequestRecord(**base, round=4, status="error", error_kind="http"),
    ]
    row = summarize_model("m", "openai", "ok", None, recs)
    assert row.tokens.reasoning_mean == 2.0 and row.tokens.reasoning_exhausted == 1
    plain = summarize_model("m", "openai", "ok", None, [recs[1]])
    assert plain.tokens.reasoning_mean is None and plain.tokens.reasoning_exhausted == 0
