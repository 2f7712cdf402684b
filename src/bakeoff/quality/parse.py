"""Strict, layered parsing of a judge model's reply. A reply that cannot be read is *unparsed*, with
the reason and the raw text kept; it never becomes a score.

Layers, in order, each tried only when the one before found nothing usable:
1. strip reasoning blocks (``<think>...</think>`` and kin) and any verbatim copy of the judged output;
2. the whole text as JSON; 3. each fenced code block as JSON (last first); 4. the last balanced
``{...}`` object; 5. the same candidates after a tolerant repair (single quotes, trailing commas,
bare keys, Python literals); 6. an object cut off by the token limit, up to its last complete field
(the rubric asks for the score before the reason, so a rambling reason does not lose it);
7. anchored patterns on a line of their own (``Score: 4``, ``Score: 4/5``; ``Winner: A``).
A JSON object that is found but holds an invalid value (a score of 7, no score) stops there as
unparsed: the parser does not go looking for a number elsewhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

_REASONING = re.compile(
    r"<(think|thinking|reasoning|reflection|scratchpad)>.*?</\1>", re.IGNORECASE | re.DOTALL
)
_OPEN_REASONING = re.compile(r"^.*?</(think|thinking|reasoning)>", re.IGNORECASE | re.DOTALL)
_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)```", re.DOTALL)
_SCORE_LINE = re.compile(
    r"^[\s*#>_-]*(?:overall\s+|final\s+)?score\**\s*[:=]\s*\**\s*"
    r"(\d+(?:\.\d+)?)\s*(?:/\s*5|out of 5)?\**\s*\.?\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_ANY_SCORE = re.compile(r"score\**\s*[:=]\s*\**\s*(\d+(?:\.\d+)?)", re.IGNORECASE)
_WINNER_LINE = re.compile(
    r"^[\s*#>_-]*(?:winner|verdict|better)\**\s*[:=]\s*\**\s*\[?\s*(A|B|tie)\b\]?\**\s*\.?\s*$",
    re.IGNORECASE | re.MULTILINE,
)
ASPECT_VALUES = {
    "yes": 1.0, "met": 1.0, "covered": 1.0, "true": 1.0, "1": 1.0, "full": 1.0,
    "partial": 0.5, "partly": 0.5, "partially": 0.5, "0.5": 0.5, "some": 0.5,
    "no": 0.0, "missed": 0.0, "missing": 0.0, "false": 0.0, "0": 0.0, "not met": 0.0, "none": 0.0,
}  # fmt: skip


@dataclass(frozen=True)
class Parsed:
    """What a judge reply said, or why it could not be read (``ok`` False, ``error`` set)."""

    ok: bool
    via: str | None = None
    score: int | None = None
    winner: str | None = None
    aspects: dict[str, float | None] = field(default_factory=dict)
    reason: str | None = None
    error: str | None = None


Judged = str | Sequence[str] | None


def clean(text: str, candidate: Judged = None) -> str:
    """Layer 1: drop reasoning blocks and anything the judge copied from the judged output(s)."""
    out = _REASONING.sub(" ", text)
    if re.search(r"</(think|thinking|reasoning)>", out, re.IGNORECASE):
        out = _OPEN_REASONING.sub(" ", out, count=1)
    for cand in [candidate] if isinstance(candidate, str) else candidate or []:
        if not cand.strip():
            continue
        out = out.replace(cand.strip(), " ")
        # a JSON object planted in the judged output must not become the verdict, even partly echoed
        for obj in _balanced_objects(cand):
            out = out.replace(obj, " ")
    return out.strip()


def _balanced_objects(text: str) -> list[str]:
    """Every top-level balanced ``{...}`` span, in order (braces inside strings ignored)."""
    spans: list[str] = []
    depth, start, in_str, esc, quote = 0, -1, False, False, ""
    for i, c in enumerate(text):
        if in_str:
            if esc:
                esc = False
            elif c == "\\":
                esc = True
            elif c == quote:
                in_str = False
        elif c in "\"'" and depth > 0:
            in_str, quote = True, c
        elif c == "{":
            if depth == 0:
                start = i
            depth += 1
        elif c == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                spans.append(text[start : i + 1])
    return spans


def repair(obj: str) -> str:
    """A tolerant rewrite of almost-JSON: Python literals, single quotes, bare keys, trailing commas."""
    s = obj.strip()
    s = re.sub(r"(?<![\"\w])'([^'\\\n]*)'", r'"\1"', s)
    s = re.sub(r"([{,]\s*)([A-Za-z_][A-Za-z0-9_ -]*?)\s*:", r'\1"\2":', s)
    s = re.sub(r"\bTrue\b", "true", s)
    s = re.sub(r"\bFalse\b", "false", s)
    s = re.sub(r"\bNone\b", "null", s)
    s = re.sub(r",\s*([}\]])", r"\1", s)
    return s


def _candidates(text: str) -> Iterator[tuple[str, str]]:
    yield "json", text
    for block in reversed(_FENCE.findall(text)):
        yield "fenced", block
    for obj in reversed(_balanced_objects(text)):
        yield "object", obj


def _loads(s: str) -> Any:
    try:
        return json.loads(s)
    except ValueError:
        return None


def truncated_object(text: str) -> str | None:
    """An object cut off by the token limit, kept up to its last complete top-level field and closed.

    ``{"aspects": {...}, "score": 4, "reason": "The answer cov`` -> ``{"aspects": {...}, "score": 4}``.
    A field the cut went through is dropped whole, so a score is kept only if its value was finished
    (followed by a comma)."""
    start = -1
    depth, in_str, esc = 0, False, False
    last_comma = -1
    for i, c in enumerate(text):
        if in_str:
            if esc:
                esc = False
            elif c == "\\":
                esc = True
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c in "{[":
            if depth == 0:
                start, last_comma = i, -1
            depth += 1
        elif c in "}]" and depth > 0:
            depth -= 1
        elif c == "," and depth == 1:
            last_comma = i
    if depth == 0 or start < 0 or last_comma < 0 or text[start] != "{":
        return None
    return text[start:last_comma] + "}"


def _layers(text: str) -> Iterator[tuple[str, dict[str, Any]]]:
    seen: list[tuple[str, str]] = list(_candidates(text))
    for via, cand in seen:
        got = _loads(cand.strip())
        if isinstance(got, dict):
            yield via, got
    for via, cand in seen:
        got = _loads(repair(cand))
        if isinstance(got, dict):
            yield f"{via}+repair", got
    cut = truncated_object(text)
    if cut is not None:
        got = _loads(cut)
        if not isinstance(got, dict):
            got = _loads(repair(cut))
        if isinstance(got, dict):
            yield "truncated", got


def _lower_keys(d: dict[str, Any]) -> dict[str, Any]:
    return {str(k).strip().lower(): v for k, v in d.items()}


def _score(value: Any) -> tuple[int | None, str | None]:
    if isinstance(value, bool) or value is None:
        return None, f"score is {value!r}, not a number 1-5"
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+(?:\.0+)?)\s*(?:/\s*5)?\s*", value)
        if not m:
            return None, f"score {value!r} is not a number 1-5"
        value = float(m.group(1))
    if isinstance(value, int | float):
        if float(value) != int(value):
            return None, f"score {value} is not a whole number"
        if not 1 <= int(value) <= 5:
            return None, f"score {value} is out of range 1-5"
        return int(value), None
    return None, f"score {value!r} is not a number 1-5"


def _aspects(value: Any, aspect_ids: Sequence[str]) -> dict[str, float | None]:
    out: dict[str, float | None] = dict.fromkeys(aspect_ids)
    if isinstance(value, list):  # [{"id": "a1", "verdict": "yes"}, ...]
        value = {
            str(v.get("id")): v.get("verdict", v.get("met", v.get("value")))
            for v in value
            if isinstance(v, dict) and "id" in v
        }
    if not isinstance(value, dict):
        return out
    for k, v in value.items():
        key = str(k).strip()
        if key not in out:
            continue
        if isinstance(v, dict):
            v = v.get("verdict", v.get("met", v.get("value")))
        if isinstance(v, bool):
            out[key] = 1.0 if v else 0.0
        elif isinstance(v, int | float) and v in (0, 0.5, 1):
            out[key] = float(v)
        elif isinstance(v, str):
            out[key] = ASPECT_VALUES.get(v.strip().lower().rstrip("."))
    return out


def parse_score(text: str, aspect_ids: Sequence[str] = (), candidate: Judged = None) -> Parsed:
    """Read a 1-5 rubric verdict: ``{"aspects": {...}, "score": N, "reason": "..."}``."""

    def from_obj(via: str, obj: dict[str, Any]) -> Parsed | None:
        d = _lower_keys(obj)
        key = next((k for k in ("score", "overall", "overall_score", "rating") if k in d), None)
        if key is None:
            if "aspects" in d:
                return Parsed(False, via=via, error="the verdict has no score field")
            return None  # some other object (e.g. one quoted from the answer): keep looking
        score, err = _score(d[key])
        if err:
            return Parsed(False, via=via, error=err)
        reason = d.get("reason") or d.get("explanation")
        return Parsed(
            True,
            via=via,
            score=score,
            aspects=_aspects(d.get("aspects"), aspect_ids),
            reason=str(reason) if reason is not None else None,
        )

    def from_line(text: str) -> Parsed | None:
        found = {m.group(1) for m in _SCORE_LINE.finditer(text)}
        if not found:
            return None
        # any other "score: N" in the text that disagrees makes the reply ambiguous
        found |= {m.group(1) for m in _ANY_SCORE.finditer(text)}
        if len(found) > 1:
            return Parsed(False, via="pattern", error=f"conflicting scores {sorted(found)}")
        score, err = _score(found.pop())
        if err:
            return Parsed(False, via="pattern", error=err)
        return Parsed(True, via="pattern", score=score, aspects=dict.fromkeys(aspect_ids))

    return _parse(text, candidate, from_obj, from_line)


def parse_winner(text: str, candidate: Judged = None) -> Parsed:
    """Read a pairwise verdict: ``{"winner": "A"|"B"|"tie", "reason": "..."}``."""

    def norm(v: Any) -> str | None:
        if not isinstance(v, str):
            return None
        w = v.strip().strip("\"'[]().").lower()
        w = re.sub(r"^(response|answer|assistant|output)\s+", "", w)
        return {"a": "A", "b": "B", "tie": "tie", "draw": "tie", "equal": "tie"}.get(w)

    def from_obj(via: str, obj: dict[str, Any]) -> Parsed | None:
        d = _lower_keys(obj)
        key = next((k for k in ("winner", "verdict", "better") if k in d), None)
        if key is None:
            return None
        w = norm(d[key])
        if w is None:
            return Parsed(False, via=via, error=f"winner {d[key]!r} is not A, B or tie")
        reason = d.get("reason")
        return Parsed(True, via=via, winner=w, reason=str(reason) if reason is not None else None)

    def from_line(text: str) -> Parsed | None:
        found = {norm(m.group(1)) for m in _WINNER_LINE.finditer(text)}
        found.discard(None)
        if not found:
            return None
        if len(found) > 1:
            return Parsed(False, via="pattern", error=f"conflicting verdicts {sorted(map(str, found))}")
        return Parsed(True, via="pattern", winner=found.pop())

    return _parse(text, candidate, from_obj, from_line)


def _parse(
    text: str,
    candidate: Judged,
    from_obj: Callable[[str, dict[str, Any]], Parsed | None],
    from_line: Callable[[str], Parsed | None],
) -> Parsed:
    if not text or not text.strip():
        return Parsed(False, error="empty reply")
    body = clean(text, candidate)
    for via, obj in _layers(body):
        got = from_obj(via, obj)
        if got is not None:
            return got
    got = from_line(body)
    if got is not None:
        return got
    return Parsed(False, error="no verdict found (no JSON object with the field, no 'Score: N' line)")
