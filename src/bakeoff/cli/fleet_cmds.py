"""``bakeoff fleet``: the same bake-off on every kind of machine of a Ray cluster, one report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bakeoff.cli.app import Terminated, app, console, err_console, sigterm_as_interrupt
from bakeoff.fleet.spec import load_fleet_file
from bakeoff.results.folder import default_run_dir


@app.command()
def fleet(
    fleet_file: Annotated[
        Path,
        typer.Argument(
            help="Fleet file (JSON or YAML): groups by Ray node labels, their models, the run settings."
        ),
    ],
    address: Annotated[
        str | None,
        typer.Option("--address", help="Ray cluster: auto (this machine's), HOST:PORT, or ray://HOST:10001."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output folder (default bakeoff-runs/fleet-<timestamp>)."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace the fleet run already in --out.")
    ] = False,
    ship_bakeoff: Annotated[
        bool,
        typer.Option(
            "--ship-bakeoff",
            help="Run this bakeoff's code on every node (Ray runtime_env py_modules), installed there or "
            "not; its dependencies must be on the nodes.",
        ),
    ] = False,
) -> None:
    """Run the bake-off on every node of each machine group (Ray node labels), each on its own engines;
    write fleet.json, records.jsonl (every record tagged with its node), fleet.md/.csv/.html and each
    node's own run folder. Exit 0 when every node finished, 1 when one was lost or failed."""
    from bakeoff.fleet.driver import ray_module, run_fleet

    spec, settings, prompts, source = load_fleet_file(fleet_file)
    ray_module()  # without the fleet extra: say so before anything is printed or claimed
    out_dir = out or default_run_dir("fleet-")
    err_console.print(
        f"[bold]bakeoff fleet[/] {len(spec.groups)} groups ({', '.join(spec.groups)}), "
        f"{len(prompts)} prompts from {escape(source)} -> {out_dir}"
    )
    with Progress(TextColumn("[bold]{task.description}"), TextColumn("{task.fields[status]}"),
                  TimeElapsedColumn(), console=err_console) as prog:  # fmt: skip
        bars: dict[str, Any] = {}

        def on_event(event: Any) -> None:
            n = event.node
            if n.folder not in bars:
                bars[n.folder] = prog.add_task(escape(f"{n.group} {n.node_id[:8]}"), status="starting")
            bar = bars[n.folder]
            if event.kind == "ended":
                colour = "green" if n.status == "ok" else "red"
                prog.update(bar, status=f"[{colour}]{escape(n.status)}[/] {n.records} records"
                            + (f": {escape((n.error or '')[:70])}" if n.error else ""))  # fmt: skip
            else:
                prog.update(bar, status=f"{n.records} records")

        try:
            with sigterm_as_interrupt():
                summary = run_fleet(
                    spec, settings, prompts, out_dir, address, on_event,
                    overwrite=overwrite, ship_bakeoff=ship_bakeoff,
                )  # fmt: skip
        except KeyboardInterrupt as exc:
            prog.stop()
            err_console.print(f"[yellow]interrupted[/]: what arrived is kept in {out_dir}")
            raise typer.Exit(143 if isinstance(exc, Terminated) else 130) from None

    table = Table(title="Fleet recommendation")
    for col in ("group", "nodes", "recommended"):
        table.add_column(col)
    for g in summary.groups:
        ok = sum(n.status == "ok" for n in g.nodes)
        table.add_row(escape(g.name), f"{ok}/{len(g.nodes)} ok", escape(g.recommendation.winner or "none"))
    table.add_row(
        "[bold]fleet-wide[/]", "", f"[bold]{escape(summary.fleet_recommendation.winner or 'none')}[/]"
    )
    console.print(table)
    for note in summary.notes:
        err_console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    for g in summary.groups:
        for n in g.nodes:
            if n.status != "ok":
                err_console.print(f"[red]{escape(g.name)} {n.node_id[:8]}[/]: {escape(n.status)}: "
                                  f"{escape(n.error or '')}", highlight=False)  # fmt: skip
    console.print(f"reports: {out_dir}/fleet.md, fleet.csv, fleet.html, fleet.json, records.jsonl, nodes/")
    if any(n.status != "ok" for g in summary.groups for n in g.nodes) or not any(
        g.nodes for g in summary.groups
    ):
        raise typer.Exit(1)
