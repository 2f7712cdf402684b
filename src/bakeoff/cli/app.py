"""The Typer app, its consoles and the helpers every command group shares."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console

from bakeoff.backends.targets import endpoint_models
from bakeoff.config.settings import ENV_VARS, ModelSpec
from bakeoff.errors import UsageError
from bakeoff.models.embedded import DEFAULT_ALIASES
from bakeoff.version import __version__

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Run a bake-off between language models on your own hardware.",
    pretty_exceptions_enable=False,
)
# emoji=False: a model named "echo:parrot" or "x:smile:" must print as itself, not as an emoji.
# Piped output (a log, a file) is 160 wide: the summary table fits without squeezing a column.
console = Console(stderr=False, width=None if sys.stdout.isatty() else 160, emoji=False)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160, emoji=False)
_state = {"debug": False}


def env_hint(name: str) -> str:
    """The ``[env: NAME]`` note of a flag's help, escaped so that Rich prints it rather than reading
    it as markup (``NAME`` must be one ``env_overrides`` reads)."""
    if name not in ENV_VARS:
        raise KeyError(f"{name} is not an environment variable bakeoff reads")
    shown = f"{name}=0" if name == "BENCH_STREAM" else name
    return f" \\[env: {shown}]"


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
    if flag is not None and not _split(flag):
        raise UsageError(f"--models {flag!r} names no model", hint="give a comma list, e.g. -m smollm2-135m")
    names: list[str] = _split(flag) if flag else env.get("models") or []
    if names:
        return names
    if endpoint:
        return endpoint_models(endpoint)
    return list(user_models) or list(DEFAULT_ALIASES)


class Terminated(KeyboardInterrupt):
    """SIGTERM, delivered as an interrupt so a killed run keeps what it measured, as Ctrl-C does."""


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM (``kill``, a container stop, a CI timeout) raises ``Terminated``: the
    run writes its partial summary and reports, then the command exits 143."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
