"""What runs on each node of a fleet, as a Ray actor: the same ``run_bench`` as a local ``bench``, on
that machine's own engines, with each record's line kept for the driver to take as it completes."""

from __future__ import annotations

import platform
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from bakeoff import __file__ as bakeoff_package
from bakeoff.backends.targets import ModelTarget, prepare_embedded, resolve_targets
from bakeoff.config.settings import BenchSettings, ModelSpec, PromptCase
from bakeoff.errors import BakeoffError
from bakeoff.fleet.model_files import ModelFiles, ShipPolicy, cache_root, place, plan
from bakeoff.load.events import ProgressEvent, RequestDone
from bakeoff.load.runner import Go
from bakeoff.run.bench import record_line, run_bench
from bakeoff.version import __version__

PROTOCOL = 2
"""What the driver and a node say to each other (``take``'s keys, ``go``'s arguments): a node that
answers another number is a version mismatch, whatever its bakeoff version says."""


def first_line(exc: BaseException) -> str:
    """An error's first line (a Ray error's message runs to a traceback), or its type without one."""
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


class NodeBench:
    """One node's bake-off. ``start()`` runs it in a thread; the driver calls ``take()`` until it says
    ``done``. Plain Python: the driver wraps it with ``ray.remote``."""

    def __init__(
        self,
        group: str,
        settings: BenchSettings,
        prompts: list[PromptCase],
        user_models: dict[str, ModelSpec] | None = None,
    ) -> None:
        self.group, self.settings, self.prompts = group, settings, prompts
        self.user_models = dict(user_models or {})
        """The fleet's models file, as the driver read it (a model's ``path`` moves to this node's copy)."""
        self.file_notes: dict[str, str] = {}
        """How each user model's files got here (or why they did not): the node's run notes."""
        self._file_errors: dict[str, str] = {}
        self._lines: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._done = False
        self._summary: dict[str, Any] | None = None
        self._error: str | None = None
        self._thread: threading.Thread | None = None
        self.cpus: int | None = None
        self._waiting: str | None = None  # --load-nodes: the point where this node waits for the others
        self._went: dict[str, Go] = {}
        self._released = threading.Condition(self._lock)

    def describe(self) -> dict[str, Any]:
        """Who this node is: its host, Ray node id, bakeoff and Python versions."""
        import ray

        node_id = ray.get_runtime_context().get_node_id()
        listing: Callable[[], list[dict[str, Any]]] = ray.nodes
        mine: dict[str, Any] = next((n for n in listing() if n.get("NodeID") == node_id), {})
        cpus = (mine.get("Resources") or {}).get("CPU")
        self.cpus = int(cpus) if cpus else None
        return {
            "host": socket.gethostname(),
            "node_id": node_id,
            "cpus": self.cpus,
            "bakeoff_version": __version__,
            "protocol": PROTOCOL,
            "bakeoff_path": str(Path(bakeoff_package).parent),
            "python": platform.python_version(),
            "platform": platform.platform(),
        }

    def _threads(self, target: ModelTarget) -> ModelTarget:
        """An in-process llama.cpp engine uses the CPUs Ray gives this node (on a machine of its own,
        every core; several nodes on one machine must not each spin a thread per core)."""
        spec = target.spec
        if target.backend != "llamacpp" or spec is None or not self.cpus or "n_threads" in spec.options:
            return target
        return replace(
            target, spec=spec.model_copy(update={"options": {**spec.options, "n_threads": self.cpus}})
        )

    def plan_files(
        self, listings: dict[str, ModelFiles | None], policy: ShipPolicy
    ) -> dict[str, tuple[str, str]]:
        """For each user model with a ``path``: ``found`` (this node's own copy, the same sha256),
        ``cached`` (sent before), ``ship`` (the driver must send it) or ``missing`` (it fails here),
        with the node's note on it."""
        actions: dict[str, str] = {}
        for alias, files in listings.items():
            local = Path(self.user_models[alias].path or "").expanduser()
            action, where = plan(files, local, policy, cache_root())
            digest = f"sha256 {files.digest[:12]}" if files else ""
            if where is not None:
                self._use(alias, where)
                self.file_notes[alias] = (
                    f"found at {where} on the node ({digest} matches the driver's)"
                    if action == "found" and files
                    else f"found at {where} on the node (the driver has no copy to check it against)"
                    if action == "found"
                    else f"sent before, kept at {where} ({digest})"
                )
            elif action == "missing" and alias not in self._file_errors:
                self._file_errors[alias] = (
                    f"not on this node at {local}, and the driver has no copy to ship"
                    if files is None
                    else f"not on this node at {local} with the driver's {digest} (the group's ship_models "
                    "is never: install it there, or set ship_models to auto)"
                )
            actions[alias] = action
        self.file_notes.update(self._file_errors)
        return {
            a: (act, self.file_notes.get(a, "to be shipped from the driver")) for a, act in actions.items()
        }

    def receive(self, files: ModelFiles, refs: list[list[Any]]) -> str:
        """Write a model the driver ships (``refs``: each file's chunks in Ray's object store), checked
        against its sha256, into this node's cache; how it went (the node's note for that model)."""
        import ray

        t0 = time.perf_counter()
        try:
            where = place(files, lambda i: (ray.get(ref) for ref in refs[i]), cache_root())
        except Exception as exc:  # a lost chunk, a full disk: that model fails here, never the node
            self._file_errors[files.alias] = self.file_notes[files.alias] = (
                f"shipping failed: {first_line(exc)}"
            )
            return self.file_notes[files.alias]
        self._use(files.alias, where)
        self.file_notes[files.alias] = (
            f"shipped from the driver: {files.size / 1e6:.1f} MB in {time.perf_counter() - t0:.1f} s, "
            f"sha256 {files.digest[:12]} checked, kept at {where}"
        )
        return self.file_notes[files.alias]

    def fail_model(self, alias: str, why: str) -> None:
        """The driver could not ship this model: it fails on this node, with ``why``."""
        self._file_errors[alias] = self.file_notes[alias] = why

    def _use(self, alias: str, where: Path) -> None:
        self.user_models[alias] = self.user_models[alias].model_copy(update={"path": str(where)})

    def clock(self) -> int:
        """This node's ``perf_counter_ns`` (the driver maps each node's clock to its own)."""
        return time.perf_counter_ns()

    def configure(self, settings: BenchSettings) -> None:
        """Replace the run settings before ``start()`` (``--load-nodes`` sets each node's share)."""
        self.settings = settings

    def go(self, point: str, start_ns: int, rates: tuple[float, ...] = ()) -> None:
        """``--load-nodes``: every node waits at ``point``; the common start, in this node's clock (and
        a split sweep's rates)."""
        with self._released:
            self._went[point] = Go(start_ns, tuple(rates))
            self._released.notify_all()

    def _gate(self, point: str) -> Go:
        """Wait at ``point`` (``take`` says so, with every record finished before it) for ``go``."""
        with self._released:
            self._waiting = point
            self._released.wait_for(lambda: point in self._went)
            self._waiting = None
            return self._went[point]

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="bakeoff-node", daemon=True)
        self._thread.start()

    def take(self) -> dict[str, Any]:
        """The record lines completed since the last call; with ``done``, the node's summary (or why
        it could not run)."""
        with self._lock:
            lines, self._lines = self._lines, []
            done, waiting = self._done, self._waiting
        return {
            "lines": lines,
            "done": done,
            "summary": self._summary if done else None,
            "error": self._error,
            "waiting": waiting,
        }

    def _on_event(self, event: ProgressEvent) -> None:
        if isinstance(event, RequestDone):
            line = record_line(event.record)
            with self._lock:
                self._lines.append(line)

    def _run(self) -> None:
        work = Path(tempfile.mkdtemp(prefix="bakeoff-node-"))
        try:
            resolved = resolve_targets(
                self.settings.models, self.user_models, self.settings.endpoint, strict=False
            )
            targets = [
                ModelTarget(t.name, t.backend, None, self._file_errors[t.name])
                if t.name in self._file_errors
                else self._threads(t)
                for t in resolved
            ]
            prepare_embedded(targets)
            gate = self._gate if self.settings.shard else None
            summary = run_bench(
                self.settings, self.prompts, targets, work / "run", self._on_event, start_gate=gate
            )
            summary.run.notes.extend(f"model {alias}: {note}" for alias, note in self.file_notes.items())
            self._summary = summary.model_dump(mode="json")
        except BakeoffError as exc:
            self._error = str(exc)
        except Exception as exc:  # the node's own failure is its status, never the fleet's
            self._error = f"{type(exc).__name__}: {exc}"
        finally:
            shutil.rmtree(work, ignore_errors=True)
            with self._lock:
                self._done = True
