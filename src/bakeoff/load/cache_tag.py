"""The tag that keeps a server's prompt cache from answering a repeated prompt with a warm prefill.

Three random common words (146 words: 3.1 million tags), about 4 tokens with the embedded models'
tokenizers (Gemma 3, Qwen2.5, SmolLM2: 4-5 tokens measured; a hex tag like ``[bakeoff-1a2b3c4d]``
cost 13-15), so the prompt grows by little while every request's prefix differs from the start.
"""

from __future__ import annotations

import secrets

_WORDS_TEXT = """
apple arm baby bag ball band bank bar bed bell bird boat body bone book box boy bread bridge
brother cake camp car card cat chair chest child city cloud coat cold corn cow cup day desk dog
door dream dress drink ear earth egg eye face farm field fire fish flag floor flower fog food
foot forest friend garden gate girl glass gold grass hair hand hat head heart hill home horse
house ice iron island key king lake lamp land leaf letter light lion map meal milk moon mother
mouth music name nest night nose ocean oil page paint paper park path pen phone piano plant
plate rain ring river road rock roof room rope salt sand school sea seed ship shoe shop sky snow
song star stone street sun table tea tent tiger tool town train tree wall water wind window wood
year
"""
WORDS: tuple[str, ...] = tuple(_WORDS_TEXT.split())


def new_tag() -> str:
    """A fresh tag, e.g. ``"river lamp stone"`` (random, so no two runs share their prefixes)."""
    return " ".join(secrets.choice(WORDS) for _ in range(3))


def tagged(messages: tuple[dict[str, str], ...], tag: str) -> tuple[dict[str, str], ...]:
    """The messages with ``tag`` and a newline before the first message's content."""
    first, *rest = messages
    return ({**first, "content": f"{tag}\n{first['content']}"}, *rest)
