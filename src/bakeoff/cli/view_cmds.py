"""``bakeoff view``: the run index and its local web app."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import typer
from rich.markup import escape

from bakeoff.cli.app import app, console, err_console
from bakeoff.errors import MissingExtraError, UsageError


@app.command()
def view(
    dirs: Annotated[
        list[Path] | None,
        typer.Argument(help="Run folders, or folders holding run folders (looked for 3 levels down)."),
    ] = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind; loopback unless you mean otherwise.")
    ] = ("127.0.0.1"),
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port; 0 picks a free one.")] = 0,
    no_open: Annotated[bool, typer.Option("--no-open", help="Do not open the browser.")] = False,
    reindex: Annotated[
        bool,
        typer.Option("--reindex", help="Forget the index and rebuild it from DIRS and the folders it knew."),
    ] = False,
    index_only: Annotated[
        bool, typer.Option("--index-only", help="Index DIRS, print what was indexed and skipped, and exit.")
    ] = False,
    index_file: Annotated[
        Path | None,
        typer.Option("--index", help="The SQLite index (default: runs.sqlite in the user's data dir)."),
    ] = None,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option("--allowed-host", help="Another name this app answers to (repeatable; * any)."),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar="BAKEOFF_VIEW_KEY",
            help="Key to ask for (needed when --host is not loopback; prefer BAKEOFF_VIEW_KEY).",
        ),
    ] = None,
) -> None:
    """Every indexed run in a local web app: runs list, one run, compare, trends, rating in the browser.

    Runs `bakeoff bench` writes are indexed as they finish; DIRS adds more."""
    from bakeoff.cli.serve_cmds import _is_loopback
    from bakeoff.results.index import RunIndex, default_index_path

    folders = list(dirs or [])
    for d in folders:
        if not d.exists():
            raise UsageError(f"{d} does not exist", hint="pass run folders or folders that hold them")
    if not _is_loopback(host) and not api_key:
        raise UsageError(
            f"--host {host} would show every indexed run to anyone who can reach this machine",
            hint="set BAKEOFF_VIEW_KEY (or --api-key) to a secret, or leave --host out for loopback",
        )
    index = RunIndex(index_file or default_index_path())
    done, skipped = index.reindex(folders, fresh=reindex)
    for s in skipped:
        err_console.print(f"[yellow]skipped[/] {escape(s.path)}: {escape(s.reason)}", highlight=False)
    if index_only:
        console.print(
            f"indexed {len(done)} runs, skipped {len(skipped)} in {index.path}; it holds "
            f"{len(index.runs())} runs and {len(index.skipped())} skipped folders",
            highlight=False,
        )
        return
    try:
        import uvicorn

        from bakeoff.serve.guard import allowed_hosts
        from bakeoff.view.app import create_view_app, start_message
    except ImportError:
        raise MissingExtraError("bakeoff view", "serve", "uvicorn and starlette") from None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    if os.name != "nt":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="pick another --port, or leave it out for a free one",
        ) from None
    bound = sock.getsockname()[1]
    name = host
    extra = list(allowed_host or ())
    if host in ("0.0.0.0", "::", ""):  # a wildcard: print (and answer to) this machine's name
        name = socket.gethostname()
        extra.append(name)
    shown = f"[{name}]" if ":" in name else name
    url = f"http://{shown}:{bound}/" + (f"?key={quote(api_key, safe='')}" if api_key else "")
    application = create_view_app(index, api_key, allowed_hosts(host, extra))
    console.print(start_message(url, index.runs(), len(index.skipped())), highlight=False, soft_wrap=True)
    if not no_open:
        import webbrowser

        webbrowser.open(url)
    config = uvicorn.Config(application, log_level="warning", server_header=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
