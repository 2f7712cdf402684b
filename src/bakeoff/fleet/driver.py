"""The fleet driver: one ``NodeBench`` actor per selected Ray node, records taken as they complete and
written at once (to the fleet's ``records.jsonl``, tagged with the node, and to the node's own run
folder), each node's summary and reports, then the matrix and the recommendations (``fleet.json``).

A node's failure is that node's status: a node lost mid-run keeps the records it sent (its rows say
``node lost``), the others finish. Ctrl-C kills every node's actor and keeps what arrived.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from bakeoff import __file__ as bakeoff_package
from bakeoff.config.settings import BenchSettings, PromptCase
from bakeoff.errors import MissingExtraError, UsageError
from bakeoff.fleet.matrix import apply_picks, matrix
from bakeoff.fleet.model_files import ModelFiles, ShipPolicy, chunk_count, describe_files, read_chunk
from bakeoff.fleet.node import PROTOCOL, NodeBench, first_line
from bakeoff.fleet.report import write_fleet_reports
from bakeoff.fleet.results import FleetGroup, FleetNode, FleetSummary, save_fleet
from bakeoff.fleet.spec import FleetSpec, fleet_models
from bakeoff.quality.store import save_cases
from bakeoff.results.folder import RunFolderError, utc_now
from bakeoff.results.schema import Summary, save_summary
from bakeoff.run.bench import recover_summary, write_reports
from bakeoff.version import __version__

FLEET_FILES = ("records.jsonl", "fleet.json", "fleet.md", "fleet.csv", "fleet.html")
POLL_S = 0.25


def ray_module() -> Any:
    """Ray, imported on first use (an extra: ``pip install 'bakeoff[fleet]'``)."""
    try:
        import ray
    except ImportError:
        raise MissingExtraError("bakeoff fleet", "fleet", "Ray") from None
    return ray


def connect(ray: Any, address: str | None, ship_bakeoff: bool = False) -> bool:
    """Join the Ray cluster at ``address`` unless this process already has (then False: not ours to
    shut down). A HOST:PORT that does not answer within 5 s is a clear error, not a wait without end.
    With ``ship_bakeoff`` this job's every actor runs this process's bakeoff package, which Ray's
    ``runtime_env`` (``py_modules``) uploads once and each node unpacks."""
    if ray.is_initialized():
        if ship_bakeoff:
            raise UsageError(
                "--ship-bakeoff sets up the Ray connection itself, and this process is already connected",
                hint="call ray.shutdown() first, or leave ship_bakeoff off",
            )
        return False
    where = address or "auto"
    if where != "auto" and "://" not in where:
        host, _, port = where.rpartition(":")
        try:
            socket.create_connection((host or "127.0.0.1", int(port)), timeout=5).close()
        except (OSError, ValueError) as exc:
            raise UsageError(
                f"no Ray cluster answers at {where}: {exc}",
                hint="give the head's HOST:PORT (`ray start --head` prints it), ray://HOST:10001, or auto",
            ) from None
    try:
        shipped = {"py_modules": [str(Path(bakeoff_package).parent)]} if ship_bakeoff else None
        ray.init(address=where, logging_level="WARNING", log_to_driver=False, runtime_env=shipped)
    except (ConnectionError, ValueError) as exc:
        raise UsageError(
            f"no Ray cluster at {where}: {exc}",
            hint="start one: `ray start --head` here, `ray start --address HEAD:6379 --labels ...` on each "
            "machine (see the README)",
        ) from None
    return True


def select_nodes(
    nodes: Sequence[Mapping[str, Any]],
    labels: Mapping[str, str],
    limit: int | None = None,
    resources: Mapping[str, float] | None = None,
) -> list[Mapping[str, Any]]:
    """The alive nodes whose labels include every one of ``labels`` and that have at least each of
    ``resources`` (at most ``limit`` of them, in node-id order so a rerun picks the same ones)."""
    match = [
        n
        for n in nodes
        if n.get("Alive")
        and all((n.get("Labels") or {}).get(k) == v for k, v in labels.items())
        and all((n.get("Resources") or {}).get(k, 0) >= v for k, v in (resources or {}).items())
    ]
    match.sort(key=lambda n: str(n.get("NodeID")))
    return match[:limit] if limit else match


RAY_RESOURCES = (
    *("CPU", "GPU", "TPU", "NPU", "HPU", "memory", "object_store_memory"),
    *("node:", "accelerator_type:", "bundle_group_"),
)


def selectors(nodes: Sequence[Mapping[str, Any]]) -> str:
    """What the alive nodes can be selected by: their labels and custom resources (for a hint)."""
    labels = {f"{k}={v}" for n in nodes if n.get("Alive") for k, v in user_labels(n).items()}
    custom = {
        f"resource {k}"
        for n in nodes
        if n.get("Alive")
        for k in (n.get("Resources") or {})
        if not k.startswith(RAY_RESOURCES)
    }
    return ", ".join(sorted(labels) + sorted(custom)) or "no labels and no custom resources"


def user_labels(node: Mapping[str, Any]) -> dict[str, str]:
    """A node's labels less Ray's own (``ray.io/...``)."""
    return {k: str(v) for k, v in (node.get("Labels") or {}).items() if not k.startswith("ray.io/")}


@dataclass(frozen=True)
class NodeEvent:
    """Progress of one node: ``started``, ``record`` (one more record arrived), or ``ended``."""

    node: FleetNode
    kind: str


@dataclass
class _Running:
    node: FleetNode
    actor: Any
    files: dict[str, ModelFiles | None] = field(default_factory=dict)
    """The group's models-file models with a ``path``, and the driver's listing of their files."""
    ship: ShipPolicy = "auto"
    done: bool = False
    summary: dict[str, Any] | None = None
    pending: Any = None


@dataclass
class _Writer:
    """The fleet's records.jsonl (every line tagged with its node) and each node's own."""

    out: Path
    fleet: IO[bytes] = field(init=False)
    nodes: dict[str, IO[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.fleet = (self.out / "records.jsonl").open("ab")

    def write(self, node: FleetNode, line: dict[str, Any]) -> None:
        fh = self.nodes.get(node.folder)
        if fh is None:
            fh = self.nodes[node.folder] = (self.out / node.folder / "records.jsonl").open("ab")
        fh.write(orjson.dumps(line) + b"\n")
        fh.flush()
        tag = {"id": node.node_id, "host": node.host, "group": node.group, "labels": node.labels}
        self.fleet.write(orjson.dumps({**line, "node": tag}) + b"\n")
        self.fleet.flush()

    def close(self) -> None:
        for fh in [self.fleet, *self.nodes.values()]:
            fh.close()


def claim_fleet(out_dir: Path, overwrite: bool) -> None:
    """Refuse a folder that already holds a fleet run (or, with ``overwrite``, remove what one wrote)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise RunFolderError(f"--out {out_dir} is a file, not a folder", hint="give a folder path")
    out_dir.mkdir(parents=True, exist_ok=True)
    held = [n for n in FLEET_FILES if (out_dir / n).exists()] + (
        ["nodes"] if (out_dir / "nodes").exists() else []
    )
    if held and not overwrite:
        raise RunFolderError(
            f"--out {out_dir} already holds a run ({', '.join(held)})",
            hint="give a new folder, or add --overwrite to replace that run",
        )
    for name in FLEET_FILES:
        (out_dir / name).unlink(missing_ok=True)
    shutil.rmtree(out_dir / "nodes", ignore_errors=True)


def run_fleet(
    spec: FleetSpec,
    settings: BenchSettings,
    prompts: Sequence[PromptCase],
    out_dir: Path,
    address: str | None = None,
    on_event: Callable[[NodeEvent], None] | None = None,
    *,
    overwrite: bool = False,
    poll_s: float = POLL_S,
    ship_bakeoff: bool = False,
) -> FleetSummary:
    """Run the fleet bake-off on the Ray cluster at ``address`` (``auto``: the one this machine is
    part of; when Ray is already initialised, that one) and write everything under ``out_dir``. On
    Ctrl-C every node's actor is killed, ``fleet.json`` is written with what arrived, and the
    interrupt propagates. With ``ship_bakeoff`` every node runs this process's bakeoff package, sent by
    Ray's ``runtime_env`` (``py_modules``), whether or not a bakeoff is installed there."""
    ray = ray_module()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    events = on_event or (lambda event: None)
    started, t0 = utc_now(), time.perf_counter()
    ours = connect(ray, address, ship_bakeoff)
    summary = FleetSummary(settings=settings.model_dump(mode="json"), address=address, started_at=started)
    running: list[_Running] = []
    writer: _Writer | None = None
    try:
        alive = ray.nodes()
        have = selectors(alive)
        if not any(select_nodes(alive, g.labels, None, g.resources) for g in spec.groups.values()):
            raise UsageError(
                "no alive Ray node matches any group's labels and resources",
                hint=f"the nodes have: {have}; start nodes with `ray start --labels KEY=VALUE` "
                "(or --resources)",
            )
        user_models = fleet_models(spec)
        named = {m for g in spec.groups.values() for m in g.models}
        listings = {  # hashed here, before anything is written
            alias: describe_files(alias, m.path)
            for alias, m in user_models.items()
            if alias in named and m.path and m.backend != "openai"
        }
        claim_fleet(out_dir, overwrite)  # only now: a run that cannot start leaves the folder as it was
        remote = ray.remote(NodeBench)
        for name, group in spec.groups.items():
            fg = FleetGroup(
                name=name,
                labels=group.labels,
                resources=group.resources,
                models=group.models,
                max_memory_mb=group.max_memory_mb,
            )
            summary.groups.append(fg)
            picked = select_nodes(alive, group.labels, group.nodes, group.resources)
            if not picked:
                summary.notes.append(
                    f"group {name}: no alive node has the labels {group.labels}"
                    + (f" and resources {group.resources}" if group.resources else "")
                    + f" (nodes have: {have})"
                )
            node_settings = settings.model_copy(
                update={
                    "models": list(group.models),
                    "max_memory_mb": group.max_memory_mb or settings.max_memory_mb,
                }
            )
            for n in picked:
                nid = str(n["NodeID"])
                host = n.get("NodeManagerHostname")
                folder = f"nodes/{name}-{nid[:8]}"
                node = FleetNode(group=name, node_id=nid, host=host, labels=user_labels(n), folder=folder)
                fg.nodes.append(node)
                (out_dir / node.folder).mkdir(parents=True, exist_ok=True)
                save_cases(prompts, out_dir / node.folder)
                strategy = NodeAffinitySchedulingStrategy(node_id=nid, soft=False)
                actor = remote.options(num_cpus=0, scheduling_strategy=strategy).remote(
                    name, node_settings, list(prompts), user_models
                )
                files = {a: f for a, f in listings.items() if a in group.models}
                running.append(_Running(node, actor, files, group.ship_models))
        writer = _Writer(out_dir)
        _start(ray, running, events)
        _poll(ray, running, writer, events, poll_s)
    except KeyboardInterrupt:
        summary.interrupted = True
        for r in running:
            if not r.done:
                r.node.status, r.node.error = "interrupted", "stopped by Ctrl-C: partial results"
                ray.kill(r.actor, no_restart=True)
        raise
    finally:
        if writer is not None:
            writer.close()
        if running:
            _finish(summary, running, out_dir, t0)
        if ours:
            ray.shutdown()
    return summary


def _start(ray: Any, running: Sequence[_Running], events: Callable[[NodeEvent], None]) -> None:
    """Check each node's bakeoff version against ours, put each node's model files in place, then
    start its bake-off."""
    infos = {id(r): r.actor.describe.remote() for r in running}
    for r in running:
        try:
            info = ray.get(infos[id(r)], timeout=300)
        except Exception as exc:
            r.done, r.node.status = True, "error"
            r.node.error = f"the node's actor could not start: {type(exc).__name__}: {str(exc)[:300]}"
            events(NodeEvent(r.node, "ended"))
            continue
        r.node.host, r.node.bakeoff_version = info["host"], info["bakeoff_version"]
        r.node.bakeoff_path = info["bakeoff_path"]
        if (info["bakeoff_version"], info.get("protocol")) != (__version__, PROTOCOL):
            r.done, r.node.status = True, "version mismatch"
            r.node.error = version_mismatch(info) + ": install this version there, or run with --ship-bakeoff"
            ray.kill(r.actor, no_restart=True)
            events(NodeEvent(r.node, "ended"))
    _stage_files(ray, [r for r in running if not r.done and r.files], events)
    for r in running:
        if not r.done:
            r.actor.start.remote()
            events(NodeEvent(r.node, "started"))


def version_mismatch(info: Mapping[str, Any]) -> str:
    """Why a node's bakeoff cannot run with this driver's (``describe()``'s answer)."""
    theirs = f"bakeoff {info.get('bakeoff_version')} (protocol {info.get('protocol', 1)})"
    return f"{theirs} on the node, bakeoff {__version__} (protocol {PROTOCOL}) here"


def _lost(r: _Running, exc: BaseException, events: Callable[[NodeEvent], None]) -> None:
    with contextlib.suppress(Exception):  # gone already, mostly; else no actor is left behind
        ray_module().kill(r.actor, no_restart=True)
    r.done, r.node.status = True, "node lost"
    r.node.error = f"node lost after {r.node.records} records: {first_line(exc)}"
    events(NodeEvent(r.node, "ended"))


def _stage_files(ray: Any, running: Sequence[_Running], events: Callable[[NodeEvent], None]) -> None:
    """Each node says which of its group's model files it holds (or was sent before); the driver ships
    the rest through the object store, one model at a time (its chunks put once for every node that
    needs it, released once they have it). A file that arrives different fails that model there."""
    plans: dict[int, dict[str, tuple[str, str]]] = {}
    for r, ref in [(r, r.actor.plan_files.remote(r.files, r.ship)) for r in running]:
        try:
            plans[id(r)] = ray.get(ref)
        except ray.exceptions.RayError as exc:
            _lost(r, exc, events)
            continue
        r.node.model_files = {alias: note for alias, (_, note) in plans[id(r)].items()}
    for alias in dict.fromkeys(a for r in running for a in r.files):
        needing = [r for r in running if not r.done and plans[id(r)].get(alias, ("",))[0] == "ship"]
        files = next((r.files[alias] for r in needing), None)
        if files is None:
            continue
        try:  # the whole model goes in the object store (which spills to disk beyond its size)
            refs = [
                [ray.put(read_chunk(files, i, c)) for c in range(chunk_count(entry))]
                for i, entry in enumerate(files.files)
            ]
        except Exception as exc:  # a full store, an unreadable file: this model fails where it was needed
            for r in needing:
                r.node.model_files[alias] = f"shipping failed on the driver: {first_line(exc)}"
                try:
                    ray.get(r.actor.fail_model.remote(alias, r.node.model_files[alias]))
                except ray.exceptions.RayError as lost:
                    _lost(r, lost, events)
            continue
        for r, ref in [(r, r.actor.receive.remote(files, refs)) for r in needing]:
            try:
                r.node.model_files[alias] = ray.get(ref)
            except ray.exceptions.RayError as exc:
                _lost(r, exc, events)
        del refs


def _poll(
    ray: Any,
    running: Sequence[_Running],
    writer: _Writer,
    events: Callable[[NodeEvent], None],
    poll_s: float,
) -> None:
    """Take each node's new records until every node is done or lost."""
    while active := [r for r in running if not r.done]:
        for r in active:
            if r.pending is None:
                r.pending = r.actor.take.remote()
        ready, _ = ray.wait([r.pending for r in active], num_returns=len(active), timeout=poll_s)
        ready_ids = {ref.hex() for ref in ready}
        for r in active:
            if r.pending.hex() not in ready_ids:
                continue
            ref, r.pending = r.pending, None
            try:
                got = ray.get(ref)
            except ray.exceptions.RayError as exc:
                _lost(r, exc, events)
                continue
            for line in got["lines"]:
                writer.write(r.node, line)
                r.node.records += 1
                events(NodeEvent(r.node, "record"))
            if got["done"]:
                r.done, r.summary = True, got["summary"]
                if got["error"] or got["summary"] is None:
                    r.node.status, r.node.error = "error", got["error"] or "the node returned no summary"
                events(NodeEvent(r.node, "ended"))
        time.sleep(poll_s if not ready else 0)


def _finish(summary: FleetSummary, running: Sequence[_Running], out_dir: Path, t0: float) -> None:
    """Each node's summary and reports (rebuilt from its records when it was lost or stopped), then the
    matrix, the recommendations and ``fleet.json`` with its reports."""
    summaries: dict[str, Summary] = {}
    for r in running:
        folder = out_dir / r.node.folder
        node_summary: Summary | None = None
        if r.summary is not None:
            node_summary = Summary.model_validate(r.summary)
        elif r.node.records:
            node_summary = recover_summary(folder)
            if node_summary is not None:
                for m in node_summary.models:
                    if (m.error and "killed before it finished" in m.error) or m.status == "skipped":
                        m.error = f"{r.node.status}: {r.node.error}"
        if node_summary is None:
            continue
        r.node.environment = dict(node_summary.run.environment)
        save_summary(node_summary, folder)
        write_reports(node_summary, folder)
        summaries[r.node.folder] = node_summary
    summary.matrix = matrix(summary.groups, summaries)
    summary.fleet_recommendation = apply_picks(summary.groups, summaries, out_dir)
    summary.finished_at = utc_now()
    summary.wall_s = time.perf_counter() - t0
    save_fleet(summary, out_dir)
    write_fleet_reports(summary, out_dir)
