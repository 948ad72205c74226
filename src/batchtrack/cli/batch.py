"""``batchtrack batch``: many movies, one-shot or through a manifest file.

One-shot::

    batchtrack batch exp/Run1 exp/Run2 --suffix images --autoload --workers 4

Through a manifest (reproducible, re-runnable headless on a cluster)::

    batchtrack batch add stack.toml exp/Run* --suffix images --cfg cfg.toml
    batchtrack batch list stack.toml
    batchtrack batch run stack.toml --scheduler tcp://head:8786 --shard 3/10
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import click

from ..batch.executors import BACKENDS
from ..errors import BatchtrackError
from ..params import Parameters
from ..workflows import get_workflow
from ..workflows.parameters import workflow_parameters
from . import fail, format_value, main, parameter_options, progress_console, setup_logging
from .workflow_params import parse_assignments

__all__ = ["batch"]


class _BatchGroup(click.Group):
    """``batch PATH...`` runs at once; ``batch add|list|remove|clear|run MANIFEST`` edit one."""

    _HELP = ("-h", "--help")

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in self._HELP:
            # ``batch PATH... --help`` shows this group's page, which covers both forms
            args = ["--help"] if any(a in self._HELP for a in args) else ["now", *args]
        return super().parse_args(ctx, args)

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return ["[OPTIONS] PATH... | COMMAND [ARGS]..."]

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The group's options and commands, then the options of ``batch PATH...``."""
        super().format_options(ctx, formatter)
        now = self.commands["now"]
        options = [p for p in now.get_params(ctx) if isinstance(p, click.Option)]
        rows = [row for p in options if (row := p.get_help_record(ctx))]
        with formatter.section("Options of batchtrack batch PATH... (and of add / run)"):
            formatter.write_dl(rows)


def _run_options(func):
    options = [
        click.option("--workers", type=int, help="Local worker processes (default: all cores)."),
        click.option(
            "--backend",
            type=click.Choice(list(BACKENDS)),
            default="local",
            show_default=True,
            help="Where entries run.",
        ),
        click.option(
            "--scheduler", help="Dask scheduler address (tcp://host:8786, tls://host:8786)."
        ),
        click.option(
            "--tls-ca-file", type=click.Path(path_type=Path), help="CA certificate (tls://)."
        ),
        click.option(
            "--tls-cert", type=click.Path(path_type=Path), help="Client certificate (tls://)."
        ),
        click.option("--tls-key", type=click.Path(path_type=Path), help="Client key (tls://)."),
        click.option(
            "--slurm",
            "jobqueue",
            flag_value="slurm",
            help="Start Dask workers as SLURM jobs (dask-jobqueue, see --jobqueue-opt).",
        ),
        click.option("--pbs", "jobqueue", flag_value="pbs", help="The same with PBS."),
        click.option(
            "--jobqueue-opt",
            multiple=True,
            metavar="KEY=VALUE",
            help="dask-jobqueue cluster option, e.g. cores=8 memory=16GB queue=normal.",
        ),
        click.option(
            "--shard",
            help="Run only slice k of N of the stack (k/N), e.g. in a "
            "SLURM job array: --shard $((SLURM_ARRAY_TASK_ID+1))/$SLURM_ARRAY_TASK_COUNT",
        ),
        click.option("--force", is_flag=True, help="Redo entries that already have a result."),
        click.option(
            "--chunk-size",
            type=int,
            default=500,
            show_default=True,
            help="Frames per detection task (long movies use every worker).",
        ),
        click.option(
            "--summary",
            "summary_path",
            type=click.Path(path_type=Path),
            help="Write the summary table here (.csv and .json); - prints the JSON on stdout.",
        ),
        click.option(
            "--json",
            "as_json",
            is_flag=True,
            help="Print the summary as JSON on stdout (instead of the table).",
        ),
        click.option("-q", "--quiet", is_flag=True, help="No progress bars, errors only."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _stack_options(func):
    options = [
        click.option("--suffix", default="", help="Appended to each path (Run1 + images)."),
        click.option(
            "--autoload",
            is_flag=True,
            help="Use cfg.toml/background.pgm found in each entry's result folder.",
        ),
        click.option(
            "--background",
            type=click.Path(path_type=Path),
            help="One background image for every entry.",
        ),
        click.option("--cfg", type=click.Path(path_type=Path), help="Parameter file (cfg.toml)."),
        click.option(
            "--arenas",
            help="Track each arena of every entry on its own: a TOML file of shapes, a label "
            "image, grid:ROWSxCOLS or auto.",
        ),
        click.option(
            "--recording",
            metavar="NAME",
            help="The PATHS are the files of one recording NAME, tracked in natural order "
            "as one movie: identities continue from one file into the next.",
        ),
        click.option(
            "--workflow",
            default="track",
            show_default=True,
            help="track, measure, or a user's package.module:function.",
        ),
        click.option(
            "--param",
            "settings",
            multiple=True,
            metavar="NAME=VALUE",
            help="A parameter of a non-tracking workflow (repeatable).",
        ),
        click.option(
            "--out",
            type=click.Path(path_type=Path),
            help="Put every result under this folder (one sub-folder per movie).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return parameter_options(func)


def _plain_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``KEY=VALUE`` options: numbers and booleans as such, anything else as text (so that
    ``walltime=02:00:00`` stays a string)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--jobqueue-opt")
        try:
            options[key] = json.loads(text)
        except ValueError:
            options[key] = text
    return options


def _table_params(
    workflow: str, cfg: Path | None, flags: dict, settings: tuple[str, ...], base=None
):
    """The parameter table: ``base`` (or defaults) < ``--cfg`` < flags / ``--param``."""
    given = flags if get_workflow(workflow).named_parameters else parse_assignments(settings)
    given = {k: v for k, v in given.items() if v is not None}
    if cfg is None and base is not None:
        given = (base.given() if isinstance(base, Parameters) else base.model_dump()) | given
    return workflow_parameters(workflow, given, cfg=cfg)


def _fill_stack(stack, paths, suffix, background, arenas=None, recording=None) -> None:
    if arenas is not None:
        stack.arenas = arenas
    stack.recording = recording or None
    stack.add(paths, suffix=suffix)
    if background is not None:
        stack.set_unique_background(background)


def _display(stack, quiet: bool):
    """A rich progress display fed by the stack's events: a bar per running entry + overall."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeRemainingColumn,
    )

    from ..batch.stack import Status

    console = progress_console()
    if quiet or console is None:
        return None
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=console,
    )
    overall = progress.add_task("all entries", total=len(stack), status="")
    tasks: dict[int, TaskID] = {}
    finished = (Status.DONE, Status.ERROR, Status.SKIPPED)

    def on_event(event: str, entry) -> None:
        if entry is None or event not in ("status", "progress"):
            return
        if entry.id not in tasks and entry.status is Status.RUNNING:
            name = f"  {entry.path.parent.name}/{entry.path.name}"[-40:]
            tasks[entry.id] = progress.add_task(name, total=entry.total or None, status="")
        task = tasks.get(entry.id)
        if task is None:
            return
        progress.update(
            task, completed=entry.done, total=entry.total or None, status=str(entry.status)
        )
        if event == "status" and entry.status in finished:
            progress.remove_task(task)
            del tasks[entry.id]
            progress.advance(overall)

    stack.subscribe(on_event)
    return progress


def _summary_table(summary, stack) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=str(summary), title_justify="left")
    for column in ("#", "path", "status", "frames", "message"):
        table.add_column(column, overflow="fold")
    styles = {"Done": "green", "Error": "red", "Skipped": "yellow"}
    for i, entry in enumerate(stack, start=1):
        status = str(entry.status)
        table.add_row(
            str(i),
            str(entry.path),
            f"[{styles.get(status, '')}]{status}",
            str(entry.total or ""),
            entry.message,
        )
    Console().print(table)


def _summary_json(summary) -> str:
    document = {
        "counts": summary.counts,
        "seconds": summary.seconds,
        "frames": summary.frames,
        "frames_per_second": summary.frames_per_second,
        "entries": summary.entries,
        "interrupted": summary.interrupted,
    }
    return json.dumps(document, indent=1)


def _write_summary(summary, path: Path) -> None:
    """``path``.csv and ``path``.json; ``-`` prints the JSON on standard output."""
    if str(path) == "-":
        click.echo(_summary_json(summary))
        return
    from ..batch.run import SUMMARY_COLUMNS

    path = path.with_suffix("")
    with open(path.with_suffix(".csv"), "w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(SUMMARY_COLUMNS), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(summary.entries)
    path.with_suffix(".json").write_text(_summary_json(summary), encoding="utf-8")


def _run(
    stack,
    *,
    manifest: Path | None = None,
    workers,
    backend,
    scheduler,
    jobqueue,
    jobqueue_opt,
    shard,
    force,
    chunk_size,
    summary_path,
    as_json,
    quiet,
    tls_ca_file=None,
    tls_cert=None,
    tls_key=None,
) -> None:
    from ..batch.run import RunOptions, SignalStop, after_batch, run_stack

    display = _display(stack, quiet)
    with SignalStop() as stop:
        try:
            options = RunOptions(
                backend=backend, workers=workers, scheduler=scheduler, jobqueue=jobqueue,
                jobqueue_options=_plain_options(jobqueue_opt), force=force, shard=shard,
                chunk_size=chunk_size, tls=_tls(tls_ca_file, tls_cert, tls_key),
            )  # fmt: skip
            with options.open_executor() as executor:
                _show_dashboard(executor, quiet or as_json)
                if display is not None:
                    display.start()
                try:
                    summary = run_stack(
                        stack, options, executor=executor, cancel=stop.event, kill_on_cancel=True
                    )
                finally:
                    if display is not None:
                        display.stop()
        except BatchtrackError as error:
            fail(error)
    if as_json:
        click.echo(_summary_json(summary))
    elif (not quiet or stop.signum is not None) and str(summary_path) != "-":
        _summary_table(summary, stack)
    if summary_path is not None:
        _write_summary(summary, summary_path)
    if stop.signum is not None:
        unfinished = sum(1 for entry in stack if str(entry.status) == "Waiting")
        click.echo(
            f"interrupted by {stop.name}: {unfinished} entries not finished; run the same "
            "command again to resume (finished entries are skipped)",
            err=True,
        )
        raise SystemExit(stop.exit_code)
    try:
        table = after_batch(stack)
    except BatchtrackError as error:
        fail(error)
    if table is not None and not (quiet or as_json):
        click.echo(f"batch table: {table}")
    if manifest is not None and stack.workflow == "track":
        _report(manifest, quiet or as_json)
    if summary.failed:
        raise SystemExit(1)


def _tls(ca_file, cert, key) -> dict[str, str]:
    given = {"ca_file": ca_file, "cert": cert, "key": key}
    return {name: str(path) for name, path in given.items() if path is not None}


def _show_dashboard(executor, quiet: bool) -> None:
    client = getattr(executor, "_client", None)  # a Dask cluster's
    if client is not None and not quiet:
        click.echo(f"Dask dashboard: {client.dashboard_link}", err=True)


@main.group(cls=_BatchGroup)
def batch() -> None:
    """Track many movies: batch PATH... now, or edit and run a manifest.

    \b
    batchtrack batch PATH... [options]      add the paths and run them at once
    batchtrack batch add MANIFEST PATH...   add entries to a manifest (.toml or .csv)
    batchtrack batch list MANIFEST          show its entries
    batchtrack batch remove MANIFEST N...   remove entries by number
    batchtrack batch clear MANIFEST         remove every entry
    batchtrack batch run MANIFEST           run it (resumes: finished entries are skipped)
    """


@batch.command("now", hidden=True)
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--manifest",
    type=click.Path(path_type=Path),
    help="Also save the stack to this manifest (.toml or .csv).",
)
@_stack_options
@_run_options
def batch_now(
    paths, manifest, suffix, autoload, background, cfg, arenas, recording, workflow, settings,
    out, **options: Any,
) -> None:  # fmt: skip
    """Add PATHS (folders, videos) to a new stack and run it."""
    from ..batch.manifest import save_manifest
    from ..batch.stack import Stack

    setup_logging(options["quiet"])
    flags = {k: options.pop(k) for k in list(options) if k not in _RUN_KEYS}
    try:
        stack = Stack(
            _table_params(workflow, cfg, flags, settings),
            autoload=autoload,
            workflow=workflow,
            output=out,
        )
        _fill_stack(stack, paths, suffix, background, arenas, recording)
        if manifest is not None:
            save_manifest(stack, manifest)
            options["summary_path"] = options["summary_path"] or _summary_beside(
                manifest, options["shard"]
            )
    except BatchtrackError as error:
        fail(error)
    _run(stack, manifest=manifest, **options)


_RUN_KEYS = {
    "tls_ca_file",
    "tls_cert",
    "tls_key",
    "workers",
    "backend",
    "scheduler",
    "jobqueue",
    "jobqueue_opt",
    "shard",
    "force",
    "chunk_size",
    "summary_path",
    "as_json",
    "quiet",
}


def _load_or_new(manifest: Path, workflow: str):
    from ..batch.manifest import load_manifest
    from ..batch.stack import Stack

    return load_manifest(manifest) if manifest.exists() else Stack(workflow=workflow)


@batch.command("add")
@click.argument("manifest", type=click.Path(path_type=Path))
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@_stack_options
def batch_add(
    manifest, paths, suffix, autoload, background, cfg, arenas, recording, workflow, settings,
    out, **flags: Any,
) -> None:  # fmt: skip
    """Add PATHS to MANIFEST (created if missing) with the given parameters."""
    from ..batch.manifest import save_manifest

    setup_logging(False)
    try:
        stack = _load_or_new(manifest, workflow)
        stack.set_params(_table_params(stack.workflow, cfg, flags, settings, stack.params))
        stack.autoload = autoload
        if out is not None:
            stack.output = out
        before = len(stack)
        _fill_stack(stack, paths, suffix, background, arenas, recording)
        save_manifest(stack, manifest)
    except BatchtrackError as error:
        fail(error)
    added = stack.entries[before:]
    errors = [e for e in added if str(e.status) == "Error"]
    click.echo(f"added {len(added)} entries to {manifest} ({len(stack)} in all)")
    for entry in errors:
        click.echo(f"  error: {entry.message}", err=True)


@batch.command("list")
@click.argument("manifest", type=click.Path(exists=True, path_type=Path))
def batch_list(manifest: Path) -> None:
    """Show the entries of MANIFEST."""
    from rich.console import Console
    from rich.table import Table

    from ..batch.manifest import load_manifest

    try:
        stack = load_manifest(manifest)
    except BatchtrackError as error:
        fail(error)
    table_params = _differences(stack.params, type(stack.params)()) or "defaults"
    table = Table(
        title=f"{manifest}: {len(stack)} entries ({stack.workflow}); "
        f"parameter table: {table_params}",
        title_justify="left",
    )
    recordings = any(entry.recording for entry in stack)
    columns = ("#", "path", *(["recording"] if recordings else []), "background", "parameters")
    for column in (*columns, "result"):
        table.add_column(column, overflow="fold")
    for i, entry in enumerate(stack, start=1):
        text = _differences(entry.params, stack.params) or "table"
        result = "exists" if entry.result_dir.exists() else ""
        if str(entry.status) == "Error":
            result = f"error: {entry.message}"
        recording = [entry.recording or ""] if recordings else []
        table.add_row(
            str(i), str(entry.path), *recording, str(entry.background or "computed"), text, result
        )
    Console().print(table)


def _differences(params, reference) -> str:
    """``name=value`` for each parameter that differs from ``reference``."""
    values = params.model_dump()
    return " ".join(
        f"{k}={format_value(v)}" for k, v in values.items() if getattr(reference, k, None) != v
    )


@batch.command("remove")
@click.argument("manifest", type=click.Path(exists=True, path_type=Path))
@click.argument("numbers", nargs=-1, required=True, type=int)
def batch_remove(manifest: Path, numbers: tuple[int, ...]) -> None:
    """Remove entries (numbers as shown by ``batch list``) from MANIFEST."""
    from ..batch.manifest import load_manifest, save_manifest

    try:
        stack = load_manifest(manifest)
        bad = [n for n in numbers if not 1 <= n <= len(stack)]
        if bad:
            fail(f"no entry {bad[0]} in {manifest} (it has {len(stack)}; see 'batch list')")
        for entry in [stack.entries[n - 1] for n in numbers]:
            stack.remove(entry)
        save_manifest(stack, manifest)
    except BatchtrackError as error:
        fail(error)
    click.echo(f"removed {len(numbers)} entries; {len(stack)} left in {manifest}")


@batch.command("clear")
@click.argument("manifest", type=click.Path(exists=True, path_type=Path))
def batch_clear(manifest: Path) -> None:
    """Remove every entry of MANIFEST (its parameter table is kept)."""
    from ..batch.manifest import load_manifest, save_manifest

    try:
        stack = load_manifest(manifest)
        stack.clear()
        save_manifest(stack, manifest)
    except BatchtrackError as error:
        fail(error)
    click.echo(f"cleared {manifest}")


@batch.command("run")
@click.argument("manifest", type=click.Path(exists=True, path_type=Path))
@_run_options
def batch_run(manifest: Path, **options: Any) -> None:
    """Run MANIFEST; entries with a matching finished result are skipped (unless --force).

    The summary is also written next to the manifest (<name>-summary.csv and .json).
    """
    from ..batch.manifest import load_manifest, manifest_run_lock

    setup_logging(options["quiet"])
    try:
        with manifest_run_lock(manifest, options["shard"]):
            stack = load_manifest(manifest)
            summary_path = options["summary_path"] or _summary_beside(manifest, options["shard"])
            _run(stack, manifest=manifest, **{**options, "summary_path": summary_path})
    except BatchtrackError as error:
        fail(error)


def _report(manifest: Path, quiet: bool) -> None:
    """The batch report beside the manifest; a report that cannot be made is a warning."""
    import logging

    from .report import write_manifest_report

    try:
        written = write_manifest_report(manifest)
    except (BatchtrackError, ImportError) as error:
        logging.getLogger("batchtrack").warning("no batch report: %s", error)
        return
    if not quiet:
        click.echo(f"report: {written['html']}")


def _summary_beside(manifest: Path, shard: str | None) -> Path:
    """``<manifest>-summary`` (``-summary-2of10`` for a shard, so that shards do not overwrite
    each other's summary)."""
    suffix = "" if not shard else "-" + shard.replace("/", "of")
    return manifest.with_name(f"{manifest.stem}-summary{suffix}")
