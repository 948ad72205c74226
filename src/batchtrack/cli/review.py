"""``batchtrack review``: replay a result over its movie, go to its events, correct its ids."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import BatchtrackError
from . import fail, main, setup_logging
from .gui import _no_display


@main.command()
@click.argument("result", type=click.Path(exists=True, path_type=Path))
def review(result: Path) -> None:
    """Open the review window on RESULT (a Tracking_Result folder, or its movie).

    The movie is replayed with the tracked ids, head/tail and trails drawn; the timeline marks
    the events that need a look (N / P: next / previous). Click an object to select its id,
    Shift+click a second one, then swap, rename, merge or delete; Ctrl+Z / Ctrl+Y undo and
    redo, Ctrl+S saves (tracking_original.txt keeps the table before any edit).
    """
    try:
        import PySide6  # noqa: F401
    except ImportError:
        fail("the window needs PySide6; install it with: pip install 'batchtrack[gui]'")
    if _no_display():
        fail(
            "no display to open the window on (DISPLAY and WAYLAND_DISPLAY are unset); run it "
            "on a desktop, with ssh -X, or under xvfb-run; 'batchtrack edit' works without one"
        )
    from ..corrections import result_of
    from ..gui import run_review

    setup_logging(quiet=False)
    try:
        folder = result_of(result)
        sys.exit(run_review(folder))
    except BatchtrackError as error:
        fail(error)
