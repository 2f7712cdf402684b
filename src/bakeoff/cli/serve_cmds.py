"""``doctor`` and ``serve``: check a set-up, serve models over an OpenAI-compatible API."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from bakeoff.backends.targets import prepare_embedded, resolve_targets
from bakeoff.cli.app import _model_names, _split, app, console, err_console
from bakeoff.config.durations import parse_duration
from bakeoff.config.settings import (
    ModelSpec,
    env_overrides,
    load_models_file,
    normalize_endpoint,
)
from bakeoff.errors import MissingExtraError, UsageError
from bakeoff.models.embedded import DEFAULT_ALIASES
from bakeoff.serve.request import DEFAULT_MAX_QUEUE


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
    from bakeoff.run.doctor import run_doctor

    env = env_overrides()
    ep = endpoint or env.get("endpoint")
    ep = normalize_endpoint(ep) if ep else None
    user_models: dict[str, ModelSpec] = load_models_file(models_file) if models_file else {}
    # every problem is a failed check here, not a stop
    targets = resolve_targets(_model_names(models, env, ep, user_models), user_models, ep, strict=False)
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
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="Port (Foundry Local's default is 5273).")
    ] = 5273,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar="BAKEOFF_API_KEY",
            help="Require 'Authorization: Bearer KEY'. Prefer the BAKEOFF_API_KEY variable: a flag is "
            "visible to every user in `ps`.",
        ),
    ] = None,
    max_queue: Annotated[
        int,
        typer.Option(
            "--max-queue",
            min=0,
            help="Requests per model allowed to wait behind the one generating; beyond it the answer is "
            "429 with Retry-After.",
        ),
    ] = DEFAULT_MAX_QUEUE,
    preload: Annotated[
        bool, typer.Option("--preload", help="Load every model before accepting requests.")
    ] = False,
    stream_interval_ms: Annotated[
        float,
        typer.Option(
            "--stream-interval-ms",
            min=0.0,
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
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help="A Host name clients may use besides loopback names and the bound address (repeat it; "
            "* answers any: DNS rebinding is then up to --api-key).",
        ),
    ] = None,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--cors-origin",
            help="A web origin (e.g. http://localhost:3000) whose pages may call this server (repeat it); "
            "any other origin is refused.",
        ),
    ] = None,
    header_timeout: Annotated[
        float,
        typer.Option(
            "--header-timeout",
            min=0.1,
            help="Seconds a connection has to send a complete request head (408 after; slow clients).",
        ),
    ] = 10.0,
    max_client_connections: Annotated[
        int,
        typer.Option(
            "--max-client-connections",
            min=1,
            help="Open connections one client address may hold (503 above).",
        ),
    ] = 256,
    max_connections: Annotated[
        int, typer.Option("--max-connections", min=1, help="Open connections in all (503 above).")
    ] = 1024,
    keep_warm: Annotated[
        str | None,
        typer.Option(
            "--keep-warm",
            help="Send each loaded model a one-token request when it has generated nothing for this long "
            "(30s, 5m), so the next user's first answer is a warm one.",
        ),
    ] = None,
    idle_unload: Annotated[
        str | None,
        typer.Option(
            "--idle-unload",
            help="Unload a model no client has used for this long (10m, 1h); the next request loads it "
            "again. Keep-warm requests do not count as use.",
        ),
    ] = None,
) -> None:
    """Serve models over an OpenAI-compatible API (/v1/models, /v1/chat/completions, /health).

    Request heads are limited to 64 KiB (431 above) before any key check."""
    try:
        import uvicorn

        from bakeoff.serve.app import ModelHost, create_app
        from bakeoff.serve.guard import allowed_hosts
        from bakeoff.serve.limits import Limits, protocol_for
    except ImportError:
        raise MissingExtraError("bakeoff serve", "serve", "uvicorn and starlette") from None
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
    warm_s = parse_duration(keep_warm, "--keep-warm") if keep_warm is not None else None
    unload_s = parse_duration(idle_unload, "--idle-unload") if idle_unload is not None else None
    _check_port_free(host, port)
    model_host = ModelHost(
        targets, stream_interval_ms=stream_interval_ms, max_queue=max_queue, keep_warm_s=warm_s,
        idle_unload_s=unload_s,
    )  # fmt: skip
    if route is not None:
        from bakeoff.analysis.routing import routes_from_run

        model_host.routes, notes = routes_from_run(route, [t.name for t in targets])
        for note in notes:
            err_console.print(f"[yellow]route[/] {escape(note)}", highlight=False)
            route_name, _, why = note.partition(": ")
            model_host.unrouted[route_name] = why
        for name, target in model_host.routes.items():
            err_console.print(f"route {escape(name)} -> {escape(target)}", highlight=False)
    application = create_app(
        model_host,
        api_key=api_key,
        allowed_hosts=allowed_hosts(host, allowed_host or ()),
        cors_origins=tuple(cors_origin or ()),
    )
    err_console.print(
        f"serving {len(targets)} models at http://{host}:{port}/v1: {', '.join(t.name for t in targets)}",
        highlight=False,
    )
    limits = Limits(
        header_timeout_s=header_timeout,
        max_client_connections=max_client_connections,
        max_connections=max_connections,
    )
    config = uvicorn.Config(
        application, host=host, port=port, log_level="warning", lifespan="on",
        http=protocol_for(limits), h11_max_incomplete_event_size=limits.max_header_bytes,
        server_header=False,  # no "server: uvicorn" on every answer
    )  # fmt: skip
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


def _check_port_free(host: str, port: int) -> None:
    """A port in use is one line and exit 2, before any model loads (uvicorn would log and exit 1)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        if os.name != "nt":  # as uvicorn binds; on Windows the flag would let the probe share a used port
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UsageError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                hint="pick another --port, or stop what is using it",
            ) from None
