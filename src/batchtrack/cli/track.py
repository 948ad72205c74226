"""``batchtrack track``: one movie."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..errors import BatchtrackError
from . import (
    build_parameters,
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
    "--output", type=click.Path(path_type=Path), help="Result folder (default: FastTrack's)."
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar, errors only.")
@parameter_options
def track(path: Path, cfg: Path | None, background: Path | None, output: Path | None,
          quiet: bool, **flags: Any) -> None:  # fmt: skip
    """Track one image sequence (a folder) or one video file.

    Results go to PATH/Tracking_Result (sequence) or Tracking_Result_<name> beside a video;
    an existing result folder is archived, never overwritten.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from ..movie import track_movie

    setup_logging(quiet)
    try:
        params = build_parameters(cfg, flags)
        if quiet:
            summary, _ = track_movie(path, params, background=background, output=output)
        else:
            columns = (*Progress.get_default_columns()[:2], BarColumn(), MofNCompleteColumn(),
                       TimeRemainingColumn())  # fmt: skip
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
                    path, params, background=background, output=output, progress=progress
                )
    except BatchtrackError as error:
        fail(error)
    if not quiet:
        rate = summary.n_frames / summary.seconds if summary.seconds else float("nan")
        click.echo(
            f"{summary.n_frames} frames, {summary.n_ids} ids, {summary.n_rows} rows in "
            f"{summary.seconds:.2f} s ({rate:.0f} frames/s) -> {summary.folder}"
        )
        if summary.skipped:
            click.echo(f"{len(summary.skipped)} unreadable frames skipped (see the log)")
