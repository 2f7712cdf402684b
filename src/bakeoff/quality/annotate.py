"""Blind human annotation: export a sheet without model names, import it back with validation.

``export`` writes one row per distinct answer, shuffled, each with a random id; which model gave it is
kept in ``annotation-key.csv`` in the run folder, not in the sheet. ``import`` checks every row (known
id, no duplicates, a whole-number score 1-5 or blank, aspect marks y/p/n or blank) and reports every
problem with its line before anything is merged; blank scores are rows not yet annotated.
"""

from __future__ import annotations

import csv
import io
import random
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bakeoff.config.settings import PromptCase
from bakeoff.errors import ConfigError
from bakeoff.quality.store import KEY_FILE, HumanScore, Output, save_human

KEY_FIELDS = ["row_id", "model", "case_id", "output_sha"]
MARKS = {"y": 1.0, "yes": 1.0, "1": 1.0, "p": 0.5, "partial": 0.5, "0.5": 0.5, "n": 0.0, "no": 0.0, "0": 0.0}


@dataclass(frozen=True)
class KeyRow:
    row_id: str
    model: str
    case_id: str
    output_sha: str


def read_key(run_dir: Path) -> dict[str, KeyRow]:
    path = run_dir / KEY_FILE
    if not path.exists():
        return {}
    with path.open(newline="", encoding="utf-8") as fh:
        return {r["row_id"]: KeyRow(**{k: r[k] for k in KEY_FIELDS}) for r in csv.DictReader(fh)}


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet reads as the start of a formula (OWASP, CSV injection)."""


def spreadsheet_safe(text: str) -> str:
    """``text`` as a cell a spreadsheet shows and never runs: a leading ``'`` before a formula start
    (an answer ``=HYPERLINK(...)`` or ``-2+3`` stays text), as OWASP recommends."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def assign_rows(
    run_dir: Path, cases: Sequence[PromptCase], outs: Sequence[Output]
) -> list[tuple[str, Output]]:
    """A blind row id for every answer to a known case, kept in ``annotation-key.csv``: ids already in
    the key are kept for the same answers (a sheet being filled in, or ratings made in ``bakeoff view``,
    stay valid after a re-judge) and rows of answers no longer present stay in the key."""
    by_id = {c.id: c for c in cases}
    key = read_key(run_dir)
    old = {(k.model, k.case_id, k.output_sha): k.row_id for k in key.values()}
    rows: list[tuple[str, Output]] = []
    used = set(old.values())
    for o in outs:
        if o.case_id not in by_id:
            continue
        rid = old.get((o.model, o.case_id, o.output_sha))
        while rid is None or (rid in used and (o.model, o.case_id, o.output_sha) not in old):
            rid = secrets.token_hex(4)
        used.add(rid)
        rows.append((rid, o))
        key[rid] = KeyRow(rid, o.model, o.case_id, o.output_sha)
    tmp = run_dir / (KEY_FILE + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        kw = csv.writer(fh)
        kw.writerow(KEY_FIELDS)
        for rid in sorted(key):
            k = key[rid]
            kw.writerow([rid, k.model, k.case_id, k.output_sha])
    tmp.replace(run_dir / KEY_FILE)
    return rows


def export_sheet(
    run_dir: Path, cases: Sequence[PromptCase], outs: Sequence[Output], sheet: Path, seed: int | None = None
) -> int:
    """Write the blind sheet (rows shuffled) and the key (``assign_rows``)."""
    by_id = {c.id: c for c in cases}
    rows = assign_rows(run_dir, cases, outs)
    random.Random(seed).shuffle(rows)
    width = max((len(by_id[o.case_id].aspects) for _, o in rows), default=0)
    header = ["row_id", "case_id", "prompt", "source", "output"]
    for i in range(1, width + 1):
        header += [f"aspect_{i}", f"aspect_{i}_met"]
    header += ["score", "notes"]
    with sheet.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for rid, o in rows:
            case = by_id[o.case_id]
            line = [rid, o.case_id, case.prompt, case.source or "", o.text]
            for i in range(width):
                line += (
                    [f"{case.aspects[i].id}: {case.aspects[i].text}", ""]
                    if i < len(case.aspects)
                    else ["", ""]
                )
            w.writerow([spreadsheet_safe(cell) for cell in [*line, "", ""]])
    return len(rows)


def parse_sheet(
    text: str, sheet_name: str, key: dict[str, KeyRow], cases: dict[str, PromptCase], rater: str = ""
) -> list[HumanScore]:
    """Validate a filled-in sheet; raise one ``ConfigError`` listing every bad line."""
    reader = csv.DictReader(io.StringIO(text))
    fields = reader.fieldnames or []
    missing = [f for f in ("row_id", "score") if f not in fields]
    if missing:
        raise ConfigError(
            f"the sheet has no {' or '.join(missing)} column",
            source=sheet_name,
            line=1,
            hint="import the CSV written by `bakeoff annotate export`, with its header row",
        )
    mark_cols = [f for f in fields if re.fullmatch(r"aspect_\d+_met", f)]
    errors: list[str] = []
    seen: dict[str, str] = {}
    out: list[HumanScore] = []
    for n, row in enumerate(reader, 2):
        line = f"row {n} (line {reader.line_num})"
        rid = (row.get("row_id") or "").strip()
        if rid not in key:
            errors.append(f"{line}: unknown row_id {rid!r} (not in this run's {KEY_FILE})")
            continue
        if rid in seen:
            errors.append(f"{line}: row_id {rid} repeats {seen[rid]}")
            continue
        seen[rid] = line
        k = key[rid]
        case = cases.get(k.case_id)
        aspects: dict[str, float | None] = {}
        own = case.aspects if case else []
        for col in mark_cols:
            i = int(col.split("_")[1])
            mark = (row.get(col) or "").strip().lower()
            if i > len(own):
                if mark:
                    errors.append(f"{line}: {col} is marked but this case has only {len(own)} aspects")
            elif mark == "":
                aspects[own[i - 1].id] = None
            elif mark in MARKS:
                aspects[own[i - 1].id] = MARKS[mark]
            else:
                errors.append(f"{line}: {col} {mark!r} must be y, p, n or blank")
        raw = (row.get("score") or "").strip()
        if raw == "":
            continue  # not annotated yet
        if not raw.isdigit() or not 1 <= int(raw) <= 5:
            errors.append(f"{line}: score {raw!r} must be a whole number from 1 to 5 (or blank)")
            continue
        out.append(
            HumanScore(
                rid,
                k.model,
                k.case_id,
                k.output_sha,
                int(raw),
                aspects,
                (row.get("notes") or "").strip(),
                rater,
            )
        )
    if errors:
        shown = "\n  ".join(errors[:15]) + (
            f"\n  ... and {len(errors) - 15} more" if len(errors) > 15 else ""
        )
        raise ConfigError(
            f"{len(errors)} problem(s) in the sheet; nothing was imported:\n  {shown}",
            source=sheet_name,
            hint="fix those lines and import again",
        )
    return out


def import_sheet(
    run_dir: Path, cases: Sequence[PromptCase], sheet: Path, rater: str = ""
) -> list[HumanScore]:
    """Validate and merge a sheet into ``human.jsonl`` (a re-import replaces the rater's earlier
    scores by row)."""
    key = read_key(run_dir)
    if not key:
        raise ConfigError(
            f"{run_dir / KEY_FILE} not found",
            hint="export a sheet first with `bakeoff annotate export RUN_DIR -o sheet.csv`",
        )
    try:
        text = sheet.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read {sheet}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(
            "the sheet is not UTF-8 text", source=str(sheet), hint="save it as CSV UTF-8"
        ) from None
    scores = parse_sheet(text, str(sheet), key, {c.id: c for c in cases}, rater)
    save_human(run_dir, scores)
    return scores
