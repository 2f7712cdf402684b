"""``bench``, ``report``, ``compare``, ``recommend``: measure, re-render, compare, choose."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from bakeoff.analysis.slo import check_streaming, parse_slo
from bakeoff.backends.targets import ModelTarget, prepare_embedded, resolve_targets
from bakeoff.cli.app import (
    Terminated,
    _model_names,
    _split,
    app,
    console,
    env_hint,
    err_console,
    sigterm_as_interrupt,
)
from bakeoff.config.durations import parse_duration
from bakeoff.config.settings import (
    BenchSettings,
    ModelSpec,
    PromptCase,
    env_overrides,
    load_models_file,
    load_prompts,
    normalize_endpoint,
    session_prompts,
    settings_error,
)
from bakeoff.errors import UsageError
from bakeoff.load.events import ModelEnded, ModelStarted, ProgressEvent, RequestDone, StageStarted
from bakeoff.load.profile import parse_profile
from bakeoff.reporters import RENDERERS, load_stages
from bakeoff.reporters.report import RunReport
from bakeoff.reporters.terminal import summary_table
from bakeoff.results.folder import claim, default_run_dir, locate
from bakeoff.results.schema import Summary, load_summary
from bakeoff.run.bench import KILLED_NOTE, recover_summary, run_bench, write_reports
from bakeoff.workload.datasets import load_dataset
from bakeoff.workload.meetings import resolve_suite
from bakeoff.workload.structured import load_schema
from bakeoff.workload.synthetic import parse_data


def _d(field: str) -> object:
    """A run setting's default, from ``BenchSettings`` (the one place it is written)."""
    return BenchSettings.model_fields[field].default


def _workers(value: str | None) -> int | None:
    """``--workers``: a whole number of processes, or ``auto`` (None, as when it is not given)."""
    if value is None or value.strip().lower() == "auto":
        return None
    try:
        return int(value)
    except ValueError:
        hint = "give a number, e.g. 4, or auto"
        raise UsageError(f"invalid value for --workers: {value!r}", hint=hint) from None


@app.command()
def bench(
    models: Annotated[
        str | None,
        typer.Option(
            "--models",
            "-m",
            help="Comma list: aliases, model ids at the endpoint, or BACKEND:ID." + env_hint("BENCH_MODELS"),
            rich_help_panel="Models",
        ),
    ] = None,
    models_file: Annotated[
        Path | None,
        typer.Option(
            "--models-file",
            help="models.json: {alias: {capabilities, size_mb, backend, ...}}",
            rich_help_panel="Models",
        ),
    ] = None,
    prompts: Annotated[
        Path | None,
        typer.Option(
            "--prompts",
            "-p",
            help="Prompt set: a JSON list of strings or of {id, prompt, system, max_tokens}.",
            rich_help_panel="Prompts",
        ),
    ] = None,
    prompt: Annotated[
        str | None,
        typer.Option(
            "--prompt",
            help="A single prompt instead of a set." + env_hint("BENCH_PROMPT"),
            rich_help_panel="Prompts",
        ),
    ] = None,
    suite: Annotated[
        str | None,
        typer.Option(
            "--suite",
            "-s",
            help="A built-in suite (meeting-notes, long-meetings) or a suite.json: cases with aspects, "
            "checks and facts.",
            rich_help_panel="Prompts",
        ),
    ] = None,
    lengths: Annotated[
        str | None,
        typer.Option(
            "--lengths",
            help="With --suite long-meetings: transcript lengths in tokens, e.g. 1k,4k,8k (1k,2k,4k).",
            rich_help_panel="Prompts",
        ),
    ] = None,
    dataset: Annotated[
        Path | None,
        typer.Option(
            "--dataset",
            help="Prompts from a local .csv, .jsonl or .json file (ShareGPT conversations: first user turn).",
            rich_help_panel="Prompts",
        ),
    ] = None,
    column: Annotated[
        str | None,
        typer.Option(
            "--column", help="With --dataset: the prompt column or field (prompt).", rich_help_panel="Prompts"
        ),
    ] = None,
    samples: Annotated[
        int | None,
        typer.Option(
            "--samples",
            help="With --dataset: this many rows, drawn with the run's --seed.",
            rich_help_panel="Prompts",
        ),
    ] = None,
    endpoint: Annotated[
        str | None,
        typer.Option(
            "--endpoint",
            "-e",
            help="OpenAI-compatible base URL (/v1 appended when missing)."
            + env_hint("FOUNDRY_LOCAL_ENDPOINT"),
            rich_help_panel="Models",
        ),
    ] = None,
    rounds: Annotated[
        int | None,
        typer.Option(
            "--rounds",
            "-r",
            help=f"Measured rounds over the prompt set ({_d('rounds')})." + env_hint("BENCH_ROUNDS"),
            rich_help_panel="Sampling",
        ),
    ] = None,
    warmup: Annotated[
        int | None,
        typer.Option(
            "--warmup",
            help=f"Warm-up requests per model ({_d('warmup')}), flagged, excluded from statistics.",
            rich_help_panel="Sampling",
        ),
    ] = None,
    max_tokens: Annotated[
        int | None,
        typer.Option(
            "--max-tokens",
            help=f"Max new tokens per request ({_d('max_tokens')})." + env_hint("BENCH_MAX_TOKENS"),
            rich_help_panel="Sampling",
        ),
    ] = None,
    temperature: Annotated[
        float | None,
        typer.Option(
            "--temperature",
            help=f"Sampling temperature ({_d('temperature')})." + env_hint("BENCH_TEMPERATURE"),
            rich_help_panel="Sampling",
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed",
            help=f"Sampling seed sent with every request ({_d('seed')}).",
            rich_help_panel="Sampling",
        ),
    ] = None,
    vary: Annotated[
        str | None,
        typer.Option(
            "--vary",
            help="Run every model under every combination of engine settings, each a row: "
            '"n_gpu_layers=0,99;n_threads=1,2,4" (ranges 1..8+1, 1..16*2; endpoints get them in the body).',
            rich_help_panel="Models",
        ),
    ] = None,
    structured: Annotated[
        str | None,
        typer.Option(
            "--structured",
            help="Ask every model for its answer as JSON in this schema (a shipped name: meeting-notes; "
            "or a JSON Schema file), scored by a json_schema check.",
            rich_help_panel="Prompts",
        ),
    ] = None,
    structured_mode: Annotated[
        str | None,
        typer.Option(
            "--structured-mode",
            help="free (the schema asked for in the prompt) or constrained (decoding made to follow it: "
            "a llama.cpp grammar, an endpoint's response_format).",
            rich_help_panel="Prompts",
        ),
    ] = None,
    reasoning_effort: Annotated[
        str | None,
        typer.Option(
            "--reasoning-effort",
            help="low, medium or high: how long a reasoning model thinks, sent as reasoning_effort to "
            "OpenAI-compatible endpoints that take it (in-process engines have no such setting).",
            rich_help_panel="Sampling",
        ),
    ] = None,
    no_stream: Annotated[
        bool,
        typer.Option(
            "--no-stream",
            help="Non-streaming requests: latency and tokens only, TTFT unknown." + env_hint("BENCH_STREAM"),
            rich_help_panel="Sampling",
        ),
    ] = False,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            "-c",
            help=f"Requests in flight per model, closed loop ({_d('concurrency')}).",
            rich_help_panel="Load",
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            help=f"Seconds per request before it counts as stalled ({_d('timeout_s')}).",
            rich_help_panel="Load",
        ),
    ] = None,
    reuse_prompt_cache: Annotated[
        bool,
        typer.Option(
            "--reuse-prompt-cache",
            help="Send prompts unchanged, so a server's prefix cache can answer repeats (default: each "
            "request to a server starts with a short random tag, so every prefill is cold).",
            rich_help_panel="Sampling",
        ),
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Output folder (default bakeoff-runs/<timestamp>).", rich_help_panel="Output"
        ),
    ] = None,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite",
            help="Replace the run already in --out (a run folder holds one run).",
            rich_help_panel="Output",
        ),
    ] = False,
    max_memory_mb: Annotated[
        float | None,
        typer.Option(
            "--max-memory-mb",
            help="Memory budget: models whose peak exceeds it do not fit; a GGUF model predicted over it "
            "(or over the free RAM) fails before it loads.",
            rich_help_panel="SLO and budget",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Load a model even when its predicted memory is over the budget or the free RAM.",
            rich_help_panel="SLO and budget",
        ),
    ] = False,
    rate: Annotated[
        float | None,
        typer.Option(
            "--rate",
            help="Open loop: send measured requests at this many per second, whatever is in flight.",
            rich_help_panel="Load",
        ),
    ] = None,
    poisson: Annotated[
        bool,
        typer.Option(
            "--poisson", help="With --rate: Poisson arrivals instead of even spacing.", rich_help_panel="Load"
        ),
    ] = False,
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            help="Synthetic prompts by token length, e.g. prompt_tokens=256,output_tokens=64 (also _stdev, "
            "_min, _max, samples=N): built per model with its tokenizer, answers forced to their length.",
            rich_help_panel="Prompts",
        ),
    ] = None,
    tokenizer: Annotated[
        str | None,
        typer.Option(
            "--tokenizer",
            help="A .gguf file or a folder with tokenizer.json: counts --data's prompt tokens (else "
            "whitespace words, labelled approximate), and the answers of an endpoint that sends no usage "
            "(else estimated from the text, marked ~).",
            rich_help_panel="Prompts",
        ),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            help="Load stages: sweep[=N] (synchronous, max throughput, then rates between), rates=1,2,4 "
            "(open loop) or concurrency=1,4,16 (closed loop). Each stage gets --warmup requests per "
            "stream first.",
            rich_help_panel="Load",
        ),
    ] = None,
    stage_seconds: Annotated[
        float | None,
        typer.Option(
            "--stage-seconds",
            help="With --profile: each stage sends for at most this long.",
            rich_help_panel="Load",
        ),
    ] = None,
    stage_requests: Annotated[
        int | None,
        typer.Option(
            "--stage-requests",
            help="With --profile: each stage sends at most this many measured requests (default without "
            "--stage-seconds: prompts x rounds).",
            rich_help_panel="Load",
        ),
    ] = None,
    max_seconds: Annotated[
        float | None,
        typer.Option(
            "--max-seconds",
            help="Time budget of the whole run, shared equally by the models (and a model's stages); "
            "requests still running at the end are cut off.",
            rich_help_panel="Load",
        ),
    ] = None,
    duration: Annotated[
        str | None,
        typer.Option(
            "--duration",
            help="Soak: each model's measured phase sends for this long (90, 30s, 10m, 24h), cycling "
            "through the prompts; requests in flight at the end finish. Goes with --rate or a closed loop.",
            rich_help_panel="Load",
        ),
    ] = None,
    max_requests: Annotated[
        int | None,
        typer.Option(
            "--max-requests",
            help="Soak: each model's measured phase sends at most this many requests, cycling through "
            "the prompts (with --duration: whichever comes first).",
            rich_help_panel="Load",
        ),
    ] = None,
    summary_every: Annotated[
        str,
        typer.Option(
            "--summary-every",
            help="Rewrite summary.json and the reports this often while a model runs (a long run is "
            "readable as it goes; a kill loses no more than this of the summary, nothing of the records).",
            rich_help_panel="Load",
        ),
    ] = "5m",
    max_concurrency: Annotated[
        int | None,
        typer.Option(
            "--max-concurrency",
            help="Requests in flight at most in open-loop stages and --rate runs, and the throughput "
            "stage's concurrency (default 32 with --profile).",
            rich_help_panel="Load",
        ),
    ] = None,
    workers: Annotated[
        str | None,
        typer.Option(
            "--workers",
            help="Processes that send an endpoint's requests, each with its own event loop and connections: "
            "N, or auto (default: one per 32 requests in flight, at most one per core; 1 sends from this "
            "process).",
            rich_help_panel="Load",
        ),
    ] = None,
    slo: Annotated[
        str | None,
        typer.Option(
            "--slo",
            help='Service-level objective, e.g. "ttft_p95<=2s,itl_p50<=50ms,latency_p95<=10s": met or not, '
            "and goodput (requests/s that met it each).",
            rich_help_panel="SLO and budget",
        ),
    ] = None,
    watts_per_core: Annotated[
        float | None,
        typer.Option(
            "--watts-per-core",
            help=f"Energy estimate when RAPL is unreadable: W per busy core ({_d('watts_per_core')}).",
            rich_help_panel="Cost",
        ),
    ] = None,
    price_per_kwh: Annotated[
        float | None,
        typer.Option(
            "--price-per-kwh",
            help=f"Electricity price for the cost per million tokens ({_d('price_per_kwh')}).",
            rich_help_panel="Cost",
        ),
    ] = None,
    load_nodes: Annotated[
        int | None,
        typer.Option(
            "--load-nodes",
            min=1,
            help="With --endpoint and --rate or --profile: send the load from K Ray nodes at once "
            "(bakeoff[fleet]); each stage starts together, each node sends every K-th request (and 1/K of "
            "a closed loop's width).",
            rich_help_panel="Fleet",
        ),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(
            "--address",
            help="With --load-nodes: the Ray cluster (auto, HOST:PORT, ray://...).",
            rich_help_panel="Fleet",
        ),
    ] = None,
) -> None:
    """Benchmark models over a prompt set; write summary.json, records.jsonl and md, csv, html reports."""
    env = env_overrides()
    stream = env.get("stream", True) and not no_stream
    ep = endpoint or env.get("endpoint")
    ep = normalize_endpoint(ep) if ep else None
    user_models: dict[str, ModelSpec] = load_models_file(models_file) if models_file else {}

    cases: list[PromptCase]
    if sum(x is not None for x in (prompts, prompt, suite, dataset, data)) > 1:
        raise UsageError("give only one of --prompts, --prompt, --suite, --dataset and --data")
    if lengths is not None and suite is None:
        raise UsageError(
            "--lengths goes with --suite long-meetings", hint="e.g. --suite long-meetings --lengths 1k,4k"
        )
    if (column is not None or samples is not None) and dataset is None:
        raise UsageError("--column and --samples go with --dataset")
    if tokenizer is not None and data is None and not ep:
        raise UsageError(
            "--tokenizer goes with --data or --endpoint", hint="in-process engines count their own tokens"
        )
    if structured_mode is not None and structured is None:
        raise UsageError("--structured-mode goes with --structured", hint="e.g. --structured meeting-notes")
    if structured is not None:
        load_schema(structured)  # an unknown name or a bad schema stops here, before anything loads
    if tokenizer is not None and not Path(tokenizer).expanduser().exists():
        raise UsageError(f"--tokenizer {tokenizer}: no such file or folder")
    if data is not None:
        spec = parse_data(data)
        cases = spec.placeholder_cases(seed if seed is not None else 0)
        source = f"--data {data}"
    elif dataset is not None:
        draw = seed if seed is not None else 0
        cases = load_dataset(dataset, column, samples, draw)
        source = f"{dataset} (column {column or 'prompt'}" + (
            f", {samples} rows drawn with seed {draw})" if samples else ")"
        )
    elif suite is not None:
        cases, source = resolve_suite(suite, lengths)
    elif prompts is not None:
        cases, source = load_prompts(prompts), str(prompts)
    elif prompt is not None or env.get("prompt"):
        if prompt is not None and not prompt.strip():
            raise UsageError("--prompt is empty", hint="give the prompt's text, or leave --prompt out")
        text = prompt or env["prompt"]
        cases, source = [PromptCase(id="p1", prompt=text)], "--prompt" if prompt else "BENCH_PROMPT"
    else:
        cases, source = session_prompts(), "built-in session prompts"

    names = _model_names(models, env, ep, user_models)
    if slo is not None:  # a malformed --slo is a usage error before anything loads
        check_streaming(parse_slo(slo), stream)
    if profile is not None:
        parse_profile(profile)

    try:
        given = {  # a flag wins over its environment variable; anything unset takes BenchSettings' default
            "rounds": rounds if rounds is not None else env.get("rounds"),
            "warmup": warmup,
            "max_tokens": max_tokens if max_tokens is not None else env.get("max_tokens"),
            "temperature": temperature if temperature is not None else env.get("temperature"),
            "seed": seed,
            "reasoning_effort": reasoning_effort,
            "structured": structured,
            "vary": vary,
            "structured_mode": structured_mode,
            "concurrency": concurrency,
            "timeout_s": timeout,
            "max_memory_mb": max_memory_mb,
            "force": force,
            "rate": rate,
            "slo": slo,
            "profile": profile,
            "data": data,
            "tokenizer": tokenizer,
            "stage_seconds": stage_seconds,
            "stage_requests": stage_requests,
            "max_seconds": max_seconds,
            "duration": parse_duration(duration, "--duration") if duration is not None else None,
            "max_requests": max_requests,
            "summary_every": parse_duration(summary_every, "--summary-every"),
            "max_concurrency": max_concurrency,
            "workers": _workers(workers),
            "watts_per_core": watts_per_core,
            "price_per_kwh": price_per_kwh,
        }
        settings = BenchSettings(
            models=names,
            stream=stream,
            endpoint=ep,
            prompts_source=source,
            models_file=str(models_file) if models_file else None,
            arrival="poisson" if poisson else "constant",
            prompt_cache="reuse" if reuse_prompt_cache else "unique-prefix",
            **{k: v for k, v in given.items() if v is not None},
        )
    except ValidationError as exc:
        raise settings_error(exc) from None
    out_dir = out or default_run_dir()
    targets = resolve_targets(settings.models, user_models, ep)
    if load_nodes is not None or address is not None:  # claims the folder once its nodes are there
        _split_load(settings, cases, targets, out_dir, load_nodes, address, overwrite)
        return
    claim(out_dir, overwrite=overwrite)  # before any model is assembled or loaded

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

    per_model = None if settings.profile else len(cases) * settings.rounds + settings.warmup
    shape = (
        f"{len(cases)} prompts x {settings.rounds} rounds (+{settings.warmup} warm-up)"
        if not settings.profile
        else f"{len(cases)} prompts, {settings.warmup} warm-up per stage and stream"
    )
    lengths = (
        f"--data {settings.data}"
        if settings.data
        else f"max_tokens={settings.max_tokens}"
        + (" (cases may set their own)" if any(c.max_tokens for c in cases) else "")
    )
    err_console.print(
        f"[bold]bakeoff[/] {len(targets)} models x {shape}, {lengths}, "
        f"{'streaming' if settings.stream else 'non-streaming'}, "
        + (f"profile {settings.profile}" if settings.profile else f"concurrency {settings.concurrency}")
        + f" -> {out_dir}"
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

        def on_event(event: ProgressEvent) -> None:
            if isinstance(event, ModelStarted):
                bars[event.model] = prog.add_task(escape(event.model), total=per_model, status="loading")
            elif isinstance(event, StageStarted) and (bar := bars.get(event.model)) is not None:
                prog.update(bar, status=f"stage {escape(event.label)}")
            elif isinstance(event, RequestDone):
                bar = bars.get(event.record.model)
                if bar is not None and event.record.stage is not None:
                    prog.update(bar, advance=1)
                elif bar is not None:
                    prog.update(bar, advance=1, status="warm-up" if event.record.warmup else "measuring")
            elif isinstance(event, ModelEnded) and (bar := bars.get(event.model)) is not None:
                colour = "green" if event.status == "ok" else "red"
                note = f"[{colour}]{event.status}[/]" + (
                    f": {escape(event.error[:70])}" if event.error else ""
                )
                prog.update(bar, status=note, completed=per_model or prog.tasks[bar].completed)

        try:
            with sigterm_as_interrupt():
                summary = run_bench(settings, cases, targets, out_dir, on_event, overwrite=overwrite)
        except KeyboardInterrupt as exc:
            prog.stop()
            what = "terminated" if isinstance(exc, Terminated) else "interrupted"
            err_console.print(f"[yellow]{what}[/]: partial results kept in {out_dir}")
            raise typer.Exit(143 if isinstance(exc, Terminated) else 130) from None

    _print_run(summary, out_dir)


def _print_run(summary: Summary, out_dir: Path) -> None:
    """A finished run's tables, notes and errors; exit 1 when no model produced results."""
    console.print(summary_table(summary))
    for table in load_stages.terminal_tables(summary):
        console.print(table)
    for note in summary.run.notes:
        err_console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    for m in summary.models:
        if m.error:
            err_console.print(f"[red]{escape(m.model)}[/]: {escape(m.error)}", highlight=False)
    console.print(f"reports: {out_dir}/summary.json, records.jsonl, report.md, report.csv, report.html")
    if not any(m.status == "ok" for m in summary.models):
        raise typer.Exit(1)


def _split_load(
    settings: BenchSettings,
    cases: list[PromptCase],
    targets: list[ModelTarget],
    out_dir: Path,
    load_nodes: int | None,
    address: str | None,
    overwrite: bool,
) -> None:
    """``--load-nodes``: one endpoint's load (a ``--rate`` or a ``--profile``) sent from several Ray
    nodes."""
    if load_nodes is None:
        raise UsageError("--address goes with --load-nodes (or `bakeoff fleet`)")
    if settings.endpoint is None or not (settings.rate or settings.profile) or len(targets) != 1:
        raise UsageError(
            "--load-nodes splits one endpoint's load",
            hint="give --endpoint, one model (--models) and --rate or --profile",
        )
    from bakeoff.fleet.split_load import run_split_load

    load = f"--profile {settings.profile}" if settings.profile else f"{settings.rate:g}/s"
    err_console.print(
        f"[bold]bakeoff[/] {escape(targets[0].name)} at {load} from {load_nodes} Ray nodes, "
        f"{len(cases)} prompts x {settings.rounds} rounds -> {out_dir}"
    )
    try:
        with sigterm_as_interrupt(), err_console.status("sending from the nodes..."):
            summary, _ = run_split_load(settings, cases, targets[0], out_dir, load_nodes, address,
                                        overwrite=overwrite)  # fmt: skip
    except KeyboardInterrupt as exc:
        err_console.print(f"[yellow]interrupted[/]: the records so far are in {out_dir}/records.jsonl")
        raise typer.Exit(143 if isinstance(exc, Terminated) else 130) from None
    _print_run(summary, out_dir)


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A folder written by `bakeoff bench`.")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="What to print: md, csv, html, json or table.")
    ] = "table",
    write: Annotated[
        bool, typer.Option("--write/--no-write", help="Rewrite report.md and report.csv beside summary.json.")
    ] = True,
) -> None:
    """Re-render a saved run's reports (md, csv, html) from its summary.json and print one. A run that
    was killed before writing its final summary is rebuilt from its records.jsonl."""
    formats = [*RENDERERS, "json", "table"]
    if fmt not in formats:
        raise UsageError(f"unknown format {fmt!r}", hint=f"use {', '.join(formats)}")
    folder = locate(run_dir)
    # a folder (or its summary.json) may be a killed run to rebuild; any other file is read as it is
    own = run_dir.is_dir() or run_dir.name == "summary.json"
    recovered = recover_summary(folder) if own else None
    summary = recovered or load_summary(run_dir)
    if recovered is not None:
        err_console.print(f"[yellow]note:[/] {escape(KILLED_NOTE)}", highlight=False)
    # only a run's own summary.json is rewritten: another file's content never lands in the folder's
    report = write_reports(summary, folder) if write and own else RunReport.of_run(folder, summary)
    if fmt in RENDERERS:
        sys.stdout.write(RENDERERS[fmt][1](report))
    elif fmt == "json":
        sys.stdout.write(summary.model_dump_json(indent=2) + "\n")
    elif fmt == "table":
        console.print(summary_table(summary))
        for table in load_stages.terminal_tables(summary):
            console.print(table)


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
    from bakeoff.analysis.compare import compare as run_compare
    from bakeoff.analysis.compare import parse_rules
    from bakeoff.reporters.diff import render_diff

    rules = parse_rules(fail_on)
    locate(base), locate(new)  # a path that does not exist is an error naming it
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
    run_dir: Annotated[
        Path,
        typer.Argument(help="A folder written by `bakeoff bench` (or by `bakeoff fleet`: a pick per group)."),
    ],
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
    min_capacity: Annotated[
        float | None,
        typer.Option(
            "--min-capacity",
            help="Exclude models that carry fewer requests/s within the run's --slo (needs a --profile run).",
        ),
    ] = None,
    license_: Annotated[
        str | None, typer.Option("--license", help="Allowed licenses, e.g. apache-2.0,mit.")
    ] = None,
    capability: Annotated[str | None, typer.Option("--capability", help="Required capability tag.")] = None,
    trust_judge: Annotated[
        bool,
        typer.Option("--trust-judge", help="Count the scores of judges that did not pass qualification."),
    ] = False,
) -> None:
    """Recommend a model: constraints first, then a weighted score, the Pareto frontier and a confidence.
    For a fleet folder: each machine group's pick (the majority of its nodes, under the group's budget
    too) and the fleet-wide default, chosen on the smallest group."""
    from bakeoff.analysis.recommend import Constraints, parse_weights
    from bakeoff.analysis.recommend import recommend as run_recommend
    from bakeoff.reporters.recommendation import render_text

    c = Constraints(
        max_memory_mb=max_memory_mb,
        max_p95_s=max_p95_s,
        min_quality=min_quality,
        min_capacity=min_capacity,
        licenses=tuple(x.lower() for x in _split(license_ or "")),
        capability=capability,
    )
    if (run_dir / "fleet.json").is_file():
        _recommend_fleet(run_dir, parse_weights(weights), c, trust_judge)
        return
    folder = locate(run_dir)
    summary = load_summary(run_dir)
    result = run_recommend(summary, folder, parse_weights(weights), c, trust_judge=trust_judge)
    sys.stdout.write(render_text(result))
    if result.winner is None:
        raise typer.Exit(1)


def _recommend_fleet(fleet_dir: Path, weights: dict[str, float], c: Any, trust_judge: bool) -> None:
    """``recommend`` on a fleet folder: each group's pick and the fleet-wide default, worked out again
    from every node's saved run with these weights and constraints."""
    from bakeoff.fleet.repick import repick
    from bakeoff.fleet.report import pick_text

    fs = repick(fleet_dir, weights, c, trust_judge)
    pick = fs.fleet_recommendation
    why = f"  {pick.why}\n" if pick.why and pick.winner else ""  # without a winner, pick_text says why
    sys.stdout.write(f"Fleet-wide default: {pick_text(pick)}\n{why}")
    for g in fs.groups:
        budget = f" (budget {g.max_memory_mb:g} MB)" if g.max_memory_mb else ""
        sys.stdout.write(f"{g.name}{budget}: {pick_text(g.recommendation)}\n")
    if fs.fleet_recommendation.winner is None:
        raise typer.Exit(1)
