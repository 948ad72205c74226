"""``batchtrack gui``: the desktop window (needs the ``gui`` extra, PySide6)."""

from __future__ import annotations

import os
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
    if _no_display():
        fail(
            "no display to open the window on (DISPLAY and WAYLAND_DISPLAY are unset); run it "
            "on a desktop, with ssh -X, or under xvfb-run"
        )
    from ..gui import run

    setup_logging(quiet=False)
    try:
        sys.exit(run(movie=movie, stack=stack))
    except BatchtrackError as error:
        fail(error)


def _no_display() -> bool:
    """True on Linux with no X or Wayland display and no Qt platform chosen by hand."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
