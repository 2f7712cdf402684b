"""The ``bakeoff`` command: parses flags, calls the library, renders. The one place that maps errors
to exit codes (0 results, 1 no model produced results or a runtime error, 2 usage or config error).

One module per command group; importing them registers their commands on ``app``."""

from __future__ import annotations

import os
import sys
import traceback

from rich.markup import escape

from bakeoff.cli import bench_cmds, fleet_cmds, model_cmds, quality_cmds, serve_cmds, view_cmds
from bakeoff.cli.app import _state, app, err_console
from bakeoff.cli.serve_cmds import _is_loopback
from bakeoff.errors import BakeoffError

__all__ = [
    "_is_loopback",
    "app",
    "bench_cmds",
    "fleet_cmds",
    "main",
    "model_cmds",
    "quality_cmds",
    "serve_cmds",
    "view_cmds",
]


def main() -> None:
    """Entry point: run the app and turn bakeoff errors into a message and an exit code.

    Typer's standalone mode handles usage errors (exit 2) and ``typer.Exit``; every error of
    bakeoff's own tree ends here, printed without a traceback unless ``--debug``."""
    try:
        app()
    except BakeoffError as exc:
        if _state["debug"] or os.environ.get("BAKEOFF_DEBUG"):
            traceback.print_exc()
        # soft_wrap: a message is one line a script can grep, however wide the terminal
        err_console.print(f"[red]error:[/] {escape(exc.message)}", highlight=False, soft_wrap=True)
        if exc.hint:
            err_console.print(f"  -> {escape(exc.hint)}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
