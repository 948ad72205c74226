"""``batchtrack export-video``: a result's movie with ids and trails drawn."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import BatchtrackError
from . import fail, main, setup_logging


@main.command("export-video")
@click.argument("result", type=click.Path(exists=True, path_type=Path))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--from", "first", type=int, default=0, show_default=True, help="First frame.")
@click.option("--to", "last", type=int, default=None, help="Last frame (included) [the end].")
@click.option("--trail", type=float, default=2.0, show_default=True, help="Trail length, seconds.")
def export_video(result: Path, out: Path, first: int, last: int | None, trail: float) -> None:
    """Write OUT (.mp4 or .avi): the movie of RESULT with ids, head/tail and trails drawn.

    RESULT is a Tracking_Result folder or its movie; the drawing is the review window's.
    """
    from ..overlay import export_video as export

    setup_logging(quiet=False)
    try:
        written = export(result, out, first=first, last=last, trail_seconds=trail)
    except BatchtrackError as error:
        fail(error)
    click.echo(f"wrote {written} frames to {out}")
