"""The bake-off as a library call: resolve models, run them, write records and reports as they arrive.

``run_bench`` is what ``bakeoff bench`` calls; everything it measures lands in ``out_dir``:
``records.jsonl`` (one line per request, appended and flushed as each completes), ``summary.json``
(rewritten after every model), ``report.md`` and ``report.csv`` (rendered from the saved summary).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

import orjson

from bakeoff.analysis.capacity import summarize_load
from bakeoff.analysis.client import client_over
from bakeoff.analysis.resources import derive_resources
from bakeoff.analysis.slo import check_streaming, evaluate, parse_slo
from bakeoff.analysis.summarize import data_notes, summarize_model, warm_cache_note
from bakeoff.backends.plugins import backend_in_process, backend_trait
from bakeoff.backends.targets import ModelTarget, catalog_facts, vary_targets
from bakeoff.config.settings import BenchSettings, PromptCase
from bakeoff.config.vary import parse_vary
from bakeoff.errors import UsageError
from bakeoff.load.events import (
    EventSink,
    MeasureStarted,
    ModelEnded,
    ModelStarted,
    ProgressEvent,
    RequestDone,
)
from bakeoff.load.profile import parse_profile
from bakeoff.load.runner import ModelOutcome, Runner, StartGate
from bakeoff.metrics.definitions import per_request_values
from bakeoff.metrics.request import request_metrics
from bakeoff.models import embedded
from bakeoff.monitors.bandwidth import memory_bandwidth_gbs
from bakeoff.monitors.environment import snapshot
from bakeoff.monitors.resources import ModelMonitor
from bakeoff.quality.aggregate import apply_quality
from bakeoff.quality.store import load_run_records, save_cases
from bakeoff.records import WORKER_LOST, RequestRecord
from bakeoff.reporters import write_all
from bakeoff.reporters.report import RunReport
from bakeoff.results.folder import RunFolderError, claim, utc_now
from bakeoff.results.index import register
from bakeoff.results.schema import Resources, RunInfo, Summary, load_summary, save_summary, unreadable_lines
from bakeoff.workload.structured import load_schema, structured_cases


def record_line(rec: RequestRecord) -> dict[str, Any]:
    """One line of records.jsonl: the record and every request metric of it."""
    line = rec.to_json()
    line["metrics"] = per_request_values(request_metrics(rec))
    return line


class RecordWriter:
    """Appends each record to records.jsonl and flushes, so nothing measured is lost on a crash."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: list[RequestRecord] = []
        self._fh: IO[str] = path.open("a", encoding="utf-8")

    def __call__(self, rec: RequestRecord) -> None:
        self.records.append(rec)
        self._fh.write(orjson.dumps(record_line(rec)).decode() + "\n")  # strict JSON: no NaN, Infinity
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def _model_bytes(target: ModelTarget, info: dict[str, Any]) -> tuple[int | None, int | None]:
    """(bytes of weights read per token, download size) where known."""
    spec = target.spec
    download = None
    if spec and spec.embedded and spec.embedded in embedded.EMBEDDED:
        download = embedded.EMBEDDED[spec.embedded].size_bytes
    path = info.get("path")
    if path and Path(path).exists():
        return Path(path).stat().st_size, download
    if spec and spec.size_mb:
        return int(spec.size_mb * 1e6), download
    return download, download


def _facts(o: ModelOutcome) -> dict[str, Any]:
    """The backend's description plus license and capability tags (models.json, else the registry)."""
    info = dict(o.info)
    license_, caps = catalog_facts(o.target)
    info.setdefault("license", license_)
    info.setdefault("capabilities", caps)
    return info


def _more_workers(processes: int, in_process: bool) -> str:
    """What to do about a client at its limit: more worker processes (an endpoint's client only)."""
    if in_process:
        return ""
    now = max(1, processes - 1)
    return f" (it sent from {now} process{'es' if now > 1 else ''}: try --workers {now * 2})"


def prompts_fingerprint(prompts: Sequence[PromptCase]) -> str:
    """sha256 of what each prompt sends (id, messages, max_tokens): compare tells prompt sets apart by it."""
    blob = json.dumps([[p.id, p.messages(), p.max_tokens] for p in prompts], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def check_harness_vary(combos: Sequence[dict[str, Any]], settings: BenchSettings) -> None:
    """``--vary structured=...`` needs ``--structured`` (the schema) and takes free or constrained."""
    modes = {c["structured"] for c in combos if "structured" in c}
    if not modes:
        return
    if not settings.structured:
        raise UsageError(
            "--vary structured=... needs --structured (the schema to answer in)",
            hint="e.g. --structured meeting-notes --vary structured=free,constrained",
        )
    if bad := sorted(str(m) for m in modes - {"free", "constrained"}):
        raise UsageError(f"--vary structured={','.join(bad)}: each value must be free or constrained")


def build_summary(
    settings: BenchSettings,
    env: dict[str, Any],
    started: str,
    outcomes: Sequence[ModelOutcome],
    records: Sequence[RequestRecord],
    prompts: Sequence[PromptCase],
) -> Summary:
    models = []
    notes: list[str] = []
    gbs = (
        env.get("memory_bandwidth", {}).get("gbs") if isinstance(env.get("memory_bandwidth"), dict) else None
    )
    terms = parse_slo(settings.slo) if settings.slo else ()
    for o in outcomes:
        recs = [r for r in records if r.model == o.target.name]
        row = summarize_model(o.target.name, o.target.backend, o.status, o.error, recs, _facts(o))
        if terms and recs:
            row.slo = evaluate(terms, recs)
        in_process = backend_in_process(o.target.backend)
        if o.client is not None:
            row.client = client_over(o.client.lags, o.client.cpu, recs, in_process)
            if row.client is not None and row.client.limited:
                notes.append(
                    f"{o.target.name}: the client was the limit here: {row.client.why}"
                    + _more_workers(row.client.processes, in_process)
                )
        lost = sum(r.error_kind == WORKER_LOST for r in recs)
        if lost:
            notes.append(
                f"{o.target.name}: {lost} request{'s were' if lost > 1 else ' was'} lost with a --workers "
                "process (the client's failure, not the server's; left out of the stage figures)"
            )
        if o.stages:
            row.load = summarize_load(recs, o.stages, terms, o.client, in_process)
            for st in row.load.stages if row.load else []:
                if st.client is not None and st.client.limited and not (row.client and row.client.limited):
                    notes.append(
                        f"{o.target.name}, stage {st.label}: the client was the limit: {st.client.why}"
                        + _more_workers(st.client.processes, in_process)
                    )
        model_bytes, download = _model_bytes(o.target, o.info)
        row.resources = Resources.model_validate(
            derive_resources(
                row,
                o.resources,
                recs,
                load_s=o.load_s,
                model_bytes=model_bytes,
                download_bytes=download,
                bandwidth_gbs=gbs,
                watts_per_core=settings.watts_per_core,
                price_per_kwh=settings.price_per_kwh,
                max_memory_mb=settings.max_memory_mb,
            )
        )
        models.append(row)
        mode = o.target.structured_mode or settings.structured_mode
        if settings.structured and mode == "constrained":  # labelled, never assumed
            how = backend_trait(o.target.backend, "constrains", None)
            row.info["structured"] = f"constrained: {how}" if how else "free: this backend cannot constrain"
            if not how:
                notes.append(
                    f"{o.target.name}: its backend ({o.target.backend}) cannot constrain decoding: its "
                    "answers were asked for the schema only (free)"
                )
        for key in ("device_warning", "context_warning"):  # the engine did not do what was asked
            if o.info.get(key):
                notes.append(f"{o.target.name}: {o.info[key]}")
        if note := warm_cache_note(o.target.name, recs, settings.prompt_cache):
            notes.append(note)
        notes += data_notes(o.target.name, recs)
    run_settings = settings.model_dump(mode="json")
    run_settings["prompt_count"] = len(prompts)
    run_settings["prompts_sha256"] = prompts_fingerprint(prompts)
    run = RunInfo(settings=run_settings, environment=env, started_at=started, notes=notes)
    return Summary(run=run, models=models)


RUNNING_NOTE = "running: partial results, rewritten every --summary-every while the model runs"
KILLED_NOTE = (
    "rebuilt from records.jsonl by `bakeoff report`: the run was killed before it finished "
    "(resources of models that had not finished are unknown)"
)


def recover_summary(folder: Path) -> Summary | None:
    """The summary of a run that was killed before writing its last one (SIGKILL, power loss), rebuilt
    from ``records.jsonl``: rows of models that had finished are kept as saved, every other model with
    records is summarised from them (marked partial). None when the saved summary is complete."""
    path = folder / "summary.json"
    saved = load_summary(path) if path.exists() else None
    if saved is not None and saved.run.finished_at is not None:
        return None
    records = load_run_records(folder)
    if saved is None and not records:
        raise RunFolderError(
            f"{folder} holds no run: no summary.json and no records.jsonl",
            hint="pass the folder that `bakeoff bench --out` wrote",
        )
    kept = {m.model: m for m in saved.models} if saved else {}
    names = list(dict.fromkeys([*kept, *(r.model for r in records)]))
    models = []
    for name in names:
        recs = [r for r in records if r.model == name]
        old = kept.get(name)
        if old is not None and old.status != "skipped" and old.error != RUNNING_NOTE:
            models.append(old)  # finished before the kill: its saved row (with resources) stands
            continue
        if recs:
            measured_ok = any(r.status == "ok" and not r.warmup for r in recs)
            status, error = ("ok" if measured_ok else "error"), "killed before it finished: partial results"
        else:
            status, error = "skipped", "not run: the run was killed first"
        backend = recs[0].backend if recs else (old.backend if old else "unknown")
        row = summarize_model(name, backend, status, error, recs, dict(old.info) if old else {})
        slo_text = saved.run.settings.get("slo") if saved else None
        terms = parse_slo(str(slo_text)) if slo_text else ()
        if terms and recs:
            row.slo = evaluate(terms, recs)
        row.load = summarize_load(recs, None, terms)
        models.append(row)
    run = saved.run.model_copy() if saved else RunInfo(settings={}, environment={}, started_at="unknown")
    run.interrupted = True
    run.finished_at = utc_now()  # when it was rebuilt: a later `report` reads it as it is
    run.notes = [*(n for n in run.notes if n != KILLED_NOTE), KILLED_NOTE]
    if bad := unreadable_lines(folder):
        shown = ", ".join(map(str, bad[:10])) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
        run.notes.append(
            f"records.jsonl: {len(bad)} line(s) are not a JSON record and were left out: {shown}"
        )
    summary = Summary(run=run, models=models, quality=saved.quality if saved else {})
    return apply_quality(summary, folder, None, records)


def write_reports(summary: Summary, out_dir: Path) -> RunReport:
    """summary.json, then every registered renderer's file (report.md, .csv, .html) from one report
    object built from it and the run's records."""
    save_summary(summary, out_dir)
    report = RunReport.of_run(out_dir, summary)
    write_all(report, out_dir)
    return report


def run_bench(
    settings: BenchSettings,
    prompts: Sequence[PromptCase],
    targets: Sequence[ModelTarget],
    out_dir: Path,
    on_event: EventSink | None = None,
    *,
    overwrite: bool = False,
    start_gate: StartGate | None = None,
) -> Summary:
    """Run every target and write everything under ``out_dir``, which must not already hold a run
    (``overwrite`` replaces that run's files). On Ctrl-C (or SIGTERM, which the CLI turns into
    ``KeyboardInterrupt``) the partial summary is written (``run.interrupted``) before the interrupt
    propagates. ``start_gate`` (``--load-nodes``) is asked for the common start after the warm-up and
    before each stage (``load.runner.Go``)."""
    if settings.slo:  # a library caller gets the CLI's checks before anything runs
        check_streaming(parse_slo(settings.slo), settings.stream)
    if settings.profile:
        parse_profile(settings.profile)
    if settings.vary:  # every model under every combination of settings, each a row of its own
        combos = parse_vary(settings.vary)
        check_harness_vary(combos, settings)
        targets = vary_targets(targets, combos)
    if settings.structured:  # every prompt asks for JSON in the schema, and a check scores it
        prompts = structured_cases(list(prompts), *load_schema(settings.structured))
    claim(out_dir, overwrite=overwrite)
    started = utc_now()
    env = snapshot()
    env["memory_bandwidth"] = memory_bandwidth_gbs()  # measured once per machine, then cached
    writer = RecordWriter(out_dir / "records.jsonl")
    save_cases(prompts, out_dir)
    outcomes = [ModelOutcome(t) for t in targets]
    events: EventSink = on_event or (lambda event: None)

    def on_record(rec: RequestRecord) -> None:
        writer(rec)
        events(RequestDone(rec))

    monitors: dict[str, ModelMonitor] = {}
    by_name = {o.target.name: o for o in outcomes}

    def watch(event: ProgressEvent) -> None:
        if isinstance(event, ModelStarted) and event.model in by_name:
            if by_name[event.model].target.spec is not None:
                monitors[event.model] = ModelMonitor(by_name[event.model].target)
        elif isinstance(event, MeasureStarted) and event.model in monitors:
            monitors[event.model].measure_start()
        elif isinstance(event, ModelEnded) and event.model in monitors:
            by_name[event.model].resources = monitors.pop(event.model).finish()
        events(event)

    runner = Runner(settings, prompts, on_record, watch, start_gate=start_gate)
    t_start = time.perf_counter()

    def finish(interrupted: bool) -> Summary:
        summary = build_summary(settings, env, started, outcomes, writer.records, prompts)
        apply_quality(summary, out_dir, prompts, writer.records)
        summary.run.finished_at = utc_now()
        summary.run.wall_s = time.perf_counter() - t_start
        summary.run.interrupted = interrupted
        write_reports(summary, out_dir)
        register(out_dir)  # into the user's run index, for `bakeoff view`
        return summary

    def rewrite(running: ModelOutcome) -> None:
        """summary.json and the reports as they stand, the running model's row partial."""
        mine = [r for r in writer.records if r.model == running.target.name and not r.warmup]
        now = (
            replace(running, status="ok", error=RUNNING_NOTE)
            if any(r.status == "ok" for r in mine)
            else replace(running, status="skipped", error="running: no measured request has finished yet")
        )
        shown = [now if o is running else o for o in outcomes]
        partial = build_summary(settings, env, started, shown, writer.records, prompts)
        write_reports(apply_quality(partial, out_dir, prompts, writer.records), out_dir)

    async def rewrite_every(running: ModelOutcome) -> None:
        while True:
            await asyncio.sleep(settings.summary_every)
            try:
                rewrite(running)
            except Exception as exc:  # a mid-run snapshot failing must not end the run; the next may work
                warnings.warn(f"could not rewrite summary.json mid-run: {exc}", stacklevel=1)

    async def main() -> None:
        run_end = (
            None if settings.max_seconds is None else time.perf_counter_ns() + int(settings.max_seconds * 1e9)
        )
        for i, outcome in enumerate(outcomes):
            share = None  # --max-seconds: each model gets an equal share of the time still left
            if run_end is not None:
                share = time.perf_counter_ns() + (run_end - time.perf_counter_ns()) // (len(outcomes) - i)
            rewriter = asyncio.create_task(rewrite_every(outcome))
            try:
                await runner.run_model(outcome.target, outcome, share)
            finally:
                rewriter.cancel()
            partial = build_summary(settings, env, started, outcomes, writer.records, prompts)
            save_summary(apply_quality(partial, out_dir, prompts, writer.records), out_dir)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        for o in outcomes:
            mine = [r for r in writer.records if r.model == o.target.name]
            if o.status == "skipped" and mine:
                measured_ok = any(r.status == "ok" and not r.warmup for r in mine)
                o.status = "ok" if measured_ok else "error"
                o.error = "interrupted before it finished: partial results"
            elif o.status == "skipped":
                o.error = "not run: interrupted"
        finish(True)
        writer.close()
        raise
    writer.close()
    return finish(False)
