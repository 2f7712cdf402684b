"""Notes an app can parse (issue 28, first part): json_schema / contains_json checks, the shipped
meeting-notes schema, ``--structured`` asking for it and ``constrained`` decoding that follows it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from bakeoff.backends.base import ChatRequest
from bakeoff.config.settings import CheckSpec, PromptCase
from bakeoff.errors import UsageError
from bakeoff.quality.checks import run_check
from bakeoff.workload.structured import INSTRUCTION, load_schema, shipped_schemas, structured_cases

CASE = PromptCase(id="c", prompt="p")
NOTES = {
    "summary": "Budget review.",
    "decisions": ["Ship v2"],
    "action_items": [{"owner": "Ana", "task": "send the budget", "due": "Friday"}],
    "open_questions": [],
}


def check(kind: str, value: object, output: str) -> tuple[bool, str]:
    r = run_check(CheckSpec(type=kind, value=value), output, CASE)  # type: ignore[arg-type]
    return r.passed, r.reason


def test_notes_valid_against_the_shipped_schema() -> None:
    assert "meeting-notes" in shipped_schemas()
    assert check("json_schema", "meeting-notes", json.dumps(NOTES)) == (True, "")
    fenced = "```json\n" + json.dumps(NOTES) + "\n```"
    assert check("json_schema", "meeting-notes", fenced)[0]  # one fenced block is the answer
    no_due = {**NOTES, "action_items": [{"owner": "Ana", "task": "send the budget"}]}
    assert check("json_schema", "meeting-notes", json.dumps(no_due)) == (
        False, "at $.action_items[0]: 'due' is a required property")  # fmt: skip
    wrong = {**NOTES, "decisions": "Ship v2"}
    assert check("json_schema", "meeting-notes", json.dumps(wrong)) == (
        False, "at $.decisions: 'Ship v2' is not of type 'array'")  # fmt: skip
    ok, why = check("json_schema", "meeting-notes", "Here are the notes: " + json.dumps(NOTES))
    assert not ok and why.startswith("not JSON")  # prose around it is not what an app can parse
    assert check("json_schema", "no-such-schema", "{}") == (
        False, "cannot load schema 'no-such-schema': --structured no-such-schema: neither a shipped schema "
        "nor a file")  # fmt: skip


def test_an_inline_schema_and_contains_json() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    assert check("json_schema", schema, '{"n": 3}') == (True, "")
    assert check("json_schema", schema, '{"n": "3"}') == (False, "at $.n: '3' is not of type 'integer'")
    assert check("contains_json", None, 'Sure: {"a": [1, 2]} - done')[0]
    assert check("contains_json", None, "the list [1, 2] as asked")[0]
    assert check("contains_json", None, "no JSON {here") == (False, "no JSON object or array in the answer")
    assert not check("contains_json", None, 'only a "string" and 42')[0]  # scalars are not notes


def test_check_values_are_checked_when_the_file_is_read() -> None:
    with pytest.raises(ValidationError, match="'json_schema' needs a schema object"):
        CheckSpec(type="json_schema")
    with pytest.raises(ValidationError, match="'is_json' does not take an object"):
        CheckSpec(type="is_json", value={"a": 1})
    assert CheckSpec(type="json_schema", value={"title": "Notes"}).label == "json_schema:Notes"


def test_schemas_by_name_or_file_and_their_errors(tmp_path: Path) -> None:
    name, schema = load_schema("meeting-notes")
    assert name == "meeting-notes" and schema["required"] == ["decisions", "action_items", "open_questions"]
    with pytest.raises(UsageError) as e:
        load_schema("meeting-note")
    assert "neither a shipped schema nor a file" in e.value.message and "meeting-notes" in (
        e.value.hint or ""
    )
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "nope"}')
    with pytest.raises(UsageError, match="not a valid JSON Schema"):
        load_schema(str(bad))
    bad.write_text("{oops")
    with pytest.raises(UsageError, match="not JSON"):
        load_schema(str(bad))


def test_structured_cases_ask_for_the_schema_and_check_it() -> None:
    _, schema = load_schema("meeting-notes")
    [case] = structured_cases([PromptCase(id="m", prompt="Summarize.")], "meeting-notes", schema)
    assert (
        case.prompt.startswith("Summarize.\n\n") and json.dumps(schema, separators=(",", ":")) in case.prompt
    )
    assert INSTRUCTION.split("{")[0] in case.prompt
    assert [c.label for c in case.checks] == ["valid meeting-notes"] and case.checks[0].value == schema


def test_an_endpoint_is_sent_response_format_only_when_constrained() -> None:
    from bakeoff.backends.openai import OpenAIBackend
    from bakeoff.config.settings import ModelSpec

    b = OpenAIBackend("m", ModelSpec(backend="openai", model="m", base_url="http://127.0.0.1:9/v1"))
    msgs = ({"role": "user", "content": "hi"},)
    assert "response_format" not in b._body(ChatRequest(messages=msgs, max_tokens=4))
    body = b._body(ChatRequest(messages=msgs, max_tokens=4, json_schema={"type": "object"}))
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": True},
    }


def test_free_mode_against_the_fake_server_scores_validity(tmp_path: Path) -> None:
    from bakeoff.testing import FakePlan, FakeServer

    from .conftest import bench

    with FakeServer(FakePlan(ttft_ms=2, itl_ms=1, tokens=4), send_log=True) as srv:
        s = bench(srv.base_url, ["fake-model"], tmp_path, [PromptCase(id="q", prompt="Notes please.")],
                  rounds=1, warmup=0, structured="meeting-notes")  # fmt: skip
        import httpx

        sent = httpx.get(srv.base_url.removesuffix("/v1") + "/fake/send-log").json()
    assert sent and all('"action_items"' in e["content"] for e in sent)  # the schema went with the prompt
    q = s.models[0].quality
    assert q is not None and q.checks.by_check == {"valid meeting-notes": 0.0}  # "w0 w1 ..." is no JSON
    assert s.run.settings["structured"] == "meeting-notes" and s.run.settings["structured_mode"] == "free"


@pytest.mark.realmodel
def test_constrained_decoding_makes_a_small_model_answer_in_the_schema(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    from bakeoff.backends.targets import resolve_targets
    from bakeoff.config.settings import BenchSettings
    from bakeoff.run.bench import run_bench

    schema = tmp_path / "verdict.schema.json"
    schema.write_text(json.dumps({"type": "object", "properties": {"ok": {"type": "boolean"}},
                                  "required": ["ok"], "additionalProperties": False}))  # fmt: skip
    rows = {}
    for mode in ("free", "constrained"):
        settings = BenchSettings(
            models=["smollm2-135m"],
            rounds=1,
            warmup=0,
            max_tokens=12,
            structured=str(schema),
            structured_mode=mode,
        )  # type: ignore[arg-type]
        prompts = [PromptCase(id="q", prompt="Is the sky blue?")]
        out = run_bench(settings, prompts, resolve_targets(["smollm2-135m"], {}, None), tmp_path / mode)
        rows[mode] = out.models[0]
    constrained = rows["constrained"]
    assert constrained.quality is not None
    assert constrained.quality.checks.by_check == {"valid verdict.schema.json": 1.0}, (
        constrained.sample_response
    )
    assert json.loads(constrained.sample_response or "") in ({"ok": True}, {"ok": False})
    assert constrained.info["structured"] == "constrained: llama.cpp grammar built from the schema"
    assert "structured" not in rows["free"].info


def test_a_backend_that_cannot_constrain_is_labelled_free(tmp_path: Path) -> None:
    from bakeoff.backends.targets import ModelTarget
    from bakeoff.config.settings import BenchSettings, ModelSpec
    from bakeoff.run.bench import run_bench

    spec = ModelSpec(adapter=f"{Path(__file__).parent / 'data'}/echo_adapter.py:EchoAdapter")
    settings = BenchSettings(models=["echo"], rounds=1, warmup=0, max_tokens=3, structured="meeting-notes",
                             structured_mode="constrained")  # fmt: skip
    s = run_bench(
        settings, [PromptCase(id="q", prompt="Notes.")], [ModelTarget("echo", "adapter", spec)], tmp_path
    )
    assert s.models[0].info["structured"] == "free: this backend cannot constrain"
    assert any(n.startswith("echo: its backend (adapter) cannot constrain decoding") for n in s.run.notes)


def test_structured_notes_get_field_scores_in_the_summary_and_the_report(tmp_path: Path) -> None:
    """A generated meeting, notes written from its own gold facts (a perfect app-readable answer) and a
    prose answer: every field recalled and right in the first, nothing in the second."""
    from bakeoff.quality.aggregate import apply_quality
    from bakeoff.records import RequestRecord
    from bakeoff.reporters.markdown import render_markdown
    from bakeoff.reporters.report import RunReport
    from bakeoff.results.schema import ModelSummary, RunInfo, Summary
    from bakeoff.workload.meetings import build_meeting

    text, facts = build_meeting(1000, seed=3)
    case = PromptCase(id="meet", prompt="Write the notes.", source=text, facts=facts)
    perfect = {
        "summary": " ".join(f.text for f in facts if f.kind == "number"),
        "decisions": [f.text for f in facts if f.kind == "decision"],
        "action_items": [
            {"owner": f.owner, "task": f.text, "due": f.due} for f in facts if f.kind == "action"
        ],
        "open_questions": [f.text for f in facts if f.kind == "question"],
    }
    assert perfect["decisions"] and perfect["action_items"]  # the generator planted both kinds

    def rec(model: str, output: str) -> RequestRecord:
        return RequestRecord(model=model, backend="openai", prompt_id="meet", round=1, warmup=False,
                             stream=False, status="ok", t_scheduled_ns=0, t0_ns=0, t_end_ns=1,
                             output=output)  # fmt: skip

    records = [rec("json", json.dumps(perfect)), rec("prose", "We decided things; people will do them.")]
    summary = Summary(
        run=RunInfo(settings={}, environment={}, started_at="t"),
        models=[ModelSummary(model=m, backend="openai", status="ok") for m in ("json", "prose")],
    )
    apply_quality(summary, tmp_path, [case], records)
    by = {m.model: m.quality for m in summary.models}
    f = by["json"].fields if by["json"] else None
    assert f is not None and (f.answers, f.parsed) == (1, 1)
    assert (f.decision_recall, f.decision_precision, f.action_recall, f.action_precision) == (
        1.0,
        1.0,
        1.0,
        1.0,
    )
    assert (f.owner_right, f.due_right, f.owner_wrong, f.due_wrong, f.invented_owners) == (1.0, 1.0, 0, 0, 0)
    assert f.question_recall in (1.0, None) and f.number_recall in (1.0, None)
    assert by["prose"] is not None and by["prose"].fields is None  # prose notes: quality.facts scores them
    page = render_markdown(RunReport(summary))
    assert "## Fields of the structured notes" in page
    assert "| json | 1/1 | 100% / 100% | 100% / 100% | 100% | 100% |" in page


def test_free_and_constrained_in_one_run_with_vary(tmp_path: Path) -> None:
    """``--vary structured=free,constrained``: each model twice, labelled; only the constrained row's
    requests carry response_format, and its row says how it was constrained."""
    import httpx

    from bakeoff.testing import FakePlan, FakeServer

    from .conftest import bench

    with FakeServer(FakePlan(ttft_ms=2, itl_ms=1, tokens=4), send_log=True) as srv:
        log = srv.base_url.removesuffix("/v1") + "/fake/send-log"
        cases = [PromptCase(id="q", prompt="Notes.")]
        s = bench(srv.base_url, ["fake-model"], tmp_path / "run", cases, rounds=2, warmup=0,
                  structured="meeting-notes", vary="structured=free,constrained")  # fmt: skip
        sent = httpx.get(log).json()
    names = [m.model for m in s.models]
    assert names == ["fake-model [structured=free]", "fake-model [structured=constrained]"]
    formats = [e["response_format"] for e in sent]
    assert formats[:2] == [None, None]  # models run one after the other: the free row first
    assert [f["type"] for f in formats[2:]] == ["json_schema", "json_schema"]
    assert formats[2]["json_schema"]["schema"]["required"] == ["decisions", "action_items", "open_questions"]
    free, constrained = s.models
    assert "structured" not in free.info
    assert constrained.info["structured"].startswith("constrained: response_format")
    for vary, structured, why in (
        ("structured=free,constrained", None, "needs --structured"),
        ("structured=free,maybe", "meeting-notes", "must be free or constrained"),
    ):
        with pytest.raises(UsageError, match=why):
            bench("http://127.0.0.1:9/v1", ["m"], tmp_path / why[:5], [PromptCase(id="q", prompt="x")],
                  structured=structured, vary=vary)  # fmt: skip
