"""A property-based fuzzer over the server's published schema (issue 15): whatever a client sends to
`bakeoff serve`, the answer is never a 5xx, every error is OpenAI-shaped, and the server keeps
answering. Hypothesis draws bodies from the OpenAPI schema's fields (valid values, wrong types,
unknown keys, arbitrary JSON) and sends them over real HTTP to a real server process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import bakeoff_serve

DATA = Path(__file__).parent / "data"

# text as a client may send it: letters, digits, punctuation, controls, and lone surrogates (which JSON
# can carry as \ud800 escapes but UTF-8 cannot encode)
TEXT = st.text(st.characters(categories=["L", "N", "P", "S", "Zs", "Cc", "Cs"]), max_size=30)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    models = {"instant": {"adapter": f"{DATA}/echo_adapter.py:InstantEcho"}}
    (tmp / "models.json").write_text(json.dumps(models))
    with (
        bakeoff_serve("--models", "instant", "--models-file", str(tmp / "models.json")) as base,
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        schema = client.get("/openapi.json").json()["components"]["schemas"]
        yield client, schema


def _valid_fields() -> dict[str, st.SearchStrategy[Any]]:
    """In-range values of every optional field the schema lists."""
    return {
        "max_tokens": st.integers(1, 64),
        "max_completion_tokens": st.integers(1, 64),
        "temperature": st.floats(0, 2),
        "top_p": st.floats(0.01, 1),
        "seed": st.integers(-(2**31), 2**31),
        "stop": TEXT.filter(bool) | st.lists(TEXT.filter(bool), max_size=4) | st.none(),
        "stream": st.booleans(),
        "stream_options": st.fixed_dictionaries({"include_usage": st.booleans()}),
        "n": st.just(1),
        "user": TEXT,
        "logprobs": st.just(False),
    }


def _valid_message() -> st.SearchStrategy[Any]:
    part = st.fixed_dictionaries({"type": st.just("text"), "text": TEXT})
    return st.fixed_dictionaries(
        {
            "role": st.sampled_from(["user", "system", "assistant"]),
            "content": TEXT | st.sampled_from(["\ud800", "a\udfffb"]) | st.lists(part, max_size=3),
        }
    )


def _bodies(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    fields = _valid_fields()
    assert set(fields) - {"user", "logprobs"} <= set(schema["ChatBody"]["properties"])  # the schema's fields
    valid = st.fixed_dictionaries(
        {"model": st.just("instant"), "messages": st.lists(_valid_message(), min_size=1, max_size=3)},
        optional=fields,
    )
    keys = [*schema["ChatBody"]["properties"], "tools", "logprobs", "response_format", "frobnicate", ""]

    @st.composite
    def corrupted(draw: st.DrawFn) -> Any:
        body = dict(draw(valid))
        for _ in range(draw(st.integers(1, 3))):
            key = draw(st.sampled_from(keys))
            if key == "messages" and draw(st.booleans()):  # break one message, not the whole list
                msgs = list(body["messages"])
                msgs[0] = draw(st.fixed_dictionaries({"role": JSON | TEXT, "content": JSON}) | JSON)
                body["messages"] = msgs
            else:
                body[key] = draw(JSON)
        return body

    return st.one_of(valid, valid, corrupted(), st.dictionaries(TEXT, JSON, max_size=5), JSON)


def _check(r: httpx.Response, body: Any) -> None:
    assert r.status_code < 500, (r.status_code, r.text[:300], body)
    if r.status_code >= 400:
        err = r.json()["error"]
        assert isinstance(err["message"], str) and isinstance(err["type"], str), r.text
        assert "param" in err and "Traceback" not in err["message"]
        assert "/work/" not in err["message"] and "/home/" not in err["message"]
        return
    if r.headers["content-type"].startswith("text/event-stream"):
        assert r.text.rstrip().endswith("data: [DONE]"), r.text[-200:]
    else:
        assert r.json()["choices"][0]["message"]["role"] == "assistant"


def test_no_client_input_gets_a_5xx_or_a_non_openai_error(
    server: tuple[httpx.Client, dict[str, Any]],
) -> None:
    client, schema = server
    seen: dict[int, int] = {}

    @settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(body=_bodies(schema))
    def one(body: Any) -> None:
        raw = json.dumps(body).encode()  # ASCII escapes: lone surrogates travel as \ud800
        r = client.post("/v1/chat/completions", content=raw, headers={"Content-Type": "application/json"})
        _check(r, body)
        seen[r.status_code] = seen.get(r.status_code, 0) + 1

    one()
    # the fuzzer reached both sides: answers, refused bodies and unknown models
    assert seen.get(200, 0) >= 50 and seen.get(400, 0) >= 50, seen
    # and it is still serving
    ok = client.post(
        "/v1/chat/completions", json={"model": "instant", "messages": [{"role": "user", "content": "hi"}]}
    )
    assert ok.status_code == 200
    assert client.get("/health").json()["status"] == "ok"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"null",
        b"[]",
        b"1e999999",
        b'"x"',
        b"{",
        b"\xff\xfe",
        b'{"model": NaN}',
        b"[" * 50_000,
        b'{"\\ud800": 1, "model": "instant", "messages": [{"role": "user", "content": "hi"}]}',
        b'{"model": "instant", "messages": [{"role": "user", "content": "hi"}], "stop": "\\udfff"}',
    ],
)
def test_raw_bytes_are_4xx(server: tuple[httpx.Client, dict[str, Any]], raw: bytes) -> None:
    client, _ = server
    r = client.post("/v1/chat/completions", content=raw, headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:200])
    assert isinstance(r.json()["error"]["message"], str)
