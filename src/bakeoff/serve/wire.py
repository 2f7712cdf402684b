"""OpenAI chat-completion wire shapes, shared by ``bakeoff serve`` and the fake test server."""

from __future__ import annotations

import json
from typing import Any


def sse(obj: Any) -> bytes:
    """One server-sent event: ``data: <json>`` (or raw bytes such as ``[DONE]``) and a blank line."""
    return b"data: " + (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\n\n"


def chunk(
    rid: str, created: int, model: str, delta: dict[str, Any], finish: str | None = None
) -> dict[str, Any]:
    """A ``chat.completion.chunk`` carrying one delta."""
    return {
        "id": rid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def usage_chunk(rid: str, created: int, model: str, usage: dict[str, Any]) -> dict[str, Any]:
    """The final chunk of ``stream_options.include_usage``: no choices, only usage."""
    return {
        "id": rid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [],
        "usage": usage,
    }


def error_body(message: str, kind: str = "invalid_request_error", param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": None}}
