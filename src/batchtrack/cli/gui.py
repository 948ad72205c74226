"""``batchtrack gui``: the desktop window (needs the ``gui`` extra, PySide6)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import BatchtrackError
from . import fail, main, setup_logging


@main.command()
@click.argument("movie", required=False, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--stack",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Load this manifest (stack.toml or stack.csv) in the batch panel.",
)
def gui(movie: Path | None, stack: Path | None) -> None:
    """Open the window: tune on one movie (Interactive), then process many (Batch).

    MOVIE, if given, is opened in the interactive panel.
    """
    try:
        import PySide6  # noqa: F401
    except ImportError:
        fail(
            "the window needs PySide6, which is not installed; "
            "install it with: pip install 'batchtrack[gui]'"
        )
    from ..gui import run

    setup_logging(quiet=False)
    try:
        sys.exit(run(movie=movie, stack=stack))
    except BatchtrackError as error:
        fail(error)
