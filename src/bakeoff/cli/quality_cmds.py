"""``judge`` and ``annotate``: quality by a judge model and by people."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
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
from bakeoff.errors import BakeoffError, UsageError
from bakeoff.reporters.format import secs
from bakeoff.reporters.terminal import agreement_line, qualification_table, quality_table
from bakeoff.results.folder import locate
from bakeoff.results.schema import JudgeInfo, Qualification, RunQuality, load_summary
from bakeoff.run.bench import write_reports


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
    qualify: Annotated[
        bool,
        typer.Option(
            "--qualify",
            help="Only test the judge (gold vs corrupted answers, both modes); exit 1 if it fails either.",
        ),
    ] = False,
    no_qualify: Annotated[
        bool,
        typer.Option(
            "--no-qualify",
            help="Judge without testing the judge first (its scores then count only with --trust-judge).",
        ),
    ] = False,
) -> None:
    """Score every answer of a run 1-5 against its aspects with a judge model (or compare pairs).

    Before its first verdicts a judge is tested on a small calibration set (cached per judge): a judge
    that cannot tell gold answers from corrupted ones is unqualified, and its scores are kept apart."""
    from bakeoff.quality.aggregate import apply_quality
    from bakeoff.quality.judge import run_judge
    from bakeoff.quality.store import load_cases, load_run_records, outputs

    if qualify and no_qualify:
        raise UsageError("--qualify and --no-qualify contradict each other")
    folder = locate(run_dir)
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
                verb = kind if kind.startswith("qualify") else f"judging ({kind})"
                bar[kind] = prog.add_task(f"{verb} with {escape(judge_model)}", total=total)
            prog.update(bar[kind], completed=done)

        def on_qualified(label: str, q: Qualification) -> None:
            """Saved at once: an interrupted judging keeps the judge's qualification."""
            run_q = summary.quality or RunQuality()
            entry = run_q.judges.get(label, JudgeInfo())
            merged = Qualification.model_validate(merge_qualification(entry.qualification, q))
            run_q.judges[label] = entry.model_copy(update={"qualification": merged})
            summary.quality = run_q

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
                qualify="only" if qualify else "skip" if no_qualify else "first",
                on_qualified=on_qualified,
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
    run_q = summary.quality or RunQuality()
    entry = run_q.judges.get(result.judge, JudgeInfo())
    fresh = {
        "alias": judge_model,
        "skipped_self": list(result.skipped_self),
        "disk_mb": result.info.get("disk_mb"),
        "engine": result.info.get("engine"),
    }
    update = {k: v for k, v in fresh.items() if v is not None or k not in entry.model_fields_set}
    run_q.judges[result.judge] = JudgeInfo.model_validate({**entry.model_dump(), **update})
    summary.quality = run_q
    apply_quality(summary, folder, cases, records)
    write_reports(summary, folder)
    if result.qualification is not None:
        console.print(qualification_table(result.judge, result.qualification))
    if qualify:
        console.print(f"updated {folder}/summary.json and reports")
        q = result.qualification
        if q is not None and not (q.qualified("rubric") and q.qualified("pairwise")):
            raise typer.Exit(1)  # a script can gate on the judge
        return
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
    for note in summary.quality.notes if summary.quality else []:
        err_console.print(f"[yellow]note[/]: {escape(note)}", highlight=False)
    console.print(f"updated {folder}/summary.json and reports")


def merge_qualification(old: Qualification | None, new: Qualification) -> dict[str, Any]:
    """A judge's qualification after testing it in some modes: each mode tested now replaces the old
    result of that mode; a mode not tested now keeps its old result if it was tested on the same
    calibration set with the same prompt version."""
    merged = new.model_dump()
    if old is None or old.calibration != new.calibration:
        return merged
    before = old.model_dump()
    for mode in ("rubric", "pairwise"):
        same = old.prompts.get(mode) is not None and old.prompts.get(mode) == new.prompts.get(mode)
        if merged[mode] is None and same:
            merged[mode] = before[mode]
    return merged


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
    from bakeoff.quality.annotate import export_sheet
    from bakeoff.quality.store import load_cases, load_run_records, outputs

    folder = locate(run_dir)
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
    rater: Annotated[
        str,
        typer.Option("--rater", help="Whose scores these are: each rater's are kept apart (default: none)."),
    ] = "",
) -> None:
    """Validate a filled-in sheet, merge the human scores, and report agreement with each judge."""
    from bakeoff.quality.aggregate import apply_quality
    from bakeoff.quality.annotate import import_sheet
    from bakeoff.quality.store import load_cases

    folder = locate(run_dir)
    summary = load_summary(folder)
    scores = import_sheet(folder, load_cases(folder), sheet, rater.strip())
    apply_quality(summary, folder)
    write_reports(summary, folder)
    console.print(f"imported {len(scores)} scores from {sheet}", highlight=False)
    for judge_label, a in (summary.quality.agreement if summary.quality else {}).items():
        console.print(f"agreement with {escape(judge_label)}: {agreement_line(a)}", highlight=False)
    console.print(quality_table(summary))
