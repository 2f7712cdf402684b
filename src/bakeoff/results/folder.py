"""A run folder holds exactly one run: finding one from what a user typed, and claiming a new one.

Every command that reads a run (``report``, ``compare``, ``recommend``, ``judge``, ``annotate``) finds
it with :func:`locate`; ``bench`` claims its ``--out`` with :func:`claim`, which refuses a folder that
already holds a run unless asked to overwrite it, so two runs' records are never mixed.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from bakeoff.errors import UsageError

# What a run writes. ``claim(overwrite=True)`` removes exactly these, never anything else.
RUN_FILES = (
    "records.jsonl",
    "summary.json",
    "summary.json.tmp",
    "cases.json",
    "checks.jsonl",
    "judgments.jsonl",
    "qualification.jsonl",
    "pairwise.jsonl",
    "human.jsonl",
    "annotation-key.csv",
    "report.md",
    "report.csv",
    "report.html",
)


def default_run_dir(prefix: str = "") -> Path:
    """Where a run goes without ``--out``: ``bakeoff-runs/<prefix><local time YYYYmmdd-HHMMSS>``."""
    return Path("bakeoff-runs") / (prefix + datetime.now().strftime("%Y%m%d-%H%M%S"))


def utc_now() -> str:
    """The time now as a report records it: UTC, ISO 8601, whole seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


# Files whose presence means the folder already holds a run.
_MARKERS = ("records.jsonl", "summary.json")


class RunFolderError(UsageError):
    """A run folder that does not exist, cannot be written, or already holds a run (exit 2)."""


def locate(path: Path) -> Path:
    """The run folder ``path`` names: the folder itself, or the folder of a file in it
    (``run/summary.json``). A path that does not exist is an error naming it; never its parent."""
    if path.is_dir():
        return path
    if path.is_file():
        return path.parent
    raise RunFolderError(
        f"{path} does not exist",
        hint="pass the folder that `bakeoff bench --out` wrote (or its summary.json)",
    )


def holds_run(folder: Path) -> bool:
    """Whether ``folder`` already has a run's records or summary in it."""
    return any((folder / name).exists() for name in _MARKERS)


def claim(out_dir: Path, *, overwrite: bool = False) -> None:
    """Make ``out_dir`` ready for a new run: create it, check it can be written, and refuse one that
    already holds a run (or, with ``overwrite``, remove that run's files and nothing else)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise RunFolderError(f"--out {out_dir} is a file, not a folder", hint="give a folder path")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunFolderError(
            f"cannot create --out {out_dir}: {exc.strerror or exc}", hint="give a folder you can write to"
        ) from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise RunFolderError(f"cannot write to --out {out_dir}", hint="give a folder you can write to")
    if holds_run(out_dir):
        if not overwrite:
            raise RunFolderError(
                f"--out {out_dir} already holds a run; a run folder holds exactly one run",
                hint="give a new folder, or add --overwrite to replace that run",
            )
        for name in RUN_FILES:
            try:
                (out_dir / name).unlink(missing_ok=True)
            except OSError as exc:
                raise RunFolderError(
                    f"cannot remove {out_dir / name} to overwrite the run: {exc.strerror or exc}"
                ) from None
