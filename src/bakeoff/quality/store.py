"""What a run's quality files hold: the prompt cases, judgments, pairwise verdicts and human scores.

All live beside summary.json; judgments and verdicts are appended one line at a time as they arrive.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bakeoff.config.settings import PromptCase
from bakeoff.errors import ReportError
from bakeoff.records import RequestRecord
from bakeoff.results.schema import load_records

CASES_FILE = "cases.json"
JUDGMENTS_FILE = "judgments.jsonl"
PAIRWISE_FILE = "pairwise.jsonl"
HUMAN_FILE = "human.jsonl"
KEY_FILE = "annotation-key.csv"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Output:
    """One distinct answer of one model to one case (identical rounds collapse into one)."""

    model: str
    case_id: str
    output_sha: str
    text: str


@dataclass(frozen=True)
class Judgment:
    """One judge's rubric verdict on one output; ``ok`` False means unparsed (``score`` is None)."""

    key: str
    judge: str
    rubric: str
    model: str
    case_id: str
    output_sha: str
    ok: bool
    score: int | None
    aspects: dict[str, float | None] = field(default_factory=dict)
    via: str | None = None
    reason: str | None = None
    error: str | None = None
    raw: str = ""
    attempts: int = 1
    seconds: float = 0.0
    cached: bool = False


@dataclass(frozen=True)
class PairVerdict:
    """One order of one pairwise comparison: ``first`` was shown as A, ``second`` as B."""

    key: str
    judge: str
    rubric: str
    case_id: str
    first: str
    second: str
    ok: bool
    winner: str | None  # "A", "B", "tie" as the judge said it; None when unparsed
    error: str | None = None
    raw: str = ""
    attempts: int = 1
    seconds: float = 0.0
    cached: bool = False


@dataclass(frozen=True)
class HumanScore:
    """A person's score for one output, from an imported annotation sheet or ``bakeoff view``; each
    rater (by name, "" for an unnamed one) keeps their own score of an answer."""

    row_id: str
    model: str
    case_id: str
    output_sha: str
    score: int
    aspects: dict[str, float | None] = field(default_factory=dict)
    notes: str = ""
    rater: str = ""


def save_cases(cases: Sequence[PromptCase], run_dir: Path) -> None:
    data = [c.model_dump(mode="json", exclude_defaults=True) for c in cases]
    (run_dir / CASES_FILE).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def load_cases(run_dir: Path) -> list[PromptCase]:
    path = run_dir / CASES_FILE
    if not path.exists():
        raise ReportError(
            f"{path} not found: this run has no saved prompt cases",
            hint="runs made before quality support cannot be judged; run `bakeoff bench` again",
        )
    try:
        return [PromptCase.model_validate(c) for c in json.loads(path.read_text(encoding="utf-8"))]
    except (ValueError, ValidationError) as exc:
        raise ReportError(f"{path} is not a valid prompt-case file: {exc}") from None


def load_run_records(run_dir: Path) -> list[RequestRecord]:
    """The run's records.jsonl as records (the one reader, ``results.load_records``, underneath)."""
    return [RequestRecord.from_json(d) for d in load_records(run_dir)]


def outputs(records: Iterable[RequestRecord]) -> list[Output]:
    """Distinct answers of measured, successful requests, in first-seen order."""
    seen: dict[tuple[str, str, str], Output] = {}
    for r in records:
        if r.warmup or r.status != "ok":
            continue
        k = (r.model, r.prompt_id, sha(r.output))
        if k not in seen:
            seen[k] = Output(r.model, r.prompt_id, k[2], r.output)
    return list(seen.values())


def append(path: Path, item: Any) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(asdict(item)) + "\n")
        fh.flush()


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except ValueError:
            # a line cut short by a crash: everything before it still counts
            if n != len(lines):
                raise ReportError(f"{path}:{n}: not valid JSON") from None
    return rows


def load_judgments(run_dir: Path) -> list[Judgment]:
    """Latest judgment per key and model (a re-run replaces, never duplicates). The key names the
    verdict's content (judge, rubric, case, answer), so two models that gave the same answer share it:
    each keeps its own row."""
    by_key = {(d["key"], d["model"]): Judgment(**d) for d in _read_jsonl(run_dir / JUDGMENTS_FILE)}
    return list(by_key.values())


def load_pairs(run_dir: Path) -> list[PairVerdict]:
    """Latest pairwise verdict per key and pair of models (the key names the two answers' content)."""
    rows = _read_jsonl(run_dir / PAIRWISE_FILE)
    by_key = {(d["key"], d["first"], d["second"]): PairVerdict(**d) for d in rows}
    return list(by_key.values())


def load_human(run_dir: Path) -> list[HumanScore]:
    """Latest score per answer row and rater (a rater who scores again replaces their own score)."""
    rows = (HumanScore(**d) for d in _read_jsonl(run_dir / HUMAN_FILE))
    by_row = {(h.row_id, h.rater): h for h in rows}
    return list(by_row.values())


def save_human(run_dir: Path, scores: Iterable[HumanScore]) -> None:
    """Merge ``scores`` into ``human.jsonl`` (replacing a rater's earlier score of the same row),
    written whole to a temporary file and renamed, so a crash leaves the old file or the new one."""
    kept = {(h.row_id, h.rater): h for h in load_human(run_dir)}
    for h in scores:
        kept[(h.row_id, h.rater)] = h
    path = run_dir / HUMAN_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text("", encoding="utf-8")
    for h in kept.values():
        append(tmp, h)
    tmp.replace(path)
