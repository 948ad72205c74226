"""``batchtrack track``: one movie."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from ..movie import Progress


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
    default=None,
    help="Processes detecting chunks of frames (default: every core for a movie long enough "
    "to gain from it, one process for a short one; 1: this process only).",
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
    workers: int | None,
    chunk_size: int,
    quiet: bool,
    **flags: Any,
) -> None:
    """Track one image sequence (a folder) or one video file.

    Results go to PATH/Tracking_Result (sequence) or Tracking_Result_<name> beside a video;
    an existing result folder is archived, never overwritten.
    """
    from ..batch.options import RunOptions

    setup_logging(quiet)
    try:
        RunOptions(workers=workers, chunk_size=chunk_size)  # the batch's rules: workers >= 1
    except BatchtrackError as error:
        fail(error)
    try:
        params = tracking_parameters(flags, cfg=cfg)
        if workers is None:
            workers = _default_workers(path)
        with _progress_bar(path, quiet) as progress:
            if workers > 1:
                from ..batch.chunked import track_chunked

                summary = track_chunked(
                    path, params, workers=workers, background=background, output=output,
                    chunk_size=chunk_size, progress=progress, arenas=arenas,
                )  # fmt: skip
            else:
                from ..movie import track_movie

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
        plural = "s" if workers > 1 else ""
        click.echo(
            f"{summary.n_frames} frames, {summary.n_ids} ids, {summary.n_rows} rows in "
            f"{summary.seconds:.2f} s ({rate:.0f} frames/s, {workers} worker{plural}) "
            f"-> {summary.folder}"
        )
        if summary.skipped:
            click.echo(f"{len(summary.skipped)} unreadable frames skipped (see the log)")


def _default_workers(path: Path) -> int:
    """Every core for a movie long enough to gain from them (see ``auto_workers``)."""
    from ..batch.chunked import auto_workers
    from ..io.frames import frame_count_hint

    return auto_workers(frame_count_hint(path))


@contextlib.contextmanager
def _progress_bar(path: Path, quiet: bool) -> Iterator[Progress | None]:
    """A progress callback drawing a bar on the terminal (None when quiet or not a terminal).

    The bar (and its refresh thread) starts at the first call, so that worker processes
    forked before it copy no thread.
    """
    console = None if quiet else progress_console()
    if console is None:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    bar = Progress(*columns, TimeRemainingColumn(), transient=True, console=console)
    task = bar.add_task(f"tracking {path.name}", total=None)

    def progress(done: int, total: int) -> None:
        if not bar.live.is_started:
            bar.start()
        bar.update(task, completed=done, total=total)

    try:
        yield progress
    finally:
        bar.stop()
