"""The run index: every run folder a user points at, in one SQLite file, for ``bakeoff view``.

The folders stay the source of truth (summary.json, records.jsonl): the index holds what the runs list,
its filters and the trends need (when, git commit, machine, suite, models and their headline figures)
and is rebuilt from the folders whenever asked. A folder that cannot be read (no summary.json, a
damaged one) is kept as *skipped* with the reason, never fatal. ``bakeoff bench`` adds every run it
writes to the index in the user's data dir (``$BAKEOFF_DATA_DIR``, else ``$XDG_DATA_HOME/bakeoff``, else
``~/.local/share/bakeoff``); ``BAKEOFF_NO_INDEX=1`` turns that off.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bakeoff.errors import BakeoffError
from bakeoff.results.schema import ModelSummary, Summary, load_summary

INDEX_SCHEMA = 2
"""Version of the index's tables; an index of another version is rebuilt from its folders."""

HEADLINE = (
    ("ttft_s", "p50"),
    ("ttft_s", "p95"),
    ("latency_s", "p50"),
    ("latency_s", "p95"),
    ("decode_tokens_per_s", "p50"),
    ("decode_tokens_per_s", "mean"),
    ("itl_s", "p50"),
    ("tpot_s", "p50"),
)
"""The (metric, statistic) pairs the index keeps of every model: the runs list and the trends read them."""

MAX_DEPTH = 3
"""How deep under a folder given to ``bakeoff view`` run folders are looked for."""


def data_dir() -> Path:
    """Where bakeoff keeps what is the user's rather than a run's (the run index)."""
    if env := os.environ.get("BAKEOFF_DATA_DIR"):
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "bakeoff"


def default_index_path() -> Path:
    return data_dir() / "runs.sqlite"


def run_id(folder: Path) -> str:
    """A run's id in the index: the first 12 hex digits of the sha256 of its resolved path."""
    return hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class IndexedRun:
    """One run of the index, as the runs list shows it."""

    id: str
    path: str
    started_at: str
    commit: str | None
    dirty: bool | None
    host: str
    machine: str
    suite: str
    models: tuple[str, ...]
    statuses: tuple[str, ...]
    figures: dict[str, dict[str, float | None]]  # model -> "metric.stat" -> value
    committed_at: str | None = None  # the commit's own date (git's committer date), where recorded


@dataclass(frozen=True)
class SkippedRun:
    """A folder that looked like a run but could not be read, and why."""

    path: str
    reason: str


def _suite(settings: dict[str, Any]) -> str:
    """What the run asked (``prompts_source``: "suite meeting-notes", a prompt file, "--data ...")."""
    for key in ("prompts_source", "data", "dataset"):
        if settings.get(key):
            return str(settings[key])
    return "unknown"


def _finite(v: float | None) -> float | None:
    return v if v is None or math.isfinite(v) else None


def figures_of_model(m: ModelSummary) -> dict[str, float | None]:
    """A model's headline figures (HEADLINE, peak RSS, quality mean, requests ok and failed); a
    figure that is not finite is None."""
    row: dict[str, float | None] = {}
    for metric, stat in HEADLINE:
        s = m.stats.get(metric)
        row[f"{metric}.{stat}"] = _finite(getattr(s, stat)) if s is not None else None
    row["peak_rss_mb"] = _finite(m.resources.peak_rss_mb)
    row["quality.mean"] = _finite(m.quality.mean) if m.quality is not None else None
    row["requests.ok"] = float(m.requests.ok)
    row["requests.error"] = float(m.requests.error)
    return row


def figures_of(summary: Summary) -> dict[str, dict[str, float | None]]:
    """Each model's ``figures_of_model``."""
    return {m.model: figures_of_model(m) for m in summary.models}


def _reason(exc: Exception, folder: Path) -> str:
    """Why a folder could not be indexed, in words a user can act on."""
    if isinstance(exc, FileNotFoundError) and not folder.exists():
        return f"{folder} is gone"
    if isinstance(exc, FileNotFoundError):
        if (folder / "records.jsonl").exists():
            hint = f"`bakeoff report {folder}` rebuilds it from records.jsonl"
            return f"{folder / 'summary.json'} not found: {hint}"
        return f"{folder / 'summary.json'} not found"
    if isinstance(exc, BakeoffError):
        return exc.message + (f" ({exc.hint})" if exc.hint else "")
    if isinstance(exc, OSError):
        return f"cannot read {folder / 'summary.json'}: {exc.strerror or exc}"
    return f"{folder / 'summary.json'} cannot be read: {type(exc).__name__}: {str(exc)[:200]}"


def run_folders(roots: Iterable[Path], depth: int = MAX_DEPTH) -> Iterator[Path]:
    """Every run folder at or under ``roots`` (a folder with summary.json or records.jsonl), up to
    ``depth`` levels down, in sorted order; hidden folders are not entered."""
    for root in roots:
        if (root / "summary.json").exists() or (root / "records.jsonl").exists():
            yield root
            continue
        if depth <= 0 or not root.is_dir():
            continue
        try:
            children = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        except OSError:
            continue
        yield from run_folders(children, depth - 1)


class RunIndex:
    """The SQLite index of runs (one file; safe to delete: ``reindex`` rebuilds it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(path, timeout=10, check_same_thread=False)
            self._schema()
        except sqlite3.DatabaseError as exc:
            raise BakeoffError(
                f"{path} is not a bakeoff run index: {exc}",
                hint="delete it; `bakeoff view --reindex DIR...` builds it again from the run folders",
            ) from None

    def _schema(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        known: list[str] = []
        if version not in (0, INDEX_SCHEMA):  # another version's tables: rebuilt from the folders it knew
            for table in ("runs", "skipped"):
                with contextlib.suppress(sqlite3.Error):
                    known += [r[0] for r in self.db.execute(f"SELECT path FROM {table}")]
            self.db.executescript(
                "DROP TABLE IF EXISTS models; DROP TABLE IF EXISTS runs; DROP TABLE IF EXISTS skipped;"
            )
        self.db.execute("PRAGMA journal_mode=WAL")  # readers never wait for a bench adding its run
        self.db.executescript(
            """
            CREATE TABLE IF NOT EXISTS runs (
                id TEXT PRIMARY KEY, path TEXT UNIQUE NOT NULL, started_at TEXT NOT NULL,
                git_commit TEXT, committed_at TEXT, dirty INTEGER, host TEXT NOT NULL,
                machine TEXT NOT NULL, suite TEXT NOT NULL, mtime_ns INTEGER NOT NULL, settings TEXT NOT NULL
            );
            CREATE TABLE IF NOT EXISTS models (
                run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, position INTEGER NOT NULL,
                model TEXT NOT NULL, status TEXT NOT NULL, figures TEXT NOT NULL,
                PRIMARY KEY (run_id, position)
            );
            CREATE INDEX IF NOT EXISTS models_by_name ON models(model);
            CREATE TABLE IF NOT EXISTS skipped (
                path TEXT PRIMARY KEY, reason TEXT NOT NULL, mtime_ns INTEGER
            );
            """
        )
        self.db.execute(f"PRAGMA user_version = {INDEX_SCHEMA}")
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.commit()
        for path in dict.fromkeys(known):
            if Path(path).exists():
                self.add(Path(path), commit=False)
        self.db.commit()

    def close(self) -> None:
        self.db.close()

    def add(self, folder: Path, *, commit: bool = True) -> IndexedRun | SkippedRun:
        """Index one run folder (again, when its summary changed); a folder that cannot be read is
        recorded as skipped with the reason and any earlier entry of it removed."""
        folder = folder.resolve()
        rid = run_id(folder)
        summary_path = folder / "summary.json"
        mtime: int | None = None
        try:
            mtime = summary_path.stat().st_mtime_ns
            old = self.db.execute("SELECT mtime_ns FROM runs WHERE id = ?", (rid,)).fetchone()
            if old is not None and old[0] == mtime:
                run = self.get(rid)
                if run is not None:
                    return run
            summary = load_summary(folder)
            self._insert(rid, folder, summary, mtime)
        except sqlite3.OperationalError:
            raise  # the index itself is busy or broken: not this folder's fault
        except Exception as exc:  # a damaged folder is skipped with its reason, whatever is wrong in it
            reason = _reason(exc, folder)
            self.db.execute("DELETE FROM runs WHERE id = ?", (rid,))
            self.db.execute("INSERT OR REPLACE INTO skipped VALUES (?, ?, ?)", (str(folder), reason, mtime))
            if commit:
                self.db.commit()
            return SkippedRun(str(folder), reason)
        if commit:
            self.db.commit()
        run = self.get(rid)
        assert run is not None
        return run

    def _insert(self, rid: str, folder: Path, summary: Summary, mtime: int) -> None:
        env = summary.run.environment
        got = env.get("git")
        git: dict[str, Any] = got if isinstance(got, dict) else {}
        dirty = git.get("dirty")
        figures = [(m.model, m.status, figures_of_model(m)) for m in summary.models]
        self.db.execute("DELETE FROM skipped WHERE path = ?", (str(folder),))
        self.db.execute("DELETE FROM runs WHERE id = ?", (rid,))
        self.db.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                rid,
                str(folder),
                summary.run.started_at,
                git.get("commit"),
                git.get("committed_at"),
                None if dirty is None else int(bool(dirty)),
                str(env.get("host") or ""),
                str(env.get("cpu_model") or env.get("machine") or ""),
                _suite(summary.run.settings),
                mtime,
                json.dumps(summary.run.settings, sort_keys=True, default=str),
            ),
        )
        self.db.executemany(
            "INSERT INTO models VALUES (?, ?, ?, ?, ?)",
            [(rid, i, name, status, json.dumps(figs)) for i, (name, status, figs) in enumerate(figures)],
        )

    def reindex(
        self, roots: Sequence[Path], *, fresh: bool = False
    ) -> tuple[list[IndexedRun], list[SkippedRun]]:
        """Index every run folder under ``roots``; with ``fresh``, forget everything first and also
        re-read the folders the index knew (each one that is gone is dropped)."""
        known = [Path(p) for p in self.paths()] if fresh else []
        if fresh:
            self.db.executescript("DELETE FROM models; DELETE FROM runs; DELETE FROM skipped;")
        done: list[IndexedRun] = []
        skipped: list[SkippedRun] = []
        seen: set[str] = set()
        for folder in [*run_folders(roots), *(k for k in known if k.exists())]:
            key = str(folder.resolve())
            if key in seen:
                continue
            seen.add(key)
            got = self.add(folder, commit=False)
            (done if isinstance(got, IndexedRun) else skipped).append(got)  # type: ignore[arg-type]
        self.db.commit()
        return done, skipped

    def refresh(self) -> None:
        """Re-read every indexed folder whose summary.json changed or went away, and every skipped
        folder (it may have been repaired): a stat per folder, so the runs list stays true cheaply."""
        rows = self.db.execute("SELECT path, mtime_ns FROM runs").fetchall()
        stale = []
        for path, mtime in rows:
            try:
                now = (Path(path) / "summary.json").stat().st_mtime_ns
            except OSError:
                now = None
            if now != mtime:
                stale.append(Path(path))
        for path, mtime in self.db.execute("SELECT path, mtime_ns FROM skipped").fetchall():
            try:
                now = (Path(path) / "summary.json").stat().st_mtime_ns
            except OSError:
                now = None
            if now != mtime or not Path(path).exists():
                stale.append(Path(path))  # repaired, damaged anew, or gone
        for folder in stale:
            if folder.exists():
                self.add(folder, commit=False)
            else:  # the folder is gone: forget it
                self.db.execute("DELETE FROM runs WHERE path = ?", (str(folder),))
                self.db.execute("DELETE FROM skipped WHERE path = ?", (str(folder),))
        self.db.commit()

    def paths(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT path FROM runs UNION SELECT path FROM skipped")]

    def _rows(self, where: str, args: Sequence[Any]) -> list[IndexedRun]:
        rows = self.db.execute(
            "SELECT r.id, r.path, r.started_at, r.git_commit, r.committed_at, r.dirty, r.host, r.machine, "
            "r.suite, "
            "m.model, m.status, m.figures FROM runs r LEFT JOIN models m ON m.run_id = r.id "
            f"{where} ORDER BY r.started_at DESC, r.id, m.position",
            args,
        ).fetchall()
        runs: dict[str, IndexedRun] = {}
        for rid, path, started, commit, committed, dirty, host, machine, suite, model, status, figs in rows:
            if rid not in runs:
                runs[rid] = IndexedRun(
                    rid,
                    path,
                    started,
                    commit,
                    None if dirty is None else bool(dirty),
                    host,
                    machine,
                    suite,
                    (),
                    (),
                    {},
                    committed,
                )
            if model is not None:
                r = runs[rid]
                r.figures[model] = json.loads(figs)
                runs[rid] = IndexedRun(
                    **{**r.__dict__, "models": (*r.models, model), "statuses": (*r.statuses, status)}
                )
        return list(runs.values())

    def get(self, rid: str) -> IndexedRun | None:
        found = self._rows("WHERE r.id = ?", (rid,))
        return found[0] if found else None

    def runs(
        self,
        model: str | None = None,
        machine: str | None = None,
        suite: str | None = None,
        commit: str | None = None,
    ) -> list[IndexedRun]:
        """Indexed runs, newest first; each filter a case-insensitive substring (model: any model of
        the run; commit: a prefix of the git commit)."""
        terms, args = [], []
        if model:
            terms.append("r.id IN (SELECT run_id FROM models WHERE instr(lower(model), lower(?)) > 0)")
            args.append(model)
        if machine:
            terms.append("(instr(lower(r.machine), lower(?)) > 0 OR instr(lower(r.host), lower(?)) > 0)")
            args += [machine, machine]
        if suite:
            terms.append("instr(lower(r.suite), lower(?)) > 0")
            args.append(suite)
        if commit:
            terms.append("lower(r.git_commit) LIKE lower(?) || '%'")
            args.append(commit)
        return self._rows(("WHERE " + " AND ".join(terms)) if terms else "", args)

    def skipped(self) -> list[SkippedRun]:
        return [
            SkippedRun(p, r) for p, r in self.db.execute("SELECT path, reason FROM skipped ORDER BY path")
        ]

    def trend(
        self, metric: str, model: str | None = None, by: str = "time"
    ) -> list[tuple[IndexedRun, str, float]]:
        """(run, model, value) of ``metric`` ("ttft_s.p50") in every run that has it, oldest first
        (``by="commit"``: runs without a commit left out, grouped in the order their commits first ran)."""
        out = []
        for run in reversed(self.runs(model=None)):
            if by == "commit" and not run.commit:
                continue
            for name in run.models:
                if model and name != model:
                    continue
                value = run.figures.get(name, {}).get(metric)
                if value is not None:
                    out.append((run, name, float(value)))
        if by == "commit":  # by the commit's own date where recorded, else when it was first run
            first: dict[str, tuple[str, int]] = {}
            for i, (run, _, _) in enumerate(out):
                first.setdefault(run.commit or "", (run.committed_at or run.started_at, i))
            out.sort(key=lambda t: first[t[0].commit or ""])
        return out


def register(folder: Path) -> None:
    """Add a run ``bakeoff bench`` wrote to the user's index (best effort: ``BAKEOFF_NO_INDEX=1`` skips
    it, and a failure warns; the run itself is never affected)."""
    if os.environ.get("BAKEOFF_NO_INDEX"):
        return
    import warnings

    try:
        index = RunIndex(default_index_path())
        try:
            index.add(folder)
        finally:
            index.close()
    except (BakeoffError, OSError, sqlite3.Error) as exc:
        warnings.warn(
            f"the run was not added to the run index ({exc}); `bakeoff view {folder}` adds it", stacklevel=2
        )
