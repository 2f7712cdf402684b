"""Reasoning apart from the answer: which of a request's content events were thinking.

A reasoning model (DeepSeek-R1 distills, Qwen3, Phi-4-reasoning) thinks before it answers. Servers
send the thinking in its own delta field (``reasoning_content``, ``reasoning``: the backend marks
those events) or inline in the content, between tags (``<think>...</think>`` and kin). A chat
template that opens the tag itself leaves only the closing one in the output (``...</think>answer``).

``split_reasoning`` reads the events' texts in arrival order and says, for each, whether it carried
any of the answer; the answer is the content with the reasoning (tags included) removed. Inline tags
count only at the start of the content (after whitespace): a model reasons first, and an answer that
quotes ``<think>`` later is still an answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bakeoff.records import ContentEvent

_OPEN = re.compile(r"\s*<(think|thinking|reasoning)>", re.IGNORECASE)
_CLOSE = re.compile(r"</(think|thinking|reasoning)>", re.IGNORECASE)


@dataclass(frozen=True)
class Piece:
    """One content event's text, and whether the backend already knew it for reasoning (a delta field)."""

    text: str
    reasoning: bool = False


@dataclass(frozen=True)
class Split:
    """The ``answer`` and ``reasoning`` texts; per piece whether it came before the answer (thinking, its
    tags and the blank lines after them) or was a reasoning delta; and the index of the first piece
    that carried any of the answer (None: no answer). Without reasoning the first answer piece is the
    first piece, so TTFO is TTFT."""

    answer: str
    reasoning: str
    reasoning_pieces: tuple[bool, ...]
    first_answer: int | None


def _inline_span(content: str) -> tuple[int, int, int] | None:
    """(reasoning start, reasoning end, answer start) of a leading inline reasoning block, or None.

    An opened block that never closes runs to the end."""
    opened = _OPEN.match(content)
    if opened:
        closed = _CLOSE.search(content, opened.end())
        if closed is None:
            return opened.end(), len(content), len(content)
        return opened.end(), closed.start(), closed.end()
    closed = _CLOSE.search(content)
    if closed is not None and not _OPEN.search(content, 0, closed.start()):
        return 0, closed.start(), closed.end()  # the chat template opened the block
    return None


def split_reasoning(pieces: Sequence[Piece]) -> Split:
    """Separate the reasoning from the answer (see the module's docstring)."""
    content = "".join(p.text for p in pieces if not p.reasoning)
    span = _inline_span(content)
    reasoning = "".join(p.text for p in pieces if p.reasoning)
    if span is None and not reasoning:
        return Split(content, "", (False,) * len(pieces), 0 if pieces else None)
    answer_from = span[2] if span else 0
    if span:
        reasoning += content[span[0] : span[1]]
    flags: list[bool] = []
    first: int | None = None
    at = 0  # where this piece starts in ``content``
    for i, p in enumerate(pieces):
        if p.reasoning:
            flags.append(True)
            continue
        start, at = at, at + len(p.text)
        if first is None and content[max(start, answer_from) : at].strip():
            first = i
        flags.append(first is None)  # the closing tag and the blank lines after it are still thinking
    return Split(content[answer_from:].lstrip(), reasoning.strip(), tuple(flags), first)


def reasoning_token_count(
    server: int | None, events: Sequence[ContentEvent], reasoning: str, completion_tokens: int | None
) -> int | None:
    """Tokens of thinking: the server's count where it gives one; else the tokens the reasoning events
    carried, where each says (an in-process engine); else at least one per reasoning event and about
    four characters a token, as completion tokens are counted without usage. Never above the answer's
    whole ``completion_tokens``."""
    if not reasoning:
        return None
    if server is not None:
        return server
    thinking = [e for e in events if e.reasoning]
    if thinking and all(e.tokens is not None for e in thinking):
        count = sum(e.tokens or 0 for e in thinking)
    else:
        count = max(len(thinking), round(len(reasoning) / 4))
    return count if completion_tokens is None else min(count, completion_tokens)
