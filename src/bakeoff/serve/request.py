"""What a client may send to ``bakeoff serve`` and how it is described: the chat request, strictly typed
(``"16"`` is not a number), unknown and unsupported fields refused with the field named, and the
OpenAPI document ``GET /openapi.json`` publishes (the fuzzer in the tests draws from it)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bakeoff.version import __version__

DEFAULT_MAX_QUEUE = 16  # requests a model may hold waiting behind the one generating (serve --max-queue)


class _Message(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[dict[str, Any]]

    @field_validator("content")
    @classmethod
    def _parts(cls, v: str | list[dict[str, Any]]) -> str | list[dict[str, Any]]:
        for part in v if isinstance(v, list) else []:
            kind = part.get("type")
            if kind != "text":
                raise ValueError(f"content part type {kind!r} is not supported by this server (text only)")
            if not isinstance(part.get("text"), str):
                raise ValueError("a text content part needs a string 'text'")
        for text in [v] if isinstance(v, str) else [str(p["text"]) for p in v]:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("content is not valid Unicode (a lone surrogate escape)") from None
        return v

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(str(part.get("text", "")) for part in self.content if part.get("type") == "text")


class _StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    include_usage: bool = False


# Fields OpenAI's API has that change nothing here: accepted and ignored (documented in the README).
IGNORED_FIELDS = frozenset({"user", "metadata", "store", "service_tier", "parallel_tool_calls"})
# Fields with an effect this server does not provide: a request that sets one to anything but its
# neutral value is refused with 400 naming it, rather than silently answered without it.
UNSUPPORTED_FIELDS = frozenset(
    {
        "logprobs", "top_logprobs", "tools", "tool_choice", "functions", "function_call", "response_format",
        "logit_bias", "presence_penalty", "frequency_penalty", "audio", "modalities", "prediction",
        "reasoning_effort", "web_search_options",
    }
)  # fmt: skip


def _neutral(field: str, value: Any) -> bool:
    """Whether a client sent an unsupported field at the value that asks for nothing."""
    if field == "response_format":
        return value is None or value == {"type": "text"}
    return value in (None, False, 0, [], {})


class ChatBody(BaseModel):
    """A chat completion request, strictly typed (``"16"`` is not a number, ``"yes"`` not a boolean).
    Unknown fields are refused, as OpenAI's API does; see ``IGNORED_FIELDS`` and ``UNSUPPORTED_FIELDS``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    model: str = Field(min_length=1)
    messages: list[_Message] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    temperature: float = Field(default=1.0, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: _StreamOptions | None = None
    n: int = 1

    @field_validator("stop")
    @classmethod
    def _stops(cls, v: str | list[str] | None) -> str | list[str] | None:
        if isinstance(v, list) and len(v) > 4:
            raise ValueError("at most 4 stop sequences")
        for text in [v] if isinstance(v, str) else v or []:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("stop is not valid Unicode (a lone surrogate escape)") from None
        return v

    @field_validator("n")
    @classmethod
    def _one(cls, v: int) -> int:
        if v != 1:
            raise ValueError("only n=1 is supported: send one request per answer")
        return v


def _param(loc: tuple[int | str, ...]) -> str:
    """A field path as a client wrote it (``messages[0].content``), without pydantic's union tags."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "[" in part or part in ("str", "int", "float", "bool", "list", "dict", "none") or "-" in part:
            break  # a union member's tag, not a field
        else:
            out += ("." if out else "") + part
    return out


def parse_chat_body(payload: dict[str, Any]) -> ChatBody | tuple[str, str]:
    """The request as a ``ChatBody``, or ``(message, param)`` of the first thing wrong with it."""
    for key, value in payload.items():
        if key in ChatBody.model_fields:
            continue
        if key in UNSUPPORTED_FIELDS:
            if not _neutral(key, value):
                return f"'{key}' is not supported by this server", key
        elif key not in IGNORED_FIELDS:
            return f"unrecognized request argument '{key}'", key
    known = {k: v for k, v in payload.items() if k in ChatBody.model_fields}
    try:
        return ChatBody.model_validate(known)
    except ValidationError as exc:
        err = exc.errors()[0]
        param = _param(tuple(err["loc"]))
        msg = str(err["msg"]).removeprefix("Value error, ")
        return f"invalid '{param}': {msg}", param


def openapi_schema() -> dict[str, Any]:
    """The OpenAPI 3.1 description of this server (``GET /openapi.json``)."""
    err = {"$ref": "#/components/schemas/Error"}

    def errors(*codes: int) -> dict[str, Any]:
        return {
            str(c): {"description": "OpenAI-shaped error", "content": {"application/json": {"schema": err}}}
            for c in codes
        }

    body = ChatBody.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = body.pop("$defs", {})
    return {
        "openapi": "3.1.0",
        "info": {"title": "bakeoff serve", "version": __version__},
        "paths": {
            "/v1/chat/completions": {
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/ChatBody"}}
                        },
                    },
                    "responses": {
                        "200": {"description": "a chat completion, or an SSE stream of chunks"},
                        **errors(400, 401, 404, 413, 429, 500, 503),
                    },
                }
            },
            "/v1/models": {
                "get": {"responses": {"200": {"description": "the served models"}, **errors(401)}}
            },
            "/health": {
                "get": {"responses": {"200": {"description": "up, degraded, and (with the key) queues"}}}
            },
        },
        "components": {
            "schemas": {
                "ChatBody": body,
                **defs,
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["message", "type"],
                            "properties": {
                                "message": {"type": "string"},
                                "type": {"type": "string"},
                                "param": {"type": ["string", "null"]},
                                "code": {"type": ["string", "null"]},
                            },
                        }
                    },
                },
            }
        },
    }
