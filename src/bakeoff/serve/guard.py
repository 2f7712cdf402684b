"""What keeps a web page from driving ``bakeoff serve`` (pure ASGI, in front of the app).

A page the user opens can send a "simple" cross-origin POST (``Content-Type: text/plain``, no preflight)
to a server on loopback, and DNS rebinding can make ``attacker.example`` resolve to 127.0.0.1 and read
the answers. So, before authentication:

- the ``Host`` header must name this server: a loopback name (``localhost``, ``127.0.0.1``, ``[::1]``),
  the address it is bound to, or a name given with ``--allowed-host`` (``*``: any); else 421;
- a request with an ``Origin`` that is not this server's own is refused (403) unless the origin was
  given with ``--cors-origin``; those get CORS headers and their preflight (``OPTIONS``) an answer;
- a POST body must be ``application/json`` (415 otherwise): no simple request can carry it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from bakeoff.serve import wire

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_WILDCARDS = frozenset({"0.0.0.0", "::", ""})


def host_name(header: str) -> str:
    """``example.com:8000`` -> ``example.com``; ``[::1]:8000`` -> ``::1``; lower case."""
    h = header.strip().lower()
    if h.startswith("["):
        return h[1 : h.find("]")] if "]" in h else h
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


def allowed_hosts(bound: str, extra: Iterable[str] = ()) -> frozenset[str] | None:
    """The ``Host`` names this server answers: loopback names, the bound address unless it is a
    wildcard, and ``extra`` (``--allowed-host``); None (no check) when ``extra`` holds ``*``."""
    names = {host_name(e) if e != "*" else "*" for e in extra}
    if "*" in names:
        return None
    if bound not in _WILDCARDS:
        names.add(host_name(bound) if not bound.count(":") > 1 else bound.lower())
    return frozenset(LOOPBACK_NAMES | names)


class Guard:
    """The ASGI middleware of the module docstring."""

    def __init__(
        self, app: App, hosts: frozenset[str] | None, cors_origins: Iterable[str] = (), command: str = "serve"
    ) -> None:
        self.app = app
        self.command = command
        self.hosts = hosts
        self.cors = frozenset(o.rstrip("/").lower() for o in cors_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        if self.hosts is not None and host_name(host) not in self.hosts:
            msg = (
                f"host {host!r} is not a name of this server; start {self.command} with --allowed-host NAME "
                "to add it"
            )
            await _refuse(send, 421, msg, "misdirected_request")
            return
        origin = headers.get("origin")
        allowed_origin = origin is not None and origin.rstrip("/").lower() in self.cors
        if origin is not None and not allowed_origin and not _same_origin(origin, host):
            msg = f"cross-origin request from {origin!r} refused; start serve with --cors-origin {origin}"
            if self.command != "serve":
                msg = f"cross-origin request from {origin!r} refused"
            await _refuse(send, 403, msg, "forbidden")
            return
        if scope["method"] == "OPTIONS" and allowed_origin:
            await _preflight(send, origin or "")
            return
        if scope["method"] == "POST" and not _is_json(headers.get("content-type", "")):
            msg = "the body must be JSON (Content-Type: application/json)"
            await _refuse(send, 415, msg, "invalid_request_error")
            return
        if not allowed_origin:
            await self.app(scope, receive, send)
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_cors_headers(origin or "")]
            await send(message)

        await self.app(scope, receive, with_cors)


def _same_origin(origin: str, host: str) -> bool:
    scheme, _, rest = origin.partition("://")
    return scheme in ("http", "https") and rest.rstrip("/").lower() == host.strip().lower()


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _cors_headers(origin: str) -> list[tuple[bytes, bytes]]:
    return [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]


async def _preflight(send: Send, origin: str) -> None:
    headers = [
        *_cors_headers(origin),
        (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
        (b"access-control-allow-headers", b"authorization, content-type"),
        (b"access-control-max-age", b"600"),
        (b"content-length", b"0"),
    ]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


async def _refuse(send: Send, status: int, message: str, kind: str) -> None:
    body = json.dumps(wire.error_body(message, kind, None), ensure_ascii=True).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
