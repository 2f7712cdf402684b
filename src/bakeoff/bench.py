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
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx

from . import embedded
from .catalog import registered_specs
from .config import DEFAULT_ENDPOINT, BenchSettings, ModelSpec, PromptCase, normalize_endpoint
from .errors import BakeoffError, ModelError
from .load.runner import ModelOutcome, ModelTarget, Runner
from .metrics.aggregate import summarize_model
from .metrics.definitions import per_request_values
from .metrics.request import request_metrics
from .metrics.resources import derive_resources
from .monitors.bandwidth import memory_bandwidth_gbs
from .monitors.environment import snapshot
from .monitors.resources import ModelMonitor
from .plugins import backend_names
from .quality.aggregate import apply_quality
from .quality.store import save_cases
from .records import RequestRecord
from .reporters import render_csv, render_markdown
from .results import RunInfo, Summary, load_records, save_summary

EventFn = Callable[[str, dict[str, Any]], None]


def _infer_backend(alias: str, spec: ModelSpec) -> str:
    if spec.backend:
        return spec.backend
    if spec.adapter:
        return "adapter"
    if spec.path or spec.embedded or (alias in embedded.EMBEDDED and not spec.model and not spec.base_url):
        return "llamacpp"
    return "openai"


def resolve_targets(
    names: Sequence[str], user_models: dict[str, ModelSpec], endpoint: str | None
) -> list[ModelTarget]:
    """Map each name the user gave to a backend and spec; unknown names become failed targets.

    Order of lookup: ``BACKEND:ID``; an alias of the user's models file; with an endpoint, a model id
    there; a built-in embedded alias. (With an endpoint, built-in aliases mean the endpoint's model of
    that name; write ``llamacpp:ALIAS`` to run the embedded model in-process beside it.)
    """
    targets: list[ModelTarget] = []
    backends = set(backend_names())
    user_models = {**registered_specs(), **user_models}  # imported models resolve like models.json
    for name in names:
        prefix, sep, rest = name.partition(":")
        if sep and prefix in backends and rest:
            targets.append(_prefixed(name, prefix, rest, endpoint))
        elif name in user_models:
            spec = user_models[name]
            kind = _infer_backend(name, spec)
            if kind == "openai":
                spec = spec.model_copy(update={"base_url": spec.base_url or endpoint or DEFAULT_ENDPOINT})
            elif kind == "llamacpp" and not spec.path and not spec.embedded:
                spec = spec.model_copy(update={"embedded": name})
            targets.append(ModelTarget(name, kind, spec))
        elif endpoint:
            targets.append(
                ModelTarget(name, "openai", ModelSpec(backend="openai", model=name, base_url=endpoint))
            )
        elif name in embedded.EMBEDDED:
            targets.append(ModelTarget(name, "llamacpp", ModelSpec(backend="llamacpp", embedded=name)))
        else:
            known = sorted({*user_models, *embedded.EMBEDDED})
            targets.append(
                ModelTarget(
                    name,
                    "unknown",
                    None,
                    f"unknown model {name!r}: not an alias ({', '.join(known)}); "
                    "pass --endpoint URL to use a "
                    "model id at a server, or llamacpp:/path/to/file.gguf for a local file",
                )
            )
    return targets


def _prefixed(name: str, backend: str, rest: str, endpoint: str | None) -> ModelTarget:
    if backend == "openai":
        return ModelTarget(
            name, backend, ModelSpec(backend=backend, model=rest, base_url=endpoint or DEFAULT_ENDPOINT)
        )
    if backend == "llamacpp":
        if rest in embedded.EMBEDDED:
            return ModelTarget(name, backend, ModelSpec(backend=backend, embedded=rest))
        path = Path(rest).expanduser()
        if not path.is_file():
            return ModelTarget(
                name, backend, None, f"no GGUF file at {path} and no embedded model named {rest!r}"
            )
        return ModelTarget(name, backend, ModelSpec(backend=backend, path=str(path)))
    if backend == "adapter":
        return ModelTarget(name, backend, ModelSpec(backend=backend, adapter=rest))
    if backend == "foundry":
        mine = registered_specs().get(rest)
        if mine is not None and mine.backend == "foundry":
            return ModelTarget(name, backend, mine)
    return ModelTarget(name, backend, ModelSpec(backend=backend, model=rest))


def endpoint_models(endpoint: str, timeout: float = 10.0) -> list[str]:
    """Model ids listed at ``endpoint/models``."""
    url = normalize_endpoint(endpoint) + "/models"
    try:
        resp = httpx.get(url, timeout=timeout)
        resp.raise_for_status()
        return [m["id"] for m in resp.json()["data"]]
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(
            f"cannot list models at {url}: {exc}",
            hint="start the server or pass --models with the ids you want",
        ) from None


def prepare_embedded(
    targets: list[ModelTarget], progress: Callable[[str, int, int], None] | None = None
) -> None:
    """Assemble and verify embedded models before timing starts; a failure marks only that target."""
    for i, t in enumerate(targets):
        alias = t.spec.embedded if t.spec else None
        if not alias or t.error:
            continue
        model = embedded.EMBEDDED.get(alias)
        if model is None:
            continue
        if embedded.is_ready(model):
            continue

        def report(done: int, total: int, alias: str = alias) -> None:
            if progress:
                progress(alias, done, total)

        try:
            embedded.ensure(model, report)
        except BakeoffError as exc:
            reason = f"{exc.message} ({exc.hint})" if exc.hint else exc.message
            targets[i] = ModelTarget(t.name, t.backend, t.spec, reason)


class RecordWriter:
    """Appends each record to records.jsonl and flushes, so nothing measured is lost on a crash."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: list[RequestRecord] = []
        self._fh: IO[str] = path.open("a", encoding="utf-8")

    def __call__(self, rec: RequestRecord) -> None:
        self.records.append(rec)
        line = rec.to_json()
        line["metrics"] = per_request_values(request_metrics(rec))
        self._fh.write(json.dumps(line) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


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
    spec = o.target.spec
    reg = embedded.EMBEDDED.get(spec.embedded or "") if spec else None
    info.setdefault("license", (spec.license if spec else None) or (reg.license if reg else None))
    caps = (spec.capabilities if spec else None) or (list(reg.capabilities) if reg else [])
    info.setdefault("capabilities", caps)
    return info


def prompts_fingerprint(prompts: Sequence[PromptCase]) -> str:
    """sha256 of what each prompt sends (id, messages, max_tokens): compare tells prompt sets apart by it."""
    blob = json.dumps([[p.id, p.messages(), p.max_tokens] for p in prompts], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def build_summary(
    settings: BenchSettings,
    env: dict[str, Any],
    started: str,
    outcomes: Sequence[ModelOutcome],
    records: Sequence[RequestRecord],
    prompts: Sequence[PromptCase],
) -> Summary:
    models = []
    gbs = (
        env.get("memory_bandwidth", {}).get("gbs") if isinstance(env.get("memory_bandwidth"), dict) else None
    )
    for o in outcomes:
        recs = [r for r in records if r.model == o.target.name]
        row = summarize_model(o.target.name, o.target.backend, o.status, o.error, recs, _facts(o))
        model_bytes, download = _model_bytes(o.target, o.info)
        row.resources = derive_resources(
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
        models.append(row)
    run_settings = settings.model_dump(mode="json")
    run_settings["prompt_count"] = len(prompts)
    run_settings["prompts_sha256"] = prompts_fingerprint(prompts)
    return Summary(run=RunInfo(settings=run_settings, environment=env, started_at=started), models=models)


def write_reports(summary: Summary, out_dir: Path) -> None:
    """summary.json, then report.md, report.csv and report.html rendered from it (and records.jsonl)."""
    save_summary(summary, out_dir)
    (out_dir / "report.md").write_text(render_markdown(summary), encoding="utf-8")
    (out_dir / "report.csv").write_text(render_csv(summary), encoding="utf-8")
    (out_dir / "report.html").write_text(html_report(out_dir, summary), encoding="utf-8")


def html_report(run_dir: Path, summary: Summary) -> str:
    """The HTML page of a saved run, with the default recommendation."""
    from .recommend import recommend
    from .reporters.html import render_html

    return render_html(summary, load_records(run_dir), recommend(summary, run_dir))


def run_bench(
    settings: BenchSettings,
    prompts: Sequence[PromptCase],
    targets: Sequence[ModelTarget],
    out_dir: Path,
    on_event: EventFn | None = None,
) -> Summary:
    """Run every target and write everything under ``out_dir``. On Ctrl-C the partial summary is
    written (``run.interrupted``) before ``KeyboardInterrupt`` propagates."""
    out_dir.mkdir(parents=True, exist_ok=True)
    started = _now_iso()
    env = snapshot()
    env["memory_bandwidth"] = memory_bandwidth_gbs()  # measured once per machine, then cached
    writer = RecordWriter(out_dir / "records.jsonl")
    save_cases(prompts, out_dir)
    outcomes = [ModelOutcome(t) for t in targets]
    events = on_event or (lambda kind, data: None)

    def on_record(rec: RequestRecord) -> None:
        writer(rec)
        events("record", {"record": rec})

    monitors: dict[str, ModelMonitor] = {}
    by_name = {o.target.name: o for o in outcomes}

    def watch(kind: str, data: dict[str, Any]) -> None:
        name = data.get("model")
        if kind == "model_start" and name in by_name and by_name[name].target.spec is not None:
            monitors[name] = ModelMonitor(by_name[name].target)
        elif kind == "measure_start" and name in monitors:
            monitors[name].measure_start()
        elif kind == "model_end" and name in monitors:
            by_name[name].resources = monitors.pop(name).finish()
        events(kind, data)

    runner = Runner(settings, prompts, on_record, watch)
    t_start = time.perf_counter()

    def finish(interrupted: bool) -> Summary:
        summary = build_summary(settings, env, started, outcomes, writer.records, prompts)
        apply_quality(summary, out_dir, prompts, writer.records)
        summary.run.finished_at = _now_iso()
        summary.run.wall_s = time.perf_counter() - t_start
        summary.run.interrupted = interrupted
        write_reports(summary, out_dir)
        return summary

    async def main() -> None:
        for outcome in outcomes:
            await runner.run_model(outcome.target, outcome)
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
