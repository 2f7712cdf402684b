"""Long meetings with known facts: the ``long-meetings`` suite (``--suite long-meetings --lengths 1k,4k``).

``build_meeting(tokens, seed)`` writes a meeting transcript of about ``tokens`` tokens, deterministically
from the seed: agenda items, several speakers who interrupt each other (``[crosstalk]``, a sentence cut
off with "--"), digressions, and planted facts whose gold is known: decisions, action items with an
owner and a due date (some corrected on the spot: "by Tuesday -- no, make that Friday"), numbers and
open questions. Each fact is planted at a recorded position (``start``, ``middle``, ``end``) and
fraction of the transcript, so recall can be read by position (the lost-in-the-middle curve).

A fact's ``key`` is a phrase that occurs in the transcript only where the fact is planted (filler
never uses the facts' vocabulary), so a summary that contains it recalled the fact
(``quality.facts`` scores notes against them). Lengths are counted with ``count`` (default: about 4
characters per token, ``approx_tokens``); the token count each model saw is its records'
``prompt_tokens``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from bakeoff.config.settings import FactSpec, PromptCase, load_suite
from bakeoff.errors import UsageError

Count = Callable[[str], int]

PEOPLE = (
    "Amara", "Bilal", "Chen", "Dagny", "Emeka", "Farah", "Goran", "Hana", "Ines", "Jonas", "Keiko",
    "Lucia", "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Soren", "Tomas", "Uma", "Viktor",
    "Wen", "Yara",
)  # fmt: skip
"""Every name the generator may use; a name in a summary that is none of its meeting's is invented."""
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
DATES = (*WEEKDAYS, "March 3", "March 17", "April 9", "April 28", "May 14", "June 2", "June 19")
"""Every due date the generator may use; one in a summary that its meeting never says is invented."""

_DECISIONS = (
    ("go with Halcyon as the payments vendor", "Halcyon"),
    ("move the launch to the Brightwater region first", "Brightwater"),
    ("adopt the Kestrel design for the onboarding flow", "Kestrel"),
    ("freeze the Tamarack API until the audit is done", "Tamarack"),
    ("replace the Juniper dashboards with one shared report", "Juniper"),
    ("run the Marlin pilot with two customers only", "Marlin"),
)
_TASKS = (
    ("write the migration runbook", "migration runbook"),
    ("update the pricing sheet", "pricing sheet"),
    ("book the offsite venue", "offsite venue"),
    ("send the customer survey", "customer survey"),
    ("review the security audit findings", "security audit"),
    ("order the test handsets", "test handsets"),
    ("draft the hiring rubric", "hiring rubric"),
    ("fix the login timeout bug", "login timeout"),
)
_NUMBERS = (
    ("the quarterly budget is capped at {n} dollars", (41_500, 48_200, 52_750, 63_900)),
    ("the pilot needs {n} active seats to count as a success", (340, 415, 575, 820)),
    ("support closed {n} tickets last month", (1_245, 1_380, 1_915, 2_260)),
)
_QUESTIONS = (
    ("whether the Lisbon office joins the rollout", "Lisbon office"),
    ("who owns the archival storage contract", "archival storage"),
    ("if legal signs off on the data retention clause", "data retention"),
    ("whether we keep the Saturday on-call rotation", "on-call rotation"),
)
_TOPICS = ("the release checklist", "the support queue", "the roadmap", "the partner program", "staffing")
_FILLER = (
    "{a}: Okay, next on {topic}. Where are we?",
    "{a}: I think we covered most of {topic} last week, honestly.",
    "{b}: Sorry, can everyone hear me? My connection keeps dropping.",
    "{a}: We can hear you. Go ahead.",
    "{b}: [crosstalk] -- no, you go first.",
    "{a}: Quick aside, did anyone else get stuck in traffic this morning?",
    "{b}: Let me share my screen. Is that the right window?",
    "{a}: Yeah, agreed, let's keep moving, we have a lot to get through.",
    "{b}: I was going to say -- well, never mind, it can wait.",
    "{a}: The numbers on {topic} look about the same as last month.",
    "{b}: Can we park that? I want to make sure we get to everything.",
    "{a}: Someone is echoing, could you mute when you're not talking?",
    "{b}: Right, so on {topic}, I talked to a couple of people and it's mostly fine.",
    "{a}: Let's not go down that path again, we spent an hour on it last time.",
    "{b}: Fair. I'll follow up offline with whoever is interested.",
    "{a}: Did the coffee machine on the third floor ever get fixed?",
    "{b}: No idea, I've been working from home all week.",
    "{a}: Anything else on {topic} before we move on?",
)


def approx_tokens(text: str) -> int:
    """About 4 characters per token (OpenAI's rule of thumb for English)."""
    return max(1, round(len(text) / 4))


def parse_lengths(text: str) -> tuple[int, ...]:
    """``--lengths 1k,4k,8k`` (or plain numbers) as token counts; each from 200 to 131072."""
    out = []
    for part in (p.strip().lower() for p in text.split(",")):
        try:
            n = round(float(part[:-1]) * 1000) if part.endswith("k") else int(part)
        except ValueError:
            raise UsageError(f"--lengths: {part!r} is not a length", hint="e.g. --lengths 1k,4k,8k") from None
        if not 200 <= n <= 131_072:
            raise UsageError(f"--lengths: {part!r} is outside 200-131072 tokens", hint="e.g. --lengths 1k,4k")
        out.append(n)
    if not out or len(set(out)) != len(out):
        raise UsageError(f"--lengths {text!r}: give each length once", hint="e.g. --lengths 1k,4k,8k")
    return tuple(out)


def length_label(tokens: int) -> str:
    """``4000`` -> ``4k``, ``1500`` -> ``1.5k``, ``800`` -> ``800``."""
    return f"{tokens / 1000:g}k" if tokens >= 1000 else str(tokens)


def _fact_lines(rng: random.Random, people: Sequence[str], n: int) -> list[tuple[FactSpec, list[str]]]:
    """``n`` facts (kinds in turn: decision, action, number, question) with the lines that say them."""
    decisions, tasks = rng.sample(_DECISIONS, len(_DECISIONS)), rng.sample(_TASKS, len(_TASKS))
    numbers, questions = rng.sample(_NUMBERS, len(_NUMBERS)), rng.sample(_QUESTIONS, len(_QUESTIONS))
    out: list[tuple[FactSpec, list[str]]] = []
    for i in range(n):
        a, b = rng.sample(list(people), 2)
        kind = ("decision", "action", "number", "question")[i % 4]
        fid = f"f{i + 1}"
        if kind == "decision" and decisions:
            text, key = decisions.pop()
            lines = [f"{a}: So are we agreed? I'd say we {text}.", f"{b}: Agreed. Let's {text}."]
            out.append((FactSpec(id=fid, kind="decision", key=key, text=f"decided to {text}"), lines))
        elif kind == "action" and tasks:
            text, key = tasks.pop()
            due, wrong = rng.sample(DATES, 2)
            if rng.random() < 0.5:  # corrected on the spot: the gold is the second date
                said = f"{a}: Sure, I'll {text} by {wrong} -- no, make that {due}, {wrong} is too tight."
            else:
                said = f"{a}: Sure, I'll {text} by {due}."
            lines = [f"{b}: {a}, can you {text}?", said]
            out.append((FactSpec(id=fid, kind="action", key=key, owner=a, due=due,
                                 text=f"{a} will {text} by {due}"), lines))  # fmt: skip
        elif kind == "number" and numbers:
            template, values = numbers.pop()
            value = f"{rng.choice(values):,}"
            said = template.format(n=value)
            lines = [f"{a}: For the record, {said}.", f"{b}: Noted."]
            out.append((FactSpec(id=fid, kind="number", key=value, text=said), lines))
        elif questions:
            text, key = questions.pop()
            lines = [f"{a}: One thing nobody has answered: {text}.", f"{b}: Let's keep that open for now."]
            out.append((FactSpec(id=fid, kind="question", key=key, text=f"open: {text}"), lines))
    return out


def build_meeting(tokens: int, seed: int = 0, count: Count = approx_tokens) -> tuple[str, list[FactSpec]]:
    """A transcript of about ``tokens`` tokens (by ``count``) and its planted facts, each with its
    ``position`` and ``at`` (the share of the transcript's tokens before it). Same arguments, same
    bytes."""
    rng = random.Random(f"bakeoff-meeting:{seed}:{tokens}")
    people = rng.sample(PEOPLE, 5)
    n_facts = min(16, 6 + tokens // 2000)
    facts = _fact_lines(rng, people, n_facts)
    header = f"Meeting transcript. Attendees: {', '.join(people)}.\n"
    fact_tokens = sum(count("\n".join(lines)) for _, lines in facts)
    filler: list[str] = []
    used = count(header) + fact_tokens
    while used < tokens:
        a, b = rng.sample(people, 2)
        line = rng.choice(_FILLER).format(a=a, b=b, topic=rng.choice(_TOPICS))
        filler.append(line)
        used += count(line + "\n")
    # plant the facts: positions in turn, at 10%, 50% and 90% of the filler (a little jitter)
    places = {"start": 0.1, "middle": 0.5, "end": 0.9}
    planted: list[tuple[float, int, FactSpec, list[str]]] = []
    for i, (fact, lines) in enumerate(facts):
        position = ("start", "middle", "end")[i % 3]
        share = min(1.0, max(0.0, places[position] + rng.uniform(-0.05, 0.05)))
        planted.append((share, i, fact.model_copy(update={"position": position}), lines))
    body: list[tuple[FactSpec | None, str]] = [(None, line) for line in filler]
    for share, _, fact, lines in sorted(planted, key=lambda p: (p[0], p[1]), reverse=True):
        at = round(share * len(filler))
        body[at:at] = [(fact, line) for line in lines]
    text = header
    out: list[FactSpec] = []
    total = count(header + "\n".join(line for _, line in body))
    for planted_fact, line in body:
        if planted_fact is not None and planted_fact.id not in {f.id for f in out}:
            out.append(planted_fact.model_copy(update={"at": round(count(text) / total, 3)}))
        text += line + "\n"
    return text, sorted(out, key=lambda f: int(f.id[1:]))


NOTES_PROMPT = (
    "{source}\n"
    "Write the notes of the meeting above for someone who missed it: the decisions, every action item "
    "with its owner and due date, the key numbers, and the open questions. Use short bullet points."
)
"""The transcript first, the instruction last: after thousands of tokens a small model keeps the
instruction it read most recently."""


def meetings_suite(lengths: Sequence[int] = (1000, 2000, 4000), per_length: int = 2, seed: int = 0,
                   count: Count = approx_tokens) -> list[PromptCase]:  # fmt: skip
    """The ``long-meetings`` suite: ``per_length`` meetings at each length, tagged ``length:<label>``."""
    cases = []
    for n in lengths:
        for k in range(per_length):
            text, facts = build_meeting(n, seed * 1000 + k, count)
            label = length_label(n)
            cases.append(
                PromptCase(
                    id=f"meeting-{label}-{k + 1}",
                    prompt=NOTES_PROMPT,
                    source=text,
                    facts=facts,
                    max_tokens=384,
                    tags=["long-meetings", f"length:{label}"],
                )
            )
    return cases


LONG_MEETINGS = "long-meetings"
DEFAULT_LENGTHS = (1000, 2000, 4000)
LENGTHS_ALONE = "--lengths goes with --suite long-meetings"


def resolve_suite(name: str, lengths: str | None = None) -> tuple[list[PromptCase], str]:
    """``--suite NAME [--lengths 1k,4k]``: the generated ``long-meetings`` suite, or a suite file or
    built-in suite (``config.settings.load_suite``); (cases, source)."""
    if name == LONG_MEETINGS:
        chosen = parse_lengths(lengths) if lengths is not None else DEFAULT_LENGTHS
        labels = ", ".join(length_label(n) for n in chosen)
        return meetings_suite(chosen), f"suite {LONG_MEETINGS} ({labels} tokens, seed 0)"
    if lengths is not None:
        raise UsageError(
            "--lengths goes with --suite long-meetings", hint="e.g. --suite long-meetings --lengths 1k,4k"
        )
    return load_suite(name)
