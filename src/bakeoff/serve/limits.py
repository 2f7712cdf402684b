"""Connection-level limits of ``bakeoff serve``, before any request reaches the app or its key check.

uvicorn's default HTTP parser (httptools) buffers a request head of any size and waits for it forever:
30 sockets sending a header line every 5 s stayed open, one request with 40 MB of headers was
answered, five unfinished ones held 150 MB. ``LimitedH11Protocol`` (uvicorn's h11 protocol, which
bounds what it buffers) adds:

- a request head (request line and headers) over ``max_header_bytes`` is answered 431 and closed;
- a head not complete ``header_timeout_s`` after the connection opened, or after the previous answer
  on a kept-alive connection, is answered 408 and closed (a slow-loris client);
- at most ``max_client_connections`` open connections per client address and ``max_connections`` in
  all; one more is answered 503 with ``Retry-After`` and closed.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


@dataclass(frozen=True)
class Limits:
    """The connection limits one server applies (``serve``'s flags)."""

    max_header_bytes: int = 64 * 1024
    header_timeout_s: float = 10.0
    max_client_connections: int = 256
    max_connections: int = 1024


def _plain(status: int, reason: str, text: str, extra: str = "") -> bytes:
    body = text.encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
        f"{extra}content-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class LimitedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the limits of ``limits`` (set by ``protocol_for``)."""

    limits = Limits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._counted: str | None = None
        self._refusal: bytes | None = None

    def _open(self) -> Counter[str]:
        """Open connections per client address, shared by every connection of this server."""
        state = self.server_state
        if not hasattr(state, "bakeoff_open"):
            state.bakeoff_open = Counter()  # type: ignore[attr-defined]
        return state.bakeoff_open  # type: ignore[attr-defined,no-any-return]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        who = self.client[0] if self.client else "?"
        open_ = self._open()
        lim = self.limits
        if open_[who] >= lim.max_client_connections or sum(open_.values()) >= lim.max_connections:
            mine = open_[who] >= lim.max_client_connections
            why = (
                f"too many connections from {who} (at most {lim.max_client_connections}): "
                "close some, or start serve with a higher --max-client-connections"
                if mine
                else f"the server has {lim.max_connections} connections open: retry shortly"
            )
            # answered once its request arrives (closing on unread data would reset the connection
            # and lose the answer), or after a second of silence
            self._refusal = _plain(503, "Service Unavailable", why, "retry-after: 1\r\n")
            self._head_timer = self.loop.call_later(1.0, self._refuse, self._refusal)
            return
        open_[who] += 1
        self._counted = who
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._counted is not None:
            open_ = self._open()
            open_[self._counted] -= 1
            if open_[self._counted] <= 0:
                del open_[self._counted]
            self._counted = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refusal is not None:
            self._refuse(self._refusal)
            return
        if self.conn.their_state is h11.IDLE and self._head_too_big(data):
            self._refuse(
                _plain(431, "Request Header Fields Too Large",
                       f"the request's headers are over {self.limits.max_header_bytes} bytes")
            )  # fmt: skip
            return
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the head is in: the app has the request now
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request's head gets the same time

    def _head_too_big(self, data: bytes) -> bool:
        limit = self.limits.max_header_bytes
        buffered = self.conn.trailing_data[0]
        if len(buffered) + len(data) <= limit:
            return False
        head = (buffered + data)[: limit + 4]
        return b"\r\n\r\n" not in head

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self.limits.header_timeout_s, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            text = f"no complete request head within {self.limits.header_timeout_s:g} s"
            self._refuse(_plain(408, "Request Timeout", text))

    def _refuse(self, response: bytes) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(response)
            self.transport.close()


def protocol_for(limits: Limits) -> type[LimitedH11Protocol]:
    """A protocol class for uvicorn's ``http=`` with these limits."""
    return type("LimitedH11", (LimitedH11Protocol,), {"limits": limits})
