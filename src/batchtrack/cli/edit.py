"""``batchtrack edit``: correct a result's ids without the window (scripts, tests)."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import BatchtrackError
from . import fail, main, setup_logging


def _operation(
    swap: tuple[int, int] | None,
    rename: tuple[int, int] | None,
    merge: tuple[int, int] | None,
    delete: int | None,
    undo: bool,
) -> str | None:
    chosen = [name for name, value in (("--swap", swap), ("--rename", rename),
              ("--merge", merge), ("--delete", delete), ("--undo", undo or None))
              if value is not None]  # fmt: skip
    if len(chosen) > 1:
        fail(f"give one edit at a time, got {' and '.join(chosen)}")
    return chosen[0] if chosen else None


@main.command()
@click.argument("result", type=click.Path(exists=True, path_type=Path))
@click.option("--swap", nargs=2, type=int, metavar="A B", help="Swap ids A and B (from --from).")
@click.option("--rename", nargs=2, type=int, metavar="A B", help="Give id A's objects the id B.")
@click.option(
    "--merge", nargs=2, type=int, metavar="A B",
    help="Merge id A into B (all frames; B's object kept where both exist).",
)  # fmt: skip
@click.option("--delete", type=int, metavar="A", help="Delete id A's objects.")
@click.option("--from", "first", type=int, default=0, show_default=True, help="First frame.")
@click.option("--to", "last", type=int, default=None, help="Last frame (included) [the end].")
@click.option("--undo", is_flag=True, help="Take back the last edit saved.")
@click.option("--list", "show", is_flag=True, help="List the edits saved (oldest first).")
def edit(
    result: Path,
    swap: tuple[int, int] | None,
    rename: tuple[int, int] | None,
    merge: tuple[int, int] | None,
    delete: int | None,
    first: int,
    last: int | None,
    undo: bool,
    show: bool,
) -> None:
    """Correct the ids of RESULT (a Tracking_Result folder, or the movie it belongs to).

    Each call adds one edit to RESULT/edits.toml and saves the corrected tracking.txt and
    tracking.db (the previous folder is archived; tracking_original.txt keeps the table
    before any edit). Frames are imageNumber values, both ends included.

    \b
      batchtrack edit Run1/Tracking_Result --swap 3 5 --from 120
      batchtrack edit Run1/Tracking_Result --rename 7 2 --from 40 --to 90
      batchtrack edit Run1/Tracking_Result --merge 9 4
      batchtrack edit Run1/Tracking_Result --delete 11 --from 10 --to 20
      batchtrack edit Run1/Tracking_Result --undo
      batchtrack edit Run1/Tracking_Result --list
    """
    from ..corrections import EditSession
    from ..edits import Edit

    setup_logging(quiet=False)
    operation = _operation(swap, rename, merge, delete, undo)
    try:
        session = EditSession(result)
        if operation == "--undo":
            taken = session.undo()
            if taken is None:
                fail(f"{session.folder}: no edit to undo")
            session.save()
            click.echo(f"undone: {taken.describe()}")
        elif operation is not None:
            what, ids = {
                "--swap": ("swap", swap), "--rename": ("rename", rename),
                "--merge": ("merge", merge), "--delete": ("delete", (delete,)),
            }[operation]  # fmt: skip
            assert ids is not None and None not in ids
            change = Edit(what, tuple(int(i) for i in ids if i is not None), first=first, last=last)
            session.add(change)
            session.save()
            click.echo(f"saved: {change.describe()} ({session.folder / 'tracking.txt'})")
        elif not show:
            fail("nothing to do: give --swap, --rename, --merge, --delete, --undo or --list")
    except BatchtrackError as error:
        fail(error)
    if show:
        if not session.edits:
            click.echo(f"{session.folder}: no edits")
        for number, item in enumerate(session.edits, 1):
            click.echo(f"{number:3d}. {item.describe():40s} {item.when}")
