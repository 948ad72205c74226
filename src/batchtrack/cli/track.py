"""``batchtrack track``: one movie."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..errors import BatchtrackError
from ..workflows.tracking import tracking_parameters
from . import (
    fail,
    main,
    parameter_options,
    progress_console,
    setup_logging,
)


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--cfg", type=click.Path(path_type=Path), help="Parameter file (cfg.toml).")
@click.option("--background", type=click.Path(path_type=Path), help="Background image to use.")
@click.option(
    "--arenas",
    help="Track each arena on its own: a TOML file of shapes, a label image, grid:ROWSxCOLS "
    "or auto (wells found on the background).",
)
@click.option(
    "--output", type=click.Path(path_type=Path), help="Result folder (default: FastTrack's)."
)
@click.option(
    "--workers",
    type=int,
    default=1,
    show_default=True,
    help="Split the movie into chunks of frames detected by this many processes.",
)
@click.option(
    "--chunk-size", type=int, default=500, show_default=True, help="Frames per chunk (--workers)."
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar, errors only.")
@parameter_options
def track(
    path: Path,
    cfg: Path | None,
    background: Path | None,
    arenas: str | None,
    output: Path | None,
    workers: int,
    chunk_size: int,
    quiet: bool,
    **flags: Any,
) -> None:
    """Track one image sequence (a folder) or one video file.

    Results go to PATH/Tracking_Result (sequence) or Tracking_Result_<name> beside a video;
    an existing result folder is archived, never overwritten.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from ..batch.options import RunOptions
    from ..movie import track_movie

    setup_logging(quiet)
    try:
        RunOptions(workers=workers, chunk_size=chunk_size)  # the batch's rules: workers >= 1
    except BatchtrackError as error:
        fail(error)
    if workers > 1:
        if output is not None:
            fail(
                "--output works with one worker; with --workers the result goes to the "
                "movie's Tracking_Result folder"
            )
        _track_in_chunks(path, cfg, background, arenas, workers, chunk_size, quiet, flags)
        return
    try:
        params = tracking_parameters(flags, cfg=cfg)
        if quiet:
            summary, _ = track_movie(
                path, params, background=background, output=output, arenas=arenas
            )
        else:
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
            )
            with Progress(
                *columns,
                transient=True,
                console=progress_console(),
                disable=progress_console() is None,
            ) as bar:
                task = bar.add_task(f"tracking {path.name}", total=None)

                def progress(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                summary, _ = track_movie(
                    path, params, background=background, output=output, progress=progress,
                    arenas=arenas,
                )
    except BatchtrackError as error:
        fail(error)
    if not quiet:
        if summary.auto.measurements or summary.auto.warnings:
            click.echo("measured from the movie:")
            for line in summary.auto.lines():
                click.echo(f"  {line}")
        rate = summary.n_frames / summary.seconds if summary.seconds else float("nan")
        click.echo(
            f"{summary.n_frames} frames, {summary.n_ids} ids, {summary.n_rows} rows in "
            f"{summary.seconds:.2f} s ({rate:.0f} frames/s) -> {summary.folder}"
        )
        if summary.skipped:
            click.echo(f"{len(summary.skipped)} unreadable frames skipped (see the log)")


def _track_in_chunks(
    path: Path,
    cfg: Path | None,
    background: Path | None,
    arenas: str | None,
    workers: int,
    chunk_size: int,
    quiet: bool,
    flags: dict[str, Any],
) -> None:
    """One movie through the batch runner: frame chunks detected in parallel, linked once."""
    from ..batch.run import run_stack
    from ..batch.stack import Stack, Status
    from ..io.frames import open_frames

    try:
        params = tracking_parameters(flags, cfg=cfg)
        with open_frames(path):  # the same errors as one process: missing, not a movie…
            pass
        stack = Stack(params)
        stack.arenas = arenas
        (entry,) = stack.add([path])
        if background is not None:
            stack.override(entry, background=background)
        summary = run_stack(stack, workers=workers, force=True, chunk_size=chunk_size)
    except BatchtrackError as error:
        fail(error)
    if entry.status is not Status.DONE:
        fail(entry.message)
    if not quiet:
        click.echo(
            f"{entry.total} frames, {entry.message} in {summary.seconds:.2f} s "
            f"({summary.frames_per_second:.0f} frames/s, {workers} workers) -> {entry.result_dir}"
        )
